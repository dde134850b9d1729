"""The chain end to end, one cached step each: data -> estimators -> evaluation -> figures.

Notebooks and the CLI call these steps.  Only the training step (:func:`train`; ``photoz-nb train``,
notebook 02) fits models; every later step reads the saved models and predictions and, when one is
missing or made from other inputs, raises :class:`~photoz_nb.estimators.NotTrained` naming that step.
Data sets are validated; models are keyed by their run identity, predictions by :func:`prediction_key`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from . import calibrate, catalog, config, metrics, pdf, plots
from .estimators import ConstantNZ, NotTrained, parts_digest, registry, rows_digest
from .sdss import prepare_real_dataset
from .simulate import ensure_dataset
from .stats import markdown_table

#: Labels of reference predictors: summary-table rows only (see :func:`compared`).
REFERENCES = (ConstantNZ.label,)
def tail_resolving_edges(values, n_core: int = 4, core_quantile: float = 0.8, ratio: float = 1.5,
                         min_count: int = 40) -> np.ndarray:
    """Bin edges for a property with a long upper tail (E(B-V)): equal counts in the core, log spacing in the tail.

    ``n_core`` equal-count bins up to the ``core_quantile`` quantile, then edges that grow by ``ratio`` up to the
    largest value; a tail bin with fewer than ``min_count`` values is merged into its neighbour (the top one into
    the one below it), so every bin keeps enough galaxies for bootstrap errors.  Six equal-count bins put every
    galaxy above ~0.045 mag (a fifth of them, out to 0.3 mag) into one bin plotted at its median, 0.06; on 2,000
    test galaxies these edges give tail bins near 0.043-0.064, 0.064-0.097 and 0.097 up, each with 40 or more.
    Fewer than ``2 * min_count`` values get ``n_core + 1`` equal-count bins.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 * min_count:  # too few to give the tail bins of its own: n_core + 1 equal-count bins
        return np.quantile(values, np.linspace(0.0, 1.0, n_core + 2))
    core = np.quantile(values, np.linspace(0.0, core_quantile, n_core + 1))
    start, top = float(core[-1]), float(values.max())
    if not start > 0:
        raise ValueError(f"the tail must start above 0 for log spacing, got {start:g}")
    tail = [start]
    while tail[-1] * ratio < top:
        tail.append(tail[-1] * ratio)
    tail.append(top)
    while len(tail) > 2:
        counts = np.histogram(values, tail)[0]
        sparse = np.flatnonzero(counts < min_count)
        if not len(sparse):
            break
        k = int(sparse[-1])  # merge the highest sparse bin: drop its lower edge (its upper one if it is the first)
        del tail[k if k > 0 else 1]
    if np.sum(values >= start) < min_count:  # too few for even one tail bin: the core's last bin takes them
        return np.append(core[:-1], top)
    return np.concatenate([core[:-1], tail])


#: The bias studies: catalogue column (or "z_phot", each method's own estimate) -> axis label and
#: bins (a number of equal-count bins, explicit edges for discrete properties, or a function of the
#: values that returns edges: E(B-V), whose long tail equal-count bins squeeze into one bin).
PROPERTIES = {
    "z_spec": ("spectroscopic redshift", 6),
    "z_phot": ("photometric redshift", 6),
    "petro_r": ("Petrosian r [mag]", 6),
    "ebv": ("E(B-V) [mag]", tail_resolving_edges),
    "b_over_a": ("axis ratio b/a", 6),
    "n_neighbours": ("neighbours in the cutout", [-0.5, 0.5, 1.5, 2.5]),
    "psf_fwhm_r": ("PSF FWHM (r) [arcsec]", 6),
    "snr_r": ("S/N (r)", 6),
}
#: Fractions of the training pool for the training-size rows of the summary table (the paper's
#: 2 % and 20 % rows; the full pool is the main CNN).
TRAINING_FRACTIONS = (0.02, 0.2)
#: Stable figure names -> the figure family of Pasquet et al. (2019) each one regenerates.
FIGURE_INDEX = {
    "galaxy_and_pdf": "one galaxy's ugriz cutout beside its CNN PDF (not in the paper: the README's picture)",
    "redshift_magnitude_distributions": "redshift and r-magnitude distributions of the sample, per split",
    "example_cutouts": "example ugriz cutouts with colour composites",
    "zphot_vs_zspec": "z_phot vs z_spec, CNN beside the best photometry-only method (paper: CNN vs B16)",
    "pit_histogram": "PIT histograms (calibration of the PDFs)",
    "pdf_examples": "example PDFs with the true redshift",
    "stacked_nz": "stacked PDFs vs the true n(z)",
    "architecture": "the Net_P architecture (as built, with the profile's width)",
    "learning_curves": "training and validation loss per epoch (not in the paper; training diagnostic)",
    "pdf_widths": "PDF widths (68% interval) and the median |z_phot - z_spec| per width bin",
    "stripe82_depth": "sigma_MAD and outliers of normal-depth vs Stripe-82-depth galaxies",
    "metrics_vs_training_size": "sigma_MAD, outliers and CRPS vs training-set size (CNN), baselines for reference",
    **{f"metrics_vs_{c}": f"bias, sigma_MAD and outlier fraction vs {label}, CNN vs photometry"
       for c, (label, _) in PROPERTIES.items()},
    "metrics_vs_ebv_input": "bias etc. vs E(B-V) for the CNN trained with and without E(B-V) as an input",
    "outlier_gallery": "the CNN's worst outliers, cutouts and PDFs (not in the paper: a diagnostic)",
}
_BOOT = "error bars: ±1 bootstrap standard error (200 resamples of the galaxies)"
_BINNED = ("bias ⟨Δz⟩ (top; dashed line: zero), σ_MAD (middle) and outlier percentage η (bottom) of the test galaxies "
           "in bins of {what}; each point sits at the median of its bin, series dodged sideways by 15% of a typical "
           "bin for legibility; " + _BOOT + " of each bin). Δz = (z_phot − z_spec)/(1 + z_spec), z_phot the PDF mean")
_BINS = {6: "six equal-count bins",
         "n_neighbours": "0, 1 and 2 neighbours",
         "ebv": "E(B−V): four equal-count bins up to the 80th percentile, then bins widening by 1.5× (log spacing) "
                "up to the largest value, each with at least 40 galaxies (`pipeline.tail_resolving_edges`)"}


def _binned_caption(column: str, label: str) -> str:
    bins = PROPERTIES[column][1]
    how = _BINS.get(column, _BINS.get(bins if isinstance(bins, int) else None, f"{bins} bins"))
    return _BINNED.format(what=f"{label} ({how})")


#: What is drawn in each figure: every band, whisker, error bar and line defined (figures/README.md).
FIGURE_CAPTIONS = {
    "galaxy_and_pdf": "Left: the u, g, r, i, z stamps of one test galaxy (64 × 64 pixels of 0.396″), each on its own "
                      "asinh stretch (darker = brighter), and a Lupton i, r, g colour image (white bar: 10″). Right: "
                      "its CNN PDF as a probability density on the 180 bins; grey band: central 68% interval; "
                      "dotted: the PDF mean (z_phot); dashed: the true z_spec. The galaxy is the test galaxy with the "
                      "median 68% width (ties: the first).",
    "redshift_magnitude_distributions": "Histograms (probability density) of z_spec (top, 40 bins on [0, 0.4]) and "
                                        "Petrosian r (bottom), one outline per split with its number of galaxies; "
                                        "dotted: the r = 17.8 selection limit. No error bars.",
    "example_cutouts": "Six galaxies drawn at random (seeded), rows sorted by z_spec (row label: z_spec and Petrosian "
                       "r); columns u–z each on its own asinh stretch (darker = brighter), last column a Lupton i, r, g "
                       "composite with one stretch for all rows; white bar: 10″.",
    "zphot_vs_zspec": "Test galaxies in 80 × 80 cells on [0, 0.4]²: colour = galaxies per cell (log scale shared by the "
                      "panels; empty cells blank). Solid: z_phot = z_spec; dashed: the outlier envelope |Δz| = 0.05. "
                      "Box: bias, σ_MAD, outlier percentage η and N of the panel (their bootstrap errors are in the "
                      "summary table). Left: the CNN; right: the photometry-only baseline with the lowest σ_MAD in "
                      "this run (the random forest, RF, on `small`).",
    "pit_histogram": "PIT = CDF(z_spec) of each test galaxy in 20 bins, as a density (1 = uniform = calibrated). "
                     "Light fill with thick outline: the CNN; thin outlines: the other methods. Grey bands: ±1σ "
                     "(darker) and ±2σ (lighter) Poisson scatter of a histogram of N uniform draws, "
                     "1 ± k·sqrt(20/N), drawn over the fill; dashed: uniform.",
    "pdf_examples": "Six test galaxies drawn at random (seeded), sorted by z_spec: the CNN PDF as a density on its 180 "
                    "bins (steps), and z_spec (dashed). Each panel is zoomed to its PDF's central 99.8% and z_spec.",
    "stacked_nz": "Top: the sum of the CNN's test PDFs (line) and the histogram of z_spec (grey fill), both densities "
                  "on the 180 PDF bins. Bottom: stacked minus true; grey band: ±1σ Poisson error of the true "
                  "histogram in each bin.",
    "architecture": "Each stage of Net_P as built for the profile, with its output shape (height × width × maps). "
                    "No statistics.",
    "learning_curves": "Cross-entropy loss [nat] per epoch of ensemble member 0 on its training (solid) and validation "
                       "(dashed) galaxies; star: the epoch of lowest validation loss, whose weights are kept.",
    "pdf_widths": "Top: histogram (probability density) of the central 68% width of each test PDF, per method "
                  "(legend: the median). Bottom: median |z_phot − z_spec| in 8 equal-count bins of width, each point "
                  "at its bin's median width (no error bars); dashed: what calibrated Gaussian PDFs give, "
                  "0.339 × width.",
    "stripe82_depth": "σ_MAD (top) and outlier percentage (bottom) of normal-depth (circles) and Stripe-82-depth "
                      "(squares) test galaxies, per method; " + _BOOT + ").",
    "metrics_vs_training_size": "σ_MAD, outlier percentage and mean CRPS of CNNs trained on 2%, 20% and 100% of the "
                                "training pool (points; the line joins the means at each size), all on the same test "
                                "galaxies; horizontal lines: the baselines trained on the full pool. No error bars "
                                "(the summary table gives the bootstrap errors).",
    **{f"metrics_vs_{c}": _binned_caption(c, label) for c, (label, _) in PROPERTIES.items()},
    "metrics_vs_ebv_input": _binned_caption("ebv", "E(B−V)") + "; blue: ensemble member 0 (E(B−V) as an input), "
                            "orange: its twin trained without E(B−V) (same seed, same galaxies).",
    "outlier_gallery": "The test galaxies with the largest |Δz| of the CNN, worst first: u–z stamps (each its own asinh "
                       "stretch, darker = brighter), a Lupton i, r, g image (white bar: 10″), and the CNN PDF (steps; "
                       "grey band: central 68% interval; dotted: PDF mean; dashed: z_spec).",
}


def dataset(profile, source: str = "simulation", **options) -> catalog.Dataset:
    """The profile's data set: the embedded simulation (built on first use) or real SDSS images.

    The simulation is built when missing and rebuilt when made by another version or seed
    (saying why, in one line, first); a damaged one (failing validation) is never rebuilt
    silently here: it raises ContractError naming the damage and the command that rebuilds it
    (``photoz-nb simulate``).

    ``source`` "sdss" (cutouts of SDSS frames) or "cube" (the authors' public cube) calls
    :func:`photoz_nb.sdss.prepare_real_dataset` with ``options`` (e.g. ``catalog=``, ``mirror=``,
    ``cube=``).  Models and predictions are keyed by the data set's checksums, so switching
    sources retrains rather than reusing a model of the other data.
    """
    profile = config.get_profile(profile)
    if source == "simulation":
        if options:
            raise ValueError(f"the simulation takes no real-data options, got {sorted(options)}")
        path = ensure_dataset(profile)
    else:
        path = prepare_real_dataset(source, profile, **options)
    return catalog.open_dataset(path, verify_checksums=profile.verify_checksums)


def train(profile, ds: catalog.Dataset, studies: bool = True) -> list:
    """The training step (``photoz-nb train``, notebook 02): fit every estimator of the registry and write
    its PDFs; with ``studies``, also the E(B-V) twin and the training-size CNNs of notebooks 04-05.

    Each fit is cached (models by their run identity, PDFs by :func:`prediction_key`), so a second call
    only reads.  Returns the CNN ensemble's members (TrainResults: model, history, path).
    """
    members = cnn_members(profile, ds, fit=True)
    all_pdfs(profile, ds, fit=True)
    if studies:
        ebv_pairs(profile, ds, fit=True)
        training_size_runs(profile, ds, fit=True)
    return members


def cnn_members(profile, ds: catalog.Dataset, name: str = "cnn", use_ebv: bool = True, size: int | None = None,
                fit: bool = False) -> list:
    """The CNN ensemble's trained members (TrainResults), reloaded; ``fit=True`` trains the missing ones,
    else a missing or stale model raises :class:`NotTrained` naming the training step."""
    from .estimators.cnn import CNNEnsemble  # lazy: estimators.cnn loads Keras (seconds)
    ensemble = CNNEnsemble(profile, name, use_ebv, size).fit(ds, ds.split("train"), ds.split("val"), retrain=fit)
    return [m.result for m in ensemble.members]


def train_cnn(profile, ds: catalog.Dataset, name: str = "cnn", use_ebv: bool = True, size: int | None = None):
    """Train (or reload) the profile's ensemble of CNNs: :func:`cnn_members` with ``fit=True``."""
    return cnn_members(profile, ds, name, use_ebv, size, fit=True)


def member_pdfs(profile, ds: catalog.Dataset, name: str = "cnn", fit: bool = False) -> list[np.ndarray]:
    """PDFs of every galaxy from each member of the CNN ensemble ``name`` (each cached on its own)."""
    from .estimators.cnn import CNNEnsemble  # lazy: estimators.cnn loads Keras (seconds)
    return [predictions(profile, ds, m, fit=fit) for m in CNNEnsemble(profile, name).members]


def prediction_key(ds: catalog.Dataset, estimator, train, val) -> str:
    """The cache key of an estimator's PDFs: the checksums of what it reads of ``ds``, ``estimator.params()``
    and the digests of the rows it is fitted on (train) and tuned or early-stopped on (val)."""
    return parts_digest(catalog.input_checksums(ds, estimator.reads), estimator.params(), rows_digest(train),
                        rows_digest(val))


def predictions(profile, ds: catalog.Dataset, estimator, train=None, val=None, fit: bool = False) -> np.ndarray:
    """PDFs of every galaxy from ``estimator`` fitted on ``train`` (default the train split), tuned on ``val``.

    Read from ``predictions/<name>.npz`` when its key (:func:`prediction_key`) matches; otherwise, with
    ``fit``, fitted, predicted and saved; without, :class:`NotTrained` names the step to run.  An
    ensemble (an estimator with ``members``) caches each member and averages them.
    """
    from .estimators.cnn import ensemble_mean  # lazy: estimators.cnn loads Keras (seconds)
    from .estimators.cnn.predict import load_predictions, save_predictions
    profile = config.get_profile(profile)
    train = ds.split("train") if train is None else np.asarray(train)
    val = ds.split("val") if val is None else np.asarray(val)
    if hasattr(estimator, "members"):
        return ensemble_mean([predictions(profile, ds, m, train, val, fit) for m in estimator.members])
    key = prediction_key(ds, estimator, train, val)
    path = profile.predictions_dir / f"{estimator.name}.npz"
    if path.exists():
        saved = load_predictions(path)
        if saved.meta.get("key") == key:
            return saved.pdfs
    if not fit:
        why = "made from other inputs" if path.exists() else "missing"
        raise NotTrained(f"{path}: PDFs of {estimator.label} {why}; make them first: "
                         f"photoz-nb train --profile {profile.name} (or notebook 02)")
    pdfs = estimator.fit(ds, train, val).predict_pdfs(ds, np.arange(len(ds)))
    save_predictions(path, pdfs, config.redshift_edges(), np.arange(len(pdfs)), meta={"key": key})
    return pdfs


def all_pdfs(profile, ds: catalog.Dataset, fit: bool = False) -> dict[str, np.ndarray]:
    """PDFs of every galaxy from each estimator of the registry, by label (CNN, kNN, RF, constant n(z)).

    Read from the saved predictions; ``fit=True`` fits what is missing (the training step does).
    """
    return {label: predictions(profile, ds, est, fit=fit) for label, est in registry(profile).items()}


def compared(pdfs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The methods under study: ``pdfs`` without reference predictors (the constant n(z)), which are
    rows of the summary table but not lines of the comparison figures and bias studies."""
    return {label: p for label, p in pdfs.items() if label not in REFERENCES}


def summary(profile, ds: catalog.Dataset, pdfs: dict[str, np.ndarray], size_runs: dict | None = None,
            kind: str = "mean", n_boot: int = 200):
    """The paper's table (trial, training size, bias, sigma_MAD, outliers %, CRPS) on the test split.

    ``size_runs`` ({training size: CNN PDFs}, from :func:`training_size_runs`) adds the training-size rows.
    Each statistic gets a bootstrap error (``*_err`` columns; ``n_boot`` resamples seeded by the profile).
    """
    edges = config.redshift_edges()
    test = ds.split("test")
    z = ds.column("z_spec", "test")
    n_train = len(ds.split("train"))
    s82 = ds.column("stripe82", "test", bool)
    rows = []
    for name, p in pdfs.items():
        p = p[test]
        zp, crps = pdf.point_estimate(p, edges, kind), pdf.crps(p, edges, z)
        # a reference's PDFs are all alike: its "widest 20%" would be ties broken by row order
        keep = None if name in REFERENCES else metrics.widest_removed(p, edges)
        subsets = {"full test sample": np.ones(len(z), bool), "widest 20% of PDFs removed": keep}
        if s82.sum() >= 20:
            subsets.update({"testing on Stripe 82": s82, "Stripe 82, widest 20% removed": None if keep is None else s82 & keep})
        for trial, m in subsets.items():
            if m is not None:
                rows.append(metrics.summary_row(f"{name}: {trial}", n_train, zp[m], z[m], crps[m],
                                                n_boot=n_boot, seed=profile.seed))
    for size, p in (size_runs or {}).items():
        p = p[test]
        rows.append(metrics.summary_row(f"CNN: {100 * size / n_train:.0f}% of the training pool", size,
                                        pdf.point_estimate(p, edges, kind), z, pdf.crps(p, edges, z),
                                        n_boot=n_boot, seed=profile.seed))
    return metrics.summary_table(rows)


def point_estimates(pdfs: dict[str, np.ndarray], kind: str = "mean") -> dict[str, np.ndarray]:
    return {name: pdf.point_estimate(p, config.redshift_edges(), kind) for name, p in pdfs.items()}


def calibrated_test_pdfs(ds: catalog.Dataset, pdfs: np.ndarray, cross_fit: bool = False,
                         seed: int = 0) -> dict[str, np.ndarray]:
    """The test split's PDFs recalibrated by each method of :mod:`photoz_nb.calibrate`.

    By default the calibrators are fitted on the validation split only (a pure hold-out test).
    ``cross_fit=True`` calibrates each of 5 test folds with maps fitted on validation plus the
    other test folds (:func:`calibrate.cross_fit_all`): no galaxy's map has seen its own redshift,
    and the maps rest on ~3x more galaxies, which cuts their sampling noise on small splits.

    Returns {"uncalibrated": ..., "temperature": ..., "pit_remap": ..., "conditional_pit_remap": ...};
    the conditional remap is conditioned on Petrosian r magnitude.
    """
    val, test = ds.split("val"), ds.split("test")
    z, r = ds.column("z_spec"), ds.column("petro_r")
    if cross_fit:
        return calibrate.cross_fit_all(pdfs[val], z[val], pdfs[test], z[test], r[val], r[test], seed=seed)
    calibrators = calibrate.fit_all(pdfs[val], z[val], condition_val=r[val])
    return calibrate.apply_all(calibrators, pdfs[test], condition=r[test])


def studies(ds: catalog.Dataset, pdfs: dict[str, np.ndarray], properties=None, split: str = "test") -> dict:
    """Bias, sigma_MAD and outliers in bins of each property, per method (references left out), with fitted slopes.

    Returns {property: {"tables": {method: Table}, "slopes": {method: (slope, err)}}}.
    """
    pdfs = compared(pdfs)
    rows = ds.split(split)
    z = ds.column("z_spec", split)
    zp = {name: v[rows] for name, v in point_estimates(pdfs).items()}
    out = {}
    for column in properties or PROPERTIES:
        bins = PROPERTIES[column][1]
        values = {name: zp[name] if column == "z_phot" else ds.column(column, split)
                  for name in pdfs}
        tables = {name: metrics.binned_metrics(values[name], zp[name], z, bins(values[name]) if callable(bins) else bins)
                  for name in pdfs}
        out[column] = {"tables": tables,
                       "slopes": {name: metrics.fit_slope(t, "bias") for name, t in tables.items()}}
    return out


def slope_table(study: dict):
    """One row per property: the fitted slope of the bias (with error) for each method."""
    methods = list(next(iter(study.values()))["slopes"])
    rows = [[PROPERTIES[c][0]] + [f"{s[m][0]:+.2e} ± {s[m][1]:.1e}" for m in methods]
            for c, s in ((c, v["slopes"]) for c, v in study.items())]
    return Table(rows=rows, names=["property"] + [f"d(bias)/dx {m}" for m in methods])


def markdown(table) -> str:
    """A Markdown pipe table of any astropy Table (for the README and notes)."""
    return markdown_table(list(table), headers=table.colnames)


EBV_LABELS = {"CNN with E(B-V)": ("cnn", True), "CNN without E(B-V)": ("cnn_no_ebv", False)}


def ebv_pairs(profile, ds: catalog.Dataset, fit: bool = False, n_seeds: int | None = None) -> list[dict[str, np.ndarray]]:
    """The paper's reddening test once per seed: for k < ``n_seeds`` (default ``profile.ebv_seeds``), the PDFs of
    ensemble member k (E(B-V) as an input) and of its twin trained without it (same seed, same galaxies), so the
    only difference within a pair is the input.  Read from saved predictions unless ``fit``."""
    from .estimators.cnn import CNNEnsemble  # lazy: estimators.cnn loads Keras (seconds)
    profile = config.get_profile(profile)
    n_seeds = profile.ebv_seeds if n_seeds is None else int(n_seeds)
    members = {label: CNNEnsemble(profile, name, use_ebv, size=n_seeds).members
               for label, (name, use_ebv) in EBV_LABELS.items()}
    return [{label: predictions(profile, ds, models[k], fit=fit) for label, models in members.items()}
            for k in range(n_seeds)]


def ebv_experiment(profile, ds: catalog.Dataset, fit: bool = False) -> dict[str, np.ndarray]:
    """The first seed's pair of :func:`ebv_pairs` (the figures and tables show it)."""
    return ebv_pairs(profile, ds, fit, n_seeds=1)[0]


def ebv_slope_difference(ds: catalog.Dataset, pairs: list[dict[str, np.ndarray]]) -> tuple[float, float, Table]:
    """How much the E(B-V) input flattens the bias against E(B-V), over seeds: (mean, error, one row per seed).

    Each seed's difference is the slope without the input minus the slope with it, with the bootstrap error of
    both slopes in quadrature.  All seeds share the test galaxies, so their bootstrap noise does not average
    down: the error of the mean is sqrt(mean bootstrap variance + variance over seeds / n_seeds).
    """
    with_label, without_label = EBV_LABELS
    rows = []
    for k, pair in enumerate(pairs):
        slopes = studies(ds, pair, properties=["ebv"])["ebv"]["slopes"]
        (w, w_err), (wo, wo_err) = slopes[with_label], slopes[without_label]
        rows.append((k, w, w_err, wo, wo_err, wo - w, float(np.hypot(w_err, wo_err))))
    table = Table(rows=rows, names=["seed", "slope_with", "slope_with_err", "slope_without", "slope_without_err",
                                    "difference", "difference_err"])
    d = np.asarray(table["difference"], float)
    seed_var = d.var(ddof=1) / len(d) if len(d) > 1 else 0.0
    return float(d.mean()), float(np.sqrt(np.mean(np.asarray(table["difference_err"]) ** 2) + seed_var)), table


def training_size_runs(profile, ds: catalog.Dataset, fractions=TRAINING_FRACTIONS, fit: bool = False) -> dict[int, np.ndarray]:
    """CNNs trained on seeded random fractions of the training pool: {training size: PDFs of every galaxy}."""
    from .estimators.cnn import CNNEnsemble  # lazy: estimators.cnn loads Keras (seconds)
    profile = config.get_profile(profile)
    pool = ds.split("train")
    runs = {}
    for fraction in fractions:
        size = max(1, round(fraction * len(pool)))
        index = np.sort(np.random.default_rng(profile.seed).choice(pool, size, replace=False))
        cnn = CNNEnsemble(profile, f"cnn_train{round(100 * fraction):02d}pct", size=1)
        runs[size] = predictions(profile, ds, cnn, train=index, fit=fit)
    return runs


def figures(profile, ds: catalog.Dataset, pdfs: dict[str, np.ndarray], members=None,
            ebv_pdfs: dict[str, np.ndarray] | None = None, size_runs: dict | None = None) -> list[Path]:
    """Write every figure family to ``figures/<profile>/`` (PDF + PNG) and the index ``figures/README.md``.

    Reference predictors are left out (:func:`compared`).  ``members`` (the CNN ensemble from :func:`cnn_members`), ``ebv_pdfs`` (:func:`ebv_experiment`) and ``size_runs``
    (:func:`training_size_runs`) add the architecture and learning curves, the E(B-V)-input study and
    the training-size figure.
    """
    pdfs = compared(pdfs)
    made = {**galaxy_figures(ds, pdfs["CNN"]),
            "redshift_magnitude_distributions": plots.redshift_magnitude_distributions(ds.catalog),
            "example_cutouts": plots.example_cutouts(ds.images, ds.catalog, seed=profile.seed),
            **prediction_figures(profile, ds, pdfs)}
    if members:
        made["architecture"] = plots.architecture(members[0].model)
        made["learning_curves"] = plots.learning_curves(members[0].history)
    for column, study in studies(ds, pdfs).items():
        made[f"metrics_vs_{column}"] = plots.metric_vs_property(study["tables"], PROPERTIES[column][0])
    if ebv_pdfs:
        tables = studies(ds, ebv_pdfs, properties=["ebv"])["ebv"]["tables"]
        made["metrics_vs_ebv_input"] = plots.metric_vs_property(tables, PROPERTIES["ebv"][0])
    if size_runs:
        made["metrics_vs_training_size"] = _training_size_figure(profile, ds, pdfs, size_runs)
    paths = []
    for name, fig in made.items():
        paths += plots.save_figure(fig, profile.figures_dir, name)
    write_figure_index(profile.figures_dir.parent / "README.md")
    return paths


def prediction_figures(profile, ds: catalog.Dataset, pdfs: dict[str, np.ndarray]) -> dict:
    """The figures of the test-split PDFs: z_phot vs z_spec, PIT, examples, n(z), widths, Stripe 82."""
    edges, test = config.redshift_edges(), ds.split("test")
    z = ds.column("z_spec", "test")
    p = {name: v[test] for name, v in compared(pdfs).items()}
    zp = point_estimates(p)
    baseline = best_baseline(zp, z)
    pit = {name: pdf.pit(v, edges, z) for name, v in p.items()}
    s82 = ds.column("stripe82", "test", bool)

    def stats(name, m):  # point metrics with bootstrap errors, for the Stripe 82 comparison
        return {**metrics.point_metrics(zp[name][m], z[m]),
                **{f"{k}_err": v for k, v in metrics.bootstrap(metrics.point_metrics, zp[name][m], z[m]).items()}}

    made = {"zphot_vs_zspec": plots.zphot_vs_zspec(z, zp["CNN"], label="CNN",
                                                   baseline=(zp[baseline], f"{baseline} (best photometry-only method)")),
            "pit_histogram": plots.pit_histogram(pit["CNN"], label="CNN", others={k: v for k, v in pit.items() if k != "CNN"}),
            "pdf_examples": plots.pdf_examples(p["CNN"], edges, z, seed=profile.seed),
            "stacked_nz": plots.stacked_nz(p["CNN"], edges, z),
            "pdf_widths": plots.pdf_widths({k: pdf.width(v, edges) for k, v in p.items()}, edges, z_phot=zp, z_spec=z)}
    if s82.sum() >= 20:
        made["stripe82_depth"] = plots.stripe82_depth({name: {"normal": stats(name, ~s82), "stripe82": stats(name, s82)}
                                                       for name in p})
    return made


def best_baseline(z_phot: dict[str, np.ndarray], z_spec) -> str:
    """The method other than the CNN with the lowest sigma_MAD on these galaxies (the one the CNN must beat)."""
    others = {name: metrics.point_metrics(zp, z_spec)["sigma_mad"] for name, zp in z_phot.items() if name != "CNN"}
    if not others:
        raise ValueError(f"no baseline beside the CNN among {sorted(z_phot)}")
    return min(others, key=others.get)


def readme_galaxy(ds: catalog.Dataset, cnn_pdfs: np.ndarray) -> int:
    """The row of the test galaxy whose CNN PDF has the median central 68% width (ties: the first): a typical PDF."""
    test = ds.split("test")
    widths = pdf.width(cnn_pdfs[test], config.redshift_edges())
    return int(test[np.argsort(widths, kind="stable")[(len(widths) - 1) // 2]])


def worst_outliers(ds: catalog.Dataset, cnn_pdfs: np.ndarray, n: int = 6) -> np.ndarray:
    """Rows of the ``n`` test galaxies with the largest |dz| = |z_phot - z_spec| / (1 + z_spec) (PDF mean), worst first."""
    test = ds.split("test")
    z = ds.column("z_spec", "test")
    dz = np.abs(pdf.point_estimate(cnn_pdfs[test], config.redshift_edges(), "mean") - z) / (1 + z)
    return test[np.argsort(-dz, kind="stable")[:n]]


def galaxy_figures(ds: catalog.Dataset, cnn_pdfs: np.ndarray, n_outliers: int = 6) -> dict:
    """The README's picture (one typical galaxy and its PDF) and the gallery of the CNN's worst outliers."""
    edges = config.redshift_edges()
    row = readme_galaxy(ds, cnn_pdfs)
    z, r = ds.column("z_spec"), ds.column("petro_r")
    rows = worst_outliers(ds, cnn_pdfs, n_outliers)
    stamps = np.asarray(ds.images[np.sort(rows)], dtype=np.float64)[np.argsort(np.argsort(rows))]
    z_phot = pdf.point_estimate(cnn_pdfs[rows], edges, "mean")
    titles = [f"|Δz| = {abs(zp - z[k]) / (1 + z[k]):.3f},  r = {r[k]:.1f} mag" for k, zp in zip(rows, z_phot)]
    return {"galaxy_and_pdf": plots.galaxy_and_pdf(np.asarray(ds.images[row]), cnn_pdfs[row], edges, z[row], r[row]),
            "outlier_gallery": plots.outlier_gallery(stamps, cnn_pdfs[rows], edges, z[rows], titles)}


def _training_size_figure(profile, ds: catalog.Dataset, pdfs: dict[str, np.ndarray], size_runs: dict):
    """sigma_MAD, outliers and CRPS of the CNN vs training size; the baselines at full size as references."""
    table = summary(profile, ds, pdfs, size_runs)
    full = [i for i, t in enumerate(table["trial"]) if t.endswith("full test sample")]
    cnn_rows = [i for i, t in enumerate(table["trial"]) if t == "CNN: full test sample" or "training pool" in t]
    references = {table["trial"][i].split(":")[0]: table[i] for i in full if not table["trial"][i].startswith("CNN")}
    return plots.metrics_vs_training_size(table[cnn_rows], references=references)


#: Figures of the data, written by notebook 01 (and the commands named), not by :func:`figures`.
DATA_FIGURE_INDEX = {
    "realism_sky_noise": "sky noise per band, simulation vs real SDSS frames (`photoz-nb simulate --validate`)",
    "realism_psf_fwhm": "PSF FWHM of real stars vs the simulated seeing distribution (`simulate --validate`)",
    "realism_galaxy_sizes": "galaxy size vs magnitude and concentration, simulation vs real frames (`simulate --validate`)",
    "realism_colour_redshift": "colours vs redshift, simulation vs the real MGS catalogue (`simulate --validate`)",
    "sdss_bright_galaxies": "ugriz cutouts and colour composites of the brightest real galaxies (`photoz-nb sdss figure`)",
}


#: What is drawn in each figure of the data (see :data:`FIGURE_CAPTIONS`).
_BOXES = ("Boxes: the simulated values per band, quartiles (box), median (line), whiskers from the 5th to the 95th "
          "percentile (no fliers drawn); markers: the median of each real SDSS field, bars from its 16th to its 84th "
          "percentile (a spread of {what}, not an error of the median)")
DATA_FIGURE_CAPTIONS = {
    "realism_sky_noise": _BOXES.format(what="cutouts") + "; log scale.",
    "realism_psf_fwhm": _BOXES.format(what="stars") + ". Top: FWHM of a Moffat fit to the core; bottom: the "
                        "effective (noise-equivalent) FWHM.",
    "realism_galaxy_sizes": "Top: half-light radius against Petrosian r, simulated (grey dots) and real-frame galaxies "
                            "(diamonds), measured by the same curve of growth. Bottom: histograms (probability "
                            "density) of the concentration r90/r50; ticks: each real galaxy; dotted: the exponential "
                            "(2.3) and de Vaucouleurs (3.3) values. No error bars.",
    "realism_colour_redshift": "Per redshift bin: line, the median simulated colour; grey band, ± the simulated "
                               "colours' robust scatter (σ_MAD); markers, the median colour of the real MGS galaxies; "
                               "bars, ± their σ_MAD (a spread of galaxies, not an error of the median).",
    "sdss_bright_galaxies": "Rows: the brightest galaxies of each real SDSS field; columns u–z share one asinh stretch "
                            "per band (colour bar below, nanomaggies per pixel), last a Lupton i, r, g image; axes: "
                            "offsets in arcsec (north up, east left).",
}


def write_figure_index(path: Path) -> None:
    """``figures/README.md``: which file regenerates which figure of the paper, and what each one draws."""
    def table(index, captions):
        return (["| file | regenerates | what is drawn |", "|---|---|---|"]
                + [f"| `{n}` | {d} | {captions.get(n, '')} |" for n, d in index.items()])
    lines = ["# Figures", "", "Written by `photoz-nb figures` (or notebook 05) to `figures/<profile>/NAME.pdf|png`. "
             "`figures/readme/` holds the README's copies of the `small` run's PNGs (`cp figures/small/NAME.png figures/readme/`).",
             "",
             *table(FIGURE_INDEX, FIGURE_CAPTIONS), "",
             "Written by notebook 01 (or the command in brackets), same place and formats:", "",
             *table(DATA_FIGURE_INDEX, DATA_FIGURE_CAPTIONS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
