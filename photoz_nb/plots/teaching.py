"""The notebooks' teaching figures: galaxy anatomy, pixel stretch, dihedral views, PDF illustrations."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import config
from ..pdf import crps, edge_cdf, pit, point_estimate, quantile
from ..stats import sigma_mad
from .data import _band_norm, _lupton_rgb, _scale_bar
from .pdfs import _pit_vector, _zoom_range
from .style import COLOURS, COLUMN_WIDTH, TEXT_WIDTH, _as_mapping, _figure, _pdf_inputs, _text_box, _vector, paper_style


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

    Panels: (a) the stretch f(x) (``photoz_nb.estimators.cnn.inputs.stretch``, read off the two images) against x
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


# --------------------------------------------------------------------------- one galaxy and its PDF
def _band_display_norm(image):
    """An asinh stretch from 2 noise sigmas below the sky to the brightest pixels (at least 10 sigmas above it):
    the sky stays a light grey in every band, so a faint u-band galaxy is not lost in stretched noise."""
    sky, noise = float(np.median(image)), max(sigma_mad(image.ravel()), 1e-12)
    top = max(float(np.percentile(image, 99.9)), sky + 10 * noise)
    return ImageNormalize(vmin=sky - 2 * noise, vmax=top, stretch=AsinhStretch(0.1))


def _stamp_panels(axes, stamp, scale_bar: bool = True) -> None:
    """u, g, r, i, z (each its own asinh stretch, darker = brighter) and the Lupton i, r, g colour image."""
    for ax, (b, band) in zip(axes, enumerate(config.BANDS)):
        ax.imshow(stamp[..., b], cmap="gray_r", norm=_band_display_norm(stamp[..., b]))
    axes[len(config.BANDS)].imshow(_lupton_rgb(stamp[None])[0])
    for ax in axes[:len(config.BANDS) + 1]:
        ax.set_xticks([])
        ax.set_yticks([])
    if scale_bar:
        _scale_bar(axes[len(config.BANDS)])


def _pdf_panel(ax, pdf_row, edges, z_spec: float, min_width: float = 0.1, legend: bool = True) -> None:
    """One PDF as a density, its central 68% interval (shaded), its mean z_phot (dotted) and z_spec (dashed)."""
    block = pdf_row[None, :]
    interval = quantile(block, edges, [0.16, 0.84])[0]
    z_mean = float(point_estimate(block, edges, "mean")[0])
    density = pdf_row / np.diff(edges)
    ax.axvspan(*interval, color="0.85", lw=0, label="central 68%")
    ax.stairs(density, edges, color=COLOURS[0], lw=1.2, label="CNN PDF")
    ax.axvline(z_spec, color=COLOURS[1], ls="--", lw=1.2, label=r"true $z_\mathrm{spec}$")
    ax.axvline(z_mean, color=COLOURS[2], ls=":", lw=1.2, label=r"$z_\mathrm{phot}$ (PDF mean)")
    ax.set_xlim(*_zoom_range(pdf_row, edges, z_spec, min_width=min_width))
    ax.set_ylim(0, density.max() * 1.3)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
    if legend:
        ax.legend(loc="upper right", fontsize=8, handlelength=1.4)


def galaxy_and_pdf(stamp, pdf_row, edges, z_spec: float, petro_r: float | None = None) -> Figure:
    """One galaxy's five-band cutout beside its CNN redshift PDF, with the true redshift marked.

    Left, two rows of three: the u, g, r (top) and i, z stamps, each on its own asinh stretch
    (darker = brighter), and a Lupton i, r, g colour image with a 10 arcsec bar. Right: the PDF
    as a probability density [1/redshift] with its central 68% interval (shaded), its mean
    (the point estimate, dotted) and the spectroscopic redshift (dashed).  Drawn page-wide
    (``TEXT_WIDTH``) so that it stays readable at the README's width.

    Parameters
    ----------
    stamp : array (64, 64, 5), nanomaggies, bands u, g, r, i, z last
    pdf_row : array (n_bins,), bin probabilities; edges : (n_bins + 1,)
    z_spec : the galaxy's spectroscopic redshift
    petro_r : its Petrosian r magnitude, written in the title if given
    """
    stamp = np.nan_to_num(_check_stamps("stamp", stamp))
    block, edges, z = _pdf_inputs(np.asarray(pdf_row, float)[None, :], edges, [z_spec])
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, 2.9), layout="constrained")
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.03, hspace=0.03)
        grid = fig.add_gridspec(2, 5, width_ratios=(1, 1, 1, 0.15, 3.1))
        image_axes = [fig.add_subplot(grid[r, c]) for r in range(2) for c in range(3)]
        _stamp_panels(image_axes, stamp)
        for ax, title in zip(image_axes, list(config.BANDS) + ["i, r, g colour"]):
            ax.set_title(title, pad=2)
        image_axes[0].set_ylabel(f'{config.STAMP} pixels = {config.STAMP * config.PIXEL_SCALE:.1f}"')
        image_axes[3].set_ylabel(f'{config.STAMP} pixels = {config.STAMP * config.PIXEL_SCALE:.1f}"')
        ax = fig.add_subplot(grid[:, 4])
        _pdf_panel(ax, block[0], edges, float(z[0]))
        ax.set(xlabel="redshift z", ylabel="probability density p(z)")
        title = rf"$z_\mathrm{{spec}}$ = {z[0]:.3f}"
        if petro_r is not None:
            title += f",  Petrosian r = {float(petro_r):.1f} mag"
        ax.set_title(title, pad=3)
    return fig


def outlier_gallery(stamps, pdfs, edges, z_spec, titles=None) -> Figure:
    """One row per galaxy: its u, g, r, i, z stamps and colour image, then its PDF with z_spec marked.

    Made for the worst outliers (largest |z_phot - z_spec| / (1 + z_spec)), where the cutout often shows
    why: a neighbour, a faint or unusual galaxy, a PDF with its mass at the wrong peak.  Each band is on its
    own asinh stretch (darker = brighter); the PDF panel shades the central 68% interval and marks the PDF
    mean (dotted) and z_spec (dashed).

    Parameters
    ----------
    stamps : array (n, 64, 64, 5), nanomaggies; pdfs : (n, n_bins) bin probabilities; edges : (n_bins + 1,)
    z_spec : (n,)
    titles : n strings written above each row's PDF (e.g. its |dz| and magnitude), optional
    """
    stamps = np.asarray(stamps, dtype=np.float64)
    if stamps.ndim != 4 or not len(stamps):
        raise ValueError(f"stamps must have shape (n, {config.STAMP}, {config.STAMP}, {len(config.BANDS)}) "
                         f"with n >= 1, got {stamps.shape}")
    stamps = np.stack([np.nan_to_num(_check_stamps(f"stamps[{k}]", s)) for k, s in enumerate(stamps)])
    pdfs, edges, z_spec = _pdf_inputs(pdfs, edges, z_spec)
    if len(pdfs) != len(stamps):
        raise ValueError(f"got {len(stamps)} stamps for {len(pdfs)} PDFs")
    if titles is not None and len(titles) != len(pdfs):
        raise ValueError(f"got {len(titles)} titles for {len(pdfs)} PDFs")
    n = len(stamps)
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, 0.45 + 0.95 * n), layout="constrained")
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.04)
        grid = fig.add_gridspec(n, 7, width_ratios=(1,) * 6 + (3.2,))
        for r in range(n):
            image_axes = [fig.add_subplot(grid[r, c]) for c in range(6)]
            _stamp_panels(image_axes, stamps[r], scale_bar=r == n - 1)
            ax = fig.add_subplot(grid[r, 6])
            _pdf_panel(ax, pdfs[r], edges, float(z_spec[r]), legend=False)
            if r == 0:  # above the rows, where it hides no PDF
                fig.legend(*ax.get_legend_handles_labels(), loc="outside upper right", ncols=4, fontsize=8)
            ax.set_ylabel("p(z)")
            if titles is not None:
                ax.set_title(titles[r], pad=2)
            if r == 0:
                for a, t in zip(image_axes, list(config.BANDS) + ["irg"]):
                    a.set_title(t, pad=2)
            image_axes[0].set_ylabel(f"#{r + 1}")
        ax.set_xlabel("redshift z")
    return fig
