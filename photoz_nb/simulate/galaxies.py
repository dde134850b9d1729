"""The galaxy population: noise-free galaxies drawn from the real SDSS MGS, their morphology and observing conditions.

Redshifts, dereddened ugriz fluxes and Petrosian r magnitudes are new draws from a Gaussian
mixture fitted by extreme deconvolution to the real Main Galaxy Sample galaxies of kcorrect's
test catalogue (see :mod:`photoz_nb.simulate.population`): true values without SDSS's
measurement noise, any number of them, within the paper's cuts (r_petro <= 17.8,
0 < z <= 0.4).  Each takes the position and Galactic reddening of a random real galaxy.
Morphology (bulge + inclined disk, sizes from the Shen et al. 2003 size-luminosity
relations) and observing conditions (PSF, sky noise, neighbours) are drawn per galaxy.  The
real colours hold each galaxy's own dust at its own inclination, and so do the drawn ones, so
no reddening is added: each disk's inclination is drawn instead to agree with its colour
(:func:`draw_cos_inclination`).  :func:`make_catalog` returns the catalogue of the data
contract plus the per-galaxy render parameters.

Catalogue photometry is *measured* on the stamps, as SDSS measures it
(:mod:`photoz_nb.simulate.photometry`): each stamp (galaxy, neighbours, noise: the bytes of
``images.npy``) is deblended like SDSS's deblender would, then a model flux (the galaxy's own
profile fitted in each band) and a Petrosian flux within 2 R_P (R_P from r) are measured on it.
The true fluxes are noise free, so images and catalogue magnitudes each carry their noise once.
``mag_*`` are the measured, dereddened asinh model magnitudes with errors ``magerr_*``, ``petromag_*``
the Petrosian ones; the true values are kept as ``mag_true_*``.  ``petro_r``, on which the paper's
cut r <= 17.8 is made, stays the population's (noise-free) Petrosian magnitude: see
:func:`catalog_table`.
"""
from __future__ import annotations

import dataclasses
import functools
import gc

import numpy as np
from astropy.table import Table
from scipy.special import betaincinv, ndtr, ndtri

from .. import catalog, config
from ..mgs import ASINH_SOFTENING, MGS_SHA256, POGSON, asinh_mag, asinh_mag_error, mgs_path  # noqa: F401 (re-exported)
from ..stats import nanomaggies_to_mag, sigma_mad
from . import observe, population, sed
from .photometry import (as_dict, measured_photometry, neighbour_components, own_components,  # noqa: F401
                         photometry_columns, photometry_noise, provisional_photometry, render_galaxy, set_photometry)
from .real import (ROW_BLOCK, SIMULATED_OBJID_OFFSET, Population, by_blocks,  # noqa: F401 (galaxies.X)
                   load_real_galaxies)
from .streams import (STREAM_MORPHOLOGY, STREAM_NEIGHBOURS, STREAM_NOISE, STREAM_OBSERVING,  # noqa: F401 (galaxies.X)
                      STREAM_PHOTOMETRY, STREAM_PSF_SHAPE, STREAM_SAMPLE, stream)

BANDS = config.BANDS
R = BANDS.index("r")
#: Early types by colour (Strateva et al. 2001): dereddened u - r above this.
EARLY_TYPE_U_MINUS_R = 2.22
#: Shen et al. 2003, Table 1 (r-band Petrosian R50 in kpc, h = 0.7; concentration-selected).
SHEN_EARLY = dict(a=0.60, b=-4.63, sigma1=0.48, sigma2=0.25, m0=-20.52)
SHEN_LATE = dict(alpha=0.21, beta=0.53, gamma=-1.31, sigma1=0.48, sigma2=0.25, m0=-20.52)
#: Intrinsic half-light radius of the main component (bulge of early types, disk of late types)
#: over the drawn Shen et al. 2003 R50.  Shen's R50 is SDSS's Petrosian petroR50_r of the observed,
#: seeing-blurred image (their Sersic radii are the seeing-corrected ones), and a Petrosian R50 is
#: 0.71 x the half-light radius of a de Vaucouleurs profile: using R50 as the intrinsic radius
#: made the stamps' measured R50 too small.  Fitted by scripts/fit_morphology.py (grid, chi^2 of the
#: median R50 and R90/R50 in r bins 16-17, 17-17.8, 17.8-18.5 against 20 real galaxies with
#: 14 < r < 18.5 of the uncrowded shared fields 001035-6-0017 (8), 004510-4-0030 (9), 007264-3-0111
#: (3), measured with realism's curve of growth on both): late types 1.25 (was 1.0), which also
#: brings their measured Petrosian R50 in kpc onto Shen's (ratio 0.78 before, 0.97 after, ~300 late
#: types of a 1,500-galaxy build).  Early types: 0.9.  At 1.0, with the fitted bulge fractions, their
#: measured R50 came out 7-16 % above Shen's median (15 % noise-free); 0.9 brings them to 2-10 %
#: and fits the 20 real galaxies a little worse (chi^2 13.4 against 5.2 for the six medians; every
#: median within 2 sigma): Shen's 140,000 galaxies outweigh the 11 red ones of the frames.  With 1.8's
#: bulge fractions the early types' median R50 lies -7 / -2 / +2 / +13 % from Shen's in M_r -23..-19
#: (367 / 507 / 181 / 36 galaxies; scripts/fit_morphology.py --n 1500).
HLR_OVER_SHEN_R50 = {"early": 0.9, "late": 1.25}
#: r-band bulge-to-total ratio: Beta distributions for early and late types, whose quantile each galaxy
#: takes by its rank in Petrosian flux deficit among its peers (draw_bulge_fraction).  Late types: mean
#: 0.05 (most disks nearly bulgeless).  Early types: mean 0.80 (a + b kept at 8.5), calibrated on the
#: whole real sample by `scripts/fit_bulge_fractions.py --n-fit 600 --seed 11`: quantiles p25-p90 of
#: r_model - r_petro with SDSS's model magnitude (the better of truncated deV and exp fits to the
#: simulated stamps) for red galaxies (u - r > 2.22; 475 simulated) -0.103 / -0.075 / -0.037 / +0.011
#: against -0.141 / -0.087 / -0.037 / +0.018 for the 7,577 real red galaxies: rms 0.020 (mean 0.55:
#: 0.090, median -0.026; 0.7: 0.045; 0.85: 0.023; 0.9: 0.035); blue (125) within 0.013 mag of the 2,234
#: real blue galaxies at every mean.  No bulge + disk reaches the real p10 (red -0.208, simulated -0.137):
#: real galaxies more concentrated than de Vaucouleurs' (Sersic n > 4) have no model here.  1.7's mean
#: 0.55, fitted to 20 galaxies of three frames, made noise-free r90/r50 above 2.86 rare (7 %; now 36 %).
#: That calibration's SDSS model fit kept b/a and angle at their starting values (least_squares' default
#: step did not move the float32 render; fixed in simulate.modelfit).  With the corrected fit the same run
#: gives red rms p25-p90 0.049 / 0.045 / 0.045 / 0.045 for means 0.55 / 0.7 / 0.8 / 0.9: no mean fits, the
#: simulated red r_model - r_petro spanning p25-p90 0.06-0.08 mag against the real 0.16 (too uniform a
#: structure, as the colour gradients: docs/information.md).  To recalibrate with the next population.
BULGE_FRAC_BETA = {"early": (6.8, 1.7), "late": (0.315, 5.985)}
#: Sizes of the second component relative to the first (uniform ranges).
DISK_OVER_BULGE_EARLY = (1.0, 2.0)   # early types: R50 is the bulge's
BULGE_OVER_DISK_LATE = (0.2, 0.5)    # late types: R50 is the disk's
HLR_RANGE_ARCSEC = (0.1, 30.0)
#: Bulge minus disk colour, (band - r) in mag: bulges are redder.
BULGE_COLOUR = {"u": 0.80, "g": 0.25, "r": 0.0, "i": -0.08, "z": -0.15}
#: Intrinsic disk thickness (edge-on b/a).
DISK_THICKNESS = 0.15
#: Masters et al. 2010: extinction of a spiral from face-on to edge-on, mag per band.
MASTERS_EDGE_ON_EXTINCTION = {"u": 0.7, "g": 0.6, "r": 0.5, "i": 0.4, "z": 0.3}
#: Colours whose residuals place a disk's inclination (u and z are too noisy).
INCLINATION_COLOURS = (("g", "r"), ("r", "i"))
#: Galaxies per (type x redshift bin) group in which colour residuals and Petrosian deficits are ranked.
PEER_GROUP, INCLINATION_MIN_GROUP = 250, 20
#: Largest copula correlation (a colour never fixes the inclination).
INCLINATION_RHO_MAX = 0.9
BULGE_Q_RANGE = (0.55, 1.0)
def sample_population(n: int | None, rng: np.random.Generator) -> Population:
    """``n`` new noise-free galaxies (None: as many as the real sample, 9,811), drawn with ``rng``.

    See :func:`photoz_nb.simulate.population.draw_population`.
    """
    if n is None:
        n = len(load_real_galaxies())
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"number of galaxies must be a positive integer or None, got n={n!r}")
    return population.draw_population(int(n), rng)


# -- morphology -------------------------------------------------------------------------
def shen_r50_kpc(abs_mag_r: np.ndarray, early: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half-light radius (kpc) drawn from the Shen et al. 2003 size-luminosity relations."""
    m = np.asarray(abs_mag_r, dtype=float)
    e, l = SHEN_EARLY, SHEN_LATE
    log_early = -0.4 * e["a"] * m + e["b"]
    log_late = (-0.4 * l["alpha"] * m + (l["beta"] - l["alpha"]) * np.log10(1 + 10 ** (-0.4 * (m - l["m0"])))
                + l["gamma"])
    mean = np.where(early, log_early, log_late) * np.log(10)
    p = np.where(early[:, None], [[e["sigma1"], e["sigma2"], e["m0"]]], [[l["sigma1"], l["sigma2"], l["m0"]]])
    sigma_ln = p[:, 1] + (p[:, 0] - p[:, 1]) / (1 + 10 ** (-0.8 * (m - p[:, 2])))
    return np.exp(mean + sigma_ln * rng.standard_normal(len(m)))


def disk_axis_ratio(cos_i: np.ndarray) -> np.ndarray:
    """Projected b/a of an oblate disk of thickness DISK_THICKNESS at inclination arccos(cos_i)."""
    return np.sqrt(cos_i ** 2 + DISK_THICKNESS ** 2 * (1 - cos_i ** 2))


# Inclination from colour (a Gaussian copula).  The real colours already hold each disk's
# dust at its own, unknown inclination, so rather than redden disks we draw the inclination
# that agrees with the colour.  Masters et al. 2010: dust reddens a disk by e L / L_edge in
# colour, with e its face-on to edge-on excess (0.1 mag in g-r and r-i), L = log10(a/b) and
# L_edge = log10(1 / DISK_THICKNESS); a galaxy with disk light fraction f_d, by f_d e L / L_edge.
# In a group of peers, let c be the colour residuals (covariance S), p = c . S^-1 e their
# projection along e (variance sigma_p^2 = e . S^-1 e), g the normal score of p and
# cos i = 1 - Phi(x), x = rho g + sqrt(1 - rho^2) N(0, 1): cos i stays uniform.  For Gaussian
# residuals E[c | g] = e g / sigma_p, and Cov(g, L) = rho kappa with kappa = Cov(X, L(X)) for
# X ~ N(0, 1) (Stein's lemma), so the slope of c on L is e rho kappa / (sigma_p Var L): along e
# in every colour (S^-1 balances them) and equal to f_d e / L_edge for
# rho = f_d sigma_p Var(L) / (kappa L_edge).
def _reddening_vector() -> np.ndarray:
    """Masters et al. 2010 face-on to edge-on excess of INCLINATION_COLOURS (mag)."""
    a = MASTERS_EDGE_ON_EXTINCTION
    return np.array([a[x] - a[y] for x, y in INCLINATION_COLOURS])


@functools.cache
def _rho_per_sigma_p() -> float:
    """Var(L) / (kappa L_edge): rho = f_d sigma_p times this (see the comment above)."""
    x = ndtri((np.arange(100_000) + 0.5) / 100_000)  # equal-probability grid of X ~ N(0, 1)
    log_ab = -np.log10(disk_axis_ratio(ndtr(-x)))     # cos i = 1 - Phi(x)
    return float(log_ab.var() / (np.mean(x * log_ab) * -np.log10(DISK_THICKNESS)))


def peer_groups(z: np.ndarray, early: np.ndarray) -> np.ndarray:
    """Group of each galaxy: its type and a redshift bin of ~PEER_GROUP of its type."""
    group = np.empty(len(z), np.int64)
    for kind, rows in enumerate((np.flatnonzero(~early), np.flatnonzero(early))):
        n_bins = max(len(rows) // PEER_GROUP, 1)
        inner_edges = np.quantile(z[rows], np.linspace(0, 1, n_bins + 1)[1:-1]) if len(rows) else []
        group[rows] = 2 * np.searchsorted(inner_edges, z[rows], side="right") + kind
    return group


def group_rows(group: np.ndarray) -> list[np.ndarray]:
    """The row indices of each group of :func:`peer_groups`, in increasing row order within a group."""
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    return np.split(order, starts[1:])


def uniform_ranks(x: np.ndarray) -> np.ndarray:
    """(rank + 0.5) / n of each value of ``x`` (ties in row order): its quantile in (0, 1)."""
    return (np.argsort(np.argsort(x, kind="stable"), kind="stable") + 0.5) / len(x)


def _robust_covariance(c: np.ndarray) -> np.ndarray:
    """2 x 2 covariance of the columns of ``c`` from MADs (Gnanadesikan & Kettenring 1972)."""
    scale = np.maximum([sigma_mad(c[:, 0]), sigma_mad(c[:, 1])], 1e-3)  # 1 mmag floor: twins
    u, v = c[:, 0] / scale[0], c[:, 1] / scale[1]
    plus, minus = sigma_mad(u + v) ** 2, sigma_mad(u - v) ** 2
    corr = np.clip((plus - minus) / max(plus + minus, 1e-12), -0.95, 0.95)
    return np.outer(scale, scale) * np.array([[1.0, corr], [corr, 1.0]])


def reddening_scores(flux: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g, sigma_p) per galaxy: normal score of its colour residual along the dust reddening
    among its group, and the group's sigma_p = sqrt(e . S^-1 e) (see the comment above)."""
    mag = nanomaggies_to_mag(flux)
    colours = np.column_stack([mag[:, BANDS.index(x)] - mag[:, BANDS.index(y)] for x, y in INCLINATION_COLOURS])
    e = _reddening_vector()
    score, sigma_p = np.zeros(len(flux)), np.zeros(len(flux))
    for rows in group_rows(group):
        if len(rows) < INCLINATION_MIN_GROUP:
            continue  # too few peers for a residual: g = 0, rho = 0 (independent inclination)
        w = np.linalg.solve(_robust_covariance(colours[rows]), e)
        score[rows] = ndtri(uniform_ranks(colours[rows] @ w))
        sigma_p[rows] = np.sqrt(e @ w)
    return score, sigma_p


def inclination_correlation(pop: Population, early: np.ndarray, disk_frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g, rho) of the copula that draws cos i: colour score and correlation per galaxy."""
    score, sigma_p = reddening_scores(pop.flux, peer_groups(pop.z, early))
    return score, np.minimum(disk_frac * sigma_p * _rho_per_sigma_p(), INCLINATION_RHO_MAX)


def draw_cos_inclination(pop: Population, early: np.ndarray, disk_frac: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """cos i of each disk: uniform, and lower (more inclined) for disks redder than their peers."""
    score, rho = inclination_correlation(pop, early, disk_frac)
    x = rho * score + np.sqrt(1 - rho ** 2) * rng.standard_normal(len(pop))
    return ndtr(-x)  # 1 - Phi(x)


def concentration_rank(pop: Population, group: np.ndarray) -> np.ndarray:
    """Each galaxy's rank in (0, 1) among its group by r_petro - r_model, its drawn Petrosian flux
    deficit: 1 for the galaxy whose Petrosian aperture misses most of its model light."""
    deficit = pop.petro_r - nanomaggies_to_mag(pop.flux[:, R])
    rank = np.zeros(len(pop))
    for rows in group_rows(group):
        rank[rows] = uniform_ranks(deficit[rows])
    return rank


def draw_bulge_fraction(pop: Population, early: np.ndarray) -> np.ndarray:
    """r-band B/T: the BULGE_FRAC_BETA quantile of the galaxy's :func:`concentration_rank` among
    peers of its type and redshift, so that the bulge-dominated are those whose real counterparts'
    Petrosian apertures missed most light (r_model - r_petro, deconvolved by the population)."""
    rank = concentration_rank(pop, peer_groups(pop.z, early))
    return np.where(early, betaincinv(*BULGE_FRAC_BETA["early"], rank), betaincinv(*BULGE_FRAC_BETA["late"], rank))


def split_bulge_disk(flux: np.ndarray, bulge_frac_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bulge and disk fluxes per band with the bulge redder by BULGE_COLOUR."""
    tilt = 10 ** (-0.4 * np.array([BULGE_COLOUR[b] for b in BANDS]))
    b = bulge_frac_r[:, None] * tilt
    frac = b / (b + 1 - bulge_frac_r[:, None])
    return flux * frac, flux * (1 - frac)


def draw_morphology(pop: Population, rng: np.random.Generator) -> dict:
    """Bulge + disk parameters, sizes in arcsec; fluxes dereddened (nanomaggies)."""
    n = len(pop)
    mag = nanomaggies_to_mag(pop.flux)
    early = (mag[:, 0] - mag[:, R]) > EARLY_TYPE_U_MINUS_R
    abs_mag_r = pop.petro_r - sed.distance_modulus(pop.z) - by_blocks(sed.kcorrection_r, pop.z, pop.coeffs)
    r50_kpc = shen_r50_kpc(abs_mag_r, early, rng)
    scale = np.where(early, HLR_OVER_SHEN_R50["early"], HLR_OVER_SHEN_R50["late"])
    r50_arcsec = scale * r50_kpc / (sed.angular_diameter_distance(pop.z) * 1e3) * 206264.806
    bulge_frac = draw_bulge_fraction(pop, early)
    second = np.where(early, rng.uniform(*DISK_OVER_BULGE_EARLY, n), rng.uniform(*BULGE_OVER_DISK_LATE, n))
    hlr_bulge = np.clip(np.where(early, r50_arcsec, r50_arcsec * second), *HLR_RANGE_ARCSEC)
    hlr_disk = np.clip(np.where(early, r50_arcsec * second, r50_arcsec), *HLR_RANGE_ARCSEC)
    cos_i = draw_cos_inclination(pop, early, 1 - bulge_frac, rng)
    q_disk = disk_axis_ratio(cos_i)
    q_bulge = rng.uniform(*BULGE_Q_RANGE, n)
    bulge_flux, disk_flux = split_bulge_disk(pop.flux, bulge_frac)
    return dict(early=early, abs_mag_r=abs_mag_r, r50_kpc=r50_kpc, bulge_frac=bulge_frac,
                hlr_bulge=hlr_bulge, hlr_disk=hlr_disk, q_bulge=q_bulge, q_disk=q_disk,
                inclination=np.degrees(np.arccos(cos_i)), pa=rng.uniform(0, np.pi, n),
                offset=rng.uniform(-0.5, 0.5, (n, 2)), bulge_flux=bulge_flux, disk_flux=disk_flux)


# -- observing conditions -----------------------------------------------------------------
def draw_observing(n: int, rng: np.random.Generator, psf_shape_rng: np.random.Generator) -> dict:
    """Observing conditions of each galaxy: those of its simulated field, then its own position.

    The fields' PSF FWHM (arcsec), native sky noise and Stripe 82 flag are drawn jointly per field
    (:func:`observe.draw_fields`, ``observe.GALAXIES_PER_FIELD`` random galaxies per field, ``field``
    the galaxy's field index), and the fields' PSF wing scale (:func:`observe.draw_psf_wing_scale`)
    from ``psf_shape_rng``; the resampling shifts, and with them the delivered noise, per galaxy.
    """
    fields = observe.draw_fields(rng, observe.n_fields(n))
    wing_scale = observe.draw_psf_wing_scale(psf_shape_rng, observe.n_fields(n))
    field = observe.assign_fields(rng, n)
    stripe82, noise = fields["stripe82"][field], fields["noise"][field]
    shifts = rng.random((n, len(BANDS), 2))
    return dict(psf=fields["psf"][field], psf_wing_scale=wing_scale[field], stripe82=stripe82,
                noise_native=noise, shifts=shifts,
                noise=noise * by_blocks(observe.resampling_noise_factor, shifts),
                electrons_per_nmgy=observe.electrons_per_nmgy(stripe82), field=field)


def draw_neighbours(pop: Population, rng: np.random.Generator, max_neighbours: int = 2) -> dict:
    """Neighbour galaxies in the stamp: count, dereddened fluxes, shapes, positions (pixels)."""
    n = len(pop)
    count = rng.choice(len(observe.NEIGHBOUR_PROBS), size=n, p=observe.NEIGHBOUR_PROBS)
    shape = (n, max_neighbours)
    donor = rng.integers(n, size=shape)
    dmag = rng.uniform(*observe.NEIGHBOUR_DMAG, shape)
    flux = pop.flux[donor] * 10 ** (-0.4 * dmag)[..., None]
    flux[np.arange(max_neighbours)[None, :] >= count[:, None]] = 0.0
    median, sigma, lo, hi = observe.NEIGHBOUR_HLR_ARCSEC
    r_lo, r_hi = observe.NEIGHBOUR_RADIUS_PIX
    radius = np.sqrt(rng.uniform(r_lo ** 2, r_hi ** 2, shape))
    angle = rng.uniform(0, 2 * np.pi, shape)
    mag = nanomaggies_to_mag(pop.flux)
    return dict(count=count, flux=flux, hlr=np.clip(median * np.exp(sigma * rng.standard_normal(shape)), lo, hi),
                q=rng.uniform(0.3, 1.0, shape), pa=rng.uniform(0, np.pi, shape),
                x=radius * np.cos(angle), y=radius * np.sin(angle),
                devaucouleurs=(mag[donor, 0] - mag[donor, R]) > EARLY_TYPE_U_MINUS_R)


# -- the catalogue ----------------------------------------------------------------------------
@dataclasses.dataclass
class Draws:
    """Everything drawn for a sample before any image is rendered (one row per galaxy)."""

    pop: Population
    morph: dict
    obs: dict
    nb: dict
    transmission: np.ndarray  # Milky-Way transmission per band, (n, n_bands)
    params: dict              # what the renderer needs (see render_parameters)

    def __len__(self):
        return len(self.pop)


def draw_galaxies(n: int | None, seed: int) -> Draws:
    """Population, morphology, observing conditions and neighbours of ``n`` galaxies.

    Vectorised and linear in n, with kcorrect and the spline weights on blocks of rows
    (:func:`by_blocks`): the paper's 516,525 galaxies take ~4 s, ~0.5 GB of arrays (~1 kB
    per galaxy) and ~0.75 GB of resident memory at the peak, on a 2-core machine.
    """
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0):
        raise ValueError(f"number of galaxies must be a positive integer or None, got n={n!r}")
    pop = sample_population(n, stream(seed, STREAM_SAMPLE))
    morph = draw_morphology(pop, stream(seed, STREAM_MORPHOLOGY))
    obs = draw_observing(len(pop), stream(seed, STREAM_OBSERVING), stream(seed, STREAM_PSF_SHAPE))
    nb = draw_neighbours(pop, stream(seed, STREAM_NEIGHBOURS))
    transmission = observe.extinction_factor(pop.ebv)
    draws = Draws(pop, morph, obs, nb, transmission,
                  render_parameters(morph, obs, nb, transmission))
    _collect_import_cycles()
    return draws


@functools.cache
def _collect_import_cycles() -> None:
    """Collect the reference cycles that the first draw's imports leave (once per process).

    Importing kcorrect and astropy (tables, cosmology) leaves cycles of caught exceptions whose
    tracebacks hold the calling frames, hence the clones' and :func:`draw_galaxies`' arrays
    (~1.7 kB per galaxy), until Python's next full collection: maybe never in a build.
    """
    gc.collect()


def make_catalog(n: int | None, seed: int, split_fractions=(0.72, 0.08, 0.2),
                 progress: bool = False) -> tuple[Table, dict]:
    """The data-contract catalogue and the render parameters of ``n`` simulated galaxies.

    Renders and measures every galaxy's stamp in this process (~2 ms each) for its photometry;
    :func:`photoz_nb.simulate.build.build_dataset` gets the same numbers from the images it
    renders in parallel.

    Parameters
    ----------
    n : int or None
        Number of galaxies; None for every real galaxy passing the cuts (9,811).
    seed : int
        Fixes every random choice (same seed, same catalogue and parameters).
    split_fractions : (train, val, test)
    progress : bool
        Show a progress bar while the galaxies' stamps are measured.

    Returns
    -------
    (Table, dict)
        The catalogue (contract columns plus truths) and a dict of per-galaxy arrays
        that :func:`photoz_nb.simulate.build.render_chunk` turns into images.
    """
    draws = draw_galaxies(n, seed)
    phot = as_dict(measured_photometry(draws.params, seed, progress))
    return catalog_table(draws, seed, split_fractions, phot), draws.params


def catalog_table(draws: Draws, seed: int, split_fractions=(0.72, 0.08, 0.2), phot: dict | None = None) -> Table:
    """The catalogue of ``draws`` with the photometry ``phot`` measured on their stamps.

    Without ``phot`` the photometry is provisional (:func:`provisional_photometry`: what a build
    hands its writer until the stamps exist).  ``petro_r``, the magnitude of the paper's cut, is
    the population's noise-free Petrosian r, not the one measured on the stamp (``petromag_r``):
    the drawn population (fitted to the real joint distribution of z, colours and Petrosian r) is
    what fixes the sample, and the rows must be fixed before any stamp is rendered (a build writes
    them by row, resumably).  The measured Petrosian r (4,000 galaxies, seed 0) has a noise error of
    0.013 mag near r = 17.8 (median), but differs from the population's by 0.086 mag (sigma_MAD;
    median +0.002): the renderer's bulge + disk profiles do not know the drawn r_model - r_petro.
    A cut on it would select on the morphology model's errors (0.7 % of the rows would fall beyond
    17.8) rather than on SDSS's noise.
    """
    if phot is None:
        phot = provisional_photometry(draws.params)
    return _catalog_table(draws.pop, draws.morph, draws.obs, draws.nb, draws.transmission, phot,
                          split_fractions, seed)


def render_parameters(morph: dict, obs: dict, nb: dict, transmission: np.ndarray) -> dict:
    """Everything the renderer and the photometry need, in pixels and observed (reddened) nanomaggies."""
    pix = config.PIXEL_SCALE
    return dict(
        bulge_flux=morph["bulge_flux"] * transmission, disk_flux=morph["disk_flux"] * transmission,
        hlr_bulge=morph["hlr_bulge"] / pix, hlr_disk=morph["hlr_disk"] / pix,
        q_bulge=morph["q_bulge"], q_disk=morph["q_disk"], pa=morph["pa"],
        dx=morph["offset"][:, 0], dy=morph["offset"][:, 1],
        psf=obs["psf"] / pix, psf_wing_scale=obs["psf_wing_scale"], noise_native=obs["noise_native"],
        shifts=obs["shifts"],
        electrons_per_nmgy=obs["electrons_per_nmgy"],
        nb_flux=nb["flux"] * transmission[:, None, :], nb_hlr=nb["hlr"] / pix, nb_q=nb["q"], nb_pa=nb["pa"],
        nb_x=nb["x"], nb_y=nb["y"], nb_devaucouleurs=nb["devaucouleurs"],
    )


def _catalog_table(pop, morph, obs, nb, transmission, phot, split_fractions, seed) -> Table:
    flux_dered = morph["bulge_flux"] + morph["disk_flux"]
    flux_obs = flux_dered * transmission
    mags_true = nanomaggies_to_mag(flux_dered)
    measured = photometry_columns(phot, transmission)
    nb_dist = np.where(nb["flux"][..., R] > 0, np.hypot(nb["x"], nb["y"]), np.inf).min(axis=1)
    cols = {
        "objid": pop.objid, "ra": pop.ra, "dec": pop.dec, "z_spec": pop.z, "ebv": pop.ebv,
        **{f"{name}_{b}": measured[f"{name}_{b}"] for name in ("mag", "magerr") for b in BANDS},
        "petro_r": pop.petro_r,
        "b_over_a": morph["bulge_frac"] * morph["q_bulge"] + (1 - morph["bulge_frac"]) * morph["q_disk"],
        "psf_fwhm_r": obs["psf"][:, R], "n_neighbours": nb["count"].astype(np.int16),
        "snr_r": measured["snr_r"], "stripe82": obs["stripe82"],
        "split": catalog.assign_splits(len(pop), split_fractions, seed),
        # truths
        **{f"mag_true_{b}": mags_true[:, i] for i, b in enumerate(BANDS)},
        "is_real": pop.is_real, "parent_objid": pop.parent_objid, "early_type": morph["early"],
        "abs_mag_r": morph["abs_mag_r"], "r50_kpc": morph["r50_kpc"], "bulge_frac": morph["bulge_frac"],
        "hlr_bulge_arcsec": morph["hlr_bulge"], "hlr_disk_arcsec": morph["hlr_disk"],
        "q_bulge": morph["q_bulge"], "q_disk": morph["q_disk"], "inclination_deg": morph["inclination"],
        "position_angle_deg": np.degrees(morph["pa"]),
        "offset_x_pix": morph["offset"][:, 0], "offset_y_pix": morph["offset"][:, 1],
        "field_id": obs["field"],  # simulated field: its galaxies share PSF, sky noise, Stripe 82 (observe.draw_fields)
        **{f"psf_fwhm_{b}": obs["psf"][:, i] for i, b in enumerate(BANDS) if b != "r"},
        "psf_wing_scale": obs["psf_wing_scale"],  # the field's PSF wing / the survey median's (render.wing_fractions)
        **{f"noise_{b}": obs["noise"][:, i] for i, b in enumerate(BANDS)},
        **{f"flux_{b}": flux_obs[:, i] for i, b in enumerate(BANDS)},
        **{f"{name}_{b}": measured[f"{name}_{b}"] for name in ("fluxerr", "area_eff") for b in BANDS},
        **{f"{name}_{b}": measured[f"{name}_{b}"] for name in ("petromag", "petromagerr") for b in BANDS},
        "petrorad_r": measured["petrorad_r"],
        "neighbour_flux_frac_r": nb["flux"][..., R].sum(axis=1) / flux_dered[:, R],
        "neighbour_dist_arcsec": np.where(np.isfinite(nb_dist), nb_dist * config.PIXEL_SCALE, np.nan),
    }
    # no copy: the columns are new arrays or this sample's draws (a copy would double the peak)
    table = Table(cols, copy=False)
    for name, unit in {**catalog.COLUMNS, **TRUTH_UNITS}.items():
        if unit and name in table.colnames:
            table[name].unit = unit
    return table


TRUTH_UNITS = {
    **{f"magerr_{b}": "mag" for b in BANDS}, **{f"mag_true_{b}": "mag" for b in BANDS},
    **{f"area_eff_{b}": "pix" for b in BANDS},
    **{f"{name}_{b}": "mag" for name in ("petromag", "petromagerr") for b in BANDS}, "petrorad_r": "arcsec",
    "abs_mag_r": "mag", "r50_kpc": "kpc", "hlr_bulge_arcsec": "arcsec", "hlr_disk_arcsec": "arcsec",
    "inclination_deg": "deg", "position_angle_deg": "deg", "offset_x_pix": "pix", "offset_y_pix": "pix",
    **{f"psf_fwhm_{b}": "arcsec" for b in BANDS},
    # noise_*, flux_* and fluxerr_* are in nanomaggies: FITS has no standard unit for them
}
