"""Deblending as SDSS's photo does it (Lupton; Stoughton et al. 2002, s. 4.4): symmetric templates.

A blend (one detected segment holding several peaks) is split into children.  Each child's
template is the image made symmetric about the child's peak, T(x) = min(I(x), I(x')) with x' the
reflection of x, and each pixel's flux is shared among the children in proportion to their
templates.  The catalogue measures each child, so a galaxy with a close companion keeps its own
light: the real galaxies of the realism report are measured this way, like the simulated
catalogue's (:func:`photoz_nb.simulate.photometry.deblend_weight`, which knows the true centres).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

#: A local maximum of the smoothed image (over PEAK_FOOTPRINT pixels) is a child's peak when it
#: rises above the sky by PEAK_MIN_SIGMA and above the saddle towards the brighter child by
#: PEAK_MIN_SIGMA and by SADDLE_MIN_FRACTION of its own height: noise and a smooth profile's
#: ripples make no children, two galaxies do.
PEAK_FOOTPRINT = 5
PEAK_MIN_SIGMA = 5.0
SADDLE_MIN_FRACTION = 0.1


def mirror(image: np.ndarray, point, fill: np.ndarray) -> np.ndarray:
    """``image`` (..., ny, nx) reflected through ``point`` (x, y) rounded to the nearest half pixel.

    Pixels whose reflection leaves the stamp take ``fill`` (same shape as ``image``).
    """
    out = np.array(fill, copy=True)
    ny, nx = image.shape[-2:]
    xs = int(np.rint(2 * point[0])) - np.arange(nx)  # x' = 2 x_point - x
    ys = int(np.rint(2 * point[1])) - np.arange(ny)
    vx, vy = np.flatnonzero((xs >= 0) & (xs < nx)), np.flatnonzero((ys >= 0) & (ys < ny))
    if len(vx) and len(vy):  # the valid pixels are one rectangle
        out[..., vy[0]:vy[-1] + 1, vx[0]:vx[-1] + 1] = image[..., ys[vy], :][..., xs[vx]]
    return out


def template(image: np.ndarray, point, fill: np.ndarray) -> np.ndarray:
    """The child's template about ``point`` (x, y): min(I(x), I(x')), x' the reflection of x through it
    (:func:`mirror`, ``fill`` where x' leaves the image); not clipped at 0."""
    return np.minimum(image, mirror(image, point, fill))


def peaks(smoothed: np.ndarray, region: np.ndarray, sigma: float, near) -> np.ndarray:
    """Children's peaks (k, 2) as (x, y) pixels in ``region`` of the sky-subtracted ``smoothed`` image
    (its noise ``sigma``), the one nearest ``near`` (x, y) first: see PEAK_MIN_SIGMA."""
    local_max = smoothed == ndimage.maximum_filter(smoothed, size=PEAK_FOOTPRINT)
    yx = np.argwhere(local_max & region & (smoothed > PEAK_MIN_SIGMA * sigma))
    if len(yx) < 2:
        return yx[:, ::-1].astype(float)
    yx = yx[np.argsort(-smoothed[tuple(yx.T)])]  # brightest first: each peak is tested against a brighter one
    kept = [yx[0]]
    for p in yx[1:]:
        height = smoothed[tuple(p)]
        saddle = min(_lowest_between(smoothed, p, q) for q in kept)
        if height - saddle > max(PEAK_MIN_SIGMA * sigma, SADDLE_MIN_FRACTION * height):
            kept.append(p)
    xy = np.array(kept, float)[:, ::-1]
    return xy[np.argsort(np.hypot(*(xy - np.asarray(near, float)).T))]


def _lowest_between(image: np.ndarray, a, b) -> float:
    """Lowest value of ``image`` on the straight line from pixel ``a`` to pixel ``b`` (row, column)."""
    t = np.linspace(0.0, 1.0, int(2 * np.hypot(*(np.subtract(b, a)))) + 2)
    line = np.outer(1 - t, a) + np.outer(t, b)
    return float(ndimage.map_coordinates(image, line.T, order=1).min())


def child_share(smoothed: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Fraction of each pixel's flux that belongs to the first child of ``centres`` (k, 2) (x, y).

    Templates are made from the smoothed image (the data's noise would bias min() low); a
    reflection that leaves the stamp takes the pixel's own value (the larger frame would hold the
    child's other side).  Pixels no template covers go to the nearest child.
    """
    templates = np.array([np.maximum(template(smoothed, c, smoothed), 0) for c in centres])
    total = templates.sum(axis=0)
    yy, xx = np.indices(smoothed.shape)
    nearest = np.argmin([(xx - x) ** 2 + (yy - y) ** 2 for x, y in centres], axis=0) == 0
    return np.where(total > 0, templates[0] / np.where(total > 0, total, 1.0), nearest.astype(float))
