"""Paper figures: one function per figure family, each returning a matplotlib Figure.

Figures are built with the object-oriented API (:class:`matplotlib.figure.Figure`, never
``pyplot``), so nothing is shown or kept alive by a GUI backend and notebooks display
each figure exactly once.  Every function draws under :func:`paper_style`: 3.5 in wide
(one A&A column), fonts of at least 8 pt, and PNGs at 200 dpi via :func:`save_figure`.

>>> fig = pit_histogram(np.random.default_rng(0).random(1000))   # doctest: +SKIP
>>> save_figure(fig, "figures/small", "pit_histogram")           # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from . import config
from .stats import OUTLIER_CUT, sigma_mad

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
def _vector(values, name: str) -> np.ndarray:
    """``values`` as a non-empty, finite 1-D float array, else a ValueError naming it."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} has {bad.sum()} non-finite value(s), first at index {int(np.argmax(bad))}")
    return arr


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


# --------------------------------------------------------------------------- z_phot vs z_spec
def _metrics_text(z_phot, z_spec) -> str:
    from .metrics import point_metrics  # lazy: plots sits above metrics in the import order

    m = point_metrics(z_phot, z_spec)
    return (f"bias = {m['bias']:+.5f}\n$\\sigma_\\mathrm{{MAD}}$ = {m['sigma_mad']:.5f}\n"
            f"$\\eta$ = {100 * m['outlier_frac']:.2f}%  (N = {m['n']})")


def _density_panel(ax, z_spec, z_phot, label, bins, norm):
    counts, _, _ = np.histogram2d(z_spec, z_phot, bins=[bins, bins])
    mesh = ax.pcolormesh(bins, bins, np.ma.masked_equal(counts.T, 0), norm=norm,
                         cmap="viridis", rasterized=True)
    z = np.array([config.Z_MIN, config.Z_MAX])
    ax.plot(z, z, color="k", lw=0.8, label="1:1")
    for sign in (1, -1):
        ax.plot(z, z + sign * OUTLIER_DZ * (1 + z), color=COLOURS[1], ls="--", lw=0.8,
                label=rf"$|\Delta z| = {OUTLIER_DZ}$" if sign > 0 else None)
    _redshift_axis(ax, "x")
    _redshift_axis(ax, "y", label=ZPHOT_LABEL if ax.get_subplotspec().is_first_col() else "")
    ax.set_aspect("equal")
    ax.set_title(label)
    _text_box(ax, _metrics_text(z_phot, z_spec))
    return mesh


def zphot_vs_zspec(z_spec, z_phot, label: str = "CNN", baseline=None, n_cells: int = 80) -> Figure:
    """Density of z_phot against z_spec with the 1:1 line, the outlier envelope and metrics.

    Parameters
    ----------
    z_spec, z_phot : array (N,)
    label : str
        Title of the panel.
    baseline : (z_phot_baseline, label), optional
        A second method on the same galaxies, drawn in a panel to the right (e.g. B16);
        the figure is then page-wide (``TEXT_WIDTH``) with one shared colour scale.
    n_cells : int
        Cells per axis of the 2-D histogram on [0, 0.4].
    """
    z_spec, z_phot = _vector(z_spec, "z_spec"), _vector(z_phot, "z_phot")
    _same_length(z_spec=z_spec, z_phot=z_phot)
    panels = [(z_phot, label)]
    if baseline is not None:
        base_z, base_label = baseline
        base_z = _vector(base_z, f"baseline z_phot ({base_label})")
        _same_length(z_spec=z_spec, baseline=base_z)
        panels.append((base_z, base_label))
    bins = np.linspace(config.Z_MIN, config.Z_MAX, n_cells + 1)
    peak = max(np.histogram2d(z_spec, zp, bins=[bins, bins])[0].max() for zp, _ in panels)
    norm = LogNorm(vmin=1, vmax=max(peak, 2))  # one scale for both panels: densities compare
    with paper_style():
        wide = len(panels) > 1
        fig, axes = _figure(1, len(panels), height=3.0 if not wide else 3.1,
                            width=TEXT_WIDTH if wide else COLUMN_WIDTH, sharey=True)
        for ax, (zp, name) in zip(axes[0], panels):
            mesh = _density_panel(ax, z_spec, zp, name, bins, norm)
        axes[0, -1].legend(loc="lower right", handlelength=1.2, borderaxespad=0.2)
        bar = fig.colorbar(mesh, ax=axes[0].tolist(), label="galaxies per cell", shrink=0.9, aspect=25)
        plain = mpl.ticker.FuncFormatter(lambda value, _: f"{value:g}")  # 1, 10, 100 (not 10^0)
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain if peak < 10 else mpl.ticker.NullFormatter())
    return fig


# --------------------------------------------------------------------------- PIT
def _pit_vector(pit, name: str) -> np.ndarray:
    pit = _vector(pit, name)
    if pit.min() < -1e-6 or pit.max() > 1 + 1e-6:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{pit.min():.4g}, {pit.max():.4g}]")
    return np.clip(pit, 0.0, 1.0)


def pit_histogram(pit, label: str = "CNN", others: Mapping | None = None, n_bins: int = 20) -> Figure:
    """PIT histogram (density: 1 for calibrated PDFs) with the uniform expectation.

    The shaded bands are the +-1 and +-2 sigma Poisson scatter of a histogram of
    ``len(pit)`` uniform draws: 1 +- k sqrt(n_bins / N) in density units.

    Parameters
    ----------
    pit : array (N,) in [0, 1]
    label : str
        Legend entry of ``pit``.
    others : dict label -> array, optional
        Further PIT sets overlaid as outlines (e.g. after calibration).
    n_bins : int
        Number of histogram bins on [0, 1].
    """
    series = {label: _pit_vector(pit, "pit")}
    for name, values in (others or {}).items():
        series[name] = _pit_vector(values, f"others[{name!r}]")
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    sigma = np.sqrt(n_bins / len(series[label]))
    with paper_style():
        fig, axes = _figure(height=2.4)
        ax = axes[0, 0]
        for k, alpha in ((2, 0.15), (1, 0.3)):
            ax.axhspan(1 - k * sigma, 1 + k * sigma, color="0.5", alpha=alpha, lw=0,
                       label=rf"uniform $\pm{k}\sigma$")
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="uniform")
        for i, (name, values) in enumerate(series.items()):
            ax.hist(values, bins=bins, density=True, histtype="stepfilled" if i == 0 else "step",
                    alpha=0.5 if i == 0 else 1.0, color=COLOURS[i], lw=1.2, label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, None)
        ax.set_xlabel("PIT")
        ax.set_ylabel("density (uniform = 1)")
        ax.legend(loc="upper center", ncols=2, fontsize=8)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
    return fig


def coverage_plot(pit_dict) -> Figure:
    """QQ plot of PIT: the fraction of galaxies with PIT <= q against the nominal q.

    Calibrated PDFs follow the 1:1 line.  Over-confident (too narrow) PDFs put PIT near
    0 and 1: the curve runs above the line at low q and below it at high q; too wide
    PDFs do the opposite; a curve above (below) everywhere means z_phot biased high
    (low).  The lower panel shows the difference from the line, where small departures show.

    Parameters
    ----------
    pit_dict : dict label -> array (N,), or a single array
    """
    series = {name: _pit_vector(v, f"pit[{name!r}]") for name, v in _as_mapping(pit_dict, "PIT").items()}
    q = np.linspace(0, 1, 201)
    with paper_style():
        fig, axes = _figure(2, 1, height=3.4, sharex=True, gridspec_kw={"height_ratios": (3, 1.2)})
        top, bottom = axes[:, 0]
        top.plot(q, q, color="k", lw=0.8, ls="--", label="1:1 (calibrated)")
        bottom.axhline(0, color="k", lw=0.8, ls="--")
        for name, pit in series.items():
            ecdf = np.searchsorted(np.sort(pit), q, side="right") / len(pit)
            top.plot(q, ecdf, label=name)
            bottom.plot(q, ecdf - q)
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="empirical CDF of PIT")
        top.legend(loc="upper left")
        bottom.set(xlabel="nominal quantile (uniform CDF)", ylabel="difference")
    return fig


# --------------------------------------------------------------------------- training
def learning_curves(history) -> Figure:
    """Loss per epoch (training and validation), plus one panel per other logged quantity.

    Parameters
    ----------
    history : dict or keras History
        ``loss`` and ``val_loss`` lists (one value per epoch); other keys such as
        ``accuracy``/``val_accuracy`` or ``learning_rate`` get their own panel.
    """
    history = dict(getattr(history, "history", history))
    missing = [k for k in ("loss", "val_loss") if k not in history]
    if missing:
        raise ValueError(f"history needs keys 'loss' and 'val_loss'; missing {missing}, has {sorted(history)}")
    curves = {k: _vector(v, f"history[{k!r}]") for k, v in history.items()}
    _same_length(**curves)
    families = ["loss"] + sorted({k.removeprefix("val_") for k in curves} - {"loss"})
    epochs = np.arange(1, len(curves["loss"]) + 1)
    with paper_style():
        fig, axes = _figure(len(families), 1, height=1.2 + 1.3 * len(families), sharex=True)
        for ax, family in zip(axes[:, 0], families):
            for key, name, style in ((family, "training", "-"), (f"val_{family}", "validation", "--")):
                if key in curves:
                    ax.plot(epochs, curves[key], ls=style, marker="o", ms=2.5, label=name)
            ax.set_ylabel("cross-entropy loss [nat]" if family == "loss" else family.replace("_", " "))
            if family in ("lr", "learning_rate"):  # stepped by factors: log scale
                ax.set_yscale("log")
        best = int(np.argmin(curves["val_loss"]))
        axes[0, 0].plot(epochs[best], curves["val_loss"][best], "k*", ms=7, label=f"best (epoch {best + 1})")
        axes[0, 0].legend(loc="upper right")
        axes[-1, 0].set_xlabel("epoch")
        axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
    return fig


# --------------------------------------------------------------------------- data
def _band_norm(stamp: np.ndarray):
    from astropy.visualization import simple_norm

    return simple_norm(stamp, stretch="asinh", asinh_a=0.05, percent=99.5)


def _lupton_rgb(stamps: np.ndarray) -> np.ndarray:
    """Lupton et al. (2004) RGB of i, r, g with one stretch for all rows (colours compare)."""
    from astropy.visualization import make_lupton_rgb

    b = {band: i for i, band in enumerate(config.BANDS)}
    mean = stamps[..., [b["i"], b["r"], b["g"]]].mean(axis=-1)
    stretch = max(0.2 * float(np.percentile(mean, 99.5)), 1e-6)  # cores bright, sky dark
    return np.stack([make_lupton_rgb(s[..., b["i"]], s[..., b["r"]], s[..., b["g"]],
                                     minimum=0.0, stretch=stretch, Q=8) for s in stamps])


def _scale_bar(ax, arcsec: float = 10.0) -> None:
    """A white bar of ``arcsec`` in the lower right of an image axes (pixels of PIXEL_SCALE)."""
    length = arcsec / config.PIXEL_SCALE
    x1, y = config.STAMP - 4, 5
    ax.plot([x1 - length, x1], [y, y], color="w", lw=1.5, solid_capstyle="butt")
    ax.text(x1 - length / 2, y + 2, f'{arcsec:g}"', color="w", ha="center", va="bottom")


def example_cutouts(images, catalog, n: int = 6, seed: int = 0) -> Figure:
    """A grid of ``n`` galaxies (rows, sorted by z_spec) in u, g, r, i, z and a Lupton RGB.

    Each band uses its own asinh stretch; the RGB (i, r, g) uses one stretch for all rows.
    Rows are labelled with z_spec and the Petrosian r magnitude.

    Parameters
    ----------
    images : array (N, 64, 64, 5), nanomaggies (a memory map is read only for the chosen rows)
    catalog : astropy Table with ``z_spec`` and ``petro_r``, row i = image i
    """
    expected = (config.STAMP, config.STAMP, len(config.BANDS))
    if np.ndim(images) != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}) channels last "
                         f"in bands {''.join(config.BANDS)}, got {np.shape(images)}")
    missing = [c for c in ("z_spec", "petro_r") if c not in catalog.colnames]
    if missing:
        raise ValueError(f"catalog lacks column(s) {missing} needed to label the cutouts")
    _same_length(images=images, catalog=catalog)
    z = np.asarray(catalog["z_spec"], dtype=float)
    rows = _pick(len(z), n, seed, order=z)
    stamps = np.nan_to_num(np.asarray(images[np.sort(rows)], dtype=np.float64))
    stamps = stamps[np.argsort(np.argsort(rows))]  # back to z order after the sorted memmap read
    rgb = _lupton_rgb(stamps)
    titles = list(config.BANDS) + ["irg"]
    with paper_style():
        fig, axes = _figure(n, len(titles), height=0.25 + 0.5 * n)
        fig.get_layout_engine().set(w_pad=0.005, h_pad=0.005, wspace=0.01, hspace=0.01)
        for r, row in enumerate(rows):
            for c, ax in enumerate(axes[r]):
                if c < len(config.BANDS):
                    ax.imshow(stamps[r, ..., c], cmap="gray_r", norm=_band_norm(stamps[r, ..., c]))
                else:
                    ax.imshow(rgb[r])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(titles[c], pad=2)
            axes[r, 0].set_ylabel(f"z={z[row]:.3f}\nr={catalog['petro_r'][row]:.1f}",
                                  rotation=0, ha="right", va="center", labelpad=2)
        _scale_bar(axes[-1, -1])
    return fig


def redshift_magnitude_distributions(catalog, splits=("train", "val", "test")) -> Figure:
    """Normalised z_spec and Petrosian r histograms, one outline per split.

    Parameters
    ----------
    catalog : astropy Table with ``z_spec``, ``petro_r`` and ``split``
    splits : sequence of split names to draw (a split with no galaxy is an error)
    """
    missing = [c for c in ("z_spec", "petro_r", "split") if c not in catalog.colnames]
    if missing:
        raise ValueError(f"catalog lacks column(s) {missing}")
    split = np.asarray(catalog["split"]).astype(str)
    empty = [s for s in splits if not np.any(split == s)]
    if empty:
        raise ValueError(f"split(s) {empty} have no galaxy; catalog holds {sorted(set(split))}")
    z = _vector(catalog["z_spec"], "catalog['z_spec']")
    r = _vector(catalog["petro_r"], "catalog['petro_r']")
    z_bins = np.linspace(config.Z_MIN, config.Z_MAX, 41)
    r_bins = np.linspace(np.floor(r.min() * 2) / 2, max(np.ceil(r.max() * 2) / 2, config.R_PETRO_MAX + 0.2), 31)
    with paper_style():
        fig, axes = _figure(2, 1, height=3.6)
        ax_z, ax_r = axes[:, 0]
        for s in splits:
            sel = split == s
            label = f"{s} (N={sel.sum()})"
            ax_z.hist(z[sel], bins=z_bins, density=True, histtype="step", lw=1.2, label=label)
            ax_r.hist(r[sel], bins=r_bins, density=True, histtype="step", lw=1.2, label=label)
        ax_r.axvline(config.R_PETRO_MAX, color="k", ls=":", lw=0.8, label=f"r = {config.R_PETRO_MAX}")
        _redshift_axis(ax_z, "x")
        ax_r.set_xlabel("Petrosian r [mag]")
        ax_z.set_ylabel("probability density")
        ax_r.set_ylabel("probability density")
        ax_r.legend(loc="upper left")  # same splits in both panels: one legend
    return fig


# --------------------------------------------------------------------------- metrics vs a property
_TABLE_COLUMNS = ("lo", "hi", "centre", "n")


def _check_metric_table(table, label, stats) -> None:
    need = list(_TABLE_COLUMNS) + [c for s in stats for c in (s, f"{s}_err")]
    missing = [c for c in need if c not in table.colnames]
    if missing:
        raise ValueError(f"table {label!r} lacks column(s) {missing} (binned_metrics output expected)")


def metric_vs_property(tables, property_label: str,
                       stats=("bias", "sigma_mad", "outlier_frac")) -> Figure:
    """Binned metrics against a property: one stacked panel per statistic, one series per table.

    Parameters
    ----------
    tables : dict label -> astropy Table, or one Table
        Output of ``photoz_nb.metrics.binned_metrics`` (columns lo, hi, centre, n,
        ``<stat>`` and ``<stat>_err``), e.g. ``{"CNN": t1, "B16": t2}``.
    property_label : str
        The x-axis label, with units, e.g. ``"PSF FWHM [arcsec]"``.
    stats : sequence of str
        Statistics to draw, top to bottom; ``outlier_frac`` is shown in percent.
    """
    tables = _as_mapping(tables, "")
    unknown = [s for s in stats if s not in STAT_LABELS]
    if unknown or not stats:
        raise ValueError(f"stats must be chosen from {list(STAT_LABELS)}, got {list(stats)}")
    for label, table in tables.items():
        _check_metric_table(table, label, stats)
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.5 + 1.15 * len(stats), sharex=True)
        for i, (label, table) in enumerate(tables.items()):
            width = np.asarray(table["hi"], float) - np.asarray(table["lo"], float)
            # dodge series by a fixed step (a fraction of the typical bin): an open-ended last bin must not move far
            x = np.asarray(table["centre"], float) + 0.15 * np.median(width) * (i - (len(tables) - 1) / 2)
            for ax, stat in zip(axes[:, 0], stats):
                scale = 100.0 if stat == "outlier_frac" else 1.0
                ax.errorbar(x, scale * np.asarray(table[stat], float), yerr=scale * np.asarray(table[f"{stat}_err"], float),
                            marker="o", ms=3, capsize=1.5, lw=0.9, elinewidth=0.7, color=COLOURS[i],
                            label=label or None)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(STAT_LABELS[stat])
            if stat == "bias":
                ax.axhline(0, color="k", lw=0.6, ls="--")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
        axes[-1, 0].set_xlabel(property_label)
        if len(tables) > 1:  # above the panels, where it hides no point
            axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=min(len(tables), 3),
                              borderaxespad=0.1)
    return fig


# --------------------------------------------------------------------------- PDFs
def _zoom_range(pdf, edges, z_true, min_width: float = 0.06) -> tuple[float, float]:
    """x-range holding the central 99.8% of a PDF's mass and the true redshift."""
    cdf = np.concatenate([[0.0], np.cumsum(pdf)]) / max(pdf.sum(), 1e-30)
    lo, hi = np.interp([0.001, 0.999], cdf, edges)
    lo, hi = min(lo, z_true), max(hi, z_true)
    pad = max((min_width - (hi - lo)) / 2, 0.15 * (hi - lo))
    return max(lo - pad, edges[0]), min(hi + pad, edges[-1])


def pdf_examples(pdfs, edges, z_spec, n: int = 6, seed: int = 0, zoom: bool = True) -> Figure:
    """A few redshift PDFs (as densities, drawn as steps) with z_spec marked.

    Parameters
    ----------
    pdfs : array (N, n_bins), bin probabilities; edges : array (n_bins + 1,); z_spec : array (N,)
    n, seed : how many galaxies to draw, chosen at random with ``seed`` and sorted by z_spec
    zoom : bool
        Limit each panel to where its PDF has mass (narrow PDFs are unreadable on [0, 0.4]).
    """
    pdfs, edges, z_spec = _pdf_inputs(pdfs, edges, z_spec)
    rows = _pick(len(z_spec), n, seed, order=z_spec)
    n_cols = 2 if n > 1 else 1
    n_rows = -(-n // n_cols)
    with paper_style():
        fig, axes = _figure(n_rows, n_cols, height=0.4 + 1.0 * n_rows)
        for ax, row in zip(axes.flat, rows):
            density = np.asarray(pdfs[row], float) / np.diff(edges)
            ax.stairs(density, edges, color=COLOURS[0], lw=1.0, label="PDF")
            ax.axvline(z_spec[row], color=COLOURS[1], ls="--", lw=1.0, label=r"$z_\mathrm{spec}$")
            ax.set_xlim(*(_zoom_range(np.asarray(pdfs[row], float), edges, z_spec[row]) if zoom
                          else (edges[0], edges[-1])))
            ax.set_ylim(0, density.max() * 1.15)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(3))
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("p(z)")
        for col in axes.T:  # the lowest visible panel of each column carries the label
            [ax for ax in col if ax.get_visible()][-1].set_xlabel("redshift z")
        axes[0, 0].legend(loc="upper right", fontsize=8, handlelength=1.0)
    return fig


def stacked_nz(pdfs, edges, z_spec, label: str = "stacked PDFs") -> Figure:
    """The sum of the PDFs against the histogram of z_spec on the same bins, with residuals.

    Both are densities on the PDF grid; the lower panel shows stacked minus true with the
    Poisson error of the true histogram.

    Parameters
    ----------
    pdfs : array (N, n_bins), or dict label -> array (N, n_bins) on the same galaxies
        (e.g. before and after calibration); ``label`` names a bare array.
    edges : array (n_bins + 1,)
    z_spec : array (N,)
    """
    series = _as_mapping(pdfs, label)
    stacks = {}
    for name, block in series.items():
        block, edges_, z_spec_ = _pdf_inputs(block, edges, z_spec)
        stacks[name] = np.sum(block, axis=0, dtype=np.float64) / (len(z_spec_) * np.diff(edges_))
    edges, z_spec = edges_, z_spec_
    counts = np.histogram(z_spec, bins=edges)[0]
    true = counts / (len(z_spec) * np.diff(edges))
    err = np.sqrt(counts) / (len(z_spec) * np.diff(edges))
    with paper_style():
        fig, axes = _figure(2, 1, height=3.2, sharex=True, gridspec_kw={"height_ratios": (3, 1.2)})
        top, bottom = axes[:, 0]
        top.stairs(true, edges, color="0.3", fill=True, alpha=0.35, label=r"true $z_\mathrm{spec}$")
        bottom.fill_between(edges, np.append(-err, -err[-1]), np.append(err, err[-1]), step="post",
                            color="0.6", alpha=0.5, lw=0, label=r"$\pm1\sigma$ Poisson")
        bottom.axhline(0, color="k", lw=0.6)
        for i, (name, stack) in enumerate(stacks.items()):
            top.stairs(stack, edges, color=COLOURS[i], lw=1.1, label=name)
            bottom.stairs(stack - true, edges, color=COLOURS[i], lw=0.9)
        top.set(ylabel="n(z) density", xlim=(edges[0], edges[-1]))
        top.legend(loc="upper right")
        bottom.set(xlabel="redshift z", ylabel="stacked $-$ true")
        bottom.legend(loc="lower right", fontsize=8)
    return fig


# --------------------------------------------------------------------------- architecture
#: Fill colour of each kind of stage in :func:`architecture` (light tints of ``COLOURS``).
_STAGE_FILL = {"input": "0.88", "conv": "#CCE3F0", "pool": "#CCEBE2", "inception": "#FBE2CC",
               "flatten": "0.93", "concat": "0.93", "dense": "#F0DDE8", "output": "#F5D6C4"}


def _stage_key(name: str) -> str:
    """The stage a layer belongs to: its inception block, the conv its PReLU follows, the E(B-V)
    input its scaling follows, else itself."""
    if name.startswith("inception") and "_" in name:
        return name.split("_", 1)[0]
    return name.removesuffix("_prelu").removesuffix("_scaled")


def _shape_text(shape) -> str:
    return "\u00d7".join(str(int(s)) for s in shape)


def _describe_stage(layers_in_stage) -> tuple[str, str]:
    """(kind, label) of one stage from its Keras layers (type names and hyper-parameters only)."""
    kinds = [layer.__class__.__name__ for layer in layers_in_stage]
    first = layers_in_stage[0]
    if len(layers_in_stage) > 3 and "Concatenate" in kinds:
        kernels = sorted({int(layer.kernel_size[0]) for layer in layers_in_stage
                          if layer.__class__.__name__ == "Conv2D"})
        branches = ", ".join(f"{k}\u00d7{k}" for k in kernels) + (", pool" if "AveragePooling2D" in kinds else "")
        return "inception", f"inception ({branches})"
    if kinds[0] == "InputLayer":
        shape = tuple(first.output.shape[1:])
        return "input", "input image" if len(shape) == 3 else f"input {first.name.replace('ebv', 'E(B$-$V)')}"
    if kinds[0] == "Conv2D":
        k = int(first.kernel_size[0])
        act = " + PReLU" if "PReLU" in kinds else ""
        return "conv", f"conv {k}\u00d7{k}{act}"
    if kinds[0] in ("AveragePooling2D", "MaxPooling2D"):
        k = int(first.pool_size[0])
        return "pool", f"{'avg' if kinds[0].startswith('Average') else 'max'}-pool {k}\u00d7{k}"
    if kinds[0] == "Flatten":
        return "flatten", "flatten"
    if kinds[0] == "Concatenate":
        return "concat", "concatenate E(B$-$V)" if "ebv" in first.name else "concatenate"
    if kinds[0] == "Dense":
        act = getattr(first.activation, "__name__", str(first.activation))
        if act == "softmax":
            return "output", "dense + softmax: p(z)"
        return "dense", "dense" + ("" if act == "linear" else f" + {'ReLU' if act == 'relu' else act}")
    return "conv", f"{first.name} ({kinds[0]})"


def architecture_stages(model) -> list[dict]:
    """The stages drawn by :func:`architecture`, in order: ``name``, ``kind``, ``label``, ``shape``.

    Layers are grouped into stages by name (Net_P's naming, see :mod:`photoz_nb.model`):
    every ``inceptionN_*`` layer is one stage, ``X_prelu`` joins ``X``; any other layer is
    its own stage.  ``shape`` is the output shape (without the batch axis) of the last layer
    of the stage, i.e. an inception block's concatenated maps.
    """
    groups: dict[str, list] = {}
    for layer in model.layers:
        groups.setdefault(_stage_key(layer.name), []).append(layer)
    stages = []
    for name, members in groups.items():
        kind, label = _describe_stage(members)
        stages.append({"name": name, "kind": kind, "label": label,
                       "shape": tuple(int(s) for s in members[-1].output.shape[1:])})
    return stages


def _box(ax, x, y, width, height, kind, left, right=None):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y - height / 2), width, height, boxstyle="round,pad=0,rounding_size=0.04",
                                fc=_STAGE_FILL[kind], ec="0.35", lw=0.6))
    ax.text(x + 0.03, y, left, ha="left", va="center")
    if right is not None:
        ax.text(x + width - 0.03, y, right, ha="right", va="center", family="DejaVu Sans Mono")


def _arrow(ax, start, end):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7, color="0.3", lw=0.8,
                                 shrinkA=0, shrinkB=0))


def architecture(model, title: str | None = None) -> Figure:
    """Schematic of a Net_P-like Keras model: one box per stage, top to bottom, with its output shape.

    Side inputs (E(B-V)) are drawn to the right of the stage that concatenates them.  Box
    geometry depends only on the number of stages, never on text widths.

    Parameters
    ----------
    model : keras.Model
        e.g. ``photoz_nb.model.build_net_p(width=0.25)``; any width or ``use_ebv`` works.
    title : str, optional
        Defaults to the model name and its number of weights.
    """
    if not hasattr(model, "layers") or not model.layers:
        raise ValueError(f"architecture needs a built Keras model with layers, got {type(model).__name__}")
    stages = architecture_stages(model)
    side = [s for s in stages[1:] if s["kind"] == "input"]  # extra inputs feed a later concat
    main = [s for s in stages if s not in side]
    row, box_h, main_w = 0.36, 0.26, 2.65  # inches
    height = row * (len(main) + 1.6)
    if title is None:
        title = f"{model.name}: {model.count_params():,} weights"
    with paper_style():
        # One axes filling the figure, in inch units: boxes keep their size whatever the text.
        fig = Figure(figsize=(COLUMN_WIDTH, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set(xlim=(0, COLUMN_WIDTH), ylim=(0, height))
        ax.text(COLUMN_WIDTH / 2, height - 0.12, title, ha="center", va="top")
        y_of = {}
        for i, stage in enumerate(main):
            y = row * (len(main) - i)
            y_of[stage["name"]] = y
            _box(ax, 0.05, y, main_w, box_h, stage["kind"], stage["label"], _shape_text(stage["shape"]))
            if i:
                _arrow(ax, (0.05 + main_w / 2, y + row - box_h / 2), (0.05 + main_w / 2, y + box_h / 2))
        header_y = row * (len(main) + 0.7)
        ax.text(0.08, header_y, "stage", ha="left", va="center", style="italic")
        ax.text(0.02 + main_w, header_y, "output shape", ha="right", va="center", style="italic")
        concat_y = next((y_of[s["name"]] for s in main if s["kind"] == "concat"), None)
        for j, stage in enumerate(side):
            y = (concat_y if concat_y is not None else row) - j * row
            x = 0.05 + main_w + 0.15
            _box(ax, x, y, COLUMN_WIDTH - 0.05 - x, box_h, "input", stage["label"].removeprefix("input "))
            _arrow(ax, (x, y), (0.05 + main_w, y))
    return fig


# --------------------------------------------------------------------------- training-set size
#: Panels of :func:`metrics_vs_training_size`: summary-table column -> y label.
SIZE_STATS = {"sigma_mad": r"$\sigma_\mathrm{MAD}$", "outliers_pct": r"outliers $\eta$ [%]",
              "crps": "CRPS"}


def _reference_value(row, stat: str, name: str) -> float:
    """``stat`` of a baseline row (Table row or dict); ``outliers_pct`` also from ``outlier_frac``."""
    keys = row.colnames if hasattr(row, "colnames") else list(row)
    if stat in keys:
        return float(row[stat])
    if stat == "outliers_pct" and "outlier_frac" in keys:
        return 100.0 * float(row["outlier_frac"])
    if stat == "crps":
        return np.nan  # photometry-only baselines often have no PDF: no CRPS line
    raise ValueError(f"reference {name!r} lacks {stat!r} (has {sorted(keys)})")


def metrics_vs_training_size(rows, references: Mapping | None = None, label: str = "CNN") -> Figure:
    """sigma_MAD, outlier percentage and CRPS against the number of training galaxies (log x).

    Several rows at one size (repeated trainings) are all drawn; the line joins their means.

    Parameters
    ----------
    rows : astropy Table, or dict label -> Table
        Output of ``photoz_nb.metrics.summary_table`` (columns ``training_size``,
        ``sigma_mad``, ``outliers_pct``, ``crps``); ``label`` names a bare Table.
    references : dict label -> row or dict, optional
        Horizontal reference lines, e.g. ``{"kNN (full)": knn_row, "RF (full)": rf_row}``;
        each needs ``sigma_mad`` and ``outliers_pct`` (or ``outlier_frac``, a fraction);
        ``crps`` is optional.
    """
    series = _as_mapping(rows, label)
    references = dict(references or {})
    curves = {}
    for name, table in series.items():
        missing = [c for c in ("training_size", *SIZE_STATS) if c not in table.colnames]
        if missing:
            raise ValueError(f"rows {name!r} lack column(s) {missing} (summary_table output expected)")
        size = _vector(table["training_size"], f"rows[{name!r}]['training_size']")
        if np.any(size <= 0):
            raise ValueError(f"rows {name!r}: training_size must be positive for a log axis")
        curves[name] = (size, {s: np.asarray(table[s], float) for s in SIZE_STATS})
    levels = {name: {s: _reference_value(row, s, name) for s in SIZE_STATS} for name, row in references.items()}
    has_crps = any(np.isfinite(c[1]["crps"]).any() for c in curves.values()) or \
        any(np.isfinite(v["crps"]) for v in levels.values())
    stats = [s for s in SIZE_STATS if s != "crps" or has_crps]
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.5 + 1.1 * len(stats), sharex=True)
        for i, (name, (size, values)) in enumerate(curves.items()):
            sizes = np.unique(size)
            for ax, stat in zip(axes[:, 0], stats):
                ax.plot(size, values[stat], "o", ms=3, color=COLOURS[i], label=name)
                mean = [np.nanmean(values[stat][size == n]) if np.isfinite(values[stat][size == n]).any()
                        else np.nan for n in sizes]
                ax.plot(sizes, mean, "-", color=COLOURS[i])
        for j, (name, level) in enumerate(levels.items()):
            for ax, stat in zip(axes[:, 0], stats):
                if np.isfinite(level[stat]):
                    ax.axhline(level[stat], color=COLOURS[len(curves) + j], ls=("--", ":", "-.")[j % 3],
                               lw=0.9, label=name)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(SIZE_STATS[stat])
            ax.set_xscale("log")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
        axes[-1, 0].set_xlabel("training galaxies")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 3))
    return fig


# --------------------------------------------------------------------------- PDF widths
#: median |N(0, s)| / (central 68% width of N(0, s)) = 0.6745 s / (2 x 0.9945 s).
GAUSS_MEDIAN_ABS_PER_WIDTH = 0.67449 / (2 * 0.99446)


def _per_method(values, labels, name: str) -> dict:
    """A dict label -> array for each of ``labels``; a bare array serves every label."""
    values = _as_mapping(values, "") if isinstance(values, Mapping) else {k: values for k in labels}
    missing = [k for k in labels if k not in values]
    if missing:
        raise ValueError(f"{name} lacks method(s) {missing} present in widths")
    return {k: _vector(values[k], f"{name}[{k!r}]") for k in labels}


def pdf_widths(widths, edges=None, z_phot=None, z_spec=None, n_width_bins: int = 8,
               label: str = "CNN") -> Figure:
    """Histogram of PDF widths per method; with ``z_phot`` and ``z_spec``, error against width.

    The lower panel (drawn when both ``z_phot`` and ``z_spec`` are given) shows the median
    ``|z_phot - z_spec|`` in equal-count bins of width, with the line expected for calibrated
    Gaussian PDFs (median |error| = 0.339 x the central 68% width): wider PDFs must mean
    larger errors, in that proportion.

    Parameters
    ----------
    widths : dict label -> array (N,), or one array (named ``label``)
        Central 68% interval widths in redshift, e.g. ``photoz_nb.pdf.width(pdfs, edges)``.
    edges : array, optional
        Histogram bin edges in width; default 40 bins up to the 99.5th percentile.
    z_phot : dict label -> array (N,) (same labels as ``widths``), or one array for all
    z_spec : array (N,), or dict label -> array
    n_width_bins : int
        Equal-count width bins of the lower panel.
    """
    series = {k: _vector(v, f"widths[{k!r}]") for k, v in _as_mapping(widths, label).items()}
    if any(np.any(w < 0) for w in series.values()):
        raise ValueError("widths must be non-negative")
    if (z_phot is None) != (z_spec is None):
        raise ValueError("give both z_phot and z_spec for the error-vs-width panel, or neither")
    if edges is None:
        top = np.percentile(np.concatenate(list(series.values())), 99.5)
        edges = np.linspace(0.0, max(top, 1e-6) * 1.05, 41)
    edges = _vector(edges, "edges")
    if np.any(np.diff(edges) <= 0):
        raise ValueError("edges must increase strictly")
    errors = {}
    if z_phot is not None:
        zp = _per_method(z_phot, list(series), "z_phot")
        zs = _per_method(z_spec, list(series), "z_spec")
        for k in series:
            _same_length(**{f"widths[{k!r}]": series[k], f"z_phot[{k!r}]": zp[k], f"z_spec[{k!r}]": zs[k]})
            errors[k] = np.abs(zp[k] - zs[k])
    with paper_style():
        fig, axes = _figure(1 + bool(errors), 1, height=2.4 + 1.9 * bool(errors))
        ax = axes[0, 0]
        for i, (name, w) in enumerate(series.items()):
            ax.hist(w, bins=edges, density=True, histtype="step", lw=1.2, color=COLOURS[i],
                    label=f"{name} (median {np.median(w):.3f})")
        ax.set_xlim(edges[0], edges[-1])
        ax.set(xlabel="central 68% width of the PDF [redshift]", ylabel="probability density")
        ax.legend(loc="upper right")
        if errors:
            _error_vs_width(axes[1, 0], series, errors, n_width_bins)
    return fig


def _error_vs_width(ax, series, errors, n_width_bins):
    top = 0.0
    for i, (name, w) in enumerate(series.items()):
        cuts = np.quantile(w, np.linspace(0, 1, n_width_bins + 1))
        which = np.clip(np.searchsorted(cuts, w, side="right") - 1, 0, n_width_bins - 1)
        filled = [b for b in range(n_width_bins) if np.any(which == b)]
        x = [np.median(w[which == b]) for b in filled]
        y = [np.median(errors[name][which == b]) for b in filled]
        ax.plot(x, y, "o-", ms=3, color=COLOURS[i], label=name)
        top = max(top, max(x))
    grid = np.array([0.0, top * 1.05])
    ax.plot(grid, GAUSS_MEDIAN_ABS_PER_WIDTH * grid, "k--", lw=0.8, label="calibrated Gaussian")
    ax.set(xlim=(0, grid[1]), ylim=(0, None), xlabel="central 68% width of the PDF [redshift]",
           ylabel=r"median $|z_\mathrm{phot} - z_\mathrm{spec}|$")
    ax.legend(loc="upper left")


# --------------------------------------------------------------------------- Stripe 82 depth
DEPTHS = {"normal": "normal depth", "stripe82": "Stripe 82"}


def _depth_stats(tables, stats) -> dict:
    if not isinstance(tables, Mapping) or not tables:
        raise ValueError("tables must be a non-empty dict label -> {'normal': stats, 'stripe82': stats}")
    for name, pair in tables.items():
        if not isinstance(pair, Mapping) or set(pair) != set(DEPTHS):
            keys = sorted(pair) if isinstance(pair, Mapping) else type(pair).__name__
            raise ValueError(f"tables[{name!r}] must have exactly the keys {sorted(DEPTHS)}, got {keys}")
        for depth, values in pair.items():
            missing = [s for s in stats if s not in values]
            if missing:
                raise ValueError(f"tables[{name!r}][{depth!r}] lacks {missing} (point_metrics output expected)")
    return tables


def stripe82_depth(tables, stats=("sigma_mad", "outlier_frac")) -> Figure:
    """Metrics of galaxies in normal-depth imaging against those in deeper Stripe 82, per method.

    Parameters
    ----------
    tables : dict label -> {"normal": stats, "stripe82": stats}
        Each stats dict holds ``bias``, ``sigma_mad``, ``outlier_frac`` (as returned by
        ``photoz_nb.metrics.point_metrics``) and optionally ``<stat>_err`` (e.g. from
        ``photoz_nb.metrics.bootstrap`` of ``point_metrics``) drawn as error bars; ``n``,
        if present, is shown in the legend when it is the same for every method.
    stats : sequence of str, from ``bias``, ``sigma_mad``, ``outlier_frac`` (in percent)
    """
    unknown = [s for s in stats if s not in STAT_LABELS]
    if unknown or not stats:
        raise ValueError(f"stats must be chosen from {list(STAT_LABELS)}, got {list(stats)}")
    tables = _depth_stats(tables, stats)
    methods = list(tables)
    x = np.arange(len(methods))
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.6 + 1.1 * len(stats), sharex=True)
        for j, (depth, depth_label) in enumerate(DEPTHS.items()):
            counts = {tables[m][depth].get("n") for m in methods}
            if len(counts) == 1 and None not in counts:
                depth_label += f" (N={int(counts.pop()):,})"
            for ax, stat in zip(axes[:, 0], stats):
                scale = 100.0 if stat == "outlier_frac" else 1.0
                y = [scale * float(tables[m][depth][stat]) for m in methods]
                err = [scale * float(tables[m][depth].get(f"{stat}_err", np.nan)) for m in methods]
                ax.errorbar(x + (j - 0.5) * 0.25, y, yerr=np.nan_to_num(err), fmt="os"[j], ms=4,
                            capsize=2, lw=0, elinewidth=0.8, color=COLOURS[j], label=depth_label)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(STAT_LABELS[stat])
            if stat == "bias":
                ax.axhline(0, color="k", lw=0.6, ls="--")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
            ax.tick_params(axis="x", which="both", top=False)
        axes[-1, 0].set(xticks=x, xticklabels=methods, xlim=(-0.6, len(methods) - 0.4), xlabel="method")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig


# --------------------------------------------------------------------------- realism of the simulation
def _band_distribution_panel(ax, sim, real, ylabel: str) -> None:
    """Simulated per-band distributions (boxes: quartiles, whiskers 5-95%) and real values per field
    (markers: median, bars: 16-84%)."""
    sim = np.asarray(sim, dtype=float)
    n_bands = len(config.BANDS)
    if sim.ndim != 2 or sim.shape[1] != n_bands:
        raise ValueError(f"simulated values must have shape (n, {n_bands}), got {sim.shape}")
    x = np.arange(n_bands)
    columns = [col[np.isfinite(col)] for col in sim.T]
    ax.boxplot(columns, positions=x, widths=0.35, whis=(5, 95), showfliers=False, patch_artist=True,
               boxprops=dict(facecolor="0.85", edgecolor="0.4"), medianprops=dict(color="k"),
               whiskerprops=dict(color="0.4"), capprops=dict(color="0.4"))
    ax.plot([], [], "s", color="0.85", mec="0.4", label=f"simulated (N={len(sim)})")
    for k, (field, values) in enumerate(_as_mapping(real, "real").items()):
        values = np.asarray(values, dtype=float).reshape(-1, n_bands)
        lo, med, hi = np.nanpercentile(values, [16, 50, 84], axis=0)
        ax.errorbar(x + 0.28 + 0.1 * k, med, yerr=[med - lo, hi - med], fmt="os^D"[k % 4], ms=3.5, lw=0,
                    elinewidth=0.8, capsize=1.5, color=COLOURS[k % len(COLOURS)],
                    label=f"real {field} (N={len(values)})")
    ax.set_xticks(x, config.BANDS)
    ax.tick_params(axis="x", which="both", top=False)
    ax.set(xlim=(-0.6, n_bands - 0.2), xlabel="band", ylabel=ylabel)


def realism_sky_noise(sim, real) -> Figure:
    """Sky noise per stamp pixel, simulated stamps (n, 5) against real cutouts {field: (m, 5)}."""
    with paper_style():
        fig, axes = _figure(1, 1, height=2.6)
        ax = axes[0, 0]
        _band_distribution_panel(ax, sim, real, "sky noise per pixel [nanomaggies]")
        ax.set_yscale("log")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncols=1)
    return fig


def realism_psf_fwhm(panels) -> Figure:
    """PSF widths of simulated point sources and real stars, one panel per measure.

    ``panels`` maps a measure name (e.g. "Moffat core") to (simulated (n, 5), real {field: (m, 5)}).
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ValueError("panels must be a non-empty dict measure -> (simulated, {field: real})")
    with paper_style():
        fig, axes = _figure(len(panels), 1, height=0.4 + 2.0 * len(panels), sharex=True)
        for ax, (measure, (sim, real)) in zip(axes[:, 0], panels.items()):
            _band_distribution_panel(ax, sim, real, f"PSF FWHM, {measure} [arcsec]")
            if not ax.get_subplotspec().is_last_row():
                ax.set_xlabel("")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=1)
    return fig


def _size_columns(values, name: str) -> dict:
    missing = [k for k in ("mag", "r50", "concentration") if k not in values]
    if missing:
        raise ValueError(f"{name} lacks {missing}: expected a mapping with 'mag', 'r50', 'concentration'")
    return {k: np.asarray(values[k], dtype=float) for k in ("mag", "r50", "concentration")}


def realism_galaxy_sizes(sim, real) -> Figure:
    """Half-light radius vs Petrosian r magnitude (top) and concentration r90/r50 (bottom).

    ``sim`` and ``real`` map ``mag``, ``r50`` (arcsec) and ``concentration`` to arrays, all
    measured by the same curve of growth on simulated stamps and real cutouts.
    """
    sim, real = _size_columns(sim, "sim"), _size_columns(real, "real")
    with paper_style():
        fig, axes = _figure(2, 1, height=4.2)
        ax_size, ax_conc = axes[:, 0]
        ax_size.scatter(sim["mag"], sim["r50"], s=3, color="0.6", lw=0, rasterized=True,
                        label=f"simulated (N={len(sim['mag'])})")
        ax_size.scatter(real["mag"], real["r50"], s=14, color=COLOURS[1], marker="D", lw=0,
                        label=f"real frames (N={len(real['mag'])})")
        ax_size.set(yscale="log", xlabel="Petrosian r (measured) [mag]", ylabel=r"half-light radius $r_{50}$ [arcsec]")
        for axis in (ax_size.yaxis.set_major_formatter, ax_size.yaxis.set_minor_formatter):
            axis(mpl.ticker.FormatStrFormatter("%g"))
        ax_size.legend(loc="upper right")
        bins = np.linspace(1.5, 4.0, 26)
        ax_conc.hist(np.clip(sim["concentration"], bins[0], bins[-1]), bins=bins, density=True, histtype="step",
                     color="0.4", lw=1.2, label="simulated")
        if len(real["concentration"]):
            ax_conc.hist(np.clip(real["concentration"], bins[0], bins[-1]), bins=bins, density=True,
                         histtype="step", color=COLOURS[1], lw=1.2, label="real frames")
            ax_conc.plot(real["concentration"], np.zeros_like(real["concentration"]), "|", color=COLOURS[1], ms=8)
        for value, label in ((2.3, "exponential"), (3.3, "de Vaucouleurs")):
            ax_conc.axvline(value, color="k", ls=":", lw=0.8)
            ax_conc.text(value, 0.97, f" {label}", transform=ax_conc.get_xaxis_transform(), va="top", ha="left",
                         fontsize=7)
        ax_conc.set(xlabel=r"concentration $r_{90}/r_{50}$", ylabel="probability density")
        ax_conc.legend(loc="center right")
    return fig


def realism_colour_redshift(z_centres, sim, real) -> Figure:
    """Median colour (lines/markers) and robust scatter (band/bars) in redshift bins, one panel per colour.

    ``sim`` and ``real`` map a colour name such as ``"g-r"`` to (median per bin, scatter per bin).
    """
    z = _vector(z_centres, "z_centres")
    sim, real = dict(sim), dict(real)
    if set(sim) != set(real) or not sim:
        raise ValueError(f"sim and real must hold the same colours, got {sorted(sim)} and {sorted(real)}")
    with paper_style():
        fig, axes = _figure(len(sim), 1, height=1.0 + 1.2 * len(sim), sharex=True)
        for ax, name in zip(axes[:, 0], sim):
            med, scat = (np.asarray(v, dtype=float) for v in sim[name])
            ax.plot(z, med, color="0.3", label="simulated catalogue")
            ax.fill_between(z, med - scat, med + scat, color="0.85", lw=0)
            r_med, r_scat = (np.asarray(v, dtype=float) for v in real[name])
            ax.errorbar(z, r_med, yerr=r_scat, fmt="o", ms=3, lw=0, elinewidth=0.8, capsize=1.5,
                        color=COLOURS[1], label="real MGS (kcorrect)")
            ax.set_ylabel(f"{name} [mag]")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
        axes[-1, 0].set_xlabel(Z_LABEL)
        axes[-1, 0].set_xlim(0, float(z.max()) + 0.02)
    return fig


# --------------------------------------------------------------------------- real SDSS galaxies
def _round_tick(value: float) -> float:
    """``value`` rounded down to one significant digit (a colourbar tick that stays in range)."""
    if value <= 0:
        return 0.0
    scale = 10.0 ** np.floor(np.log10(value))
    return float(np.floor(value / scale) * scale)


def sdss_bright_galaxies(stamps, labels) -> Figure:
    """Real SDSS cutouts: one row per source in u, g, r, i, z and a Lupton RGB of i, r, g.

    Each band column shares one asinh stretch (its colourbar below, in nanomaggies per
    pixel), so rows compare; axes are offsets from the source in arcsec (north up, east left).

    Parameters
    ----------
    stamps : array (N, 64, 64, 5), nanomaggies, bands u,g,r,i,z channels last
    labels : N strings written on the RGB panels (e.g. field and r magnitude)
    """
    from astropy.visualization import ImageNormalize, AsinhStretch

    expected = (config.STAMP, config.STAMP, len(config.BANDS))
    stamps = np.asarray(stamps, dtype=np.float64)
    if stamps.ndim != 4 or stamps.shape[1:] != expected or not len(stamps):
        raise ValueError(f"stamps must have shape (N, {', '.join(map(str, expected))}) with N >= 1, got {stamps.shape}")
    if not np.isfinite(stamps).all():
        raise ValueError("stamps hold non-finite pixels (flagged cutouts must not be plotted)")
    if len(labels) != len(stamps):
        raise ValueError(f"got {len(labels)} labels for {len(stamps)} stamps")
    half = config.STAMP / 2 * config.PIXEL_SCALE
    extent = (half, -half, -half, half)  # east (+RA offset) to the left
    rgb = _lupton_rgb(stamps)
    n = len(stamps)
    with paper_style():
        fig, axes = _figure(n, len(config.BANDS) + 1, height=1.2 + 1.08 * n, width=TEXT_WIDTH,
                            sharex=True, sharey=True)
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        for c, band in enumerate(config.BANDS):
            values = stamps[..., c]
            sky, noise = np.median(values), sigma_mad(values)
            lo, hi = sky - 2 * noise, max(np.percentile(values, 99.9), sky + 10 * noise)  # faint u: noise stays grey
            norm = ImageNormalize(vmin=lo, vmax=hi, stretch=AsinhStretch(0.1))
            for r in range(n):
                image = axes[r, c].imshow(stamps[r, ..., c], cmap="gray_r", norm=norm, extent=extent)
            axes[0, c].set_title(band, pad=2)
            bar = fig.colorbar(image, ax=axes[:, c], location="bottom", shrink=0.9, aspect=12, pad=0.01)
            bar.set_label(f"{band} [nanomaggies]")
            bar.set_ticks([t for t in (0.0, _round_tick(hi)) if lo <= t <= hi])
        for r in range(n):
            axes[r, -1].imshow(rgb[r], extent=extent)
            axes[r, -1].text(0.04, 0.96, labels[r], color="w", ha="left", va="top", fontsize=6,
                             transform=axes[r, -1].transAxes)
        axes[0, -1].set_title("i, r, g (Lupton)", pad=2)
        for ax in axes.flat:
            ax.set_xticks([-10, 0, 10])
            ax.set_yticks([-10, 0, 10])
        axes[-1, 0].set_xlabel(r"$\Delta\alpha$ [arcsec]")
        fig.supylabel(r"$\Delta\delta$ [arcsec]", fontsize=8)
    return fig


# --------------------------------------------------------------------------- teaching figures (notebooks)
def _stamp_extent() -> tuple:
    """imshow extent of a stamp in arcsec from its centre."""
    half = config.STAMP / 2 * config.PIXEL_SCALE
    return (-half, half, -half, half)


def _check_stamps(name: str, stamps) -> np.ndarray:
    expected = (config.STAMP, config.STAMP, len(config.BANDS))
    arr = np.asarray(stamps, dtype=np.float64)
    if arr.shape != expected:
        raise ValueError(f"{name} must have shape {expected} (bands {''.join(config.BANDS)} last), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds non-finite pixels")
    return arr


def galaxy_anatomy(image, psf, noise, psf_fwhm=None, extinction=None) -> Figure:
    """One galaxy taken apart, one column per band: its stamp, its PSF and the noise in the stamp.

    Rows: the stamp (one asinh scale for all bands, nanomaggies (nmgy) per pixel); the PSF as the
    fraction of a point source's flux per pixel (log scale); the noise alone (one linear scale,
    nanomaggies per pixel), with its measured standard deviation written in each panel.

    Parameters
    ----------
    image, psf, noise : arrays (64, 64, 5), bands u, g, r, i, z last
        e.g. from :func:`photoz_nb.tutorial.galaxy_anatomy`; ``psf`` sums to 1 per band.
    psf_fwhm : array (5,), arcsec, optional
        Written above each column.
    extinction : array (5,), mag, optional
        Galactic extinction A_band = coefficient x E(B-V), written above each column.
    """
    from astropy.visualization import AsinhStretch, ImageNormalize

    image, psf, noise = (_check_stamps(n, a) for n, a in (("image", image), ("psf", psf), ("noise", noise)))
    n_bands = len(config.BANDS)
    for name, values in (("psf_fwhm", psf_fwhm), ("extinction", extinction)):
        if values is not None and np.shape(values) != (n_bands,):
            raise ValueError(f"{name} must have one value per band ({n_bands}), got shape {np.shape(values)}")
    sigma = np.array([sigma_mad(noise[..., b].ravel()) for b in range(n_bands)])
    sky_noise = float(np.median(sigma))
    image_norm = ImageNormalize(vmin=-2 * sky_noise, vmax=float(np.percentile(image, 99.9)),
                                stretch=AsinhStretch(0.05))
    psf_norm = LogNorm(vmin=1e-4, vmax=float(psf.max()))  # below 1e-4: ringing of the pixel response
    limit = 3 * float(sigma.max())
    rows = (("stamp", image, image_norm, "gray_r", "flux [nmgy/pixel]"),
            ("PSF", np.clip(psf, 1e-7, None), psf_norm, "magma", "flux fraction/pixel"),
            ("noise only", noise, mpl.colors.Normalize(-limit, limit), "RdBu_r", "noise [nmgy/pixel]"))
    with paper_style():
        fig, axes = _figure(3, n_bands, height=4.5, width=TEXT_WIDTH, sharex=True, sharey=True)
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.02, wspace=0.02, hspace=0.02)
        for r, (name, data, norm, cmap, unit) in enumerate(rows):
            for b, band in enumerate(config.BANDS):
                shown = axes[r, b].imshow(data[..., b], norm=norm, cmap=cmap, extent=_stamp_extent())
                axes[r, b].set_xticks([-10, 0, 10])
                axes[r, b].set_yticks([-10, 0, 10])
            axes[r, 0].set_ylabel(f"{name}\n" + r"$\Delta y$ [arcsec]")
            fig.colorbar(shown, ax=axes[r, :].tolist(), label=unit, shrink=0.9, aspect=12, pad=0.01)
        for b, band in enumerate(config.BANDS):
            title = band
            if extinction is not None:
                title += f"\nA={float(extinction[b]):.2f} mag"
            if psf_fwhm is not None:
                title += f'\nFWHM {float(psf_fwhm[b]):.2f}"'
            axes[0, b].set_title(title, pad=2)
            axes[2, b].text(0.04, 0.96, rf"$\sigma$={sigma[b]:.3f}", transform=axes[2, b].transAxes,
                            ha="left", va="top", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
            axes[-1, b].set_xlabel(r"$\Delta x$ [arcsec]")
    return fig


def pixel_stretch(stamp, stretched, band: str = "r") -> Figure:
    """The network's pixel stretch on one band of one stamp: the function, the pixel histogram, the images.

    Panels: (a) the stretch f(x) (``photoz_nb.train.stretch``, read off the two images) against x
    with its small-x slope x/2 and sqrt(x) for comparison; (b) histograms of the pixel values
    before and after; (c, d) the stamp before and after, each on its own linear scale.

    Parameters
    ----------
    stamp, stretched : arrays (64, 64), nanomaggies per pixel and stretched units
    band : the band's name, for the labels
    """
    stamp, stretched = (np.asarray(a, dtype=np.float64) for a in (stamp, stretched))
    if stamp.shape != (config.STAMP, config.STAMP) or stretched.shape != stamp.shape:
        raise ValueError(f"stamp and stretched must both be ({config.STAMP}, {config.STAMP}) images, "
                         f"got {stamp.shape} and {stretched.shape}")
    x, y = stamp.ravel(), stretched.ravel()
    order = np.argsort(x)
    with paper_style():
        fig = Figure(figsize=(COLUMN_WIDTH, 4.6), layout="constrained")
        grid = fig.add_gridspec(3, 2, height_ratios=(1.2, 1.0, 1.3))
        ax_f = fig.add_subplot(grid[0, :])
        ax_h = fig.add_subplot(grid[1, :])
        ax_raw, ax_str = fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])
        ax_f.plot(x[order], y[order], color=COLOURS[0], lw=1.5, label="stretch f(x) (pixels of the stamp)")
        grid_x = np.linspace(0, x.max(), 200)
        ax_f.plot(grid_x, grid_x / 2, color=COLOURS[1], ls="--", label="x / 2 (slope at 0)")
        ax_f.plot(grid_x, np.sqrt(grid_x), color=COLOURS[2], ls=":", label=r"$\sqrt{x}$")
        ax_f.set(xlabel=f"pixel value x ({band}) [nanomaggies]", ylabel="f(x)",
                 ylim=(min(y.min(), 0) * 1.1, y.max() * 1.3))
        ax_f.legend(loc="upper left", fontsize=8)
        for values, name, colour in ((x, "before", COLOURS[0]), (y, "after", COLOURS[1])):
            ax_h.hist(values, bins=60, histtype="step", color=colour, lw=1.1, label=f"{name} stretch")
        ax_h.set(yscale="log", xlabel="pixel value", ylabel="pixels")
        ax_h.legend(loc="upper right")
        for ax, data, title, unit in ((ax_raw, stamp, "before", "x [nanomaggies]"), (ax_str, stretched, "after", "f(x)")):
            shown = ax.imshow(data, cmap="gray_r", extent=_stamp_extent())
            fig.colorbar(shown, ax=ax, location="bottom", shrink=0.8, aspect=12, pad=0.02, label=unit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{band} band, {title}")
        ax_raw.set_ylabel("64 x 64 pixels")
    return fig


def dihedral_views(views, labels) -> Figure:
    """The 8 rotations and mirror images of one stamp, as the network sees them in training.

    Parameters
    ----------
    views : array (8, 64, 64) or (8, 64, 64, 3) (RGB), e.g. ``train.dihedral`` of one stamp
    labels : 8 strings, e.g. :data:`photoz_nb.tutorial.DIHEDRAL_LABELS`
    """
    views = np.asarray(views)
    if views.ndim not in (3, 4) or views.shape[0] != 8 or views.shape[1:3] != (config.STAMP, config.STAMP):
        raise ValueError(f"views must have shape (8, {config.STAMP}, {config.STAMP}[, 3]), got {views.shape}")
    if len(labels) != 8:
        raise ValueError(f"need 8 labels, got {len(labels)}")
    with paper_style():
        fig, axes = _figure(2, 4, height=3.3, width=TEXT_WIDTH, sharex=True, sharey=True)
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.04)
        norm = None if views.ndim == 4 else _band_norm(views[0])
        for ax, view, label in zip(axes.flat, views, labels):
            ax.imshow(view, cmap="gray_r", norm=norm, extent=_stamp_extent())
            ax.set_title(label, pad=2)
            ax.set_xticks([-10, 0, 10])
            ax.set_yticks([-10, 0, 10])
        for ax in axes[:, 0]:
            ax.set_ylabel(r"$\Delta y$ [arcsec]")
        for ax in axes[-1]:
            ax.set_xlabel(r"$\Delta x$ [arcsec]")
    return fig


def pdf_gallery(pdfs, edges, z_spec, titles) -> Figure:
    """A few PDFs, one panel each (stacked), with z_spec, the mean z_phot and the central 68% interval.

    Parameters
    ----------
    pdfs : array (n, n_bins) of bin probabilities; edges : (n_bins + 1,); z_spec : (n,)
    titles : n strings (e.g. "narrow", "broad", "bimodal" and why)
    """
    from .pdf import point_estimate, quantile

    pdfs, edges, z_spec = _pdf_inputs(pdfs, edges, z_spec)
    if len(titles) != len(pdfs):
        raise ValueError(f"got {len(titles)} titles for {len(pdfs)} PDFs")
    z_mean = point_estimate(pdfs, edges, "mean")
    interval = quantile(pdfs, edges, [0.16, 0.84])
    with paper_style():
        fig, axes = _figure(len(pdfs), 1, height=0.5 + 1.25 * len(pdfs), sharex=True)
        for k, ax in enumerate(axes[:, 0]):
            density = np.asarray(pdfs[k], float) / np.diff(edges)
            ax.axvspan(*interval[k], color="0.85", lw=0, label="central 68%")
            ax.stairs(density, edges, color=COLOURS[0], lw=1.0, label="PDF (180 bins)")
            ax.axvline(z_spec[k], color=COLOURS[1], ls="--", label=r"$z_\mathrm{spec}$")
            ax.axvline(z_mean[k], color=COLOURS[2], ls=":", label=r"$z_\mathrm{phot}$ (mean)")
            ax.set_ylim(0, density.max() * 1.25)
            ax.set_ylabel("p(z)")
            ax.set_title(titles[k], pad=2)
        # one zoom for all panels (widths compare): where any of the PDFs has mass
        ranges = np.array([_zoom_range(np.asarray(p, float), edges, zs, min_width=0.1) for p, zs in zip(pdfs, z_spec)])
        axes[-1, 0].set(xlim=(ranges[:, 0].min(), ranges[:, 1].max()), xlabel="redshift z")
        axes[0, 0].legend(loc="upper right", fontsize=8, ncols=2)
    return fig


def pit_crps_illustration(pdf_row, edges, z_spec: float) -> Figure:
    """PIT and CRPS of one PDF, drawn: the PDF; its CDF with PIT = CDF(z_spec); the CRPS area.

    Our PDFs are constant within each bin, so the CDF is piecewise linear between the bin
    edges.  The lower panel shades (CDF - step at z_spec)^2, whose integral is the CRPS.
    """
    from .pdf import crps, edge_cdf, pit

    pdfs, edges, z = _pdf_inputs(np.asarray(pdf_row, float)[None, :], edges, [z_spec])
    cdf = edge_cdf(pdfs)[0]
    pit_value = float(pit(pdfs, edges, z)[0])
    crps_value = float(crps(pdfs, edges, z)[0])
    lo, hi = _zoom_range(pdfs[0], edges, z[0], min_width=0.1)
    fine = np.linspace(lo, hi, 2000)
    f = np.interp(fine, edges, cdf)
    step = (fine >= z[0]).astype(float)
    with paper_style():
        fig, axes = _figure(3, 1, height=5.2, sharex=True)
        ax_p, ax_c, ax_s = axes[:, 0]
        ax_p.stairs(pdfs[0] / np.diff(edges), edges, color=COLOURS[0], lw=1.0, label="p(z)")
        ax_p.set_ylabel("p(z)")
        for ax in axes[:, 0]:
            ax.axvline(z[0], color=COLOURS[1], ls="--", lw=1.0, label=r"$z_\mathrm{spec}$")
        ax_p.legend(loc="upper right")
        ax_c.plot(edges, cdf, color=COLOURS[0], label="CDF F(z), linear between edges")
        ax_c.plot(edges, cdf, "o", ms=2, color=COLOURS[0])
        ax_c.plot([lo, z[0]], [pit_value, pit_value], color="k", lw=0.8, ls=":")
        ax_c.text(lo, pit_value, f" PIT = F($z_\\mathrm{{spec}}$) = {pit_value:.2f}", va="bottom", ha="left")
        ax_c.set(ylabel="F(z)", ylim=(-0.05, 1.05))
        ax_c.legend(loc="lower right")
        ax_s.fill_between(fine, f, step, color=COLOURS[4], alpha=0.6, lw=0,
                          label=r"$F(z) - H(z - z_\mathrm{spec})$")
        ax_s.plot(fine, f, color=COLOURS[0], label="F(z)")
        ax_s.plot(fine, step, color="k", lw=0.9, label=r"step $H(z - z_\mathrm{spec})$")
        ax_s.set(ylabel="cumulative probability", ylim=(-0.05, 1.05), xlim=(lo, hi), xlabel="redshift z")
        ax_s.legend(loc="center right", fontsize=8)
        _text_box(ax_s, rf"CRPS = $\int (F - H)^2 dz$ = {crps_value:.4f}", loc="lower right")
    return fig


def calibration_maps(maps, pdfs, edges, z_spec: float) -> Figure:
    """What recalibration does: the PIT maps G (new CDF value against old), and one PDF before and after.

    Parameters
    ----------
    maps : dict label -> (x, y), knots of a piecewise-linear G with G(x) = y on [0, 1]
        (e.g. ``PITRemap.knots_x_, knots_y_``, or each group of ``ConditionalPITRemap.maps_``);
        temperature scaling has no such map.
    pdfs : dict label -> array (n_bins,), the same galaxy's PDF under each method (first: uncalibrated)
    edges : (n_bins + 1,); z_spec : that galaxy's true redshift
    """
    if not maps or not pdfs:
        raise ValueError("give at least one map and one PDF")
    for name, (x, y) in maps.items():
        x, y = _vector(x, f"maps[{name!r}] x"), _vector(y, f"maps[{name!r}] y")
        if len(x) != len(y) or np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError(f"maps[{name!r}] must be two increasing arrays of the same length")
    block = np.stack([np.asarray(p, float) for p in pdfs.values()])
    block, edges, _ = _pdf_inputs(block, edges, np.full(len(block), float(z_spec)))
    with paper_style():
        fig, axes = _figure(2, 1, height=5.0)
        ax_m, ax_p = axes[:, 0]
        ax_m.plot([0, 1], [0, 1], color="k", ls="--", lw=0.8, label="identity (no change)")
        for i, (name, (x, y)) in enumerate(maps.items()):
            ax_m.plot(x, y, color=COLOURS[(i + 1) % len(COLOURS)], label=name)
        ax_m.set(xlim=(0, 1), ylim=(0, 1), xlabel="CDF before, F(z)", ylabel="CDF after, G(F(z))")
        ax_m.set_aspect("equal")
        ax_m.legend(loc="lower right", fontsize=8)
        lo, hi = _zoom_range(block.max(axis=0), edges, float(z_spec), min_width=0.1)
        for i, (name, p) in enumerate(zip(pdfs, block)):
            ax_p.stairs(p / np.diff(edges), edges, color=COLOURS[i % len(COLOURS)], lw=1.0 + 0.4 * (i == 0),
                        label=name)
        ax_p.axvline(float(z_spec), color="k", ls="--", lw=0.8, label=r"$z_\mathrm{spec}$")
        ax_p.set(xlim=(lo, hi), xlabel="redshift z", ylabel="p(z)")
        ax_p.legend(loc="upper right", fontsize=8)
    return fig


def pit_shapes(pits, n_bins: int = 20) -> Figure:
    """Small multiples of PIT histograms, one panel per label, each with the uniform line.

    Parameters
    ----------
    pits : dict label -> array (N,) in [0, 1], e.g. :func:`photoz_nb.tutorial.synthetic_pits`
    """
    series = {name: _pit_vector(v, f"pits[{name!r}]") for name, v in _as_mapping(pits, "PIT").items()}
    n_cols = 2 if len(series) > 1 else 1
    n_rows = -(-len(series) // n_cols)
    bins = np.linspace(0, 1, n_bins + 1)
    with paper_style():
        fig, axes = _figure(n_rows, n_cols, height=0.5 + 1.5 * n_rows, sharex=True, sharey=True)
        for i, (ax, (name, pit)) in enumerate(zip(axes.flat, series.items())):
            ax.hist(pit, bins=bins, density=True, histtype="stepfilled", alpha=0.6, color=COLOURS[i % len(COLOURS)])
            ax.axhline(1, color="k", ls="--", lw=0.8)
            ax.set_title(name, pad=2)
        for ax in axes.flat[len(series):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("density")
        for col in axes.T:
            [ax for ax in col if ax.get_visible()][-1].set_xlabel("PIT")
        axes[0, 0].set(xlim=(0, 1), ylim=(0, None))
    return fig


def inception_block(s1: int, s2: int, with_5x5: bool = True, size: int | None = None) -> Figure:
    """Schematic of one Net_P inception block (s1, s2): its parallel branches and their concatenation.

    Branches, left to right: 1x1 conv (s2 maps); 1x1 (s1) -> 5x5 (s2) (if ``with_5x5``); 1x1 (s1)
    -> 3x3 (s2); 1x1 (s1) -> 2x2 average pooling with stride 1.  Every convolution is followed by a
    PReLU.  The output holds 3 s2 + s1 maps (2 s2 + s1 without the 5x5 branch), of side ``size``
    pixels if given (the block keeps the side of its input: "same" padding).
    """
    from matplotlib.patches import FancyBboxPatch

    if min(s1, s2) < 1:
        raise ValueError(f"s1 and s2 must be positive numbers of feature maps, got {s1}, {s2}")
    branches = [[f"1\u00d71 conv\n{s2} maps"]]
    if with_5x5:
        branches.append([f"1\u00d71 conv\n{s1} maps", f"5\u00d75 conv\n{s2} maps"])
    branches.append([f"1\u00d71 conv\n{s1} maps", f"3\u00d73 conv\n{s2} maps"])
    branches.append([f"1\u00d71 conv\n{s1} maps", f"avg-pool 2\u00d72\nstride 1"])
    n_out = (2 + with_5x5) * s2 + s1
    side = f"{size}\u00d7{size}\u00d7" if size else ""
    width, height = COLUMN_WIDTH, 2.75
    col_w, box_h = width / len(branches), 0.42
    rows_y = {"input": 2.48, 0: 1.8, 1: 1.12, "concat": 0.3}

    def box(x, y, w, text, kind):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - box_h / 2), w, box_h, boxstyle="round,pad=0,rounding_size=0.04",
                                    fc=_STAGE_FILL[kind], ec="0.35", lw=0.6))
        ax.text(x, y, text, ha="center", va="center")

    with paper_style():
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set(xlim=(0, width), ylim=(0, height))
        box(width / 2, rows_y["input"], width * 0.6, "input maps (previous stage)", "input")
        box(width / 2, rows_y["concat"], width * 0.9,
            f"concatenate: {side}{n_out} maps\n({2 + with_5x5} \u00d7 {s2} + {s1})", "inception")
        for j, steps in enumerate(branches):
            x = col_w * (j + 0.5)
            _arrow(ax, (width / 2, rows_y["input"] - box_h / 2), (x, rows_y[0] + box_h / 2))
            for k, text in enumerate(steps):
                box(x, rows_y[k], col_w * 0.9, text, "pool" if text.startswith("avg") else "conv")
                if k:
                    _arrow(ax, (x, rows_y[k - 1] - box_h / 2), (x, rows_y[k] + box_h / 2))
            _arrow(ax, (x, rows_y[len(steps) - 1] - box_h / 2), (x, rows_y["concat"] + box_h / 2))
    return fig
