"""Catalogue photometry of the simulated galaxies, measured on their stamps as SDSS measures it.

Each galaxy's stamp (galaxy + neighbours + the cutout pipeline's noise: the pixels written to
``images.npy``) is deblended as SDSS's deblender would (:func:`deblend_weight`) and measured: a
model flux per band (the galaxy's own profile fitted to it) and a Petrosian
flux within 2 R_P, R_P measured in r (:func:`measure_galaxy`).  Every number follows from the
stamp, so it is fixed by (seed, row) like the stamp (see :mod:`photoz_nb.simulate.galaxies`).

SDSS measures on its native frames; here the stamp is measured after the cutout pipeline's spline
resampling, because the renderer draws each galaxy straight onto the cutout grid (a native image
would be a second render, +50 % of a build) and because the catalogue then describes exactly the
published pixels.  For sums over a galaxy's profile the resampling keeps the noise: the quoted
errors, computed with the native noise, match the scatter measured on resampled stamps
(tests/test_simulate.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from .. import catalog, config
from ..measure import growth
from ..measure.deblend import template
from ..mgs import asinh_mag_error, asinh_mags
from . import observe, render
from .streams import STREAM_NOISE, STREAM_PHOTOMETRY

BANDS = config.BANDS
R = BANDS.index("r")


def own_components(params: dict, i: int) -> list:
    """Bulge and disk of row ``i`` of the render parameters (no neighbours: SDSS deblends them)."""
    bulge, disk = params["bulge_flux"][i], params["disk_flux"][i]
    common = dict(pa=params["pa"][i], dx=params["dx"][i], dy=params["dy"][i])
    return [render.Component("devaucouleurs", bulge, params["hlr_bulge"][i], params["q_bulge"][i], **common),
            render.Component("exponential", disk, params["hlr_disk"][i], params["q_disk"][i], **common)]


def neighbour_components(params: dict, i: int) -> list:
    """The neighbour galaxies in row ``i``'s stamp (possibly none)."""
    dx, dy = params["dx"][i], params["dy"][i]
    parts = []
    for j in np.flatnonzero(params["nb_flux"][i].sum(axis=1) > 0):
        profile = "devaucouleurs" if params["nb_devaucouleurs"][i, j] else "exponential"
        parts.append(render.Component(profile, params["nb_flux"][i, j], params["nb_hlr"][i, j],
                                      params["nb_q"][i, j], params["nb_pa"][i, j],
                                      dx + params["nb_x"][i, j], dy + params["nb_y"][i, j]))
    return parts


class Rendered(NamedTuple):
    """Noise-free images of one row, each (n_bands, 64, 64) float32 (see :func:`render_galaxy`)."""

    own: np.ndarray                   # the galaxy
    neighbours: np.ndarray | None     # all its neighbours together (None: none)
    each_neighbour: tuple             # the neighbours one by one (for the deblender)

    @property
    def stamp(self) -> np.ndarray:
        """The noise-free stamp: the galaxy and all its neighbours."""
        return self.own if self.neighbours is None else self.own + self.neighbours


def render_galaxy(params: dict, i: int) -> Rendered:
    """Noise-free images of row ``i``: the galaxy and its neighbours.

    Rendered together (one grid, one FFT size) so that each image is the same in
    :func:`make_catalog`, in a build and in any other call.  Two neighbours are also rendered
    one by one for the deblender (their sum stays the one ``neighbours`` image).
    """
    neighbours = neighbour_components(params, i)
    groups = [own_components(params, i)] + ([neighbours] if neighbours else [])
    if len(neighbours) > 1:
        groups += [[c] for c in neighbours]
    images = render.render_groups(groups, params["psf"][i], wing_scale=params["psf_wing_scale"][i])
    each = tuple(images[2:]) if len(neighbours) > 1 else tuple(images[1:2])
    return Rendered(images[0], images[1] if neighbours else None, each)


def noisy_image(params: dict, i: int, seed: int, row: int, clean: np.ndarray) -> np.ndarray:
    """``clean`` (galaxy + neighbours) plus the cutout pipeline's noise of global row ``row``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_NOISE, row)))
    return clean + observe.resampled_noise(rng, params["noise_native"][i], params["shifts"][i], image=clean,
                                           electrons_per_unit=params["electrons_per_nmgy"][i])


def centre(params: dict, i: int) -> tuple[float, float]:
    """(x, y) pixel position of row ``i``'s galaxy in its stamp (render's convention)."""
    mid = (config.STAMP - 1) / 2
    return mid + float(params["dx"][i]), mid + float(params["dy"][i])


# -- SDSS-like measurement on the stamp ---------------------------------------------------------------
def deblend_weight(clean: np.ndarray, rendered: Rendered, params: dict, i: int) -> np.ndarray | None:
    """Fraction of each pixel's flux that SDSS's deblender gives the galaxy (None: no neighbours).

    The deblender of SDSS's photo (Lupton; Stoughton et al. 2002 s. 4.4): each child's template is
    the image made symmetric about the child's peak, T(x) = min(I(x), I(x')), and each pixel's flux
    is shared among the children in proportion to their templates.  Here the templates are made
    from the noise-free image ``clean`` (SDSS's from the data, at the S/N > 50 of MGS galaxies
    hardly different) about the true centres; a reflection that leaves the stamp takes the
    child's own light at x (every profile is point-symmetric), as the larger SDSS frame would.
    Neighbours' light where the galaxy's template holds it (symmetric overlap) stays with the
    galaxy, and the galaxy's light under a neighbour's template goes: the contamination SDSS has.
    """
    if rendered.neighbours is None:
        return None
    nb_centres = [(centre(params, i)[0] + params["nb_x"][i, j], centre(params, i)[1] + params["nb_y"][i, j])
                  for j in np.flatnonzero(params["nb_flux"][i].sum(axis=1) > 0)]
    own_t = template(clean, centre(params, i), rendered.own)
    others = sum(template(clean, c, nb) for c, nb in zip(nb_centres, rendered.each_neighbour))
    own_t, others = np.maximum(own_t, 0), np.maximum(others, 0)
    total = own_t + others
    return np.where(total > 0, own_t / np.where(total > 0, total, 1), 1.0).astype(np.float32)


#: What :func:`measure_galaxy` returns, in the order of its first axis.
PHOTOMETRY = ("flux", "error", "area", "petro_flux", "petro_error", "petro_radius")


def measure_galaxy(image: np.ndarray, clean: np.ndarray, rendered: Rendered, params: dict, i: int) -> np.ndarray:
    """SDSS-like photometry of row ``i`` on its stamp ``image`` (n_bands, 64, 64), shape (len(PHOTOMETRY), n_bands).

    * model flux: least-squares amplitude of the galaxy's own PSF-convolved profile in each band,
      on the deblended child.  SDSS fits its model's shape in r and uses it in every band, but the
      true fluxes here are already SDSS model fluxes (deconvolved, :mod:`.population`): fitting the
      r shape again to the renderer's bulge + disk, whose bulge is redder (BULGE_COLOUR), would add
      that invented colour gradient to the colours a second time, 0.027 / 0.012 mag of scatter in
      u-g / g-r (600 noise-free galaxies), more than SDSS's errors of bright galaxies; it would
      also cost one more render per galaxy (+0.6-0.8 ms, a third of a build);
    * Petrosian flux: within 2 R_P in every band, R_P measured in r (eta = 0.2) on the deblended
      child about the galaxy's centre (:func:`photoz_nb.measure.growth.petrosian_radius`), capped at
      the stamp's edge;
    * their 1-sigma errors from the pixels' variances (native sky plus the source's photon noise,
      spline resampling keeps the noise of smooth sums), the template's effective area 1 / sum T^2
      and R_P (pixels).
    """
    weight = deblend_weight(clean, rendered, params, i)
    child = image if weight is None else image * weight
    n_bands = len(BANDS)
    sky_var = params["noise_native"][i] ** 2
    # photon variance per pixel: the noise-free image over electrons per nmgy (its sum's negative
    # rounding ripples are ~1e-7 of the peak); a deblended pixel's variance is w^2 (sky + photons)
    photon = clean.reshape(n_bands, -1) if weight is None else (clean * weight * weight).reshape(n_bands, -1)
    electrons = params["electrons_per_nmgy"][i]
    t = (rendered.own * (1 / (params["bulge_flux"][i] + params["disk_flux"][i])).astype(np.float32)[:, None, None]
         ).reshape(n_bands, -1)  # the galaxy's profile at unit total flux
    pixels = child.reshape(n_bands, -1)
    t2 = _dot(t, t)  # 1 / t2 is the effective area
    flux = _dot(t, pixels) / t2
    sky_t2 = t2 if weight is None else _dot(t * t, (weight * weight).reshape(n_bands, -1))
    error = np.sqrt(sky_var * sky_t2 + _dot(t * t, photon) / electrons) / t2
    # Petrosian: R_P from the r band's curve of growth, then the flux of the pixels within 2 R_P
    x, y = centre(params, i)
    distance = growth.pixel_distance((config.STAMP, config.STAMP), (x, y))
    radii, cumulative = growth.binned_curve_of_growth(child[R], (x, y), distance=distance)
    edge = min(x + 0.5, y + 0.5, config.STAMP - 0.5 - x, config.STAMP - 0.5 - y)
    r_petro, _ = growth.petrosian_radius(radii, cumulative, edge)
    inside = (distance < min(2 * r_petro, edge)).astype(np.float32).ravel()
    out = np.empty((len(PHOTOMETRY), n_bands))
    out[0], out[1], out[2] = flux, error, 1.0 / t2
    out[3] = pixels @ inside
    n_sky = float(inside.sum()) if weight is None else ((weight * weight).reshape(n_bands, -1) @ inside).astype(float)
    out[4] = np.sqrt(sky_var * n_sky + (photon @ inside).astype(float) / electrons)
    out[5] = r_petro
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two float32 (n_bands, n_pixels) arrays, as float64 (float32 sums
    of a stamp's 4,096 products keep ~1e-6 of the total)."""
    return np.einsum("bp,bp->b", a, b).astype(float)


#: Model-fit error per band beyond the pixels' noise, as a fraction of the flux: SDSS's quoted model
#: errors of bright galaxies exceed what sky and photon noise give a fit of the galaxy's own profile by
#: a roughly constant fraction of the flux (photo fits a pure de Vaucouleurs or exponential profile to
#: galaxies that are neither; without it the simulated errors are 72-97 % of the real ones in g, r, i
#: and z, least at the bright end).  Fitted by scripts/fit_catalogue_errors.py: the quoted errors of
#: the 9,811 real MGS galaxies of kcorrect's catalogue (9,417 inside the bins) against the scatter
#: of 20,000 simulated galaxies (seed 101) with each galaxy's floor error added, per band and magnitude
#: bin (validation.catalogue_errors; simulator 1.9: 1.8's quadrature solution left the brightest g, r, i
#: bins 9-17 % too wide on its own 6,000 galaxies).  Drawn once per (seed, row) (STREAM_PHOTOMETRY), added to the model flux and,
#: in quadrature, to its quoted error.
MODEL_FIT_FLOOR = {"u": 0.0090, "g": 0.0021, "r": 0.0017, "i": 0.0022, "z": 0.0036}


def photometry_noise(seed: int, n: int, start: int = 0) -> np.ndarray:
    """Standard normal deviates (n, n_bands) of rows start..start+n-1 (row i: stream (seed, STREAM_PHOTOMETRY, i))."""
    return np.stack([np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_PHOTOMETRY, i)))
                     .standard_normal(len(BANDS)) for i in range(start, start + n)]).reshape(n, len(BANDS))


def add_model_fit_floor(phot: np.ndarray, params: dict, seed: int, start: int) -> None:
    """Add MODEL_FIT_FLOOR's error to the model fluxes of ``phot`` (m, len(PHOTOMETRY), n_bands), in place."""
    floor = np.array([MODEL_FIT_FLOOR[b] for b in BANDS]) * (params["bulge_flux"] + params["disk_flux"])
    phot[:, 0] += floor * photometry_noise(seed, len(phot), start)
    phot[:, 1] = np.hypot(phot[:, 1], floor)


def render_rows(params: dict, seed: int, start: int, noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images and measured photometry of the ``m`` rows in ``params`` (global rows start..start+m).

    Returns images (m, 64, 64, 5) float32 (galaxy + neighbours + noise: the bytes of images.npy)
    and photometry (m, len(PHOTOMETRY), 5) float64 measured on them (:func:`measure_galaxy`).
    """
    m = len(params["pa"])
    images = np.empty(catalog.image_shape(m), dtype=np.float32)
    phot = np.empty((m, len(PHOTOMETRY), len(BANDS)))
    for i in range(m):
        rendered = render_galaxy(params, i)
        clean = rendered.stamp
        image = noisy_image(params, i, seed, start + i, clean) if noise else clean
        phot[i] = measure_galaxy(image, clean, rendered, params, i)
        images[i] = np.moveaxis(image, 0, -1)
    add_model_fit_floor(phot, params, seed, start)
    return images, phot


def measured_photometry(params: dict, seed: int, progress: bool = False) -> np.ndarray:
    """:func:`render_rows`' photometry of every row of ``params`` (images rendered and dropped), in blocks."""
    n, block = len(params["pa"]), 256
    out = np.empty((n, len(PHOTOMETRY), len(BANDS)))
    for start in tqdm(range(0, n, block), desc="photometry", unit="block", disable=not progress, leave=False):
        rows = {k: v[start:start + block] for k, v in params.items()}
        out[start:start + block] = render_rows(rows, seed, start)[1]
    return out


def as_dict(phot: np.ndarray) -> dict:
    """The (n, len(PHOTOMETRY), n_bands) photometry as a dict of (n, n_bands) arrays by name."""
    return {k: phot[:, j] for j, k in enumerate(PHOTOMETRY)}


def photometry_columns(phot: dict, transmission: np.ndarray) -> dict:
    """The catalogue's measured photometry from ``phot`` (:data:`PHOTOMETRY` by name, (n, n_bands) each).

    Like SDSS: asinh magnitudes of the measured (reddened) fluxes, then minus the extinction.
    Model: mag_*, magerr_*, fluxerr_* (nanomaggies), area_eff_* (pixels); Petrosian: petromag_*,
    petromagerr_*, petrorad_r (arcsec) and snr_r = F / sigma_F of the Petrosian r flux (SDSS's
    1.0857 / petroMagErr_r).
    """
    extinction = -2.5 * np.log10(transmission)
    columns = {"fluxerr": phot["error"], "area_eff": phot["area"]}
    errors = {"error": phot["error"], "petro_error": quoted_petrosian_error(phot["petro_flux"], phot["petro_error"])}
    for prefix, flux, error in (("mag", "flux", "error"), ("petromag", "petro_flux", "petro_error")):
        columns[prefix] = asinh_mags(phot[flux]) - extinction
        columns[prefix + "err"] = np.column_stack([asinh_mag_error(phot[flux][:, i], errors[error][:, i], b)
                                                   for i, b in enumerate(BANDS)])
    out = {f"{name}_{b}": values[:, i] for name, values in columns.items() for i, b in enumerate(BANDS)}
    out["petrorad_r"] = phot["petro_radius"][:, R] * config.PIXEL_SCALE
    out["snr_r"] = phot["petro_flux"][:, R] / errors["petro_error"][:, R]
    return out


#: SDSS quotes larger Petrosian errors than pixel noise gives: its profile errors include the
#: "bumpiness" of the light from sector to sector of each annulus (SDSS DR7 glossary, "profile"),
#: which is structure, not noise.  A fraction of the Petrosian flux per band, added in quadrature to
#: the quoted error only (the fluxes keep their pixel noise): fitted by scripts/fit_catalogue_errors.py
#: to the median quoted Petrosian errors of the 9,811 real MGS galaxies per magnitude bin
#: (validation.catalogue_errors.petrosian_error_table; 20,000 simulated galaxies, seed 101).  Without it
#: the quoted Petrosian errors are 0.40-0.94 of SDSS's (least at the bright end: snr_r up to 2.5x too
#: high); with it 0.85-1.15, the simulated errors still growing a little slower towards faint magnitudes.
PETROSIAN_ERROR_FLOOR = {"u": 0.0368, "g": 0.0080, "r": 0.0068, "i": 0.0080, "z": 0.0138}


def quoted_petrosian_error(flux: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Petrosian flux errors (n, n_bands) as the catalogue quotes them: pixel noise ``error`` and
    PETROSIAN_ERROR_FLOOR x ``flux`` in quadrature."""
    floor = np.array([PETROSIAN_ERROR_FLOOR[b] for b in BANDS]) * np.maximum(flux, 0)
    return np.hypot(error, floor)


def provisional_photometry(params: dict) -> dict:
    """What a build's catalogue holds until the stamps are measured: the true model fluxes, NaN for
    the rest (and S/N 0, which the contract needs finite); :func:`set_photometry` replaces it."""
    flux = params["bulge_flux"] + params["disk_flux"]
    # one array each: the catalogue's columns are views of them (no copy), filled in place later
    return dict(flux=flux, error=np.full_like(flux, np.nan), area=np.full_like(flux, np.nan),
                petro_flux=np.zeros_like(flux), petro_error=np.full_like(flux, np.inf),
                petro_radius=np.full_like(flux, np.nan))


def set_photometry(table: Table, phot: dict) -> None:
    """Replace the (provisional) measured photometry of ``table`` by that of ``phot``, in place.

    Same numbers as :func:`catalog_table` with the same photometry: the extinction comes from
    the table's ``ebv`` as in :func:`draw_galaxies`.
    """
    transmission = observe.extinction_factor(np.asarray(table["ebv"]))
    for name, values in photometry_columns(phot, transmission).items():
        table[name][:] = values
