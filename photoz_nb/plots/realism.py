"""The realism report: simulated against real sky noise, PSF widths, galaxy sizes, colours."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from .. import config
from .style import COLOURS, Z_LABEL, _as_mapping, _figure, _vector, paper_style


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
    Each panel's y label is the measure on one line and the unit on the next, so that two stacked
    labels never run into each other (one line, "PSF FWHM, Moffat core [arcsec]", was longer than its
    panel and overlapped the next one's).
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ValueError("panels must be a non-empty dict measure -> (simulated, {field: real})")
    with paper_style():
        fig, axes = _figure(len(panels), 1, height=0.4 + 2.0 * len(panels), sharex=True)
        for ax, (measure, (sim, real)) in zip(axes[:, 0], panels.items()):
            _band_distribution_panel(ax, sim, real, f"PSF FWHM, {measure}\n[arcsec]")
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
