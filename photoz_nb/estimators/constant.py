"""The constant n(z) predictor: every galaxy gets the training set's redshift distribution.

It ignores its input, so it is the floor every method must beat: a table row that shows what the
sample's n(z) alone gives (its PDFs are calibrated when the test n(z) is the training one; its scatter
and CRPS are those of the whole sample).
"""
from __future__ import annotations

import numpy as np

from .. import checks, config
from ..pdf import bin_index


class ConstantNZ:
    """The histogram of the training redshifts on ``edges`` (default the PDF grid), for every galaxy."""

    name, label = "constant_nz", "constant n(z)"
    #: A reference, not a method under study: in the summary table, not in the comparison figures or
    #: bias studies (its point estimate is one number, which cannot be binned into equal-count bins).
    reference = True
    reads = ("z_spec",)

    def __init__(self, edges=None):
        self.edges = config.redshift_edges() if edges is None else np.asarray(edges, float)
        self.nz = None

    def params(self) -> dict:
        return {"estimator": "constant n(z)", "edges": self.edges.tolist()}

    def fit(self, dataset, train, val=None) -> "ConstantNZ":
        z = np.asarray(dataset.catalog["z_spec"], float)[np.asarray(train)]
        checks.check_labels(z, "z_spec", "constant n(z) training rows")
        counts = np.bincount(bin_index(z, self.edges), minlength=len(self.edges) - 1).astype(np.float64)
        self.nz = counts / counts.sum()
        return self

    def predict_pdfs(self, dataset, rows) -> np.ndarray:
        if self.nz is None:
            raise RuntimeError("ConstantNZ.predict_pdfs called before fit")
        return np.tile(self.nz, (len(rows), 1)).astype(np.float32)
