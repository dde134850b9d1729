"""The CNN of Pasquet et al. (2019): input batches (:mod:`.inputs`), Net_P (:mod:`.model`), training
(:mod:`.train`), inference (:mod:`.predict`) and the estimator wrapping them (:mod:`.estimator`)."""
from .estimator import CNN, CNNEnsemble, ensemble_mean, member_name

__all__ = ["CNN", "CNNEnsemble", "ensemble_mean", "member_name"]
