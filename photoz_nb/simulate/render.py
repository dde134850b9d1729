"""Analytic Fourier-space rendering of bulge + disk galaxies through a Moffat core + wing PSF.

Every profile is known by its Fourier transform (FT), so a galaxy seen through a PSF and
integrated over square pixels is a product in Fourier space: ``profile x PSF x pixel``.
One batched inverse real FFT (float32: the stamps are stored in float32) on a padded grid,
then a crop, gives the stamp; a sub-pixel position is a phase factor.  Grids are cached per
FFT size, the elliptical radius is a quadratic form in (kx, ky), and the de Vaucouleurs FT
is a lookup in an evenly spaced table: ~0.3-0.5 ms per 5-band galaxy on one core.  This is
exact apart from periodic wrap-around (kept away by padding, see :func:`fft_size`) and
aliasing of power beyond the pixel Nyquist frequency (below 1% of the peak for PSFs
wider than 2 pixels; checked against GalSim in the tests).

Conventions: lengths in pixels; position angle in radians from +x (columns) towards +y
(rows); ``hlr`` is the half-light radius along the major axis (a thin disk keeps its
face-on major axis when inclined); ``q`` = minor/major axis ratio; ``(dx, dy)`` is the
offset of the centre from the geometric centre of the stamp, ``(stamp - 1) / 2``.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import numpy as np
import scipy.fft
from scipy.special import gamma, gammaincinv, kv

from .. import config
from ..measure.psf import PSF_WING_BETA, moffat_alpha  # noqa: F401 (render.PSF_WING_BETA, render.moffat_alpha)

PROFILES = ("exponential", "devaucouleurs")
#: r_d = hlr / EXP_HLR_OVER_SCALE for an exponential disk.
EXP_HLR_OVER_SCALE = 1.6783469900166608
#: PSF: a Moffat core I ~ (1 + r^2/alpha^2)^-beta plus a faint broad Moffat wing, as SDSS models
#: its PSFs (core + power-law wing; a Kolmogorov profile, until 1.2, has too little light in its
#: wings).  Per band since 1.4, derived from the real stars by realism.fit_psf_model (both real
#: fields, calibObj / stellar-locus stars; scripts/fit_psf_model.py prints it):
#: core beta = the nearest half-integer (elementary FT) to the median of realism.fit_fwhm's beta
#: (one Moffat, free beta, 21x21 native pixels; 30-33 stars per band): u 4.12 g 3.74 r 3.39
#: i 3.25 z 3.50.  The u median is pulled up by faint stars (its 3 stars of S/N > 300 fit 3.1-3.4).
PSF_CORE_BETA = {"u": 4.5, "g": 3.5, "r": 3.5, "i": 3.5, "z": 3.5}
#: Wing: least-squares fits of core + wing (beta 2.5) to 63x63 native pixels (+-12.5", the light
#: the r90/r50 of a 64x64 stamp sees; other sources masked, sky = median of the box border, taken
#: off the model too) of the stars with S/N > 300 (realism.star_sn; u 3, g 22, r 28, i 30, z 15).
#: Wing FWHM / core FWHM, common to the bands: median 4.40 (IQR 3.7-5.7) of the 93 fits with it
#: free (per band it is poorly constrained: g 5.9, r 4.1, i 3.9, z 5.0).  Wing fraction: median
#: per band with the scale fixed (IQR: u 0.11-0.13, g 0.04-0.08, r 0.08-0.13, i 0.12-0.14,
#: z 0.10-0.14).  Point sources then measure effective/core FWHM u 1.24 g 1.27 r 1.32 i 1.36 z 1.35
#: (real stars: u 1.21, g 1.26-1.29, r 1.29-1.35, i 1.32-1.38, z 1.32-1.40) and r90/r50 2.19 in r
#: (real 2.21-2.23).  A 31x31 fit box (the previous derivation) missed the outer wing: r fraction
#: 0.086, scale 4.26, r90/r50 2.18.
PSF_WING_SCALE = 4.40  # (the wing's beta, 2.5, is measure.psf.PSF_WING_BETA)
PSF_WING_FRACTION = {"u": 0.111, "g": 0.045, "r": 0.098, "i": 0.131, "z": 0.127}
#: How far each profile reaches, in half-light radii, for choosing the FFT padding
#: (exponential: 99.99% of the flux; de Vaucouleurs: 96%, its wings are faint).
EXTENT_HLR = {"exponential": 7.0, "devaucouleurs": 10.0}
FFT_SIZES = (128, 192, 256, 384, 512, 768, 1024)
#: A stamp must be at least this many PSF FWHMs wide to hold a point source's light.
MIN_STAMP_OVER_FWHM = 4


@dataclasses.dataclass(frozen=True)
class Component:
    """One elliptical light profile.

    Parameters
    ----------
    profile : {"exponential", "devaucouleurs"}
    flux : array of shape (n_bands,)
        Total flux in each band (any unit; the image is in the same unit per pixel).
    hlr : float
        Major-axis half-light radius in pixels (> 0).
    q : float
        Axis ratio b/a in (0, 1].
    pa : float
        Position angle of the major axis in radians.
    dx, dy : float
        Centre offset from the stamp centre, in pixels.
    """

    profile: str
    flux: np.ndarray
    hlr: float
    q: float = 1.0
    pa: float = 0.0
    dx: float = 0.0
    dy: float = 0.0

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"Component.profile: unknown profile {self.profile!r}; expected one of {PROFILES}")
        flux = np.atleast_1d(np.asarray(self.flux, dtype=float))
        object.__setattr__(self, "flux", flux)
        if flux.ndim != 1 or not np.isfinite(flux).all():
            raise ValueError(f"Component.flux: expected a finite 1-d array (one value per band), got {self.flux!r}")
        if (flux < 0).any():
            raise ValueError(f"Component.flux: fluxes must be >= 0 (band {int(np.argmax(flux < 0))} is "
                             f"{flux[flux < 0][0]}); a light profile cannot emit negative light")
        if not (np.isfinite(self.hlr) and self.hlr > 0):
            raise ValueError(f"Component.hlr: half-light radius must be a positive number of pixels, got {self.hlr}")
        if not (0 < self.q <= 1):
            raise ValueError(f"Component.q: axis ratio must be in (0, 1], got {self.q}")
        if not all(np.isfinite([self.pa, self.dx, self.dy])):
            raise ValueError(f"Component: pa, dx, dy must be finite, got {self.pa}, {self.dx}, {self.dy}")

    @property
    def extent(self) -> float:
        """Radius from the stamp centre (pixels) beyond which this component is negligible."""
        return float(np.hypot(self.dx, self.dy) + EXTENT_HLR[self.profile] * self.hlr)


# -- profile Fourier transforms (unit flux, unit half-light radius) ----------------
def exponential_ft(kr: np.ndarray) -> np.ndarray:
    """FT of a unit-flux exponential disk of half-light radius 1 at wavenumber ``kr``."""
    return (1.0 + (kr / EXP_HLR_OVER_SCALE) ** 2) ** -1.5


@functools.lru_cache(maxsize=1)
def _devaucouleurs_table() -> tuple[np.ndarray, np.ndarray]:
    """(log k, FT) of the unit de Vaucouleurs profile, from a log-spaced Hankel transform.

    FFTLog (scipy.fft.fht) computes A(k) = int a(r) J0(kr) k dr exactly for a log-sampled
    a(r); with a = r I(r) the 2-d FT is 2 pi A(k) / k.  Takes ~5 ms; agrees with GalSim's
    ``DeVaucouleurs.kValue`` to 1e-6 for k in [1e-3, 100] / hlr.  ``log k`` is evenly
    spaced, so a lookup is an index computation (see :func:`_devaucouleurs_lookup`).
    """
    b = gammaincinv(8, 0.5)  # I ~ exp(-b r^(1/4)) has half its light inside r = 1
    log_r = np.linspace(np.log(1e-10), np.log(1e5), 1 << 14)
    dln = log_r[1] - log_r[0]
    r = np.exp(log_r)
    offset = scipy.fft.fhtoffset(dln, mu=0.0)
    transform = scipy.fft.fht(np.exp(-b * r ** 0.25) * r, dln, mu=0.0, offset=offset)
    k = np.exp(offset) / r[::-1]
    flux = 8 * np.pi * gamma(8) / b ** 8  # 2 pi int I r dr, with r = s^4
    ft = 2 * np.pi * transform / k / flux
    keep = (k > 1e-3) & (k < 1e3)  # FFTLog rings outside; below 1e-3 the FT is 1 to 1e-5
    return np.log(k[keep]), ft[keep]


@functools.lru_cache(maxsize=1)
def _devaucouleurs_lerp() -> tuple[float, float, np.ndarray, np.ndarray]:
    """(log k of the first entry, 1 / step in log k, FT, FT differences) of the table."""
    log_k, ft = _devaucouleurs_table()
    step = (log_k[-1] - log_k[0]) / (len(log_k) - 1)
    return float(log_k[0]), float(1.0 / step), ft, np.append(np.diff(ft), 0.0)


def _devaucouleurs_lookup(log_kr2: np.ndarray) -> np.ndarray:
    """Linear interpolation of the table in log k at log(kr^2), clipped to the table's range.

    Same numbers as ``np.interp`` on the table, ~5x faster (no search: the grid is even).
    Below the table (kr < 1e-3) it returns the first entry, 1 - O(1e-5).
    """
    log_k0, inv_step, ft, dft = _devaucouleurs_lerp()
    position = log_kr2 * (0.5 * inv_step) - log_k0 * inv_step
    np.clip(position, 0, len(ft) - 1, out=position)
    index = position.astype(np.intp)
    position -= index
    dtype = log_kr2.dtype
    return ft.astype(dtype, copy=False)[index] + position * dft.astype(dtype, copy=False)[index]


def devaucouleurs_ft(kr: np.ndarray) -> np.ndarray:
    """FT of a unit-flux de Vaucouleurs profile of half-light radius 1 at ``kr``."""
    log_k, ft = _devaucouleurs_table()
    kr = np.asarray(kr, dtype=float)
    log_kr = np.log(np.maximum(kr, 1e-300))
    out = _devaucouleurs_lookup(2 * log_kr)
    out[log_kr < log_k[0]] = 1.0
    # beyond the table the FT falls as a power law: continue it from the last two points
    tail = log_kr > log_k[-1]
    if tail.any():
        slope = np.log(ft[-1] / ft[-2]) / (log_k[-1] - log_k[-2])
        out[tail] = ft[-1] * np.exp(slope * (log_kr[tail] - log_k[-1]))
    return out


PROFILE_FT = {"exponential": exponential_ft, "devaucouleurs": devaucouleurs_ft}


def moffat_ft(k: np.ndarray, fwhm: float, beta: float) -> np.ndarray:
    """FT of a unit-flux untruncated Moffat PSF: 2^(1-nu) / Gamma(nu) x^nu K_nu(x), x = k alpha, nu = beta-1."""
    nu = beta - 1.0
    x = np.maximum(np.asarray(k, dtype=float) * moffat_alpha(fwhm, beta), 1e-8)
    return np.where(x <= 1e-8, 1.0, 2.0 ** (1 - nu) / gamma(nu) * x ** nu * kv(nu, x))


@functools.lru_cache(maxsize=None)
def moffat_polynomial(beta: float) -> tuple[float, ...]:
    """c_0..c_n of :func:`moffat_ft` = exp(-x) sum_j c_j x^j for half-integer beta (nu = beta - 1 = n + 1/2,
    where K_nu is elementary): c_j = (2n-j)! n! 2^j / ((2n)! (n-j)! j!); e.g. beta 4.5: 1, 1, 2/5, 1/15."""
    n = beta - 1.5
    if not (n >= 0 and n == int(n)):
        raise ValueError(f"moffat_ft_half_integer: beta must be a half-integer >= 1.5, got {beta}")
    n, f = int(n), math.factorial
    return tuple(f(2 * n - j) * f(n) * 2 ** j / (f(2 * n) * f(n - j) * f(j)) for j in range(n + 1))


@functools.lru_cache(maxsize=64)
def _moffat_polynomial_table(betas: tuple) -> np.ndarray:
    """(len(betas), max degree + 1) float32 coefficients, zero-padded at the high degrees."""
    coeffs = [moffat_polynomial(b) for b in betas]
    table = np.zeros((len(coeffs), max(map(len, coeffs))), dtype=np.float32)
    for row, c in zip(table, coeffs):
        row[:len(c)] = c
    return table


def moffat_ft_half_integer(k: np.ndarray, fwhm, beta) -> np.ndarray:
    """:func:`moffat_ft` for half-integer beta in closed form, float32: exp(-x) polynomial(x), x = k alpha.

    One exp per Fourier cell, as cheap as the Kolmogorov PSF it replaced.  ``k``: (...)
    wavenumbers; ``fwhm``: scalar or (n_bands,), giving (n_bands, ...); ``beta``: scalar or one
    per band (bands of lower degree get zero leading coefficients).
    """
    fwhm = np.asarray(fwhm, dtype=float)
    beta = np.broadcast_to(np.asarray(beta, dtype=float), fwhm.shape)
    table = _moffat_polynomial_table(tuple(beta.ravel().tolist()))
    expand = fwhm.shape + (1,) * np.ndim(k)
    alpha = moffat_alpha(fwhm, beta).astype(np.float32)
    x = alpha.reshape(expand) * k
    poly = np.empty_like(x)
    poly[...] = table[:, -1].reshape(expand)
    for j in range(table.shape[1] - 2, -1, -1):  # Horner
        poly *= x
        poly += table[:, j].reshape(expand)
    np.exp(-x, out=x)
    return np.multiply(x, poly, out=x)


def psf_bands(bands, n_bands: int) -> tuple[str, ...]:
    """The band of each of ``n_bands`` PSF FWHMs: ``bands`` (a name or names), default config.BANDS."""
    bands = tuple(config.BANDS) if bands is None else ((bands,) if isinstance(bands, str) else tuple(bands))
    if len(bands) != n_bands:
        raise ValueError(f"psf: {n_bands} PSF FWHM(s) need as many band names (the PSF shape is per band), "
                         f"got bands={bands}; pass e.g. bands=('r',) for a one-band render")
    unknown = [b for b in bands if b not in PSF_CORE_BETA]
    if unknown:
        raise ValueError(f"psf: unknown band(s) {unknown}; expected names from {tuple(PSF_CORE_BETA)}")
    return bands


def wing_fractions(bands, wing_scale: float = 1.0) -> np.ndarray:
    """The PSF wing's share of the light per band: PSF_WING_FRACTION x ``wing_scale`` (a field's,
    observe.draw_psf_wing_scale); a ValueError unless every share lies in [0, 1)."""
    fraction = np.array([PSF_WING_FRACTION[b] for b in bands]) * wing_scale
    if not (np.isfinite(fraction).all() and (fraction >= 0).all() and (fraction < 1).all()):
        raise ValueError(f"psf: wing_scale {wing_scale!r} gives wing fractions {np.round(fraction, 3).tolist()} "
                         f"in bands {list(bands)}; each must lie in [0, 1)")
    return fraction


def psf_ft(k: np.ndarray, fwhm, bands=None, wing_scale: float = 1.0) -> np.ndarray:
    """FT of the simulator's unit-flux PSF of core FWHM ``fwhm`` (n_bands,) in ``bands`` (default
    config.BANDS): per band a Moffat core + Moffat wing (PSF_CORE_BETA, ...) holding
    :func:`wing_fractions` of the light, float32, (n_bands, ...)."""
    fwhm = np.atleast_1d(np.asarray(fwhm, dtype=float))
    bands = psf_bands(bands, len(fwhm))
    fraction = wing_fractions(bands, wing_scale).astype(np.float32).reshape((-1,) + (1,) * np.ndim(k))
    out = moffat_ft_half_integer(k, fwhm, [PSF_CORE_BETA[b] for b in bands])
    out *= 1 - fraction
    wing = moffat_ft_half_integer(k, fwhm * PSF_WING_SCALE, PSF_WING_BETA)
    wing *= fraction
    out += wing
    return out


# -- rendering ----------------------------------------------------------------------
def fft_size(components, stamp: int = config.STAMP) -> int:
    """Smallest padded FFT size that keeps every component's wrap-around off the stamp."""
    reach = max(c.extent for c in components) + stamp / 2 + 4
    for n in FFT_SIZES:
        if n >= reach and n >= 2 * stamp:
            return n
    raise ValueError(f"render_stamp: a component reaches {reach - stamp / 2 - 4:.0f} pixels from the stamp centre "
                     f"(hlr x {max(EXTENT_HLR.values()):.0f} + offset), beyond what the largest FFT "
                     f"({FFT_SIZES[-1]} pixels) holds without wrap-around; largest hlr: "
                     f"{max(c.hlr for c in components):.1f} pixels")


def _check_render_inputs(components, psf_fwhm, stamp, bands=None):
    """(``psf_fwhm`` as an array, its bands), (None, None) for no PSF, after checking every input."""
    if not isinstance(stamp, (int, np.integer)) or isinstance(stamp, bool) or stamp < 8 or stamp % 2:
        raise ValueError(f"render_stamp: stamp must be an even number of pixels >= 8, got {stamp!r}")
    if len(components) == 0:
        raise ValueError("render_stamp: no components to render")
    n_bands = {len(c.flux) for c in components}
    if len(n_bands) != 1:
        raise ValueError(f"render_stamp: every component needs one flux per band; "
                         f"got flux lengths {[len(c.flux) for c in components]}")
    n_bands = n_bands.pop()
    off = [c for c in components if max(abs(c.dx), abs(c.dy)) > stamp / 2]
    if off:
        raise ValueError(f"render_stamp: stamp of {stamp} pixels is too small for a component centred at "
                         f"(dx, dy) = ({off[0].dx:.1f}, {off[0].dy:.1f}) pixels from its centre")
    if psf_fwhm is None:
        return None, None
    psf_fwhm = np.atleast_1d(np.asarray(psf_fwhm, dtype=float))
    if psf_fwhm.shape != (n_bands,):
        raise ValueError(f"render_stamp: psf_fwhm needs one FWHM per band ({n_bands}), got shape {psf_fwhm.shape}")
    if not (np.isfinite(psf_fwhm).all() and (psf_fwhm > 0).all()):
        raise ValueError(f"render_stamp: psf_fwhm must be finite and > 0 pixels (None for no PSF), got {psf_fwhm}")
    if stamp < MIN_STAMP_OVER_FWHM * psf_fwhm.max():
        raise ValueError(f"render_stamp: stamp of {stamp} pixels is too small for a PSF of FWHM "
                         f"{psf_fwhm.max():.1f} pixels (band {int(np.argmax(psf_fwhm))}): it must be at least "
                         f"{MIN_STAMP_OVER_FWHM} FWHM wide to hold a point source's light")
    return psf_fwhm, psf_bands(bands, n_bands)


class _Grid(NamedTuple):
    """float32 wavenumber grids (radians per pixel) of an n x n real FFT."""

    kx: np.ndarray     # (n//2 + 1,) float64, for the position phases
    ky: np.ndarray     # (n,) float64
    kx2: np.ndarray    # (1, n//2 + 1)
    ky2: np.ndarray    # (n, 1)
    kxky: np.ndarray   # (n, n//2 + 1)
    k: np.ndarray      # |k|, for the Moffat PSF
    pixel: np.ndarray  # FT of the one-pixel box: sinc(kx/2pi) sinc(ky/2pi)
    k_max: float
    #: rows 0..n/2 hold every value of a function of (|kx|, |ky|): row n - j repeats row j exactly
    #: (fftfreq is symmetric), so such a function is computed on ``k[:n//2 + 1]`` and expanded
    #: with ``[:, unfold]``, the same numbers at half the cost
    unfold: np.ndarray


@functools.lru_cache(maxsize=8)
def _frequency_grid(n: int) -> _Grid:
    ky = 2 * np.pi * np.fft.fftfreq(n)
    kx = 2 * np.pi * np.fft.rfftfreq(n)
    f32 = np.float32
    return _Grid(kx, ky, (kx ** 2)[None, :].astype(f32), (ky ** 2)[:, None].astype(f32),
                 np.outer(ky, kx).astype(f32), np.hypot(kx[None, :], ky[:, None]).astype(f32),
                 np.outer(np.sinc(ky / (2 * np.pi)), np.sinc(kx / (2 * np.pi))).astype(f32),
                 float(np.hypot(kx.max(), np.abs(ky).max())), np.r_[0:n // 2 + 1, n // 2 - 1:0:-1])


def render_stamp(components, psf_fwhm, stamp: int = config.STAMP, n_fft: int | None = None,
                 bands=None, wing_scale: float = 1.0) -> np.ndarray:
    """Noise-free image of ``components`` seen through the PSF (:func:`psf_ft`), pixel-integrated.

    Parameters
    ----------
    components : sequence of Component
        All with the same number of bands.
    psf_fwhm : array of shape (n_bands,) or None
        PSF core FWHM per band in pixels (> 0); None for no PSF (the bare profiles).  The PSF
        is a Moffat core plus a faint broad Moffat wing, its shape per band, see :func:`psf_ft`.
    stamp : int
        Side of the square output, even; at least 4 PSF FWHMs.
    n_fft : int, optional
        Padded FFT size; by default the smallest that keeps wrap-around off the stamp.
    bands : str or sequence of str, optional
        The band of each PSF FWHM (its PSF shape); default config.BANDS.
    wing_scale : float
        The field's PSF wing, relative to the survey median (:func:`wing_fractions`).

    Returns
    -------
    ndarray of shape (n_bands, stamp, stamp), float32, flux per pixel.
    """
    return render_groups([components], psf_fwhm, stamp, n_fft, bands, wing_scale)[0]


def render_groups(groups, psf_fwhm, stamp: int = config.STAMP, n_fft: int | None = None,
                  bands=None, wing_scale: float = 1.0) -> np.ndarray:
    """Separate images of groups of components on one grid through one PSF.

    Used to get a galaxy and its neighbours apart (their sum is the stamp) from one set of
    Fourier grids and one batched inverse FFT.  The FFT size is chosen for all the groups
    together, so each group's image is the same whatever else is rendered with it.

    Returns
    -------
    ndarray of shape (n_groups, n_bands, stamp, stamp), float32.
    """
    everything = [c for group in groups for c in group]
    psf_fwhm, bands = _check_render_inputs(everything, psf_fwhm, stamp, bands)
    if any(len(group) == 0 for group in groups):
        raise ValueError("render_groups: every group needs at least one component")
    n = n_fft or fft_size(everything, stamp)
    grid = _frequency_grid(n)
    transfer = grid.pixel
    if psf_fwhm is not None:  # PSF x pixel, per band, both even in ky: computed on half the rows
        half = slice(0, n // 2 + 1)
        transfer = psf_ft(grid.k[half], psf_fwhm, bands, wing_scale)
        transfer *= grid.pixel[half]
        transfer = transfer[:, grid.unfold]
    ft = np.empty((len(groups), len(everything[0].flux), n, n // 2 + 1), dtype=np.complex64)
    for out, group in zip(ft, groups):
        _group_ft(group, grid, transfer, out)
    # the inverse 2-d FFT as two 1-d passes, the second only over the stamp's rows
    half = stamp // 2  # the grid origin lands on stamp index stamp/2
    rows = np.r_[n - half:n, 0:half]
    columns = scipy.fft.ifft(ft, axis=-2, workers=1, overwrite_x=True)[..., rows, :]
    return np.ascontiguousarray(scipy.fft.irfft(columns, n=n, axis=-1, workers=1)[..., rows])


def _group_ft(components, grid: _Grid, transfer: np.ndarray, out: np.ndarray) -> None:
    """Sum of the components' flux-weighted FTs times ``transfer`` (PSF x pixel) into ``out``.

    ``out``: (n_bands, n, n//2+1) complex64.  Components sharing a centre (bulge and disk)
    share one phase factor, applied once to the sum of their real FTs.
    """
    for i, ((dx, dy), parts) in enumerate(_by_centre(components).items()):
        real = parts[0].flux.astype(np.float32)[:, None, None] * _shape_ft(parts[0], grid)
        for c in parts[1:]:
            real += c.flux.astype(np.float32)[:, None, None] * _shape_ft(c, grid)
        real *= transfer
        # position relative to the grid origin, which sits half a pixel right/below the stamp centre
        phase = np.outer(np.exp(-1j * grid.ky * (dy - 0.5)).astype(np.complex64),
                         np.exp(-1j * grid.kx * (dx - 0.5)).astype(np.complex64))
        if i == 0:
            np.multiply(real, phase, out=out)
        else:
            out += real * phase


def _by_centre(components) -> dict:
    groups: dict = {}
    for c in components:
        groups.setdefault((float(c.dx), float(c.dy)), []).append(c)
    return groups


def _shape_ft(c: Component, grid: _Grid) -> np.ndarray:
    """Unit-flux FT of one centred component on the grid (real: the profiles are symmetric), float32.

    (k_major^2 + q^2 k_minor^2) hlr^2 is a quadratic form in (kx, ky): three terms.
    """
    cos, sin, q2 = np.cos(c.pa), np.sin(c.pa), c.q ** 2
    scale = c.hlr ** 2 / (EXP_HLR_OVER_SCALE ** 2 if c.profile == "exponential" else 1.0)
    a = np.float32(scale * (cos * cos + q2 * sin * sin))
    b = np.float32(scale * 2 * cos * sin * (1 - q2))
    d = np.float32(scale * (sin * sin + q2 * cos * cos))
    kr2 = a * grid.kx2 + d * grid.ky2
    kr2 += b * grid.kxky
    if c.profile == "exponential":  # (1 + (k r_d)^2)^-1.5
        kr2 += 1
        out = np.sqrt(kr2)
        out *= kr2
        return np.reciprocal(out, out=out)
    if c.hlr * grid.k_max >= np.exp(_devaucouleurs_table()[0][-1]):  # beyond the table: exact tail
        return devaucouleurs_ft(np.sqrt(kr2.astype(float))).astype(np.float32)
    with np.errstate(divide="ignore"):  # log 0 at k = 0: clipped to the table's start
        out = _devaucouleurs_lookup(np.log(kr2))
    out[0, 0] = 1.0  # unit flux exactly
    return out


def half_light_radius(image: np.ndarray, centre=None) -> float:
    """Radius (pixels) of the circle around ``centre`` holding half the image's flux.

    Pixels are sorted by the distance of their centres; the cumulative flux is
    interpolated at one half (as GalSim's ``calculateHLR`` does).  ``centre`` (x, y)
    defaults to the flux-weighted centroid.
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"half_light_radius: expected a 2-d image, got shape {image.shape}")
    y, x = np.indices(image.shape)
    total = image.sum()
    if centre is None:
        centre = ((image * x).sum() / total, (image * y).sum() / total)
    r = np.hypot(x - centre[0], y - centre[1]).ravel()
    order = np.argsort(r)
    cumulative = np.cumsum(image.ravel()[order])
    return float(np.interp(0.5 * total, cumulative, r[order]))
