"""Input checks shared by every entry point: each error names the table, the column and the first bad row.

User catalogues (:mod:`photoz_nb.userdata`) and the photometric baselines use the same checks, so a
sentinel magnitude or an off-grid redshift gets the same message wherever it comes in.
"""
from __future__ import annotations

import numpy as np

from . import config

#: Values catalogues use for "no measurement" (magnitudes and errors).
SENTINELS = (99.0, -99.0, 999.0, -999.0, 9999.0, -9999.0)


class InputError(ValueError):
    """An input file or table breaks the data contract; the message names it and what to fix."""


def column(table, name: str, where) -> np.ndarray:
    """``table[name]`` as float64, with an error listing the columns when it is missing."""
    if name not in table.colnames:
        raise InputError(f"{where}: no column {name!r}; the table has {table.colnames}")
    values = table[name]
    if getattr(values, "mask", None) is not None and np.any(values.mask):
        row = int(np.argmax(np.asarray(values.mask)))
        raise InputError(f"{where}: column {name!r} has {int(np.sum(values.mask))} empty value(s); first at row {row}")
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{where}: column {name!r} is not numeric (dtype {values.dtype})") from None


def first_bad(bad: np.ndarray, what: str, values: np.ndarray, where, name: str, ids=None) -> None:
    """Raise :class:`InputError` naming how many rows are ``bad`` and the first one (with its id)."""
    if bad.any():
        row = int(np.argmax(bad))
        who = f"row {row}" + (f" (id {ids[row]})" if ids is not None else "")
        raise InputError(f"{where}: column {name!r} has {int(bad.sum())} {what}; first at {who}: {values[row]!r}")


def check_photometry(values: np.ndarray, name: str, where, ids=None) -> np.ndarray:
    """Finite, non-sentinel magnitudes (or colours)."""
    first_bad(~np.isfinite(values), "NaN/inf value(s)", values, where, name, ids)
    first_bad(np.isin(values, SENTINELS) | (np.abs(values) >= 90), "sentinel value(s) (99, -9999, ...: no measurement)",
              values, where, name, ids)
    return values


def check_labels(z: np.ndarray, name: str, where, ids=None, edges=None) -> np.ndarray:
    """Training redshifts inside the PDF grid (0, z_max]."""
    edges = config.redshift_edges() if edges is None else edges
    first_bad(~np.isfinite(z), "NaN/inf value(s)", z, where, name, ids)
    first_bad(np.isin(z, SENTINELS), "sentinel value(s)", z, where, name, ids)
    first_bad((z <= edges[0]) | (z > edges[-1]), f"redshift(s) outside the PDF grid ({edges[0]:g}, {edges[-1]:g}]",
              z, where, name, ids)
    return z


def check_ebv(ebv: np.ndarray, where, name: str = "ebv", ids=None) -> np.ndarray:
    """Finite E(B-V) values in [0, 10] mag."""
    first_bad(~np.isfinite(ebv), "NaN/inf value(s)", ebv, where, name, ids)
    first_bad((ebv < 0) | (ebv > 10), "value(s) outside [0, 10] mag (not an E(B-V))", ebv, where, name, ids)
    return ebv
