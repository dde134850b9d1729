"""Measurement primitives shared by simulated and real pixels (see :mod:`photoz_nb.simulate.realism`).

Sky noise (:func:`sky_noise`), PSF widths (:func:`fit_fwhm`, :func:`effective_fwhm`, the core + wing
fit :func:`fit_psf_wing`) and Petrosian photometry with concentration and moment b/a
(:func:`curve_of_growth`).  Each is one function applied alike to simulated stamps and to real
cutouts, so any difference they show is the simulation's.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize

from ..stats import nanomaggies_to_mag, sigma_mad
from . import render


def _check_image(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image, dtype=float)
    if image.ndim != 2 or min(image.shape) < 8:
        raise ValueError(f"{name}: expected a 2-d image at least 8x8, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name}: {int((~np.isfinite(image)).sum())} non-finite pixel(s)")
    return image


def source_mask(image, nsigma: float = 3.0, smooth: float = 1.5, grow: int = 2, n_iter: int = 3) -> np.ndarray:
    """True on pixels of sources: the Gaussian-smoothed image above ``nsigma`` of its own
    robust noise (so correlated noise is handled), dilated by ``grow`` pixels.  On pure white or
    resampling-correlated noise the sky left outside the mask has its sigma biased by < 0.5%."""
    smoothed = ndimage.gaussian_filter(_check_image(image), smooth, mode="nearest")
    mask = np.zeros(smoothed.shape, bool)
    for _ in range(n_iter):
        sky = smoothed[~mask]
        level, sigma = np.median(sky), sigma_mad(sky)
        mask = smoothed > level + nsigma * sigma
        if grow:
            mask = ndimage.binary_dilation(mask, iterations=grow)
        if mask.mean() > 0.8:  # nearly all source (e.g. noise-free): keep what was found
            break
    return mask


def sky_noise(image, nsigma: float = 3.0) -> float:
    """Sky noise per pixel: 1.4826 x MAD of the pixels outside :func:`source_mask`."""
    image = _check_image(image)
    sky = image[~source_mask(image, nsigma)]
    if sky.size < 50:
        raise ValueError(f"sky_noise: only {sky.size} sky pixels left after masking sources")
    return sigma_mad(sky)


def moffat_alpha(fwhm, beta):
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def moffat_image(shape, x0, y0, flux, fwhm, beta, oversample: int = 5) -> np.ndarray:
    """Circular Moffat of total ``flux`` integrated over square pixels (sub-sampled)."""
    ny, nx = shape
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    ys = (np.arange(ny)[:, None] + sub[None, :]).ravel()
    xs = (np.arange(nx)[:, None] + sub[None, :]).ravel()
    alpha = moffat_alpha(fwhm, beta)
    r2 = (xs[None, :] - x0) ** 2 + (ys[:, None] - y0) ** 2
    profile = flux * (beta - 1) / (np.pi * alpha ** 2) * (1 + r2 / alpha ** 2) ** -beta
    return profile.reshape(ny, oversample, nx, oversample).mean(axis=(1, 3))


def fit_fwhm(image, oversample: int = 5) -> dict:
    """FWHM (pixels) of the star nearest the centre of ``image``: least-squares fit of a
    pixel-integrated circular Moffat with free beta (1.5-40) and a constant background.

    Recovers the FWHM of pixel-integrated Gaussians and Moffats to < 1%; simulated PSFs are
    fitted the same way as real stars, so the comparison does not depend on the PSF model.
    Returns dict fwhm, beta, x, y, flux, ok (False if the fit failed or beta hit its lower bound).
    """
    image = _check_image(image)
    ny, nx = image.shape
    background = np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]))
    data = image - background
    peak = data.max()
    if not peak > 0:
        return dict(fwhm=np.nan, beta=np.nan, x=np.nan, y=np.nan, flux=np.nan, ok=False)
    y0, x0 = np.unravel_index(np.argmax(data), data.shape)
    fwhm0 = max(2.0 * np.sqrt((data > peak / 2).sum() / np.pi), 1.0)
    start = [x0, y0, data.sum(), fwhm0, 3.0, 0.0]
    lower = [0, 0, 0, 0.3, 1.5, -np.inf]
    upper = [nx - 1, ny - 1, np.inf, min(nx, ny), 40.0, np.inf]

    def residual(p):
        return (moffat_image(data.shape, *p[:5], oversample=oversample) + p[5] - data).ravel()

    try:
        fit = optimize.least_squares(residual, np.clip(start, lower, upper), bounds=(lower, upper),
                                     x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return dict(fwhm=np.nan, beta=np.nan, x=np.nan, y=np.nan, flux=np.nan, ok=False)
    x, y, flux, fwhm, beta, _ = fit.x
    # beta at its upper bound is a Gaussian-like star (fine); at the lower bound the fit is suspect
    ok = bool(fit.success and beta > 1.5 + 1e-3 and 0.3 < fwhm < min(nx, ny) / 2)
    return dict(fwhm=float(fwhm), beta=float(beta), x=float(x), y=float(y), flux=float(flux), ok=ok)


def core_wing_image(shape, x0, y0, flux, fwhm, core_beta, wing_fraction, wing_scale,
                    wing_beta: float = render.PSF_WING_BETA, oversample: int = 5) -> np.ndarray:
    """The simulator's PSF model in real space: Moffat core (FWHM ``fwhm``) + a fraction
    ``wing_fraction`` of the flux in a Moffat wing of FWHM ``wing_scale`` x ``fwhm``, pixel-integrated."""
    core = moffat_image(shape, x0, y0, flux * (1 - wing_fraction), fwhm, core_beta, oversample)
    return core + moffat_image(shape, x0, y0, flux * wing_fraction, fwhm * wing_scale, wing_beta, oversample)


def fit_psf_wing(image, core_beta: float, wing_scale: float | None = None,
                 wing_beta: float = render.PSF_WING_BETA, oversample: int = 5, mask=None) -> dict:
    """Least-squares fit of :func:`core_wing_image` (core and wing beta fixed) to the star nearest
    the centre of ``image``; free: x, y, flux, core FWHM, wing fraction (0-0.6) and, unless
    ``wing_scale`` is given, wing FWHM / core FWHM (1.5-15).  Pixels where ``mask`` is True (other
    sources) are left out.  Local sky: the median of the unmasked border pixels, subtracted from the
    data and, the same way, from the model (no free background: a constant would be degenerate with
    a wing this broad, and the wing still has light at the border).  Returns dict fwhm,
    wing_fraction, wing_scale, x, y, flux, ok (False if the fit failed or hit a bound; a free
    scale also needs a wing fraction > 0.001 to mean anything)."""
    data = _check_image(image)
    ny, nx = data.shape
    use = np.ones(data.shape, bool) if mask is None else ~np.asarray(mask, bool)
    if use.shape != data.shape:
        raise ValueError(f"fit_psf_wing: mask shape {use.shape} differs from the image's {data.shape}")
    border = np.zeros(data.shape, bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    border &= use
    nan = dict(fwhm=np.nan, wing_fraction=np.nan, wing_scale=np.nan, x=np.nan, y=np.nan, flux=np.nan, ok=False)
    if border.sum() < 20:
        return nan
    data = data - np.median(data[border])
    peak = data.max()
    if not peak > 0:
        return nan
    y0, x0 = np.unravel_index(np.argmax(np.where(use, data, -np.inf)), data.shape)
    fwhm0 = max(2.0 * np.sqrt((data * use > peak / 2).sum() / np.pi), 1.0)
    lower = [0, 0, 0, 0.3, 0.0, 1.5]
    upper = [nx - 1, ny - 1, np.inf, min(nx, ny), 0.6, 15.0]
    start = np.clip([x0, y0, (data * use).sum(), fwhm0, 0.1, 5.0], lower, upper)
    n_free = 6 if wing_scale is None else 5

    def residual(p):
        scale = p[5] if wing_scale is None else wing_scale
        model = core_wing_image(data.shape, *p[:4], core_beta, p[4], scale, wing_beta, oversample)
        return (model - np.median(model[border]) - data)[use]

    try:
        fit = optimize.least_squares(residual, start[:n_free], bounds=(lower[:n_free], upper[:n_free]),
                                     x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return nan
    x, y, flux, fwhm, fraction = fit.x[:5]
    scale = fit.x[5] if wing_scale is None else wing_scale
    ok = bool(fit.success and fraction < 0.6 - 1e-3)
    if wing_scale is None:
        ok &= bool(fraction > 1e-3 and 1.5 + 1e-3 < scale < 15.0 - 1e-3)
    return dict(fwhm=float(fwhm), wing_fraction=float(fraction), wing_scale=float(scale), x=float(x), y=float(y),
                flux=float(flux), ok=ok)


def effective_fwhm(image) -> float:
    """FWHM (pixels) of the Gaussian with the same noise-equivalent area as the star in ``image``.

    n_eff = (sum I)^2 / sum I^2 over a circle of radius (size - 1) / 2 around the centroid, after
    subtracting the border median and the noise's contribution to sum I^2; the pixel's own
    variance (1/12 px^2 per axis) is removed, so a pixel-integrated Gaussian gives its FWHM.
    This is the "effective width" SDSS quotes as PSF_FWHM, and the PSF size that sets a small
    galaxy's S/N; a Moffat of parameter beta gives 2.3548 alpha sqrt((2 beta - 1) / (4 (beta - 1)^2)).
    NaN when the noise makes up more than half of sum I^2 (a star too faint to measure).
    """
    image = _check_image(image)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    data = image - np.median(border)
    noise = sigma_mad(border)
    yy, xx = np.indices(data.shape)
    w = np.maximum(data, 0)
    x, y = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    inside = np.hypot(xx - x, yy - y) <= (min(data.shape) - 1) / 2
    d = data[inside]
    signal = (d ** 2).sum() - d.size * noise ** 2
    if not signal > 0.5 * (d ** 2).sum():  # noise dominates: too faint to measure
        return np.nan
    n_eff = d.sum() ** 2 / signal
    return float(2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(max(n_eff / (4 * np.pi) - 1.0 / 12, 0.0)))


def _cumulative_flux(image: np.ndarray, centre, oversample: int = 3):
    """(radii, flux within radius) from sub-pixels sorted by distance to ``centre``."""
    ny, nx = image.shape
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    ys = (np.arange(ny)[:, None] + sub).ravel() - centre[1]
    xs = (np.arange(nx)[:, None] + sub).ravel() - centre[0]
    r = np.hypot(xs[None, :], ys[:, None]).ravel()
    values = np.repeat(np.repeat(image, oversample, axis=0), oversample, axis=1).ravel() / oversample ** 2
    order = np.argsort(r, kind="stable")
    return r[order], np.cumsum(values[order])


def _central_segment(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The connected source region at (or nearest) the image centre."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.ones(image.shape, bool)
    ny, nx = image.shape
    cy, cx = (ny - 1) // 2, (nx - 1) // 2
    label = labels[cy, cx]
    if label == 0:
        yy, xx = np.nonzero(labels)
        nearest = np.argmin((yy - cy) ** 2 + (xx - cx) ** 2)
        label = labels[yy[nearest], xx[nearest]]
    return labels == label


def curve_of_growth(image, noise: float | None = None, eta: float = 0.2, max_radius: float | None = None) -> dict:
    """Petrosian photometry of the source at the centre of ``image`` (pixels, image units).

    Other sources (separate segments of :func:`source_mask`) are replaced by the sky; the sky
    (median of unmasked pixels) is subtracted; the centre is the flux-weighted centroid of the
    central segment.  The Petrosian radius R_P is where the mean surface brightness in the
    annulus [0.8, 1.25] r falls to ``eta`` times the mean within r (SDSS's definition); the
    Petrosian flux is the flux within 2 R_P (capped at ``max_radius``, default the distance from
    the centre to the nearest edge); r50 and r90 enclose 50% and 90% of it, as SDSS's
    petroR50 / petroR90.

    Returns dict flux, mag (22.5 - 2.5 log10 flux, for nanomaggies), r50, r90,
    concentration (r90 / r50), b_over_a (:func:`axis_ratio` within 2 R_P), r_petro, x, y,
    ok (a Petrosian radius was found) and capped (2 R_P reaches beyond ``max_radius``: a
    source larger than the stamp).
    """
    image = _check_image(image)
    if noise is None:
        noise = sky_noise(image) if np.ptp(image) > 0 else 0.0
    mask = source_mask(image) if noise > 0 else image > 0
    sky_pixels = image[~mask]
    sky = float(np.median(sky_pixels)) if sky_pixels.size > 50 else 0.0
    central = _central_segment(image, mask)
    clean = np.where(mask & ~central, 0.0, image - sky)
    weights = np.where(central, np.maximum(clean, 0), 0)
    yy, xx = np.indices(image.shape)
    x, y = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
    ny, nx = image.shape
    edge = min(x + 0.5, y + 0.5, nx - 0.5 - x, ny - 0.5 - y)
    max_radius = edge if max_radius is None else min(max_radius, edge)
    r_sorted, cumulative = _cumulative_flux(clean, (x, y))
    radii = np.linspace(0.5, max_radius, 400)
    flux_in = np.interp(radii, r_sorted, cumulative)
    r_petro, ok = _petrosian_radius(radii, r_sorted, cumulative, eta, max_radius)
    capped = bool(2 * r_petro > max_radius)
    flux = float(np.interp(min(2 * r_petro, max_radius), r_sorted, cumulative))
    growth = np.maximum.accumulate(flux_in)
    if not flux > 0:
        return dict(flux=flux, mag=np.nan, r50=np.nan, r90=np.nan, concentration=np.nan, b_over_a=np.nan,
                    r_petro=r_petro, x=float(x), y=float(y), ok=False, capped=capped)
    r50, r90 = (_refine(radii, growth, f * flux) for f in (0.5, 0.9))
    inside = central & (np.hypot(xx - x, yy - y) <= min(2 * r_petro, max_radius))
    return dict(flux=flux, mag=float(nanomaggies_to_mag(flux)), r50=r50, r90=r90, concentration=r90 / r50,
                b_over_a=axis_ratio(np.where(inside, clean, 0.0), (x, y)), r_petro=float(r_petro), x=float(x),
                y=float(y), ok=ok, capped=capped)


def axis_ratio(image: np.ndarray, centre) -> float:
    """b/a from the flux-weighted (unweighted beyond the image's own profile) second moments of
    the positive pixels of ``image`` about ``centre``: sqrt of the ratio of the eigenvalues.
    Observed (PSF-convolved) like SDSS's isophotal and moment shapes, and measured the same way on
    simulated and real stamps; a round PSF pushes small galaxies towards 1."""
    w = np.maximum(np.asarray(image, float), 0.0)
    if not w.sum() > 0:
        return np.nan
    yy, xx = np.indices(w.shape)
    dx, dy = xx - centre[0], yy - centre[1]
    mxx, myy, mxy = ((w * a * b).sum() / w.sum() for a, b in ((dx, dx), (dy, dy), (dx, dy)))
    root = np.sqrt(((mxx - myy) / 2) ** 2 + mxy ** 2)
    major, minor = (mxx + myy) / 2 + root, (mxx + myy) / 2 - root
    return float(np.sqrt(max(minor, 0.0) / major)) if major > 0 else np.nan


def _refine(radii: np.ndarray, growth: np.ndarray, level: float) -> float:
    """Radius where the (non-decreasing) curve of growth first reaches ``level``, interpolated."""
    i = int(np.searchsorted(growth, level))
    if i == 0:
        return float(radii[0])
    if i >= len(radii):
        return float(radii[-1])
    f0, f1 = growth[i - 1], growth[i]
    return float(radii[i - 1] + (radii[i] - radii[i - 1]) * (level - f0) / max(f1 - f0, 1e-300))


def _petrosian_radius(radii, r_sorted, cumulative, eta, max_radius):
    inner, outer = np.interp(0.8 * radii, r_sorted, cumulative), np.interp(1.25 * radii, r_sorted, cumulative)
    within = np.interp(radii, r_sorted, cumulative)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ((outer - inner) / (1.25 ** 2 - 0.8 ** 2)) / within
    usable = (radii >= 1.0) & (1.25 * radii <= max_radius)
    below = np.flatnonzero(usable & (ratio < eta))
    if below.size == 0:
        return max_radius / 2, False
    i = below[0]
    if i == 0 or not usable[i - 1]:
        return float(radii[i]), True
    r0, r1, e0, e1 = radii[i - 1], radii[i], ratio[i - 1], ratio[i]
    return float(r0 + (r1 - r0) * (e0 - eta) / (e0 - e1)), True
