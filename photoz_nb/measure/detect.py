"""Sources and sky of an image: the one segmentation the package detects with, the source mask and sky noise.

:func:`segment` (Gaussian smoothing, a threshold in units of the smoothed image's robust noise,
connected pixels) is the one detector; :func:`detect_sources` (flux-weighted centroids, for the
realism report) and :func:`photoz_nb.sdss.sources.detect_sources` (peaks, sky positions and
magnitudes, for the bright-galaxy figure) are two tables of its segments.  It stays scipy rather than
photutils: photutils' ``detect_sources`` returns the same labels on a real frame and is no faster
(``scripts/bench_detect.py``: 379 ms ours, 479 ms photutils), so it would be a dependency for one call.
"""
from __future__ import annotations

import numpy as np
from astropy.table import Table
from scipy import ndimage
from scipy.spatial import cKDTree

from ..stats import sigma_mad


def segment(image, nsigma: float, smooth: float, noise: str = "blocks"):
    """(labels, n, smoothed) of the pixels of the ``smooth``-px Gaussian-smoothed ``image`` above
    ``nsigma`` x its robust noise: the median over four row blocks of the sigma_MAD of every second
    pixel (``noise="blocks"``; robust to a bright source in one block) or the sigma_MAD of all
    pixels (``"global"``)."""
    image = np.asarray(image)  # its own dtype: a float32 frame is smoothed in float32, as it always was
    smoothed = ndimage.gaussian_filter(image, smooth)
    if noise == "blocks":
        rows = np.linspace(0, image.shape[0], 5, dtype=int)
        sigma = np.median([sigma_mad(smoothed[a:b:2, ::2]) for a, b in zip(rows[:-1], rows[1:])])
    elif noise == "global":
        sigma = sigma_mad(smoothed)
    else:
        raise ValueError(f"noise must be 'blocks' or 'global', got {noise!r}")
    labels, n = ndimage.label(smoothed > nsigma * sigma)
    return labels, n, smoothed


def _check_image(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image, dtype=float)
    if image.ndim != 2 or min(image.shape) < 8:
        raise ValueError(f"{name}: expected a 2-d image at least 8x8, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name}: {int((~np.isfinite(image)).sum())} non-finite pixel(s)")
    return image


#: Gaussian smoothing (pixels, sigma) of the image sources are found on: about the PSF's.
DETECTION_SMOOTH = 1.5


def source_mask(image, nsigma: float = 3.0, smooth: float = DETECTION_SMOOTH, grow: int = 2, n_iter: int = 3) -> np.ndarray:
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



def detect_sources(image, nsigma: float = 3.0, smooth: float = DETECTION_SMOOTH, min_pixels: int = 10) -> Table:
    """Sources of a (sky-subtracted) frame: segments of the smoothed image above ``nsigma``.

    Columns x, y (flux-weighted centroid, 0-based pixels), flux (segment sum), npix,
    nearest (distance to the nearest other segment's centroid, pixels).
    """
    image = np.nan_to_num(np.asarray(image, dtype=float))
    labels, n, _ = segment(image, nsigma, smooth, noise="blocks")
    index = np.arange(1, n + 1)
    npix = ndimage.sum_labels(np.ones_like(image), labels, index)
    positive = np.maximum(image, 0)
    weight = ndimage.sum_labels(positive, labels, index)
    yy, xx = np.indices(image.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = ndimage.sum_labels(positive * xx, labels, index) / weight
        y = ndimage.sum_labels(positive * yy, labels, index) / weight
    keep = (npix >= min_pixels) & (weight > 0)
    x, y = x[keep], y[keep]
    table = Table({"x": x, "y": y, "flux": ndimage.sum_labels(image, labels, index)[keep], "npix": npix[keep]})
    if len(table) > 1:
        table["nearest"] = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)[0][:, 1]
    else:
        table["nearest"] = np.full(len(table), np.inf)
    return table
