"""How much redshift information a simulated galaxy holds: random-forest ceilings and hypothesis bounds.

A random forest (RF) fitted on one set of per-galaxy quantities and scored on fixed test galaxies
measures what those quantities say about redshift.  :func:`ceiling_table` compares the catalogue's
quantities (what photometric methods read) with the galaxy's noise-free truths (the most any
estimator, a CNN included, can get from them).  :func:`hypothesis_bounds` asks, before any change
to the simulator, how far each proposed source of extra information in real pixels could move that
noise-free ceiling, each bound deliberately generous:

* ``bulge colours``: each bulge sits on the red sequence of its redshift (Kim et al. 2016 find SDSS
  bulges "almost constantly red" at 0.005 < z < 0.05), drawn as an early-type galaxy of the same
  redshift, *independently* of its own disk.  Real bulges of blue galaxies are bluer than that
  (Kennedy et al. 2016, GAMA: both components redden with total colour), i.e. less independent
  of the total, so this is an upper bound on what a colour gradient adds.  A second row gives red
  bulges only to galaxies with B/T >= 0.3, where Kim et al. 2016 find them (:data:`KIM_RED_BULGE_MIN_BT`).
* ``companions``: every stamp neighbour of the simulator (13 % of stamps,
  ``observe.NEIGHBOUR_PROBS``) is a physical companion at the galaxy's redshift whose noise-free
  colours are known; real close-pair fractions of the MGS are a few per cent, so again an upper bound.
* ``model-fit error``: the truths are SDSS model colours, which keep SDSS's model-fit error (an r-band
  deV or exp shape imposed on galaxies with colour gradients) as intrinsic width.  Two sizes
  (:data:`MODEL_FIT_SCENARIOS`): the simulator's own, measured on its noise-free stamps, and three times
  that, as real colour gradients vary 2-6 times more than the simulated ones
  (:mod:`photoz_nb.validation.colour_gradients`).  Each is added to the truths once and twice (in
  variance), and the parabola through the three points is extrapolated to the variance removed
  (:func:`model_fit_removed`).

Every number is a sigma_MAD of dz = (z_RF - z) / (1 + z) with a paired bootstrap error against the
reference feature set on the same test galaxies.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from .simulate import galaxies, observe
from .safeio import write_atomic, write_table
from .stats import bootstrap, markdown_table, plus_minus, require_columns, sigma_mad

BANDS = galaxies.BANDS
#: The RF of the issue's measurements (shared/ceiling/rf_info.py): fixed so tables stay comparable.
RF_SETTINGS = dict(n_estimators=200, min_samples_leaf=5)
#: u-g, g-r, r-i, i-z model-fit colour error (sigma_MAD, mag) of simulator 2.0: SDSS's model colour
#: (simulate.modelfit) minus the true colour on 400 noise-free, isolated simulated stamps (seed 11).
MODEL_FIT_COLOUR_ERROR = (0.018, 0.0048, 0.0017, 0.0023)
#: Hypothesis 3's sizes: name -> factor on MODEL_FIT_COLOUR_ERROR.  Real colour gradients are 2-6 times
#: more varied than simulator 2.0's (sigma_MAD of Petrosian minus model g - r, 9,811 real galaxies).
MODEL_FIT_SCENARIOS = {"simulator's model-fit error": 1.0, "3 x simulator's model-fit error": 3.0}
#: Early types drawn among this many of the nearest in redshift for each bulge of hypothesis 1.
SAME_REDSHIFT_PEERS = 25
#: Kim et al. 2016 (14,233 SDSS DR12 bulge + disk decompositions, 0.005 < z < 0.05): bulges are "almost
#: constantly red regardless of bulge size, except for the bulges in the low bulge-to-total ratio galaxies
#: (B/T_r <~ 0.3)", which show a frosting of young stars.
KIM_RED_BULGE_MIN_BT = 0.3


def _col(table, name) -> np.ndarray:
    return np.asarray(table[name], dtype=float)


def _colours_and_r(mags: np.ndarray) -> np.ndarray:
    return np.column_stack([mags[:, BANDS.index("r")], -np.diff(mags, axis=1)])


TRUTH_COLUMNS = [*(f"mag_true_{b}" for b in BANDS), "early_type", "hlr_bulge_arcsec", "hlr_disk_arcsec",
                 "bulge_frac", "b_over_a", "z_spec"]


def truth_features(table) -> np.ndarray:
    """Noise-free r, four colours, log half-light radius of the main component, B/T and b/a."""
    require_columns(table, TRUTH_COLUMNS, "ceiling", " (the truths only a simulated data set has)")
    mags = np.column_stack([_col(table, f"mag_true_{b}") for b in BANDS])
    early = np.asarray(table["early_type"], bool)
    hlr = np.where(early, _col(table, "hlr_bulge_arcsec"), _col(table, "hlr_disk_arcsec"))
    return np.column_stack([_colours_and_r(mags), np.log10(hlr), _col(table, "bulge_frac"),
                            _col(table, "b_over_a")])


def feature_sets(table) -> dict[str, np.ndarray]:
    """The quantities of the issue's ceiling table, from a simulated data set's catalogue.

    ``colours + r``: the catalogue's dereddened model magnitudes (what kNN and RF read);
    ``+ Petrosian size, deficit``: log Petrosian radius and petromag_r - mag_r, measured on the stamps;
    ``+ b/a``: the axis ratio; ``noise-free``: :func:`truth_features`.
    """
    require_columns(table, [*(f"mag_{b}" for b in BANDS), "petrorad_r", "petromag_r"], "ceiling")
    base = _colours_and_r(np.column_stack([_col(table, f"mag_{b}") for b in BANDS]))
    size = np.column_stack([np.log10(np.clip(_col(table, "petrorad_r"), 0.1, None)),
                            _col(table, "petromag_r") - _col(table, "mag_r")])
    return {"colours + r": base, "+ Petrosian size, deficit": np.column_stack([base, size]),
            "+ b/a": np.column_stack([base, size, _col(table, "b_over_a")]),
            "noise-free": truth_features(table)}


def split_rows(n_rows: int, usable: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, training pool in a fixed random order) among the ``usable`` rows."""
    idx = np.flatnonzero(usable)
    if len(idx) <= n_test:
        raise ValueError(f"ceiling: {len(idx)} usable galaxies of {n_rows}, need more than n_test={n_test}")
    np.random.default_rng(seed).shuffle(idx)
    return idx[:n_test], idx[n_test:]


def rf_redshifts(x: np.ndarray, z: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Redshifts of the ``test`` rows from an RF (:data:`RF_SETTINGS`) fitted on the ``train`` rows."""
    from sklearn.ensemble import RandomForestRegressor  # lazy: scikit-learn's import is slow
    rf = RandomForestRegressor(**RF_SETTINGS, n_jobs=-1, random_state=seed).fit(x[train], z[train])
    # predicted in one thread: parallel prediction sums the trees in thread order (last bits vary run to run)
    return rf.set_params(n_jobs=1).predict(x[test])


def _scored(z_pred: dict[str, np.ndarray], z_true: np.ndarray, reference: str, n_boot: int, seed: int) -> list[dict]:
    """sigma_MAD of each prediction with bootstrap errors, and its paired difference from ``reference``
    (the same resampled galaxies for every feature set)."""
    dz = {k: (v - z_true) / (1 + z_true) for k, v in z_pred.items()}

    def statistic(*cols):
        s = dict(zip(dz, map(sigma_mad, cols)))
        return {**s, **{f"{k} - ref": s[k] - s[reference] for k in dz if k != reference}}
    value = statistic(*dz.values())
    err = bootstrap(statistic, *dz.values(), n_boot=n_boot, seed=seed)
    return [dict(features=k, sigma_mad=value[k], sigma_mad_err=err[k],
                 minus_reference=value.get(f"{k} - ref", 0.0), minus_reference_err=err.get(f"{k} - ref", 0.0))
            for k in dz]


def _subsets(red: np.ndarray):
    """("all", every row), ("red", red), ("blue", ~red); a colour with fewer than 20 test galaxies is left out."""
    yield "all", slice(None)
    for name, keep in (("red", red), ("blue", ~red)):
        if keep.sum() >= 20:
            yield name, keep


def _rf_table(sets: dict, z: np.ndarray, red: np.ndarray, test: np.ndarray, pool: np.ndarray, sizes,
              reference: str, n_boot: int, seed: int) -> Table:
    """An RF on each feature set of ``sets`` at each training size (the pool's first ``n`` rows), scored
    on the ``test`` rows against ``reference`` (:func:`_scored`) for all, red and blue test galaxies."""
    if max(sizes) > len(pool):
        raise ValueError(f"ceiling: training size {max(sizes)} exceeds the {len(pool)} galaxies left after "
                         f"{len(test)} test galaxies")
    out = []
    for n in sizes:
        pred = {name: rf_redshifts(x, z, pool[:n], test, seed) for name, x in sets.items()}
        for subset, keep in _subsets(red[test]):
            for row in _scored({k: v[keep] for k, v in pred.items()}, z[test][keep], reference, n_boot, seed):
                out.append(dict(training_size=n, subset=subset, **row))
    return Table(rows=out)


def _usable(sets: dict) -> np.ndarray:
    """Rows whose every feature is finite."""
    return np.all([np.isfinite(x).all(axis=1) for x in sets.values()], axis=0)


def _red(table, prefix: str) -> np.ndarray:
    """u - r above 2.22 in the ``prefix`` magnitudes (``mag`` measured, ``mag_true`` noise-free)."""
    return (_col(table, f"{prefix}_u") - _col(table, f"{prefix}_r")) > galaxies.EARLY_TYPE_U_MINUS_R


def ceiling_table(table, sizes=(1000, 10_000, 50_000), n_test: int = 10_000, seed: int = 0,
                  n_boot: int = 200, rows: tuple | None = None) -> Table:
    """RF sigma_MAD on each of :func:`feature_sets` at each training size (nested subsets), on the same
    ``n_test`` test galaxies; ``red`` / ``blue``: u - r above / below 2.22 (dereddened catalogue).

    ``rows``: (test rows, training pool in order) to use instead of a seeded split, e.g. a learning
    curve's, so that the table's numbers stand beside the curve's on the same galaxies.
    """
    sets = feature_sets(table)
    usable = _usable(sets)
    if rows is None:
        test, pool = split_rows(len(table), usable, n_test, seed)
    else:
        test, pool = (np.asarray(r) for r in rows)
        if not usable[test].all() or not usable[pool[:max(sizes)]].all():
            raise ValueError("ceiling: some of the given rows have non-finite features (catalogue or truths)")
    return _rf_table(sets, _col(table, "z_spec"), _red(table, "mag"), test, pool, sizes, "colours + r", n_boot, seed)


# -- hypothesis bounds ------------------------------------------------------------------------------
def _same_redshift_donors(z: np.ndarray, candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each galaxy, a random row among the SAME_REDSHIFT_PEERS ``candidates`` nearest to it in z."""
    order = candidates[np.argsort(z[candidates], kind="stable")]
    k = min(SAME_REDSHIFT_PEERS, len(order))
    start = np.clip(np.searchsorted(z[order], z) - k // 2, 0, len(order) - k)
    return order[start + rng.integers(k, size=len(z))]


def bulge_colours(mags: np.ndarray, z: np.ndarray, early: np.ndarray, rng: np.random.Generator,
                  red: np.ndarray | None = None) -> np.ndarray:
    """Hypothesis 1's bulge colours: those of an early type of the same redshift (the red sequence of its
    redshift), drawn independently of the galaxy, for the galaxies ``red`` (default: every late type);
    every other galaxy's bulge has the galaxy's own colours (no gradient: nothing new)."""
    colours = -np.diff(mags, axis=1)
    red = ~early if red is None else red
    donor = np.where(red, _same_redshift_donors(z, np.flatnonzero(early), rng), np.arange(len(z)))
    return colours[donor]


def companion_colours(mags: np.ndarray, z: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Hypothesis 2: the noise-free colours of a companion at the same redshift for a random
    ``fraction`` of the galaxies, and a flag column; the others get zeros and flag 0."""
    has = rng.random(len(z)) < fraction
    donor = _same_redshift_donors(z, np.arange(len(z)), rng)
    colours = np.where(has[:, None], -np.diff(mags, axis=1)[donor], 0.0)
    return np.column_stack([colours, has])


def hypothesis_features(table, seed: int = 0) -> dict[str, np.ndarray]:
    """The noise-free feature set and the variants of each hypothesis (see the module docstring)."""
    rng = np.random.default_rng(seed)
    mags = np.column_stack([_col(table, f"mag_true_{b}") for b in BANDS])
    z, early = _col(table, "z_spec"), np.asarray(table["early_type"], bool)
    truth = truth_features(table)
    big_bulge = ~early & (_col(table, "bulge_frac") >= KIM_RED_BULGE_MIN_BT)
    companion_fraction = 1 - observe.NEIGHBOUR_PROBS[0]
    fit_error = np.zeros_like(truth)
    fit_error[:, 1:5] = rng.standard_normal((len(z), 4)) * MODEL_FIT_COLOUR_ERROR
    added = {f"+ {name}{times}": truth + factor * np.sqrt(variance) * fit_error
             for name, factor in MODEL_FIT_SCENARIOS.items() for times, variance in (("", 1), (" (variance x 2)", 2))}
    with_bulges = {name: np.column_stack([truth, bulge_colours(mags, z, early, rng, red)])
                   for name, red in (("+ bulge colours (red sequence at z)", ~early),
                                     (f"+ bulge colours where B/T >= {KIM_RED_BULGE_MIN_BT}", big_bulge))}
    return {"noise-free": truth, **with_bulges,
            f"+ companion at z ({companion_fraction:.0%} of galaxies)":
                np.column_stack([truth, companion_colours(mags, z, companion_fraction, rng)]),
            "+ companion at z (every galaxy)": np.column_stack([truth, companion_colours(mags, z, 1.0, rng)]),
            **added}


def model_fit_removed(table: Table) -> Table:
    """Hypothesis 3's bound for each of :data:`MODEL_FIT_SCENARIOS`: sigma_MAD with that model-fit error's
    variance *removed* from the truths, extrapolated from added variances 0, 1 and 2 (the parabola
    through them: f(-1) = 3 f(0) - 3 f(1) + f(2)).  Errors: the paired bootstrap errors of the two added
    rows, combined as if independent (conservative: the two share their galaxies and deviates)."""
    rows = []
    for key in dict.fromkeys((int(r["training_size"]), str(r["subset"])) for r in table):
        g = table[(table["training_size"] == key[0]) & (table["subset"] == key[1])]
        pick = {str(r["features"]): r for r in g}
        for name in MODEL_FIT_SCENARIOS:
            f0, f1, f2 = pick["noise-free"], pick[f"+ {name}"], pick[f"+ {name} (variance x 2)"]
            d = -3 * f1["minus_reference"] + f2["minus_reference"]
            err = float(np.hypot(3 * f1["minus_reference_err"], f2["minus_reference_err"]))
            rows.append(dict(training_size=key[0], subset=key[1], features=f"- {name} (extrapolated)",
                             sigma_mad=f0["sigma_mad"] + d, sigma_mad_err=float(np.hypot(f0["sigma_mad_err"], err)),
                             minus_reference=d, minus_reference_err=err))
    return Table(rows=rows)


def hypothesis_bounds(table, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0, n_boot: int = 200) -> Table:
    """RF sigma_MAD of each of :func:`hypothesis_features` with ``n_train`` training galaxies, and its
    paired difference from the noise-free ceiling; ``subset`` all / red / blue (true u - r) as in
    :func:`ceiling_table`, then :func:`model_fit_removed`'s extrapolated rows."""
    sets = hypothesis_features(table, seed)
    test, pool = split_rows(len(table), _usable(sets), n_test, seed)
    bounds = _rf_table(sets, _col(table, "z_spec"), _red(table, "mag_true"), test, pool, [n_train], "noise-free",
                       n_boot, seed)
    return vstack([bounds, model_fit_removed(bounds)])


def truth_table(n: int, seed: int = 0) -> Table:
    """The catalogue of ``n`` simulated galaxies with its truths (what :func:`hypothesis_features` reads),
    without rendering any stamp: the measured photometry is left provisional (seconds rather than a build)."""
    return galaxies.catalog_table(galaxies.draw_galaxies(n, seed), seed)


def to_markdown(table: Table) -> str:
    """One row per training size and subset, one column per feature set: sigma_MAD ± error, and in
    brackets the paired difference from the first feature set ± its error (x 1e-5)."""
    rows = {}
    for r in table:
        cell = plus_minus(r["sigma_mad"], r["sigma_mad_err"], ".5f")
        if r["minus_reference_err"] > 0:
            cell += f" ({1e5 * r['minus_reference']:+.0f} ± {1e5 * r['minus_reference_err']:.0f})"
        rows.setdefault((int(r["training_size"]), str(r["subset"])), {})[str(r["features"])] = cell
    return markdown_table([{"training galaxies": f"{n:,}", "subset": s, **cells} for (n, s), cells in rows.items()])


def write(table: Table, out_dir, name: str) -> list:
    """``name``.ecsv and ``name``.md under ``out_dir`` (atomic writes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.ecsv", out / f"{name}.md"]
    write_table(paths[0], table)
    write_atomic(paths[1], to_markdown(table) + "\n")
    return paths
