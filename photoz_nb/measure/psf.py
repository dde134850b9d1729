"""PSF widths of stars: pixel-integrated Moffat fits, the core + wing fit, the effective FWHM."""
from __future__ import annotations

import functools

import numpy as np
from scipy import optimize
from threadpoolctl import ThreadpoolController

from ..stats import sigma_mad
from .detect import _check_image

#: Beta of the PSF's Moffat wing: the wing the realism fits measure and the renderer draws.
PSF_WING_BETA = 2.5


def moffat_alpha(fwhm, beta):
    """Moffat scale radius alpha of a profile of core FWHM ``fwhm`` (the renderer's and the fits' one definition)."""
    return np.asarray(fwhm, dtype=float) / (2.0 * np.sqrt(2.0 ** (1.0 / np.asarray(beta, dtype=float)) - 1.0))


def moffat_image(shape, x0, y0, flux, fwhm, beta, oversample: int = 5) -> np.ndarray:
    """Circular Moffat of total ``flux`` integrated over square pixels (sub-sampled)."""
    return flux * _unit_moffat(tuple(shape), float(x0), float(y0), float(fwhm), float(beta), int(oversample))


@functools.lru_cache(maxsize=16)
def _unit_moffat(shape, x0, y0, fwhm, beta, oversample) -> np.ndarray:
    """:func:`moffat_image` of unit flux, read-only.  Cached: a fit's finite-difference Jacobian moves
    one parameter at a time, so the core or wing of :func:`core_wing_image` that a step leaves
    unmoved (its flux, its wing fraction) is not computed again."""
    ny, nx = shape
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    ys = (np.arange(ny)[:, None] + sub[None, :]).ravel()
    xs = (np.arange(nx)[:, None] + sub[None, :]).ravel()
    a2 = float(moffat_alpha(fwhm, beta)) ** 2
    u = ((xs - x0) ** 2 / a2)[None, :] + (1 + (ys - y0) ** 2 / a2)[:, None]  # 1 + r^2 / alpha^2
    np.exp(np.multiply(np.log(u, out=u), -beta, out=u), out=u)  # u ** -beta: exp and log are vectorised, pow is not
    # the sub-pixel sums: first over sub-rows (contiguous rows), then over sub-columns of a 5x smaller array
    pixels = u.reshape(ny, oversample, nx * oversample).sum(axis=1).reshape(ny, nx, oversample).sum(axis=2)
    pixels *= (beta - 1) / (np.pi * a2 * oversample ** 2)
    pixels.setflags(write=False)
    return pixels


_BLAS = None


def _one_blas_thread():
    """BLAS on one thread for a fit: its SVDs of a (pixels x parameters) Jacobian are too small to gain
    from threads, which only busy-wait against each other (and against other processes on a shared machine)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()  # finds the loaded BLAS libraries once (ms); limit() is then cheap
    return _BLAS.limit(limits=1, user_api="blas")


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
        with _one_blas_thread():
            fit = optimize.least_squares(residual, np.clip(start, lower, upper), bounds=(lower, upper),
                                         x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return dict(fwhm=np.nan, beta=np.nan, x=np.nan, y=np.nan, flux=np.nan, ok=False)
    x, y, flux, fwhm, beta, _ = fit.x
    # beta at its upper bound is a Gaussian-like star (fine); at the lower bound the fit is suspect
    ok = bool(fit.success and beta > 1.5 + 1e-3 and 0.3 < fwhm < min(nx, ny) / 2)
    return dict(fwhm=float(fwhm), beta=float(beta), x=float(x), y=float(y), flux=float(flux), ok=ok)


def core_wing_image(shape, x0, y0, flux, fwhm, core_beta, wing_fraction, wing_scale,
                    wing_beta: float = PSF_WING_BETA, oversample: int = 5) -> np.ndarray:
    """The simulator's PSF model in real space: Moffat core (FWHM ``fwhm``) + a fraction
    ``wing_fraction`` of the flux in a Moffat wing of FWHM ``wing_scale`` x ``fwhm``, pixel-integrated."""
    core = moffat_image(shape, x0, y0, flux * (1 - wing_fraction), fwhm, core_beta, oversample)
    return core + moffat_image(shape, x0, y0, flux * wing_fraction, fwhm * wing_scale, wing_beta, oversample)


def fit_psf_wing(image, core_beta: float, wing_scale: float | None = None,
                 wing_beta: float = PSF_WING_BETA, oversample: int = 5, mask=None) -> dict:
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
        with _one_blas_thread():
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
