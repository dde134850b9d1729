"""Photometry-only estimators (the paper's comparison with Beck et al. 2016): PDFs from magnitudes.

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

from .. import checks, config
from ..pdf import crps

BANDWIDTHS = np.array([0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024])
#: Most distinct sample values whose kernel CDFs :func:`samples_to_pdfs` tabulates at once.
MAX_TABLE_ROWS = 1 << 17
#: Fewest training galaxies in a leaf of the random forest.
MIN_SAMPLES_LEAF = 5


def check_inputs(catalog, where: str, labels: bool) -> None:
    """Every magnitude finite and no sentinel and, with ``labels``, every redshift on the grid
    (:mod:`photoz_nb.checks`: the error names the column and the first bad row)."""
    for band in config.BANDS:
        checks.check_photometry(checks.column(catalog, f"mag_{band}", where), f"mag_{band}", where)
    if labels:
        checks.check_labels(checks.column(catalog, "z_spec", where), "z_spec", where)


#: Labels of the methods in tables and figures.
LABELS = {"knn": "kNN", "rf": "RF"}
#: What :func:`photometric_features` computes (a cache-key entry: change it with the function).
FEATURES = "dereddened r, u-g, g-r, r-i, i-z; standardised for kNN"


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

    def __init__(self, method: str = "knn", k: int = 24, n_trees: int = 100, seed: int = 0,
                 min_samples_leaf: int = MIN_SAMPLES_LEAF, bandwidths=BANDWIDTHS):
        if method not in ("knn", "rf"):
            raise ValueError(f"unknown baseline method {method!r}; expected 'knn' or 'rf'")
        self.method, self.k, self.n_trees, self.seed = method, k, n_trees, seed
        self.min_samples_leaf, self.bandwidths = min_samples_leaf, np.asarray(bandwidths, float)
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
            self.model = RandomForestRegressor(n_estimators=self.n_trees, min_samples_leaf=self.min_samples_leaf,
                                               random_state=self.seed, n_jobs=-1).fit(x, self.z_train)
        self.bandwidth = self.bandwidths[len(self.bandwidths) // 2]
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
        samples, z = self._samples(catalog_val), np.asarray(catalog_val["z_spec"], float)
        scores = [crps(samples_to_pdfs(samples, self.edges, h), self.edges, z).mean() for h in self.bandwidths]
        return float(self.bandwidths[int(np.argmin(scores))])


class PhotometricEstimator:
    """:class:`PhotometricBaseline` behind the estimator interface: fitted on rows of a data set's catalogue.

    Its arguments are the model's; ``params()`` lists every one of them, with the features and the grid.
    """

    def __init__(self, method: str = "knn", k: int = 24, n_trees: int = 100, seed: int = 0,
                 min_samples_leaf: int = MIN_SAMPLES_LEAF, bandwidths=BANDWIDTHS):
        self.model = PhotometricBaseline(method, k, n_trees, seed, min_samples_leaf, bandwidths)
        self.name, self.label = method, LABELS[method]
        self.reads = tuple(f"mag_{b}" for b in config.BANDS) + ("z_spec",)

    def params(self) -> dict:
        m = self.model
        return {"method": m.method, "k": m.k, "n_trees": m.n_trees, "seed": m.seed,
                "min_samples_leaf": m.min_samples_leaf, "bandwidths": m.bandwidths.tolist(),
                "features": FEATURES, "edges": m.edges.tolist()}

    def fit(self, dataset, train, val) -> "PhotometricEstimator":
        self.model.fit(dataset.catalog[np.asarray(train)], dataset.catalog[np.asarray(val)])
        return self

    def predict_pdfs(self, dataset, rows) -> np.ndarray:
        return self.model.predict_pdfs(dataset.catalog[np.asarray(rows)])
