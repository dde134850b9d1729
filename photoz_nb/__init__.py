"""photoz-nb: photometric redshifts from SDSS galaxy images (Pasquet et al. 2019, re-done)."""
import os as _os
import warnings as _warnings

# tqdm.auto (imported below through config) warns "IProgress not found" in a kernel without ipywidgets;
# its text bars work, so the warning would only be noise at the top of every executed notebook.
_warnings.filterwarnings("ignore", message="IProgress not found")

from .config import DEFAULT_BACKEND as _DEFAULT_BACKEND

# Keras reads its backend once, at first import: choose it before anyone imports keras.
_os.environ.setdefault("KERAS_BACKEND", _DEFAULT_BACKEND)

__version__ = "0.1.0"
