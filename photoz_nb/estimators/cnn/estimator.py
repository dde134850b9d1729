"""Net_P behind the estimator interface (:class:`photoz_nb.estimators.base.Estimator`).

:class:`CNN` is one seeded network: ``fit`` trains it (or reloads the model trained on the same inputs,
:func:`.train.ensure_trained`), ``predict_pdfs`` runs it (:func:`.predict.predict`, with the profile's
test-time augmentation).  :class:`CNNEnsemble` is ``size`` of them, seeds ``profile.seed + k``, whose
PDFs are averaged.
"""
from __future__ import annotations

import numpy as np

from ... import config
from .predict import predict
from .train import READS, default_patience, ensure_trained, gpu_count, run_settings


def member_name(name: str, k: int) -> str:
    """Folder (and prediction file) of ensemble member ``k``: ``name``, then ``name_member<k>``."""
    return name if k == 0 else f"{name}_member{k}"


def ensemble_mean(pdfs) -> np.ndarray:
    """The mean of the members' PDFs (summed in float64, stored as float32)."""
    return np.mean(pdfs, axis=0, dtype=np.float64).astype(np.float32)


class CNN:
    """One Net_P of the profile's size, seeded by ``seed`` (default ``profile.seed``), in ``models/<name>``."""

    label = "CNN"
    reads = READS

    def __init__(self, profile, name: str = "cnn", seed: int | None = None, use_ebv: bool = True):
        self.profile = config.get_profile(profile)
        self.name, self.use_ebv = name, bool(use_ebv)
        self.seed = self.profile.seed if seed is None else int(seed)
        self.result = None  # the TrainResult, once fitted or loaded

    def params(self) -> dict:
        settings = run_settings(self.profile, self.seed, self.use_ebv, default_patience(self.profile.epochs),
                                gpu_count() > 0)
        return {**settings, "tta": self.profile.tta}

    def fit(self, dataset, train, val, retrain: bool = True) -> "CNN":
        """Train on ``train`` (early stopping on ``val``), or reload the model trained on them; with
        ``retrain=False`` a missing or stale model raises :class:`~photoz_nb.estimators.base.NotTrained`."""
        self.result = ensure_trained(self.profile, dataset, self.name, self.use_ebv, train_index=train,
                                     seed=self.seed, val_index=val, fit=retrain)
        return self

    def predict_pdfs(self, dataset, rows=None) -> np.ndarray:
        if self.result is None:
            raise RuntimeError(f"CNN {self.name!r}: predict_pdfs called before fit")
        return predict(self.result.model, dataset, rows, tta=self.profile.tta)


class CNNEnsemble:
    """``size`` (default ``profile.ensemble_size``) CNNs, member ``k`` seeded ``profile.seed + k``; the
    PDF is the mean of theirs.  :mod:`photoz_nb.pipeline` caches each member's PDFs on its own."""

    label = "CNN"
    reads = READS

    def __init__(self, profile, name: str = "cnn", use_ebv: bool = True, size: int | None = None):
        profile = config.get_profile(profile)
        size = profile.ensemble_size if size is None else int(size)
        self.name = name
        self.members = [CNN(profile, member_name(name, k), profile.seed + k, use_ebv) for k in range(size)]

    def params(self) -> dict:
        return {"members": [m.params() for m in self.members]}

    def fit(self, dataset, train, val, retrain: bool = True) -> "CNNEnsemble":
        for member in self.members:
            member.fit(dataset, train, val, retrain)
        return self

    def predict_pdfs(self, dataset, rows=None) -> np.ndarray:
        return ensemble_mean([m.predict_pdfs(dataset, rows) for m in self.members])
