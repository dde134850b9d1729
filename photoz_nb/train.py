"""Moved to :mod:`photoz_nb.estimators.cnn.train`; this name stays for existing imports (the same module object)."""
import sys

from .estimators.cnn import train as _moved

sys.modules[__name__] = _moved
