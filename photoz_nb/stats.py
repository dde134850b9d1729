"""Generic statistics and conversions every layer may use: the bottom of the import order.

Robust scatter (:func:`sigma_mad`), bootstrap errors, a weighted slope fit, the nanomaggy
magnitude, the one Markdown table writer and the shared input checks :func:`finite_vector` and
:func:`check_finite`, :func:`require_columns`.
Nothing here knows about photo-z, data sets or plots, so the simulator, the SDSS path and the
evaluation all import it without importing each other.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

#: sigma of a Gaussian / its median absolute deviation.
MAD_TO_SIGMA = 1.4826
#: The paper's catastrophic-outlier cut on |dz| = |z_phot - z_spec| / (1 + z_spec).
OUTLIER_CUT = 0.05
#: Bootstraps with more resampled values than this show a progress bar by default.
PROGRESS_THRESHOLD = 50_000_000
#: AB magnitude of a flux of 1 nanomaggy (SDSS's flux unit: 3.631e-6 Jy).
NANOMAGGY_ZERO_POINT = 22.5


def check_finite(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` (an array) if all finite, else a ValueError naming it, its NaN/inf count and the first one's index."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} NaN/inf value(s); first at index {int(np.argmax(bad))}")
    return values


def finite_vector(values, name: str, allow_empty: bool = False) -> np.ndarray:
    """``values`` as a finite 1-D float array, non-empty unless ``allow_empty``, else a ValueError naming it."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or (arr.size == 0 and not allow_empty):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}1-D array, got shape {arr.shape}")
    return check_finite(arr, name)


def require_columns(table, names, where: str, why: str = "", error: type = ValueError) -> None:
    """Raise ``error`` naming ``where``, the ``names`` missing from ``table``'s columns, ``why`` and what it has."""
    missing = [c for c in names if c not in table.colnames]
    if missing:
        raise error(f"{where}: missing column(s) {missing}{why}; it has {list(table.colnames)}")


def sigma_mad(x, *, nan_policy: str = "propagate") -> float:
    """``1.4826 * median(|x - median(x)|)``: the Gaussian sigma of a robust spread (of any shape).

    A NaN in ``x`` has no rank, so the median is undefined: with ``nan_policy="propagate"`` (the
    default, as ``np.median`` and ``scipy.stats.median_abs_deviation``) the result is NaN, so a NaN
    is never hidden inside a number; ``"raise"`` raises a ValueError naming the first NaN/inf's index;
    ``"omit"`` uses the finite values only (a ValueError if none is left).  An empty ``x`` raises.

    >>> sigma_mad([1.0, 2.0, float("nan")])
    nan
    >>> sigma_mad([1.0, 2.0, 3.0, float("nan")], nan_policy="omit")
    1.4826
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("sigma_mad of an empty array is undefined")
    if nan_policy == "raise":
        check_finite(x.ravel(), "sigma_mad input")
    elif nan_policy == "omit":
        x = x[np.isfinite(x)]
        if x.size == 0:
            raise ValueError("sigma_mad with nan_policy='omit': no finite value left")
    elif nan_policy != "propagate":
        raise ValueError(f"nan_policy must be 'propagate', 'raise' or 'omit', got {nan_policy!r}")
    return float(MAD_TO_SIGMA * np.median(np.abs(x - np.median(x))))


def nanomaggies_to_mag(flux) -> np.ndarray:
    """AB magnitude ``22.5 - 2.5 log10(flux)`` of a flux in nanomaggies (NaN/-inf for flux <= 0)."""
    return NANOMAGGY_ZERO_POINT - 2.5 * np.log10(flux)


def bootstrap(statistic_fn, *arrays, n_boot: int = 200, seed: int = 0, progress: bool | None = None):
    """Bootstrap standard errors of a statistic of paired arrays.

    Parameters
    ----------
    statistic_fn : callable
        ``statistic_fn(*resampled_arrays)`` returning a dict of numbers (or one number).
    *arrays : array_like
        Same length; resampled together (the same rows in each).
    n_boot, seed : int
        Number of resamples; the seed makes the errors reproducible.
    progress : bool, optional
        Show a progress bar; by default only for large jobs.

    Returns
    -------
    dict of key -> standard deviation over resamples (ddof=1), or a float for a scalar statistic.

    The statistic is first evaluated once on the arrays as given, so an error it raises (a NaN's
    index, a bad value) names the caller's row, not a row of a resample.
    """
    if not arrays:
        raise ValueError("bootstrap needs at least one array")
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"bootstrap arrays differ in length: {[len(a) for a in arrays]}")
    if n == 0 or n_boot < 2:
        raise ValueError(f"bootstrap needs non-empty arrays and n_boot >= 2 (got n={n}, n_boot={n_boot})")
    statistic_fn(*arrays)  # errors name the caller's rows (see above)
    rng = np.random.default_rng(seed)
    show = progress if progress is not None else n * n_boot > PROGRESS_THRESHOLD
    draws = []
    for _ in tqdm(range(n_boot), desc="bootstrap", disable=not show, leave=False):
        idx = rng.integers(0, n, n)
        draws.append(statistic_fn(*(a[idx] for a in arrays)))
    if not isinstance(draws[0], dict):
        return float(np.std(np.asarray(draws, float), ddof=1))
    return {key: float(np.std([d[key] for d in draws], ddof=1)) for key in draws[0]
            if np.isscalar(draws[0][key]) and not isinstance(draws[0][key], str)}


def fit_slope(table, stat: str = "bias") -> tuple[float, float]:
    """Weighted least-squares slope of ``table[stat]`` against ``table['centre']``.

    Weights are ``1 / table[stat + '_err']**2``; rows with NaN or zero errors are skipped.
    Returns ``(slope, slope_err)``, the error from the weights alone (not rescaled by chi^2).
    """
    err_col = f"{stat}_err"
    for col in ("centre", stat, err_col):
        if col not in table.colnames:
            raise ValueError(f"table has no column {col!r}; columns are {table.colnames}")
    x, y, e = (np.asarray(table[c], float) for c in ("centre", stat, err_col))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(e) & (e > 0)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        raise ValueError(f"fit_slope needs at least 2 bins with distinct centres and positive finite "
                         f"{err_col}; got {int(ok.sum())}")
    # polyfit weights multiply the residuals (1/sigma); cov="unscaled" keeps the errors from the weights alone
    (slope, _), cov = np.polyfit(x[ok], y[ok], 1, w=1 / e[ok], cov="unscaled")
    return float(slope), float(np.sqrt(cov[0, 0]))


def plus_minus(value: float, error: float, fmt: str) -> str:
    """``value ± error`` in the format spec ``fmt`` (e.g. ``"+.5f"``; the error without the sign); the value
    alone when the error is not finite, and "" when the value is not."""
    if not np.isfinite(value):
        return ""
    text = f"{value:{fmt}}"
    return f"{text} ± {error:{fmt.replace('+', '')}}" if np.isfinite(error) else text


def markdown_table(rows, headers=None, align=None) -> str:
    """A Markdown pipe table: the one writer of the package.

    ``rows`` are dicts (columns in order of first appearance, missing cells empty) or, with
    ``headers``, sequences of cells.  ``align`` is one separator per column (``"---"`` left,
    ``"---:"`` right); by default every column is left-aligned.
    """
    if headers is None:
        headers = list(dict.fromkeys(k for row in rows for k in row))
        rows = [[row.get(c, "") for c in headers] for row in rows]
    align = ["---"] * len(headers) if align is None else list(align)
    if len(align) != len(headers):
        raise ValueError(f"markdown_table: {len(align)} alignments for {len(headers)} columns")
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
