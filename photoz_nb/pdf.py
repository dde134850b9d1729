"""Redshift PDFs on a binned grid: validation, point estimates, CDF, PIT, quantiles, widths, CRPS.

A PDF row holds the probability of each bin between strictly increasing ``edges``
(normally :func:`photoz_nb.config.redshift_edges`).  It is read as a piecewise-constant
density, so its CDF is piecewise linear between the edges; PIT, quantiles and CRPS are
exact for that CDF, not bin-level steps.  Every public function validates its input with
:func:`validate_pdfs` and works on all rows at once (vectorised numpy, row chunks to
bound memory on 500k x 180 arrays).  :func:`to_qp` / :func:`from_qp` exchange PDFs with the
LSST ``qp`` ensemble format (optional package ``qp-prob``).

>>> import numpy as np
>>> edges = np.array([0.0, 0.1, 0.2])
>>> pit(np.array([[0.25, 0.75]]), edges, np.array([0.15]))
array([0.625])
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .stats import check_finite

#: Values down to this are float noise (e.g. a difference of two CDFs) and become 0.
NEGATIVE_NOISE = 1e-12
#: Rows per block in the heavier computations: bounds each (rows, n_bins) temporary to ~25 MB.
CHUNK = 1 << 14
POINT_KINDS = ("mean", "median", "mode")
WIDTH_KINDS = ("central68", "hpd68")

__all__ = ["validate_pdfs", "bin_index", "centres", "point_estimate", "cdf", "pit", "quantile",
           "width", "crps", "stack", "to_qp", "from_qp"]


def _validate_edges(edges) -> np.ndarray:
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2:
        raise ValueError(f"edges must be a 1-D array of at least 2 values, got shape {edges.shape}")
    if not np.all(np.isfinite(edges)):
        raise ValueError("edges contain NaN or inf")
    steps = np.diff(edges)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ValueError(f"edges must be strictly increasing; edges[{i}]={edges[i]:.10g} "
                         f">= edges[{i + 1}]={edges[i + 1]:.10g}")
    return edges


def _validate_z(z, n_rows: int, edges: np.ndarray, name: str = "z") -> np.ndarray:
    """``z`` as a float array of length ``n_rows`` (a scalar is broadcast) inside the edges."""
    z = np.asarray(z, dtype=float)
    if z.ndim == 0:
        z = np.full(n_rows, float(z))
    if z.ndim != 1 or len(z) != n_rows:
        raise ValueError(f"{name} must be a scalar or a 1-D array with one value per PDF row "
                         f"({n_rows}), got shape {z.shape}")
    check_finite(z, name)
    outside = (z < edges[0]) | (z > edges[-1])
    if outside.any():
        i = int(np.argmax(outside))
        raise ValueError(f"{name} has {int(outside.sum())} value(s) outside the grid "
                         f"[{edges[0]:g}, {edges[-1]:g}]; first {name}[{i}]={z[i]:.10g}")
    return z


def validate_pdfs(pdfs, edges, z=None, atol: float = 1e-3):
    """Check PDFs (and optional redshifts) and return them as float64, rows renormalised.

    Parameters
    ----------
    pdfs : array_like, shape (N, n_bins)
        Probability of each bin per galaxy; non-negative, rows summing to 1 within ``atol``.
    edges : array_like, shape (n_bins + 1,)
        Strictly increasing bin edges.
    z : array_like or scalar, optional
        One redshift per row (a scalar applies to every row), inside ``[edges[0], edges[-1]]``.
    atol : float
        Tolerance on the row sums; rows within it are divided by their sum.

    Returns
    -------
    pdfs : ndarray (N, n_bins) float64
    edges : ndarray (n_bins + 1,) float64
    z : ndarray (N,) float64, only when ``z`` was given

    Raises
    ------
    ValueError
        Naming the problem and, where there is one, the first offending row or index.
    """
    edges = _validate_edges(edges)
    p = np.asarray(pdfs)
    if p.ndim != 2:
        raise ValueError(f"pdfs must be 2-D (N galaxies, n_bins), got {p.ndim}-D shape {p.shape}; "
                         "wrap a single PDF as pdfs[None, :]")
    if p.shape[1] != len(edges) - 1:
        raise ValueError(f"pdfs have {p.shape[1]} bins but edges define {len(edges) - 1} "
                         f"(len(edges) must be n_bins + 1)")
    p = p.astype(float)  # a copy: the caller's array is never modified
    finite = np.isfinite(p)
    if not finite.all():
        row = int(np.argmax(~finite.all(axis=1)))
        raise ValueError(f"pdfs contain {int((~finite).sum())} NaN/inf value(s); first in row {row}")
    if p.size and p.min() < 0:
        if p.min() < -NEGATIVE_NOISE:
            row = int(np.argmax(p.min(axis=1) < -NEGATIVE_NOISE))
            raise ValueError(f"pdfs contain negative probabilities; first in row {row} "
                             f"(min {p[row].min():.6g})")
        np.maximum(p, 0, out=p)
    sums = p.sum(axis=1)
    off = np.abs(sums - 1) > atol
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"{int(off.sum())} PDF row(s) do not sum to 1 within atol={atol}; "
                         f"first row {row} sums to {sums[row]:.6g}")
    p /= sums[:, None]
    if z is None:
        return p, edges
    return p, edges, _validate_z(z, len(p), edges)


def bin_index(z, edges) -> np.ndarray:
    """The bin of each redshift: ``k`` with ``edges[k] <= z < edges[k + 1]``, the last bin closed at ``edges[-1]``.

    The one convention of the package (training labels, PIT/CRPS, calibration, n(z)): np.histogram's
    and ``np.digitize(z, edges) - 1``'s, so a redshift on an inner edge opens the bin above it.  The
    caller checks that ``z`` lies on the grid (:func:`validate_pdfs`, the label checks of the CNN).
    """
    edges = np.asarray(edges, dtype=float)
    return np.clip(np.searchsorted(edges, np.asarray(z, dtype=float), side="right") - 1, 0, len(edges) - 2)


def centres(edges) -> np.ndarray:
    """Bin centres, ``(edges[:-1] + edges[1:]) / 2``."""
    edges = _validate_edges(edges)
    return 0.5 * (edges[:-1] + edges[1:])


def edge_cdf(p: np.ndarray) -> np.ndarray:
    """CDF at every edge, shape (N, n_bins + 1): 0 at the first edge, exactly 1 at the last."""
    c = np.zeros((len(p), p.shape[1] + 1))
    np.cumsum(p, axis=1, out=c[:, 1:])
    c[:, -1] = 1.0
    return c


def point_estimate(pdfs, edges, kind: str = "mean") -> np.ndarray:
    """One redshift per PDF, on bin centres.

    ``mean``: sum of p * centre (also the exact mean of the piecewise-constant density);
    ``median``: where the piecewise-linear CDF reaches 0.5; ``mode``: centre of the most
    probable bin (the first one on ties).
    """
    if kind not in POINT_KINDS:
        raise ValueError(f"kind must be one of {POINT_KINDS}, got {kind!r}")
    p, edges = validate_pdfs(pdfs, edges)
    if kind == "median":
        return _quantiles(p, edges, np.array([0.5]))[:, 0]
    mid = 0.5 * (edges[:-1] + edges[1:])
    if kind == "mean":
        return p @ mid
    return mid[np.argmax(p, axis=1)]


def cdf(pdfs, edges, z) -> np.ndarray:
    """Each galaxy's CDF at its own ``z`` (a scalar ``z`` is used for every galaxy)."""
    p, edges, z = validate_pdfs(pdfs, edges, z)
    return _cdf_at(p, edges, z)


def _cdf_at(p: np.ndarray, edges: np.ndarray, z: np.ndarray) -> np.ndarray:
    k = bin_index(z, edges)
    rows = np.arange(len(p))
    below = np.zeros(len(p))
    for start in range(0, len(p), CHUNK):  # mass of the bins left of bin k, without an (N, n_bins) cumsum
        block = slice(start, start + CHUNK)
        mask = np.arange(p.shape[1])[None, :] < k[block, None]
        below[block] = np.sum(p[block] * mask, axis=1)
    frac = (z - edges[k]) / (edges[k + 1] - edges[k])
    return np.clip(below + p[rows, k] * frac, 0.0, 1.0)


def pit(pdfs, edges, z_spec) -> np.ndarray:
    """Probability integral transform: ``CDF_i(z_spec_i)``; flat histogram = calibrated."""
    return cdf(pdfs, edges, z_spec)


def quantile(pdfs, edges, q) -> np.ndarray:
    """Inverse of the piecewise-linear CDF.

    Parameters
    ----------
    q : float or 1-D array_like in [0, 1]
        Probability level(s), the same for every galaxy.

    Returns
    -------
    ndarray, shape (N,) for scalar ``q`` else (N, len(q)).  Where the CDF is flat at
    level q (empty bins) the middle of the flat stretch is returned, so a symmetric PDF
    has its median at the centre of symmetry.
    """
    q_arr = np.asarray(q, dtype=float)
    if q_arr.ndim > 1 or not np.all(np.isfinite(q_arr)) or np.any((q_arr < 0) | (q_arr > 1)):
        raise ValueError(f"q must be a scalar or 1-D array of levels in [0, 1], got {q!r}")
    p, edges = validate_pdfs(pdfs, edges)
    out = _quantiles(p, edges, np.atleast_1d(q_arr))
    return out[:, 0] if q_arr.ndim == 0 else out


def _quantiles(p: np.ndarray, edges: np.ndarray, levels: np.ndarray) -> np.ndarray:
    out = np.empty((len(p), len(levels)))
    for start in range(0, len(p), CHUNK):
        block = slice(start, start + CHUNK)
        c = edge_cdf(p[block])
        for j, q in enumerate(levels):
            lower = _inverse(c, edges, q, strict=True)   # inf{z : F(z) >= q}
            upper = _inverse(c, edges, q, strict=False)  # sup{z : F(z) <= q}
            out[block, j] = 0.5 * (lower + upper)
    return out


def _inverse(c: np.ndarray, edges: np.ndarray, q: float, strict: bool) -> np.ndarray:
    """z in the first bin whose upper CDF is >= q (strict) or > q (not strict)."""
    inner = c[:, 1:-1]
    k = np.sum(inner < q if strict else inner <= q, axis=1)
    rows = np.arange(len(c))
    lo, hi = c[rows, k], c[rows, k + 1]
    mass = hi - lo
    # An empty bin is only reached at q = 0 (strict: stay at its left edge) or q = 1 (right edge).
    frac = np.divide(q - lo, mass, out=np.full(len(c), 0.0 if strict else 1.0), where=mass > 0)
    return edges[k] + np.clip(frac, 0.0, 1.0) * (edges[k + 1] - edges[k])


def width(pdfs, edges, kind: str = "central68", level: float = 0.68) -> np.ndarray:
    """Width of each PDF holding ``level`` of its probability.

    ``central68``: quantile(0.5 + level/2) - quantile(0.5 - level/2) (0.84 - 0.16 for 68%);
    ``hpd68``: highest-posterior-density width, the smallest total width of bins (densest
    first) that holds ``level``, taking only the needed fraction of the last bin.
    """
    if kind not in WIDTH_KINDS:
        raise ValueError(f"kind must be one of {WIDTH_KINDS}, got {kind!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    p, edges = validate_pdfs(pdfs, edges)
    if kind == "central68":
        q = _quantiles(p, edges, np.array([0.5 - level / 2, 0.5 + level / 2]))
        return q[:, 1] - q[:, 0]
    out = np.empty(len(p))
    for start in range(0, len(p), CHUNK):
        out[start:start + CHUNK] = _hpd_width(p[start:start + CHUNK], np.diff(edges), level)
    return out


def _hpd_width(p: np.ndarray, w: np.ndarray, level: float) -> np.ndarray:
    order = np.argsort(-(p / w), axis=1, kind="stable")  # densest bins first
    ps, ws = np.take_along_axis(p, order, axis=1), w[order]
    mass, total = np.cumsum(ps, axis=1), np.cumsum(ws, axis=1)
    j = np.minimum(np.sum(mass < level, axis=1), p.shape[1] - 1)  # bin where level is reached
    rows = np.arange(len(p))
    mass_before = mass[rows, j] - ps[rows, j]
    width_before = total[rows, j] - ws[rows, j]
    frac = np.divide(level - mass_before, ps[rows, j], out=np.ones(len(p)), where=ps[rows, j] > 0)
    return width_before + np.clip(frac, 0.0, 1.0) * ws[rows, j]


def crps(pdfs, edges, z_spec) -> np.ndarray:
    """Continuous ranked probability score per galaxy, exact for the piecewise-linear CDF.

    ``CRPS_i = integral (F_i(z) - H(z - z_spec_i))^2 dz``.  Outside the grid the integrand
    is 0 (F = H = 0 below, F = H = 1 above), so the integral over the grid is the whole one.
    On a segment where F goes linearly from a to b over width w,
    ``integral F^2 = w (a^2 + a b + b^2) / 3``; the bin holding z_spec is split there.
    """
    p, edges, z = validate_pdfs(pdfs, edges, z_spec)
    out = np.empty(len(p))
    for start in range(0, len(p), CHUNK):
        block = slice(start, start + CHUNK)
        out[block] = _crps_block(p[block], edges, z[block])
    return out


def _sq_mean(a, b):
    """Mean of F^2 over a segment where F runs linearly from a to b."""
    return (a * a + a * b + b * b) / 3.0


def _crps_block(p: np.ndarray, edges: np.ndarray, z: np.ndarray) -> np.ndarray:
    c = edge_cdf(p)
    a, b, w = c[:, :-1], c[:, 1:], np.diff(edges)
    k = bin_index(z, edges)
    bins = np.arange(len(w))[None, :]
    left = w * _sq_mean(a, b)            # F^2, for bins entirely below z
    right = w * _sq_mean(1 - a, 1 - b)   # (1 - F)^2, for bins entirely above z
    total = np.sum(np.where(bins < k[:, None], left, 0.0) + np.where(bins > k[:, None], right, 0.0), axis=1)
    rows = np.arange(len(p))
    lo, hi = a[rows, k], b[rows, k]
    x0, x1 = edges[k], edges[k + 1]
    fz = lo + (hi - lo) * (z - x0) / (x1 - x0)
    return total + (z - x0) * _sq_mean(lo, fz) + (x1 - z) * _sq_mean(1 - fz, 1 - hi)


def stack(pdfs, edges=None) -> np.ndarray:
    """Stacked n(z): the mean PDF, normalised to sum to 1 (divide by bin widths for a density).

    ``edges`` is only used to check the shape; without it any number of bins is accepted.
    """
    p = np.asarray(pdfs)
    if edges is None:
        edges = np.arange(p.shape[-1] + 1, dtype=float) if p.ndim == 2 else np.arange(2.0)
    p, _ = validate_pdfs(p, edges)
    if len(p) == 0:
        raise ValueError("cannot stack an empty set of PDFs (0 rows)")
    n_z = p.mean(axis=0)
    return n_z / n_z.sum()


# ---------------------------------------------------------------- exchange with qp (LSST/RAIL)

def _import_qp():
    try:
        import qp  # optional extra [qp]: only the exchange with qp needs it
    except ImportError as exc:
        raise ImportError("exporting PDFs to qp needs the optional package qp-prob: "
                          "pip install 'photoz-nb[qp]' (or pip install qp-prob)") from exc
    return qp


def to_qp(pdfs, edges, ancil: dict | None = None, path=None):
    """The PDFs as a ``qp`` histogram ensemble (the LSST photo-z exchange format).

    ``qp.hist`` stores a density per bin, so each probability is divided by its bin width;
    the bin edges are stored as they are.

    Parameters
    ----------
    pdfs : array_like (N, n_bins)
        Bin probabilities, rows summing to 1.
    edges : array_like (n_bins + 1,)
        Bin edges.
    ancil : dict, optional
        Per-galaxy columns to carry along (e.g. ``{"z_spec": z, "objid": ids}``), each of length N.
    path : str or Path, optional
        Also write the ensemble with qp's own writer; the suffix picks the format
        (``.hdf5``/``.h5``, ``.fits``, ``.pq``).

    Returns
    -------
    qp.Ensemble
    """
    qp = _import_qp()
    p, edges = validate_pdfs(pdfs, edges)
    ancil = {k: np.asarray(v) for k, v in (ancil or {}).items()}
    wrong = {k: v.shape for k, v in ancil.items() if len(v) != len(p)}
    if wrong:
        raise ValueError(f"ancil columns must have one value per PDF row ({len(p)}); got shapes {wrong}")
    ens = qp.hist.create_ensemble(bins=edges, pdfs=p / np.diff(edges), ancil=ancil or None)
    if path is not None:
        ens.write_to(str(path))
    return ens


def from_qp(ensemble_or_path, edges=None):
    """PDFs on our convention (bin probabilities) from a ``qp`` ensemble or a file qp wrote.

    A histogram ensemble is read on its own bins when ``edges`` is None (exact round trip of
    :func:`to_qp`).  Any other ensemble (or a histogram on other bins) is binned on
    ``edges`` by differences of its CDF at the edges, renormalised to the grid.

    Returns
    -------
    pdfs : ndarray (N, n_bins) float64
    edges : ndarray (n_bins + 1,)
    ancil : dict of per-galaxy columns (empty when the ensemble has none)
    """
    qp = _import_qp()
    ens = ensemble_or_path
    if not isinstance(ens, qp.Ensemble):
        path = Path(ensemble_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such qp file")
        ens = qp.read(str(path))
    ancil = {k: np.asarray(v) for k, v in (ens.ancil or {}).items()}
    is_hist = isinstance(ens.gen_obj, qp.hist_gen)
    if edges is None:
        if not is_hist:
            raise ValueError(f"a {type(ens.gen_obj).__name__} ensemble has no bins of its own: "
                             "pass the edges to bin it on")
        edges = np.asarray(ens.metadata["bins"], float).ravel()
        probs = np.asarray(ens.objdata["pdfs"], float).reshape(ens.npdf, -1) * np.diff(edges)
    else:
        edges = _validate_edges(edges)
        cdf_at_edges = np.asarray(ens.cdf(edges[None, :]), float).reshape(ens.npdf, len(edges))
        probs = np.clip(np.diff(cdf_at_edges, axis=1), 0.0, None)
        inside = probs.sum(axis=1)
        if np.any(inside <= 0):
            raise ValueError(f"{int(np.sum(inside <= 0))} PDF(s) have no probability inside "
                             f"[{edges[0]:g}, {edges[-1]:g}]")
        probs /= inside[:, None]
    p, edges = validate_pdfs(probs, edges, atol=1e-6)
    return p, edges, ancil
