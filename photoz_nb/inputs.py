"""Moved to :mod:`photoz_nb.estimators.cnn.inputs`; this name stays for existing imports (the same module object)."""
import sys

from .estimators.cnn import inputs as _moved

sys.modules[__name__] = _moved
