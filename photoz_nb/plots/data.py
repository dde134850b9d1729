"""The data: learning curves, example cutouts, redshift and magnitude distributions, real SDSS galaxies."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize, make_lupton_rgb, simple_norm
from matplotlib.figure import Figure

from .. import config
from ..sdss.sources import FIELDS, bright_galaxy_stamps
from ..stats import require_columns, sigma_mad
from .style import TEXT_WIDTH, _figure, _pick, _redshift_axis, _same_length, _vector, paper_style, save_figure


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

    return simple_norm(stamp, stretch="asinh", asinh_a=0.05, percent=99.5)


def _lupton_rgb(stamps: np.ndarray) -> np.ndarray:
    """Lupton et al. (2004) RGB of i, r, g with one stretch for all rows (colours compare)."""

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
    require_columns(catalog, ("z_spec", "petro_r"), "catalog", " needed to label the cutouts")
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
    require_columns(catalog, ("z_spec", "petro_r", "split"), "catalog")
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


def bright_galaxies_figure(figures_dir=None, frames_dir=None, profile=None, n_per_field: int = 3,
                           fields=FIELDS) -> list[Path]:
    """Write ``sdss_bright_galaxies.{pdf,png}`` (ugriz + Lupton irg of each source) and return the paths.

    Default directory: ``figures/<profile>/``; ``frames_dir`` and ``fields`` as in
    :func:`bright_galaxy_stamps`.
    """
    stamps, sources = bright_galaxy_stamps(frames_dir, fields, n_per_field=n_per_field)
    labels = [f"{s['field']}\nr={s['mag']:.1f}" for s in sources]
    fig = sdss_bright_galaxies(stamps, labels)
    figures_dir = Path(figures_dir) if figures_dir is not None else config.get_profile(profile).figures_dir
    return save_figure(fig, figures_dir, "sdss_bright_galaxies")
