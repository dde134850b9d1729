"""Photometry of one source in a frame: Gaussian-windowed centroid, aperture flux, light concentration."""
from __future__ import annotations

import numpy as np

from ..stats import sigma_mad


def windowed_centroid(image: np.ndarray, sigma: float, x: float | None = None, y: float | None = None,
                      max_iter: int = 100, tol: float = 1e-6) -> tuple[float, float]:
    """Gaussian-windowed first moment (SExtractor XWIN/YWIN iteration), 0-based pixels.

    For a symmetric source the iteration converges to its centre; ``sigma`` should be
    close to the PSF's Gaussian sigma in pixels.
    """
    ny, nx = image.shape
    yy, xx = np.mgrid[:ny, :nx]
    x = (nx - 1) / 2 if x is None else x
    y = (ny - 1) / 2 if y is None else y
    for _ in range(max_iter):
        w = image * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
        total = w.sum()
        if not total > 0:
            return np.nan, np.nan
        dx, dy = 2 * ((w * xx).sum() / total - x), 2 * ((w * yy).sum() / total - y)
        x, y = x + dx, y + dy
        if abs(dx) < tol and abs(dy) < tol:
            break
    return float(x), float(y)


def aperture_flux(image: np.ndarray, radius: float, annulus=(20.0, 30.0), x=None, y=None) -> tuple[float, float]:
    """Sum within ``radius`` px around (x, y) (default the image centre), minus the annulus
    median per pixel unless ``annulus`` is None; returns (flux, robust noise per pixel)."""
    ny, nx = image.shape
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(xx - ((nx - 1) / 2 if x is None else x), yy - ((ny - 1) / 2 if y is None else y))
    ring = image[(r >= (annulus or (20.0, 30.0))[0]) & (r <= (annulus or (20.0, 30.0))[1])]
    sky = np.median(ring)
    noise = sigma_mad(ring)
    inside = r <= radius
    return float((image[inside] - (sky if annulus is not None else 0.0)).sum()), float(noise)


def concentration(image: np.ndarray, x: float, y: float, inner: float = 3.0, outer: float = 10.0) -> float:
    """Flux within ``inner`` px of (x, y) over flux within ``outer`` px (no sky: frames are sky-subtracted)."""
    r0 = int(np.ceil(outer)) + 1
    y0, x0 = max(int(y) - r0, 0), max(int(x) - r0, 0)
    sub = image[y0:int(y) + r0 + 1, x0:int(x) + r0 + 1]
    yy, xx = np.mgrid[:sub.shape[0], :sub.shape[1]]
    r = np.hypot(xx + x0 - x, yy + y0 - y)
    total = sub[r < outer].sum()
    return float(sub[r < inner].sum() / total) if total > 0 else np.nan
