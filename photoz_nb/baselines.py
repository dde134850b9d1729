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

from . import config

BANDWIDTHS = np.array([0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024])


def photometric_features(catalog) -> np.ndarray:
    """r magnitude plus the four adjacent colours (dereddened), as float64 columns."""
    mags = np.column_stack([np.asarray(catalog[f"mag_{b}"], float) for b in config.BANDS])
    if not np.isfinite(mags).all():
        raise ValueError("photometric baseline: non-finite dereddened magnitude in the catalogue")
    return np.column_stack([mags[:, 2], -np.diff(mags, axis=1)])


def samples_to_pdfs(samples: np.ndarray, edges: np.ndarray, bandwidth: float, chunk: int = 1024) -> np.ndarray:
    """Gaussian-kernel PDFs of per-galaxy samples (n, m), integrated exactly over each bin.

    Kernel mass outside the grid is dropped and the row renormalised (the grid covers the sample).
    Rows are processed in chunks so memory stays at chunk x m x n_edges.
    """
    pdfs = np.empty((len(samples), len(edges) - 1), np.float32)
    for start in range(0, len(samples), chunk):
        block = samples[start:start + chunk]
        cdf = ndtr((edges[None, None, :] - block[:, :, None]) / bandwidth).mean(axis=1)
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
