"""photoz-nb: photometric redshifts from SDSS galaxy images (Pasquet et al. 2019, re-done)."""
import os as _os

from .config import DEFAULT_BACKEND as _DEFAULT_BACKEND

# Keras reads its backend once, at first import: choose it before anyone imports keras.
_os.environ.setdefault("KERAS_BACKEND", _DEFAULT_BACKEND)

__version__ = "0.1.0"
