"""What the notebooks teach with and assert: example selections, sentences, and the paper's claims.

The notebooks stay thin: every computation they show lives here or in the modules it calls.

- :func:`notebook_setup`: figures inline and no start-up noise in executed notebooks;
- :func:`galaxy_anatomy`: one simulated galaxy's stamp, its PSF and the noise in it, per band;
- :func:`second_mode_mass`, :func:`example_pdf_rows`: the narrow, broad and bimodal example PDFs,
  chosen by a stated rule;
- :func:`synthetic_pits`: what miscalibration does to a PIT histogram;
- :func:`slope_sentence`: a bias study's measured slope, read out in words;
- :func:`coverage_bounds`, :func:`width_coverage_bounds`, :func:`difference_significance`, :func:`paired_difference`,
  :func:`family_threshold`: tolerances derived from the errors;
- :data:`EXPECTED_PATH`, :func:`expected_summary`, :func:`write_expected_summary`,
  :func:`expected_ebv_slopes`, :func:`compare_with_expected`: the README's summary numbers (``small`` profile) and the check that
  a new run reproduces them within the bootstrap errors.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np
from astropy.table import Table

from . import config, metrics, pdf
from .pdf import pit, validate_pdfs, width
from .simulate import build, galaxies, render
from .stats import bootstrap

#: The 8 views of :func:`photoz_nb.estimators.cnn.inputs.dihedral`, by transform number (``np.rot90`` turns of the pixel
#: array, then a left-right mirror; drawn with the origin at the bottom, the turns look clockwise).
DIHEDRAL_LABELS = ("identity", "rot 90°", "rot 180°", "rot 270°",
                   "mirror", "rot 90° + mirror", "rot 180° + mirror", "rot 270° + mirror")


# --------------------------------------------------------------------------- readable executed notebooks
@contextlib.contextmanager
def _stderr_fd_silenced():
    """Send file descriptor 2 (what C++ libraries write to) to /dev/null for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def notebook_setup(retina: bool = True) -> None:
    """Make executed notebooks readable: figures shown inline, no start-up noise in the cell outputs.

    - ``%matplotlib inline``: the package's figures are plain ``matplotlib.figure.Figure`` objects (no
      pyplot), which a kernel shows as images only once the inline backend is configured;
    - TensorFlow writes start-up lines (oneDNN, absl) from C++ to stderr before any log setting
      applies (``TF_CPP_MIN_LOG_LEVEL`` does not remove them): Keras is imported and run once on a
      tiny model with stderr sent to /dev/null, after which nothing more is printed;
    - tqdm's bars fall back to text without ipywidgets (``photoz_nb`` silences its "IProgress not
      found" warning), refreshed at most every 10 s (``TQDM_MININTERVAL``, unless set) so that the saved outputs
      hold a few lines per bar, not hundreds.
    """
    # Without ipywidgets tqdm writes text bars: one refresh per 10 s keeps stored outputs short.
    os.environ.setdefault("TQDM_MININTERVAL", "10")
    try:
        from IPython import get_ipython  # only inside IPython/Jupyter: plain Python runs without it
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        if retina:
            shell.run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
    with _stderr_fd_silenced():
        import keras  # lazy: Keras starts its backend (seconds); only the notebooks' set-up warms it
        tiny = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        tiny.predict_on_batch(np.zeros((1, 1), np.float32))


# --------------------------------------------------------------------------- one galaxy, taken apart
def galaxy_anatomy(ds, row: int) -> dict:
    """The pixels of simulated galaxy ``row``: stamp, PSF and noise, each (64, 64, 5) in nanomaggies.

    The stamp is the data set's image; the noise is that image minus the same galaxy rendered
    again without noise (same seed, same row: the exact noise realisation in the stamp); the PSF
    is a point source of unit flux rendered through the galaxy's own PSF in each band.

    Returns ``image``, ``noise``, ``psf`` (unit flux per band), ``psf_fwhm`` (arcsec per band),
    ``ebv`` (mag) and ``extinction`` (A_band in mag per band).  Only for the embedded simulation
    (the manifest names the generator, seed and size that recreate the render parameters).
    """
    manifest = ds.manifest
    if manifest.get("generator") != build.GENERATOR:
        raise ValueError(f"galaxy_anatomy needs the embedded simulation; {ds.path} was made by "
                         f"{manifest.get('generator')!r}")
    if not 0 <= row < len(ds):
        raise ValueError(f"row must be in [0, {len(ds)}), got {row}")
    seed = int(manifest["seed"])
    params = galaxies.draw_galaxies(manifest["n_requested"], seed).params
    one = {key: value[row:row + 1] for key, value in params.items()}
    clean = build.render_chunk(one, seed, row, noise=False)[0][0]
    image = np.asarray(ds.images[row], dtype=np.float32)
    point = render.Component("exponential", np.ones(len(config.BANDS)), hlr=0.05)  # far below a pixel
    psf = np.moveaxis(render.render_stamp([point], one["psf"][0], wing_scale=one["psf_wing_scale"][0]), 0, -1)
    ebv = float(ds.catalog["ebv"][row])
    return {"image": image, "noise": image - clean, "psf": psf,
            "psf_fwhm": one["psf"][0] * config.PIXEL_SCALE, "ebv": ebv,
            "extinction": np.array([config.EXTINCTION_COEFF[b] * ebv for b in config.BANDS])}


def median_galaxy_row(ds, split: str = "test", neighbours: bool = False) -> int:
    """A typical galaxy to show: the one of ``split`` closest to the median r magnitude and median
    redshift (in units of each one's spread), with no neighbour in its stamp (``neighbours=True``:
    with at least one, which makes rotations and mirror images easy to tell apart)."""
    rows = ds.split(split)
    r, z = ds.column("petro_r", split), ds.column("z_spec", split)
    distance = np.hypot((r - np.median(r)) / np.std(r), (z - np.median(z)) / np.std(z))
    has = ds.column("n_neighbours", split) > 0
    distance[has != neighbours] = np.inf
    if not np.isfinite(distance).any():
        raise ValueError(f"no galaxy of split {split!r} has {'a' if neighbours else 'no'} neighbour")
    return int(rows[np.argmin(distance)])


# --------------------------------------------------------------------------- example PDFs
def second_mode_mass(pdfs, edges, min_separation: float = 0.03, min_height: float = 0.25,
                     max_dip: float = 0.5, smooth: float = 0.01) -> np.ndarray:
    """Probability in the second mode of each PDF (0 for a unimodal one).

    The rule: smooth the PDF with a running mean over ``smooth`` in redshift (so that bin-to-bin
    noise makes no peaks); take its highest peak; another peak counts if it is at least
    ``min_height`` times as high, lies at least ``min_separation`` in redshift from the first, and
    the PDF dips between them below ``max_dip`` times its height.  The PDF is split at the lowest
    point of that dip; the second mode's mass is the probability on the second peak's side.  With
    several candidates, the most massive one is reported.
    """
    p, edges = validate_pdfs(pdfs, edges)
    n_smooth = max(1, int(round(smooth / np.median(np.diff(edges)))))
    kernel = np.ones(n_smooth) / n_smooth
    mid = 0.5 * (edges[1:] + edges[:-1])
    out = np.zeros(len(p))
    for i, row in enumerate(p):
        s = np.convolve(row, kernel, mode="same")
        top = int(np.argmax(s))
        inner = (s[1:-1] >= s[:-2]) & (s[1:-1] > s[2:]) & (s[1:-1] >= min_height * s[top])
        for j in np.flatnonzero(inner) + 1:
            if abs(mid[j] - mid[top]) < min_separation:
                continue
            lo, hi = sorted((top, int(j)))
            valley = lo + int(np.argmin(s[lo:hi + 1]))
            if s[valley] >= max_dip * s[j]:
                continue
            mass = row[valley + 1:].sum() if j > top else row[:valley].sum()
            out[i] = max(out[i], float(mass))
    return out


def example_pdf_rows(pdfs, edges, min_second_mass: float = 0.15) -> dict:
    """Rows of a narrow, a broad and a bimodal PDF, and the rule that chose them.

    narrow / broad: the unimodal PDFs (:func:`second_mode_mass` = 0) at the 5th / 95th percentile of
    the central 68% width; bimodal: the PDF with the most massive second mode (``bimodal_passes``
    says whether it holds at least ``min_second_mass``).  Returns a dict with ``rows`` (name -> row),
    ``widths``, ``second_mass`` (both per galaxy), ``bimodal_fraction`` and ``bimodal_passes``.
    """
    widths = width(pdfs, edges)
    second = second_mode_mass(pdfs, edges)
    unimodal = np.flatnonzero(second == 0)
    if len(unimodal) == 0:
        raise ValueError("no unimodal PDF to choose the narrow and broad examples from")
    order = unimodal[np.argsort(widths[unimodal], kind="stable")]
    pick = {"narrow": int(order[int(0.05 * (len(order) - 1))]), "broad": int(order[int(0.95 * (len(order) - 1))]),
            "bimodal": int(np.argmax(second))}
    return {"rows": pick, "widths": widths, "second_mass": second,
            "bimodal_fraction": float(np.mean(second >= min_second_mass)),
            "bimodal_passes": bool(second[pick["bimodal"]] >= min_second_mass)}


def synthetic_pits(n: int = 4000, seed: int = 0, width: float = 0.02) -> dict:
    """PITs of Gaussian PDFs on the redshift grid that are right, too narrow, too wide or shifted.

    True redshifts are drawn from N(mu, width); the PDFs are N(mu, width) (calibrated), N(mu, width/2)
    ("too narrow": overconfident), N(mu, 2 width) ("too wide": underconfident) and N(mu + width/2, width)
    ("shifted high": z_phot above z_spec).
    Returns {label: PIT array}: what each kind of miscalibration does to the PIT histogram.
    """
    edges = config.redshift_edges()
    mid = 0.5 * (edges[1:] + edges[:-1])
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.1, 0.3, n)
    z = mu + width * rng.standard_normal(n)

    def gaussian(centre, sigma):
        p = np.exp(-0.5 * ((mid - centre[:, None]) / sigma) ** 2)
        return p / p.sum(axis=1, keepdims=True)

    cases = {"calibrated": (mu, width), "too narrow": (mu, width / 2),
             "too wide": (mu, 2 * width), "shifted high": (mu + width / 2, width)}
    return {label: pit(gaussian(c, w), edges, z) for label, (c, w) in cases.items()}


def paired_difference(statistic, a, b, z_spec, n_boot: int = 200, seed: int = 0) -> tuple:
    """``statistic(a, z) - statistic(b, z)`` and its bootstrap error, resampling the galaxies once for both.

    For two methods on the same galaxies the paired error is the right one: their errors on
    each galaxy are correlated, which an error added in quadrature ignores.
    """
    a, b, z_spec = (np.asarray(v, dtype=float) for v in (a, b, z_spec))

    def diff(a_, b_, z_):
        return statistic(a_, z_) - statistic(b_, z_)

    return float(diff(a, b, z_spec)), bootstrap(diff, a, b, z_spec, n_boot=n_boot, seed=seed)


# --------------------------------------------------------------------------- numbers read out in words
def seed_agreement(model_pdfs: dict, edges, z_spec, seed: int = 0) -> dict:
    """How far each ensemble member ("member ..." keys) lies from the "ensemble mean", at the precision quoted.

    ``sigma``: {member: (sigma_MAD difference from the ensemble's, bootstrap error of the ensemble's sigma_MAD)};
    ``crps``: (best member, ensemble's mean CRPS minus that member's, bootstrap error of the ensemble's mean CRPS).
    Errors are those of the quoted numbers, not paired: a paired test flags any true difference between two
    seeds' models once the test set is large, while the question is whether the seed matters at that precision.
    """
    z_spec = np.asarray(z_spec, float)
    point = {k: pdf.point_estimate(p, edges, "mean") for k, p in model_pdfs.items()}
    sigma = {k: metrics.sigma_mad_dz(zp, z_spec) for k, zp in point.items()}
    sigma_err = metrics.bootstrap(metrics.sigma_mad_dz, point["ensemble mean"], z_spec, seed=seed)
    members = [k for k in model_pdfs if k.startswith("member")]
    crps = {k: pdf.crps(model_pdfs[k], edges, z_spec) for k in [*members, "ensemble mean"]}
    best = min(members, key=lambda k: crps[k].mean())
    return {"sigma": {k: (sigma[k] - sigma["ensemble mean"], sigma_err) for k in members},
            "crps": (best, crps["ensemble mean"].mean() - crps[best].mean(),
                     metrics.bootstrap(np.mean, crps["ensemble mean"], seed=seed))}


def significance(value: float, error: float) -> float:
    """``value / error`` (inf for a zero error and a non-zero value)."""
    return float(np.divide(value, error)) if error > 0 else (0.0 if value == 0 else np.inf)


def slope_sentence(label: str, slopes: dict, threshold: float = 2.0) -> str:
    """One sentence per method on the fitted slope of the bias against ``label``, from the numbers.

    ``slopes``: {method: (slope, error)}, as in :func:`photoz_nb.pipeline.studies`.  A slope is
    called a trend when it is more than ``threshold`` errors from zero.
    """
    parts = []
    for method, (slope, err) in slopes.items():
        n_sigma = significance(abs(slope), err)
        verdict = (f"a trend at {n_sigma:.1f} sigma" if n_sigma > threshold
                   else f"consistent with no trend ({n_sigma:.1f} sigma)")
        parts.append(f"**{method}** {slope:+.2e} ± {err:.1e} per unit, {verdict}")
    return f"Slope of the bias against {label}: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- tolerances from the errors
def binomial_error(level: float, n: int) -> float:
    """Standard error of a measured fraction with true value ``level`` on ``n`` galaxies."""
    return float(np.sqrt(level * (1 - level) / n))


def coverage_bounds(level: float, n_test: int, n_fit: int | None = None, n_sigma: float = 3.0) -> tuple:
    """The range a calibrated method's coverage at ``level`` falls in, ``n_sigma`` binomial errors wide
    (clipped to [0, 1]).

    The error is the binomial one of ``n_test`` measured galaxies; a map fitted on ``n_fit``
    galaxies carries their binomial error too (added in quadrature).
    """
    var = binomial_error(level, n_test) ** 2 + (binomial_error(level, n_fit) ** 2 if n_fit else 0.0)
    half = n_sigma * np.sqrt(var)
    return float(max(level - half, 0.0)), float(min(level + half, 1.0))


def width_coverage_bounds(level: float, n_test: int, width_tolerance: float = 0.1, n_sigma: float = 3.0) -> tuple:
    """The range of the coverage of central ``level`` intervals of PDFs whose widths are right within
    ``width_tolerance`` (a fraction), widened by ``n_sigma`` binomial errors of ``n_test`` galaxies.

    For a Gaussian PDF ``s`` times as wide as the true scatter the central interval covers ``2 Phi(s z) - 1`` with
    ``z = Phi^-1((1 + level) / 2)``: with ``s`` in [1 - tol, 1 + tol] that is (0.629, 0.726) at 68 % and
    (0.922, 0.969) at 95 % for tol = 0.1.  The claim it tests: a network trained with a proper scoring rule gives
    PDFs nearly calibrated, widths within 10 %, whatever the profile or the run.
    """
    from scipy.stats import norm  # lazy, as in family_threshold

    z = float(norm.isf((1 - level) / 2))
    lo, hi = (2 * float(norm.cdf(z * s)) - 1 for s in (1 - width_tolerance, 1 + width_tolerance))
    half = n_sigma * binomial_error(level, n_test)
    return float(max(lo - half, 0.0)), float(min(hi + half, 1.0))


def difference_significance(a: tuple, b: tuple) -> float:
    """(a - b) in units of the combined error, for ``a = (value, error)`` and ``b`` alike.

    The errors are added in quadrature, as for independent measurements; for two estimates on the
    same galaxies (positively correlated) this overstates the error, so a difference that passes
    is conservative.
    """
    return significance(a[0] - b[0], float(np.hypot(a[1], b[1])))


def family_threshold(n_tests: int, false_alarm: float = 0.01) -> float:
    """Pull (in standard errors) that ``n_tests`` correct two-sided Gaussian comparisons all stay under
    with probability ``1 - false_alarm`` (Bonferroni): 3.3 for one test, 3.9 for 20."""
    from scipy.stats import norm  # lazy: scipy.stats costs ~1 s of import; only this bound needs it

    return float(norm.isf(false_alarm / (2 * n_tests)))


# --------------------------------------------------------------------------- the README's numbers
#: The record of the ``small`` run the README quotes (every number of it: :mod:`photoz_nb.report`), rewritten by
#: ``photoz-nb report --profile small --write-record`` after a new run.
EXPECTED_PATH = Path(__file__).with_name("expected_small.json")
#: Statistics compared with the README by :func:`compare_with_expected`.
EXPECTED_STATS = ("bias", "sigma_mad", "outliers_pct", "crps")


def write_expected_summary(table, simulator: str, path=EXPECTED_PATH, note: str = "",
                           ebv_slopes: dict | None = None) -> Path:
    """Write the README's expected values from a run's summary table (``pipeline.summary``).

    ``photoz-nb report --profile small --write-record`` records every number the README quotes and is the way
    to record a new run; this writes the rows and the E(B-V) slopes only, keeping the other sections of an
    existing record at ``path``.

    ``ebv_slopes``: {"with": (slope, err), "without": (slope, err)}, the E(B-V) slopes of the CNN
    trained with and without the E(B-V) input (``pipeline.studies(ds, pipeline.ebv_experiment(...),
    ["ebv"])``).  Run after a ``small`` reproduction whose numbers the README then quotes::

        table = pipeline.summary("small", ds, pdfs, size_runs)
        slopes = pipeline.studies(ds, pipeline.ebv_experiment("small", ds), ["ebv"])["ebv"]["slopes"]
        tutorial.write_expected_summary(table, ds.manifest["version"], ebv_slopes={
            "with": slopes["CNN with E(B-V)"], "without": slopes["CNN without E(B-V)"]})
    """
    rows = {str(row["trial"]): {s: float(row[s]) for s in EXPECTED_STATS}
            | {f"{s}_err": float(row[f"{s}_err"]) for s in EXPECTED_STATS if f"{s}_err" in row.colnames}
            for row in table}
    path = Path(path)
    content = json.loads(path.read_text()) if path.is_file() else {}
    content.update({"profile": "small", "simulator": str(simulator), "note": note, "rows": rows})
    if ebv_slopes is not None:
        content["ebv_slopes"] = {k: [float(v) for v in ebv_slopes[k]] for k in ("with", "without")}
    path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    return path


def expected_simulator(path=EXPECTED_PATH) -> str:
    """The simulator version of the run whose numbers the README quotes: only a data set of that version
    can be held to them."""
    return json.loads(Path(path).read_text())["simulator"]


def expected_summary(path=EXPECTED_PATH) -> dict:
    """{trial: {stat: value, stat_err: error}} of the README's summary table."""
    return json.loads(Path(path).read_text())["rows"]


def expected_ebv_slopes(path=EXPECTED_PATH) -> dict:
    """{"with": (slope, err), "without": (slope, err)}: the README's E(B-V) slopes of the CNN with and
    without the E(B-V) input (``small`` profile, per magnitude of E(B-V))."""
    return {k: tuple(v) for k, v in json.loads(Path(path).read_text())["ebv_slopes"].items()}


def compare_with_expected(table, expected: dict, trials=None, stats=EXPECTED_STATS):
    """Each statistic of ``table`` beside the README's, with the pull in combined bootstrap errors.

    The two runs are independent trainings on the same galaxies, so their bootstrap errors are
    added in quadrature.  Returns an astropy Table (trial, stat, value, expected, error, pull).
    """
    have = {str(row["trial"]): row for row in table}
    trials = list(expected) if trials is None else list(trials)
    missing = [t for t in trials if t not in have or t not in expected]
    if missing:
        raise ValueError(f"trials {missing} are missing from the run's table or the expected values; "
                         f"run has {sorted(have)}")
    rows = []
    for trial in trials:
        for stat in stats:
            value, ref = float(have[trial][stat]), expected[trial][stat]
            err = float(np.hypot(float(have[trial][f"{stat}_err"]), expected[trial].get(f"{stat}_err", 0.0)))
            rows.append([trial, stat, value, ref, err, significance(value - ref, err)])
    return Table(rows=rows, names=["trial", "stat", "value", "expected", "error", "pull"])
