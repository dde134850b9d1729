"""Moved to :mod:`photoz_nb.estimators.cnn.model`; this name stays for existing imports (the same module object)."""
import sys

from .estimators.cnn import model as _moved

sys.modules[__name__] = _moved
