"""Petrosian photometry from the curve of growth: flux, magnitude, r50, r90, concentration, moment b/a."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..stats import nanomaggies_to_mag, sigma_mad
from . import deblend
from .detect import DETECTION_SMOOTH, _check_image, sky_noise, source_mask


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


def _children(clean: np.ndarray, central: np.ndarray, image: np.ndarray, mask: np.ndarray):
    """(smoothed ``clean``, the peaks (k, 2) (x, y) of the central segment's children, the one
    nearest the image centre first) -- :func:`photoz_nb.measure.deblend.peaks` on the detection image."""
    smoothed = ndimage.gaussian_filter(clean, DETECTION_SMOOTH)
    sky = ~mask
    sigma = sigma_mad(ndimage.gaussian_filter(image, DETECTION_SMOOTH)[sky]) if sky.sum() > 50 else 0.0
    ny, nx = clean.shape
    return smoothed, deblend.peaks(smoothed, central, sigma, ((nx - 1) / 2, (ny - 1) / 2))


def _prepare(image: np.ndarray, noise: float | None):
    """(sky-subtracted image with other segments at the sky, central segment, source mask)."""
    if noise is None:
        noise = sky_noise(image) if np.ptp(image) > 0 else 0.0
    mask = source_mask(image) if noise > 0 else image > 0
    sky_pixels = image[~mask]
    sky = float(np.median(sky_pixels)) if sky_pixels.size > 50 else 0.0
    central = _central_segment(image, mask)
    return np.where(mask & ~central, 0.0, image - sky), central, mask


def central_children(image, noise: float | None = None) -> np.ndarray:
    """Peaks (k, 2) (x, y pixels) of the children of the source at the centre of ``image``: one row
    for a single source, more for a blend (:mod:`photoz_nb.measure.deblend`), the central one first."""
    image = _check_image(image)
    clean, central, mask = _prepare(image, noise)
    return _children(clean, central, image, mask)[1]


def curve_of_growth(image, noise: float | None = None, eta: float = 0.2, max_radius: float | None = None) -> dict:
    """Petrosian photometry of the source at the centre of ``image`` (pixels, image units).

    Other sources (separate segments of :func:`source_mask`) are replaced by the sky; the sky
    (median of unmasked pixels) is subtracted; a central segment holding several peaks is deblended
    as SDSS's photo would (:mod:`photoz_nb.measure.deblend`) and the child nearest the image centre
    measured; the centre is its flux-weighted centroid.  The Petrosian radius R_P is where the mean
    surface brightness in the annulus [0.8, 1.25] r falls to ``eta`` times the mean within r (SDSS's
    definition); the
    Petrosian flux is the flux within 2 R_P (capped at ``max_radius``, default the distance from
    the centre to the nearest edge); r50 and r90 enclose 50% and 90% of it, as SDSS's
    petroR50 / petroR90.

    Returns dict flux, mag (22.5 - 2.5 log10 flux, for nanomaggies), r50, r90,
    concentration (r90 / r50), b_over_a (:func:`axis_ratio` within 2 R_P), r_petro, x, y,
    ok (a Petrosian radius was found) and capped (2 R_P reaches beyond ``max_radius``: a
    source larger than the stamp).
    """
    image = _check_image(image)
    clean, central, mask = _prepare(image, noise)
    smoothed, children = _children(clean, central, image, mask)
    if len(children) > 1:  # a blend: the central child's share of each pixel
        clean = np.where(central, clean * deblend.child_share(smoothed, children), clean)
    weights = np.where(central, np.maximum(clean, 0), 0)
    yy, xx = np.indices(image.shape)
    x, y = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
    ny, nx = image.shape
    edge = min(x + 0.5, y + 0.5, nx - 0.5 - x, ny - 0.5 - y)
    max_radius = edge if max_radius is None else min(max_radius, edge)
    r_sorted, cumulative = _cumulative_flux(clean, (x, y))
    radii = _radii(max_radius)
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


def _radii(max_radius: float) -> np.ndarray:
    """Radii (pixels) at which the Petrosian ratio is evaluated: 400 from half a pixel to ``max_radius``."""
    return np.linspace(0.5, max_radius, 400)


def petrosian_radius(r, cumulative, max_radius: float, eta: float = 0.2) -> tuple[float, bool]:
    """(R_P, found) of a curve of growth: ``cumulative`` flux within radius ``r`` (increasing), pixels.

    SDSS's definition, as in :func:`curve_of_growth` (which calls it on its own curve): R_P is where
    the mean surface brightness in the annulus [0.8, 1.25] r falls to ``eta`` times the mean within r;
    ``max_radius / 2`` and False when it never does inside ``max_radius``.
    """
    return _petrosian_radius(_radii(max_radius), r, cumulative, eta, max_radius)


def pixel_distance(shape, centre) -> np.ndarray:
    """Distance (pixels, float32) of each pixel's centre of an image of ``shape`` (ny, nx) from ``centre`` (x, y)."""
    dx2 = (np.arange(shape[1], dtype=np.float32) - np.float32(centre[0])) ** 2
    dy2 = (np.arange(shape[0], dtype=np.float32) - np.float32(centre[1])) ** 2
    return np.sqrt(dx2[None, :] + dy2[:, None])


def binned_curve_of_growth(images: np.ndarray, centre, step: float = 0.25,
                           distance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(radii, flux within each radius) of a stack of images (..., ny, nx) about ``centre`` (x, y).

    Each pixel's flux is spread evenly over the radii [d - 1/2, d + 1/2] about the distance d of its
    centre (a pixel spans about one pixel in radius): a curve of growth without empty steps at a few
    pixels, where whole pixels would leave the Petrosian ratio spiky.  That is the whole-pixel
    curve, one ``bincount`` on a grid of ``step`` pixels, averaged over a pixel's width in radius:
    no sort, ~10x cheaper than :func:`curve_of_growth`'s sub-pixels (for the simulator, which
    measures every galaxy).  ``distance``: the (ny, nx) distances of the pixels from ``centre``, if
    already known.  Returns radii (m,) from 0 and the cumulative flux (..., m) at them.
    """
    images = np.asarray(images)
    ny, nx = images.shape[-2:]
    if distance is None:
        distance = pixel_distance((ny, nx), centre)
    ring = (distance * np.float32(1 / step)).astype(np.intp).ravel()
    n_radii = int(ring.max()) + 2
    stack = images.reshape(-1, ny * nx)
    if len(stack) == 1:
        rings = np.bincount(ring, stack[0], n_radii)[None]
    else:
        index = (np.arange(len(stack))[:, None] * n_radii + ring).ravel()
        rings = np.bincount(index, stack.ravel(), len(stack) * n_radii).reshape(len(stack), n_radii)
    # the whole-pixel curve at the grid radii (d < r), padded by half a pixel of grid steps each side
    # (nothing inside r = 0, everything beyond the last ring), then averaged over windows of 2 half + 1
    half = int(round(0.5 / step))
    padded = np.zeros((len(stack), n_radii + 2 * half + 1))
    np.cumsum(rings, axis=1, out=padded[:, half + 2:half + 1 + n_radii + 1])
    padded[:, half + 1 + n_radii:] = padded[:, half + n_radii:half + 1 + n_radii]
    sums = np.cumsum(padded, axis=1)
    window = 2 * half + 1
    cumulative = (sums[:, window:] - sums[:, :-window]) / window
    return step * np.arange(n_radii), cumulative.reshape(images.shape[:-2] + (n_radii,))


def _petrosian_radius(radii, r_sorted, cumulative, eta, max_radius):
    inner, outer, within = np.interp(np.outer((0.8, 1.25, 1.0), radii), r_sorted, cumulative)  # one call
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
