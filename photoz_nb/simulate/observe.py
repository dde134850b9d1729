"""Observing conditions of SDSS imaging: PSF, sky noise, resampling, extinction, neighbours.

Numbers come from the two real SDSS fields measured in ``shared/NOTES-simulation.md``
(sky noise per native pixel, PSF FWHM of isolated stars) and from the SDSS literature
where noted.  Every draw takes a numpy Generator so one seed fixes everything.
"""
from __future__ import annotations

import numpy as np

from .. import config

BANDS = config.BANDS
#: Sky noise per native pixel (nanomaggies), measured for simulator 1.3 with the realism report's
#: own estimator ``realism.sky_noise`` (1.4826 MAD of source-masked pixels) on 60 real 64x64
#: cutouts per field (the real cutout pipeline, random positions), divided by that pipeline's
#: noise reduction, measured by passing white noise frames with the same WCSs through it
#: (0.862-0.872; the simulator's spline model gives 0.872 on average).  Mean of the two fields:
#:   cutout medians 004510-4-0030: u 0.0387 g 0.01287 r 0.0199 i 0.0292 z 0.1619
#:                  007264-3-0111: u 0.0423 g 0.01423 r 0.0235 i 0.0338 z 0.1340
#:   -> native      004510: 0.0449 0.01491 0.0230 0.0338 0.1868;  007264: 0.0487 0.01639 0.0269 0.0392 0.1545
#: The MAD of the native frame pixels themselves is biased (by -13% to +15%) because SDSS frame
#: pixels are quantised (integer counts x calibration: 90-360 distinct values in a 63x63 sky box):
#: e.g. r of 007264 gives 0.0308 / 0.0233 on the two halves of the frame, where a 3-sigma-clipped
#: standard deviation gives 0.0267 / 0.0266 (the NOTES values 0.0230 / 0.0282 are such MADs).
SKY_NOISE = {"u": 0.0468, "g": 0.01565, "r": 0.0250, "i": 0.0365, "z": 0.1707}
#: Field-to-field scatter of the sky noise (log-normal sigma, common to all bands + per band).
SKY_NOISE_SCATTER = (0.10, 0.04)
#: r-band seeing, the PSF's Moffat *core* FWHM (see render.psf_ft), log-normal, clipped.  Until 1.2
#: the median 1.30" was the two fields' Gaussian-fit FWHM (1.08", 1.49"), which the PSF's wings
#: widen; realism.fit_fwhm's Moffat core of the same stars gives 0.921" and 1.325": median =
#: their geometric mean 1.105", and the clip range scaled by the same 1.105 / 1.30.
SEEING_R_MEDIAN, SEEING_R_SIGMA_LN, SEEING_R_RANGE = 1.105, 0.17, (0.72, 1.87)
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
#: The real cutouts (photoz_nb.sdss.cutouts.resample) interpolate with a cubic spline (scipy
#: map_coordinates, order 3, with prefilter): an infinite-support "cardinal" kernel, truncated here to
#: SPLINE_HALF_WIDTH native pixels each side.  It only filters zero-mean noise, so the truncated
#: weights are not renormalised: the noise they give is within 0.03% of the full kernel's.
SPLINE_HALF_WIDTH = 3
#: Pole of the cubic B-spline prefilter: its inverse filter is sqrt(3) z^|n| (Unser 1999).
SPLINE_POLE = np.sqrt(3.0) - 2.0


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


def _cubic_bspline(x: np.ndarray) -> np.ndarray:
    """Centred cubic B-spline beta3(x)."""
    ax = np.abs(x)
    return np.where(ax < 1, 2.0 / 3.0 - ax ** 2 + ax ** 3 / 2, np.where(ax < 2, (2 - ax) ** 3 / 6, 0.0))


def cubic_spline_weights(shift: np.ndarray, half_width: int = SPLINE_HALF_WIDTH) -> np.ndarray:
    """Weights of native pixels -half_width+1 .. half_width for the value at fractional ``shift``.

    Interpolating cubic spline (what ``scipy.ndimage.map_coordinates(order=3)`` computes): the
    B-spline coefficients are the data filtered by the inverse of (1, 4, 1)/6, impulse response
    sqrt(3) p^|n| with p = sqrt(3) - 2, and the value at t is sum_m beta3(t - m) c_m; so pixel j
    weighs sum_m beta3(t - m) sqrt(3) p^|m - j|.  Shape (..., 2 half_width); the exact weights of
    those pixels (the kernel's tail beyond them is dropped: rows sum to 1 - O(0.02)).
    """
    t = np.asarray(shift, dtype=float)[..., None, None]
    j = np.arange(-half_width + 1, half_width + 1)[:, None]   # native pixel
    m = np.arange(-1, 3)[None, :]                               # B-splines overlapping t in [0, 1]
    return (_cubic_bspline(t - m) * np.sqrt(3.0) * SPLINE_POLE ** np.abs(m - j)).sum(-1)


def resampling_noise_factor(shifts: np.ndarray) -> np.ndarray:
    """Per-pixel noise after cubic-spline resampling relative to before, for shifts (..., 2).

    0.76 at a half-pixel shift in both axes, 1 at none; 0.87 averaged over uniform shifts
    (the real cutouts measure 0.79-0.89 of the native noise, see realism.compare_sky_noise).
    """
    w = cubic_spline_weights(shifts)
    return np.sqrt((w ** 2).sum(-1)).prod(-1)


def resampled_noise(rng: np.random.Generator, sigma: np.ndarray, shifts: np.ndarray,
                    stamp: int = config.STAMP, image: np.ndarray | None = None,
                    electrons_per_unit: np.ndarray | None = None) -> np.ndarray:
    """Noise as the cutout pipeline delivers it: native noise resampled by a cubic spline.

    Native pixels get sky noise ``sigma`` plus, when ``image`` is given, the photon noise of
    the source (variance image / electrons_per_unit).  Resampling onto the common grid
    lowers the per-pixel noise (by up to ~24% at a half-pixel shift) and correlates
    neighbouring pixels, with the same interpolation as :func:`photoz_nb.sdss.cutouts.resample`.

    Parameters
    ----------
    sigma : (n_bands,) native sky noise per pixel (>= 0); shifts : (n_bands, 2) fractional
    (x, y) shifts in [0, 1]; image : (n_bands, stamp, stamp) noise-free image;
    electrons_per_unit : (n_bands,) photo-electrons per image unit (> 0)

    Returns
    -------
    ndarray (n_bands, stamp, stamp), float32
    """
    sigma, shifts, electrons = _check_noise_inputs(sigma, shifts, stamp, image, electrons_per_unit)
    taps = 2 * SPLINE_HALF_WIDTH
    sigma = sigma[:, None, None]
    if image is not None:
        # the native pixels feeding output pixel (y, x) are y..y+taps-1: centre the image on them
        edge = np.clip(np.arange(stamp + taps - 1) - (SPLINE_HALF_WIDTH - 1), 0, stamp - 1)  # edge padding
        variance = np.maximum(image, 0.0) / electrons[:, None, None].astype(np.float32)
        variance += (sigma ** 2).astype(np.float32)
        sigma = np.sqrt(variance)[:, edge][:, :, edge]
    white = rng.standard_normal((len(shifts), stamp + taps - 1, stamp + taps - 1))
    white = (white * sigma).astype(np.float32)
    # separable spline filter: ``taps`` shifted multiply-adds along x, then along y
    wx = cubic_spline_weights(shifts[:, 0]).astype(np.float32)[:, :, None, None]
    wy = cubic_spline_weights(shifts[:, 1]).astype(np.float32)[:, :, None, None]
    along_x = wx[:, 0] * white[:, :, :stamp]
    for j in range(1, taps):
        along_x += wx[:, j] * white[:, :, j:j + stamp]
    out = wy[:, 0] * along_x[:, :stamp]
    for j in range(1, taps):
        out += wy[:, j] * along_x[:, j:j + stamp]
    return out


def _check_noise_inputs(sigma, shifts, stamp, image, electrons_per_unit):
    """Arrays of the noise model's inputs; a ValueError naming any that is non-physical."""
    sigma = np.asarray(sigma, dtype=float)
    shifts = np.asarray(shifts, dtype=float)
    n_bands = len(sigma)
    if sigma.ndim != 1 or not (np.isfinite(sigma).all() and (sigma >= 0).all()):
        raise ValueError(f"resampled_noise: sigma (sky noise per band) must be finite and >= 0, got {sigma}")
    if shifts.shape != (n_bands, 2) or not ((shifts >= 0) & (shifts <= 1)).all():
        raise ValueError(f"resampled_noise: shifts must be (n_bands={n_bands}, 2) fractions in [0, 1], "
                         f"got shape {shifts.shape}: {shifts.tolist() if shifts.size <= 10 else '...'}")
    if image is not None:
        if np.shape(image) != (n_bands, stamp, stamp):
            raise ValueError(f"resampled_noise: image must have shape {(n_bands, stamp, stamp)}, "
                             f"got {np.shape(image)}")
        electrons = np.asarray(electrons_per_unit if electrons_per_unit is not None else np.nan, dtype=float)
        if electrons.shape != (n_bands,) or not (electrons > 0).all():
            raise ValueError(f"resampled_noise: electrons_per_unit must be {n_bands} numbers > 0 "
                             f"(photo-electrons per image unit), got {electrons_per_unit}")
        return sigma, shifts, electrons
    return sigma, shifts, None
