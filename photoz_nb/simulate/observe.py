"""Observing conditions of SDSS imaging: PSF, sky noise, resampling, extinction, neighbours.

Numbers come from the two real SDSS fields measured in ``shared/NOTES-simulation.md``
(sky noise per native pixel, PSF FWHM of isolated stars) and from the SDSS literature
where noted.  Every draw takes a numpy Generator so one seed fixes everything.
"""
from __future__ import annotations

import numpy as np

from .. import config

BANDS = config.BANDS
#: Sky noise per native pixel (nanomaggies): mean of SDSS fields 004510-4-0030 and 007264-3-0111.
SKY_NOISE = {"u": 0.0479, "g": 0.01655, "r": 0.0256, "i": 0.0383, "z": 0.1658}
#: Field-to-field scatter of the sky noise (log-normal sigma, common to all bands + per band).
SKY_NOISE_SCATTER = (0.10, 0.04)
#: r-band seeing: log-normal around the SDSS median (~1.3"), clipped to what SDSS accepts.
SEEING_R_MEDIAN, SEEING_R_SIGMA_LN, SEEING_R_RANGE = 1.30, 0.17, (0.85, 2.2)
#: PSF FWHM relative to r (mean of the two measured fields: u and g are broader, i and z sharper).
PSF_RATIO = {"u": 1.11, "g": 1.10, "r": 1.00, "i": 0.92, "z": 0.94}
PSF_RATIO_SCATTER = 0.04  # log-normal, per band and galaxy
#: Photo-electrons per nanomaggy of a typical SDSS frame (gain / NMGYPERCOUNT): sets the
#: source photon noise, which dominates the sky noise in the cores of bright galaxies.
ELECTRONS_PER_NMGY = {"u": 170.0, "g": 1000.0, "r": 900.0, "i": 750.0, "z": 160.0}
#: Stripe 82 co-adds: a random subset imaged deeper (noise divided by STRIPE82_DEPTH).
STRIPE82_FRACTION, STRIPE82_DEPTH = 0.05, 2.5
#: Neighbour galaxies in the stamp: P(0), P(1), P(2).
NEIGHBOUR_PROBS = (0.87, 0.11, 0.02)
NEIGHBOUR_RADIUS_PIX = (5.0, 30.0)       # centre distance, uniform in area
NEIGHBOUR_DMAG = (-0.5, 3.0)             # neighbour r mag minus a random MGS galaxy's r mag
NEIGHBOUR_HLR_ARCSEC = (1.2, 0.5, 0.2, 8.0)  # log-normal median, sigma_ln, clip range
#: Lanczos-3 resampling (SWarp's default) onto the common cutout grid.
LANCZOS_A = 3


def band_index(band: str) -> int:
    """Position of ``band`` in ``config.BANDS``; a clear error for anything else."""
    try:
        return BANDS.index(band)
    except ValueError:
        raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BANDS)}") from None


def sky_noise(band: str) -> float:
    """Typical sky noise per native pixel in ``band`` (nanomaggies)."""
    return SKY_NOISE[BANDS[band_index(band)]]


def extinction_factor(ebv: np.ndarray) -> np.ndarray:
    """Milky-Way transmission 10^(-0.4 A_band) per band, shape (n, n_bands)."""
    coeff = np.array([config.EXTINCTION_COEFF[b] for b in BANDS])
    return 10 ** (-0.4 * np.outer(np.asarray(ebv, dtype=float), coeff))


def draw_psf_fwhm(rng: np.random.Generator, n: int) -> np.ndarray:
    """PSF FWHM in arcsec, shape (n, n_bands): r-band seeing times per-band ratios."""
    lo, hi = SEEING_R_RANGE
    seeing_r = np.clip(SEEING_R_MEDIAN * np.exp(SEEING_R_SIGMA_LN * rng.standard_normal(n)), lo, hi)
    ratio = np.array([PSF_RATIO[b] for b in BANDS])
    jitter = np.exp(PSF_RATIO_SCATTER * rng.standard_normal((n, len(BANDS))))
    jitter[:, band_index("r")] = 1.0
    return seeing_r[:, None] * ratio * jitter


def draw_native_noise(rng: np.random.Generator, stripe82: np.ndarray) -> np.ndarray:
    """Sky noise per native pixel (nanomaggies), shape (n, n_bands); deeper in Stripe 82."""
    n = len(stripe82)
    common, per_band = SKY_NOISE_SCATTER
    scale = np.exp(common * rng.standard_normal((n, 1)) + per_band * rng.standard_normal((n, len(BANDS))))
    depth = np.where(np.asarray(stripe82, bool), 1.0 / STRIPE82_DEPTH, 1.0)[:, None]
    return np.array([SKY_NOISE[b] for b in BANDS]) * scale * depth


def electrons_per_nmgy(stripe82: np.ndarray) -> np.ndarray:
    """Photo-electrons per nanomaggy, shape (n, n_bands): a co-add DEPTH^2 times the exposure."""
    depth = np.where(np.asarray(stripe82, bool), STRIPE82_DEPTH ** 2, 1.0)[:, None]
    return np.array([ELECTRONS_PER_NMGY[b] for b in BANDS]) * depth


def lanczos_weights(shift: np.ndarray, a: int = LANCZOS_A) -> np.ndarray:
    """Normalised Lanczos-a weights for a fractional shift in [0, 1); shape (..., 2a)."""
    x = np.arange(-a + 1, a + 1) - np.asarray(shift, dtype=float)[..., None]
    w = np.sinc(x) * np.sinc(x / a)
    return w / w.sum(axis=-1, keepdims=True)


def resampling_noise_factor(shifts: np.ndarray) -> np.ndarray:
    """Per-pixel noise after Lanczos resampling relative to before, for shifts (..., 2)."""
    w = lanczos_weights(shifts)
    return np.sqrt((w ** 2).sum(-1)).prod(-1)


def resampled_noise(rng: np.random.Generator, sigma: np.ndarray, shifts: np.ndarray,
                    stamp: int = config.STAMP, image: np.ndarray | None = None,
                    electrons_per_unit: np.ndarray | None = None) -> np.ndarray:
    """Noise as the cutout pipeline delivers it: native noise resampled by Lanczos-3.

    Native pixels get sky noise ``sigma`` plus, when ``image`` is given, the photon noise of
    the source (variance image / electrons_per_unit).  Resampling onto the common grid
    lowers the per-pixel noise (by up to ~21% at a half-pixel shift) and correlates
    neighbouring pixels, as in real cutouts.

    Parameters
    ----------
    sigma : (n_bands,) native sky noise per pixel; shifts : (n_bands, 2) fractional (x, y)
    shifts; image : (n_bands, stamp, stamp) noise-free image; electrons_per_unit : (n_bands,)

    Returns
    -------
    ndarray (n_bands, stamp, stamp)
    """
    taps = 2 * LANCZOS_A
    sigma = np.asarray(sigma, dtype=float)[:, None, None]
    if image is not None:
        # the native pixels feeding output pixel (y, x) are y..y+5: centre the image on them
        source = np.pad(np.maximum(image, 0.0), ((0, 0), (LANCZOS_A - 1, LANCZOS_A), (LANCZOS_A - 1, LANCZOS_A)),
                        mode="edge")
        sigma = np.sqrt(sigma ** 2 + source / np.asarray(electrons_per_unit, dtype=float)[:, None, None])
    white = rng.standard_normal((len(shifts), stamp + taps - 1, stamp + taps - 1)) * sigma
    wx, wy = lanczos_weights(shifts[:, 0]), lanczos_weights(shifts[:, 1])
    windows = np.lib.stride_tricks.sliding_window_view(white, taps, axis=2)      # (b, y, x, j)
    along_x = np.einsum("byxj,bj->byx", windows, wx)
    windows = np.lib.stride_tricks.sliding_window_view(along_x, taps, axis=1)    # (b, y, x, j)
    return np.einsum("byxj,bj->byx", windows, wy)
