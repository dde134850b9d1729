"""The paper style, figure sizes and colours, saving, and the input checks every figure family shares."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from .. import config
from ..stats import OUTLIER_CUT
from ..stats import finite_vector as _vector

#: Width of one column of A&A (inches); every figure is drawn at this width except
#: the side-by-side comparison of :func:`zphot_vs_zspec`, which spans the page.
COLUMN_WIDTH = 3.5
TEXT_WIDTH = 6.7
#: Outlier threshold of the paper on |dz| = |z_phot - z_spec| / (1 + z_spec).
OUTLIER_DZ = OUTLIER_CUT  # the outlier lines drawn are the cut the metrics count
#: Okabe-Ito colours: distinguishable with colour-blindness and in greyscale print.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
Z_LABEL = r"spectroscopic redshift $z_\mathrm{spec}$"
ZPHOT_LABEL = r"photometric redshift $z_\mathrm{phot}$"
STAT_LABELS = {
    "bias": r"bias $\langle\Delta z\rangle$",
    "sigma_mad": r"$\sigma_\mathrm{MAD}$",
    "outlier_frac": r"outliers $\eta$ [%]",
}

_STYLE = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 8,
    "font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans",
    "lines.linewidth": 1.0, "axes.linewidth": 0.6, "patch.linewidth": 0.8,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.direction": "in",
    "ytick.direction": "in", "xtick.top": True, "ytick.right": True,
    "legend.frameon": False, "legend.handlelength": 1.5,
    "axes.prop_cycle": mpl.cycler(color=COLOURS),
    "figure.dpi": 100, "savefig.dpi": 200, "savefig.bbox": None,
    "pdf.fonttype": 42, "image.origin": "lower", "image.interpolation": "nearest",
}


@contextlib.contextmanager
def paper_style():
    """Temporarily set the rcParams shared by every figure (fonts >= 8 pt, 200 dpi PNG)."""
    with mpl.rc_context(_STYLE):
        yield


def _figure(n_rows: int = 1, n_cols: int = 1, height: float = 2.6, width: float = COLUMN_WIDTH,
            **subplot_kw):
    """A constrained-layout Figure (one column wide by default) and its axes as a 2-D array."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **subplot_kw)
    return fig, axes


# --------------------------------------------------------------------------- saving
def save_figure(fig: Figure, directory, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` into ``directory`` (created), atomically.

    Each file is rendered to a temporary name in the same directory and renamed, so a
    crash never leaves a half-written figure under the stable name.  The PDF carries no
    creation date, so re-running the same figure gives the same bytes.

    Returns
    -------
    list of Path
        The PDF and PNG paths, in that order.
    """
    if not name or Path(name).name != name or Path(name).suffix in (".pdf", ".png"):
        raise ValueError(f"figure name must be a bare file stem like 'pit_histogram', got {name!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with paper_style():
        for fmt, metadata in (("pdf", {"CreationDate": None}), ("png", None)):
            final = directory / f"{name}.{fmt}"
            tmp = directory / f".{name}.{fmt}.{os.getpid()}.tmp"
            try:
                fig.savefig(tmp, format=fmt, metadata=metadata)
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(final)
    return written


# --------------------------------------------------------------------------- validation
def _same_length(**arrays) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")


def _pdf_inputs(pdfs, edges, z_spec):
    """Validate a PDF block (N, n_bins), its edges (n_bins + 1) and z_spec (N)."""
    pdfs = np.asarray(pdfs)
    edges = _vector(edges, "edges")
    z_spec = _vector(z_spec, "z_spec")
    if pdfs.ndim != 2 or pdfs.shape[1] != len(edges) - 1:
        raise ValueError(f"pdfs must have shape (N, {len(edges) - 1}) to match {len(edges)} edges, "
                         f"got {pdfs.shape}")
    if np.any(np.diff(edges) <= 0):
        raise ValueError("edges must increase strictly")
    _same_length(pdfs=pdfs, z_spec=z_spec)
    return pdfs, edges, z_spec


def _as_mapping(values, default_label: str) -> dict:
    """A dict label -> values; a bare array becomes ``{default_label: array}``."""
    return dict(values) if isinstance(values, Mapping) else {default_label: values}


def _pick(n_total: int, n: int, seed: int, order=None) -> np.ndarray:
    """``n`` distinct rows chosen with ``seed`` (sorted by ``order`` if given, else by index)."""
    if not 1 <= n <= n_total:
        raise ValueError(f"n must be between 1 and the number of galaxies ({n_total}), got {n}")
    rows = np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))
    return rows if order is None else rows[np.argsort(np.asarray(order)[rows], kind="stable")]


# --------------------------------------------------------------------------- shared axis formatting
def _redshift_axis(ax, axis: str = "x", label: str = Z_LABEL) -> None:
    getattr(ax, f"set_{axis}lim")(config.Z_MIN, config.Z_MAX)
    getattr(ax, f"set_{axis}label")(label)


def _text_box(ax, text: str, loc: str = "upper left") -> None:
    """A small white-backed annotation in a corner of ``ax``."""
    x, ha = (0.04, "left") if "left" in loc else (0.96, "right")
    y, va = (0.96, "top") if "upper" in loc else (0.04, "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va,
            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.6", lw=0.5, alpha=0.9))
