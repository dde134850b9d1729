"""Photometry-only baselines (the paper's comparison with Beck et al. 2016): PDFs from magnitudes.

Both methods see only dereddened magnitudes and colours, never pixels, and return PDFs on the
same redshift bins as the CNN, so every metric and figure treats them alike.  A method produces
an ensemble of redshift samples per galaxy (the k nearest neighbours' redshifts, or the trees'
predictions); the PDF is that ensemble smoothed by a Gaussian kernel integrated exactly over each
bin.  The kernel width is the one free choice: it is fitted on the validation split by CRPS.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import NearestNeighbors

from . import checks, config

BANDWIDTHS = np.array([0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024])
#: Most distinct sample values whose kernel CDFs :func:`samples_to_pdfs` tabulates at once.
MAX_TABLE_ROWS = 1 << 17
def check_inputs(catalog, where: str, labels: bool) -> None:
    """Every magnitude finite and no sentinel and, with ``labels``, every redshift on the grid
    (:mod:`photoz_nb.checks`: the error names the column and the first bad row)."""
    for band in config.BANDS:
        checks.check_photometry(checks.column(catalog, f"mag_{band}", where), f"mag_{band}", where)
    if labels:
        checks.check_labels(checks.column(catalog, "z_spec", where), "z_spec", where)


def photometric_features(catalog) -> np.ndarray:
    """r magnitude plus the four adjacent colours (dereddened), as float64 columns."""
    mags = np.column_stack([np.asarray(catalog[f"mag_{b}"], float) for b in config.BANDS])
    if not np.isfinite(mags).all():
        raise ValueError("photometric baseline: non-finite dereddened magnitude in the catalogue")
    return np.column_stack([mags[:, 2], -np.diff(mags, axis=1)])


def samples_to_pdfs(samples: np.ndarray, edges: np.ndarray, bandwidth: float, chunk: int = 256) -> np.ndarray:
    """Gaussian-kernel PDFs of per-galaxy samples (n, m), integrated exactly over each bin.

    Kernel mass outside the grid is dropped and the row renormalised (the grid covers the sample).
    Each distinct sample value's kernel CDF at the edges is computed once, then gathered per galaxy:
    neighbours are shared between galaxies (kNN: ~7k distinct of ~47k samples on the MGS test split)
    and so are tree leaves (RF: ~64k of ~196k), and ``ndtr`` was the cost.  Same values, same
    reduction order: the PDFs are bitwise those of evaluating every (galaxy, sample, edge) triple
    (tests/test_baselines.py keeps that reference).  Memory: the table (at most :data:`MAX_TABLE_ROWS`
    distinct values x n_edges, ~190 MB; more distinct values split the galaxies in halves) plus
    chunk x m x n_edges.
    """
    samples = np.asarray(samples, dtype=float)
    values, inverse = np.unique(samples, return_inverse=True)
    if len(values) > MAX_TABLE_ROWS and len(samples) > 1:  # bound the table: halve the galaxies (paper-size sets)
        half = len(samples) // 2
        return np.concatenate([samples_to_pdfs(part, edges, bandwidth, chunk)
                               for part in (samples[:half], samples[half:])])
    pdfs = np.empty((len(samples), len(edges) - 1), np.float32)
    inverse = inverse.reshape(samples.shape)
    table = ndtr((edges[None, :] - values[:, None]) / bandwidth)  # (distinct samples, n_edges)
    for start in range(0, len(samples), chunk):
        cdf = table[inverse[start:start + chunk]].mean(axis=1)
        probs = np.diff(cdf, axis=1)
        pdfs[start:start + chunk] = probs / probs.sum(axis=1, keepdims=True)
    return pdfs


class PhotometricBaseline:
    """Fit on the training split, tune the kernel width on the validation split, predict PDFs.

    ``method`` is ``"knn"`` (k nearest neighbours in standardised magnitude-colour space) or
    ``"rf"`` (random forest regression; the per-tree predictions form the ensemble).
    """

    def __init__(self, method: str = "knn", k: int = 24, n_trees: int = 100, seed: int = 0):
        if method not in ("knn", "rf"):
            raise ValueError(f"unknown baseline method {method!r}; expected 'knn' or 'rf'")
        self.method, self.k, self.n_trees, self.seed = method, k, n_trees, seed
        self.edges = config.redshift_edges()
        self.bandwidth = None

    def fit(self, catalog_train, catalog_val=None) -> "PhotometricBaseline":
        check_inputs(catalog_train, "baseline training catalogue", labels=True)
        if catalog_val is not None:
            check_inputs(catalog_val, "baseline validation catalogue", labels=True)
        x = photometric_features(catalog_train)
        self.z_train = np.asarray(catalog_train["z_spec"], float)
        self.mean, self.scale = x.mean(axis=0), np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        if self.method == "knn":
            self.model = NearestNeighbors(n_neighbors=self.k).fit(self._standardise(x))
        else:
            self.model = RandomForestRegressor(n_estimators=self.n_trees, min_samples_leaf=5,
                                               random_state=self.seed, n_jobs=-1).fit(x, self.z_train)
        self.bandwidth = BANDWIDTHS[len(BANDWIDTHS) // 2]
        if catalog_val is not None and len(catalog_val):
            self.bandwidth = self._tune_bandwidth(catalog_val)
        return self

    def predict_pdfs(self, catalog) -> np.ndarray:
        if self.bandwidth is None:
            raise RuntimeError("PhotometricBaseline.predict_pdfs called before fit")
        check_inputs(catalog, "baseline prediction catalogue", labels=False)
        return samples_to_pdfs(self._samples(catalog), self.edges, self.bandwidth)

    def _standardise(self, x):
        return (x - self.mean) / self.scale

    def _samples(self, catalog) -> np.ndarray:
        x = photometric_features(catalog)
        if self.method == "knn":
            _, idx = self.model.kneighbors(self._standardise(x))
            return self.z_train[idx]
        return np.column_stack([tree.predict(x) for tree in self.model.estimators_])

    def _tune_bandwidth(self, catalog_val) -> float:
        from .pdf import crps
        samples, z = self._samples(catalog_val), np.asarray(catalog_val["z_spec"], float)
        scores = [crps(samples_to_pdfs(samples, self.edges, h), self.edges, z).mean() for h in BANDWIDTHS]
        return float(BANDWIDTHS[int(np.argmin(scores))])


# ---------------------------------------------------------------- the real catalogue benchmark

#: Beck et al. (2016) on the paper's full MGS test sample (Pasquet et al. 2019, Table 1; no CRPS).
B16 = {"bias": 0.00064, "sigma_mad": 0.01350, "outliers_pct": 1.34}
#: Labels of the methods in the benchmark table.
METHOD_LABELS = {"knn": "kNN", "rf": "random forest"}


def real_catalog(n_galaxies: int | None = None, seed: int = 0,
                 split_fractions=(0.72, 0.08, 0.2)):
    """kcorrect's real SDSS MGS galaxies after the paper's cuts, as a baseline-ready catalogue.

    Magnitudes are SDSS-style: asinh magnitudes of the measured model fluxes minus the
    Galactic extinction of the file (no simulation, no SED fill-in of negative fluxes).

    Parameters
    ----------
    n_galaxies : int, optional
        A seeded random subset of this size (all ~9,800 by default).
    seed : int
        Seed of the subset and of the train/val/test labels (:func:`catalog.assign_splits`).
    split_fractions : (float, float, float)
        Train, validation and test fractions.

    Returns
    -------
    astropy.table.Table with ``objid, z_spec, ebv, mag_u..mag_z, petro_r, split``.
    """
    from astropy.table import Table

    from . import catalog, mgs

    real = mgs.read_mgs()
    t = Table.read(mgs.mgs_path())
    rows = real.objid - 1  # objid is the row number in the kcorrect file, from 1
    if n_galaxies is not None:
        if not 10 <= n_galaxies <= len(rows):
            raise ValueError(f"n_galaxies must be in [10, {len(rows)}] (galaxies passing the cuts), got {n_galaxies}")
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_galaxies, replace=False))
    flux, ext = np.asarray(t["MODELFLUX"], float)[rows], np.asarray(t["EXTINCTION"], float)[rows]
    mags = {f"mag_{b}": mgs.asinh_mag(flux[:, i], b) - ext[:, i] for i, b in enumerate(config.BANDS)}
    keep = np.isin(real.objid, rows + 1)
    return Table({"objid": rows + 1, "z_spec": real.z[keep], "ebv": real.ebv[keep], **mags,
                  "petro_r": real.petro_r[keep],
                  "split": catalog.assign_splits(len(rows), split_fractions, seed)})


def real_catalog_benchmark(seed: int = 0, n_galaxies: int | None = None, methods=("knn", "rf"),
                           n_boot: int = 200, kind: str = "mean"):
    """Both photometric baselines on the real MGS galaxies, next to Beck et al. (2016).

    Each method is fitted on the training split, its kernel width tuned on the validation
    split, and scored on the test split; errors are bootstrap standard deviations over
    test galaxies (``n_boot`` resamples, seeded).

    Parameters
    ----------
    seed : int
        Seeds the subset, the splits, the random forest and the bootstrap.
    n_galaxies : int, optional
        Use a random subset (tests); all galaxies passing the cuts by default.
    methods : sequence of str
        ``"knn"`` and/or ``"rf"``.
    n_boot : int
        Bootstrap resamples.
    kind : str
        Point estimate of the PDFs (``mean``, ``median`` or ``mode``; the paper's table uses ``mean``).

    Returns
    -------
    astropy.table.Table
        One row per method and a last ``B16 (published, 516k MGS)`` row: ``method, n_train,
        n_test, bias, bias_err, sigma_mad, sigma_mad_err, outliers_pct, outliers_pct_err,
        crps, crps_err`` and the RAIL point metrics :data:`RAIL_STATS` (see :func:`benchmark`);
        the B16 row has no errors, sizes, CRPS or RAIL metrics (NaN / 0).
    """
    cat = real_catalog(n_galaxies, seed)
    table, _ = benchmark(cat, methods, seed=seed, n_boot=n_boot, kind=kind)
    n_rail = len(table.colnames) - 3 - 2 * len(BENCHMARK_STATS)
    table.add_row(["B16 (published, 516k MGS)", 0, 0]
                  + [v for s in BENCHMARK_STATS for v in (B16.get(s, np.nan), np.nan)] + [np.nan] * n_rail)
    table.meta.update(note="photometry-only baselines on kcorrect's real SDSS MGS galaxies "
                           "(r <= 17.8, 0 < z <= 0.4); B16 from Pasquet et al. 2019, Table 1")
    return table


#: Statistics of :func:`benchmark` with a bootstrap error each (columns ``s`` and ``s_err``).
BENCHMARK_STATS = ("bias", "sigma_mad", "outliers_pct", "crps")
#: RAIL's point metrics (:func:`photoz_nb.metrics.rail_point_metrics`), extra columns of :func:`benchmark`.
RAIL_STATS = ("sigma_iqr", "outlier_rate_rail", "bias_median")


def benchmark(cat, methods=("knn", "rf"), seed: int = 0, n_boot: int = 200, kind: str = "mean"):
    """Fit each method on the ``train`` rows of ``cat``, tune its kernel on ``val``, score it on ``test``.

    ``cat`` has ``z_spec``, ``mag_u..mag_z`` (dereddened) and ``split``.  Returns the table (one row
    per method: ``method, n_train, n_test``, each of :data:`BENCHMARK_STATS` with its bootstrap
    error, then :data:`RAIL_STATS`) and a dict method -> test PDFs (float32, ``config.redshift_edges()``).
    """
    from astropy.table import Table

    from . import pdf
    from .metrics import rail_point_metrics, summary_row

    unknown = [m for m in methods if m not in METHOD_LABELS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {list(METHOD_LABELS)}, got {list(methods)}")
    split = np.asarray(cat["split"]).astype(str)
    train, val, test = (cat[split == s] for s in ("train", "val", "test"))
    z = np.asarray(test["z_spec"], float)
    stats = list(BENCHMARK_STATS)
    rows, pdfs = [], {}
    for method in methods:
        model = PhotometricBaseline(method, seed=seed).fit(train, val)
        pdfs[method] = p = model.predict_pdfs(test)
        zp = pdf.point_estimate(p, model.edges, kind)
        row = summary_row(METHOD_LABELS[method], len(train), zp, z, pdf.crps(p, model.edges, z), n_boot=n_boot, seed=seed)
        rail = rail_point_metrics(zp, z)
        rows.append([row["trial"], len(train), len(test)] + [row.get(c, np.nan) for s in stats for c in (s, f"{s}_err")]
                    + [rail[c] for c in RAIL_STATS])
    names = ["method", "n_train", "n_test"] + [c for s in stats for c in (s, f"{s}_err")] + list(RAIL_STATS)
    table = Table(rows=rows, names=names, dtype=[str, int, int] + [float] * (2 * len(stats) + len(RAIL_STATS)))
    table["outliers_pct"].unit = table["outliers_pct_err"].unit = "%"
    table.meta.update(seed=seed, n_boot=n_boot, point_estimate=kind)
    return table, pdfs
