"""Redshift estimators behind one interface (:class:`~.base.Estimator`: ``fit``, ``predict_pdfs``, ``params``).

- :mod:`.base`: the protocol, :class:`~.base.NotTrained`, row digests;
- :mod:`.cnn`: Net_P (inputs, model, train, predict) and the seeded ensemble;
- :mod:`.photometric`: kNN and random forest on magnitudes (the paper's photometric comparison);
- :mod:`.constant`: the training n(z) for every galaxy (the floor of the summary table).

:func:`registry` lists what :mod:`photoz_nb.pipeline` fits, caches and scores, in table order.
"""
from __future__ import annotations

from .base import Estimator, NotTrained, parts_digest, rows_digest
from .constant import ConstantNZ
from .photometric import PhotometricEstimator

__all__ = ["Estimator", "NotTrained", "parts_digest", "rows_digest", "ConstantNZ", "PhotometricEstimator", "registry"]


def registry(profile) -> dict[str, Estimator]:
    """The estimators of a run, by label, in the order of the summary table: the CNN ensemble of the
    profile, kNN, RF (seeded by the profile) and the constant n(z)."""
    from .cnn import CNNEnsemble  # keras starts here, not when the package is imported

    estimators = [CNNEnsemble(profile), PhotometricEstimator("knn", seed=profile.seed),
                  PhotometricEstimator("rf", seed=profile.seed), ConstantNZ()]
    return {e.label: e for e in estimators}
