"""Redshift PDFs: PIT histograms and coverage, example PDFs, the stacked n(z), PDF widths."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from .style import COLOURS, _as_mapping, _figure, _pdf_inputs, _pick, _same_length, _vector, paper_style


# --------------------------------------------------------------------------- PIT
#: Drawing order of :func:`pit_histogram`: filled bars, then the uniform bands, then outlines and lines.
BAR_ZORDER, BAND_ZORDER, LINE_ZORDER = 1.0, 1.5, 2.5


def _pit_vector(pit, name: str) -> np.ndarray:
    pit = _vector(pit, name)
    if pit.min() < -1e-6 or pit.max() > 1 + 1e-6:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{pit.min():.4g}, {pit.max():.4g}]")
    return np.clip(pit, 0.0, 1.0)


def pit_histogram(pit, label: str = "CNN", others: Mapping | None = None, n_bins: int = 20) -> Figure:
    """PIT histogram (density: 1 for calibrated PDFs) with the uniform expectation.

    The shaded bands are the +-1 and +-2 sigma Poisson scatter of a histogram of
    ``len(pit)`` uniform draws: 1 +- k sqrt(n_bins / N) in density units.  The bars of ``pit``
    are a light fill *below* the bands (``BAR_ZORDER`` < ``BAND_ZORDER``) with their outline on
    top, so a bar never hides the band it should be read against.

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
        for k, alpha in ((2, 0.2), (1, 0.35)):
            ax.axhspan(1 - k * sigma, 1 + k * sigma, color="0.45", alpha=alpha, lw=0, zorder=BAND_ZORDER,
                       label=rf"uniform $\pm{k}\sigma$")
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="uniform", zorder=LINE_ZORDER)
        for i, (name, values) in enumerate(series.items()):
            if i == 0:  # a light fill under the bands, its outline over them
                ax.hist(values, bins=bins, density=True, histtype="stepfilled", color=COLOURS[0], alpha=0.18,
                        lw=0, zorder=BAR_ZORDER)
            ax.hist(values, bins=bins, density=True, histtype="step", color=COLOURS[i], lw=1.5 if i == 0 else 1.1,
                    zorder=LINE_ZORDER, label=name)
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
