"""The one interface of every redshift estimator, in the style of scikit-learn's fit/predict and RAIL's
informer/estimator stages.

An estimator is fitted on rows of a data set (:class:`photoz_nb.catalog.Dataset`), then gives a PDF on the
redshift grid (:func:`photoz_nb.config.redshift_edges`) for any rows.  ``params()`` holds everything that
changes its output (apart from the data set and the rows it is fitted on): :mod:`photoz_nb.pipeline` keys
its cached predictions by ``params()``, the checksums of what it ``reads`` and digests of the train and val rows.
"""
from __future__ import annotations

import hashlib
import json
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Estimator(Protocol):
    #: File stem of its cached predictions (``data/<profile>/predictions/<name>.npz``).
    name: str
    #: Its name in tables and figures.
    label: str
    #: What it reads of a data set: catalogue columns and ``"images.npy"`` (its cache key covers
    #: exactly these; :func:`photoz_nb.catalog.input_checksums`).
    reads: tuple[str, ...]

    def params(self) -> dict:
        """Everything that changes the PDFs (JSON-serialisable): a cache key must cover it."""
        ...

    def fit(self, dataset, train, val) -> "Estimator":
        """Fit on the catalogue rows ``train``; ``val`` for early stopping or tuning; returns self."""
        ...

    def predict_pdfs(self, dataset, rows) -> np.ndarray:
        """PDFs (float32, (len(rows), n_bins), rows sum to 1) of the catalogue rows ``rows``."""
        ...


class NotTrained(FileNotFoundError):
    """A model or its predictions are missing or made from other inputs, and the step asked does not
    train: the message names the step that does (a FileNotFoundError, so the CLI prints one line)."""


def parts_digest(*parts) -> str:
    """A cache key (16 hex digits) of JSON-able ``parts`` (checksums, parameters, row digests), in any dict order."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rows_digest(rows) -> str:
    """sha256 of catalogue row numbers (as int64): which galaxies a model was fitted on."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
