"""Measured catalogue photometry of the simulated galaxies: the error of a PSF-convolved model fit
(matched filter) to each galaxy's own noisy image, drawn once per (seed, row) (see
:mod:`photoz_nb.simulate.galaxies`)."""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm
from astropy.table import Table

from .. import config
from ..mgs import asinh_mag, asinh_mag_error
from . import observe, render
from .streams import STREAM_PHOTOMETRY

BANDS = config.BANDS


def own_components(params: dict, i: int) -> list:
    """Bulge and disk of row ``i`` of the render parameters (no neighbours: SDSS deblends them)."""
    common = dict(pa=params["pa"][i], dx=params["dx"][i], dy=params["dy"][i])
    return [render.Component("devaucouleurs", params["bulge_flux"][i], params["hlr_bulge"][i],
                             params["q_bulge"][i], **common),
            render.Component("exponential", params["disk_flux"][i], params["hlr_disk"][i],
                             params["q_disk"][i], **common)]


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


def render_galaxy(params: dict, i: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Noise-free (galaxy, neighbours) images of row ``i``, (n_bands, 64, 64) float32 each.

    Rendered together (one grid, one FFT size) so that the galaxy's own image, hence its
    photometry, is the same in :func:`make_catalog` and in a build.  Neighbours: None if none.
    """
    neighbours = neighbour_components(params, i)
    groups = [own_components(params, i)] + ([neighbours] if neighbours else [])
    images = render.render_groups(groups, params["psf"][i])
    return images[0], (images[1] if neighbours else None)


def image_profile_sums(own: np.ndarray, total_flux: np.ndarray) -> np.ndarray:
    """(sum P^2, sum P^3) per band, shape (2, n_bands), of a galaxy's noise-free image ``own``."""
    p = own.astype(float) / np.asarray(total_flux, float)[:, None, None]
    p2 = p * p
    return np.stack([p2.sum(axis=(1, 2)), (p2 * p).sum(axis=(1, 2))])


def profile_sums(params: dict, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the stamp of P^2 and P^3, shape (n, n_bands) each.

    P is the galaxy's noiseless, PSF-convolved, pixel-integrated image normalised to unit
    *total* flux (so a profile cut by the stamp edge sums to a little less than 1).
    1 / sum P^2 is the effective (matched-filter) area A_eff in native pixels.
    """
    n = len(params["pa"])
    total = params["bulge_flux"] + params["disk_flux"]
    sums = np.empty((n, 2, len(BANDS)))
    for i in tqdm(range(n), desc="model profiles", unit="gal", disable=not progress, leave=False):
        sums[i] = image_profile_sums(render_galaxy(params, i)[0], total[i])
    return sums[:, 0], sums[:, 1]


def model_flux_error(sum_p2, sum_p3, noise_native, electrons_per_nmgy, flux) -> np.ndarray:
    """1-sigma error of a matched-filter (model-fit) flux, in the unit of ``flux``.

    The estimate F = F_true sum(P I) / sum(P^2) of an image I with independent pixel
    variances v = sigma^2 + F P / e (sky plus the source's photon noise, native pixels) has
    Var F = sigma^2 / sum P^2 + (F / e) sum P^3 / (sum P^2)^2.  Spline resampling of the
    cutouts correlates pixels but hardly changes this (the tests measure it on images).
    """
    flux = np.maximum(np.asarray(flux, float), 0.0)
    variance = noise_native ** 2 / sum_p2 + flux / electrons_per_nmgy * sum_p3 / sum_p2 ** 2
    return np.sqrt(variance)


def photometry_noise(seed: int, n: int, start: int = 0) -> np.ndarray:
    """Standard normal deviates (n, n_bands) of rows start..start+n-1; row i from stream (seed, STREAM_PHOTOMETRY, i)."""
    return np.stack([np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_PHOTOMETRY, i)))
                     .standard_normal(len(BANDS)) for i in range(start, start + n)]).reshape(n, len(BANDS))


def photometry_from_sums(params: dict, seed: int, sum_p2: np.ndarray, sum_p3: np.ndarray, start: int = 0) -> dict:
    """Measured (noisy) observed fluxes, their errors and effective areas, shape (n, n_bands) each.

    The true fluxes are noise free: the whole model-fit error is drawn.  ``params`` and the
    sums are rows start.. of the sample: row by row, so a build's workers measure their
    chunks with the numbers of one call for every row.
    """
    flux = params["bulge_flux"] + params["disk_flux"]
    error = model_flux_error(sum_p2, sum_p3, params["noise_native"], params["electrons_per_nmgy"], flux)
    return dict(flux=flux + error * photometry_noise(seed, len(flux), start), error=error, area=1.0 / sum_p2)


def photometry_columns(phot: dict, transmission: np.ndarray) -> dict:
    """The catalogue's measured photometry (mag_*, magerr_*, fluxerr_*, area_eff_*) from ``phot``.

    Like SDSS: asinh magnitudes of the measured (reddened) flux, then minus the extinction.
    """
    extinction = -2.5 * np.log10(transmission)
    mags = np.column_stack([asinh_mag(phot["flux"][:, i], b) for i, b in enumerate(BANDS)]) - extinction
    magerr = np.column_stack([asinh_mag_error(phot["flux"][:, i], phot["error"][:, i], b)
                              for i, b in enumerate(BANDS)])
    columns = {"mag": mags, "magerr": magerr, "fluxerr": phot["error"], "area_eff": phot["area"]}
    return {f"{name}_{b}": values[:, i] for name, values in columns.items() for i, b in enumerate(BANDS)}


def set_photometry(table: Table, phot: dict) -> None:
    """Replace the (provisional) measured photometry of ``table`` by that of ``phot``, in place.

    Same numbers as :func:`catalog_table` with the same photometry: the extinction comes from
    the table's ``ebv`` as in :func:`draw_galaxies`.
    """
    transmission = observe.extinction_factor(np.asarray(table["ebv"]))
    for name, values in photometry_columns(phot, transmission).items():
        table[name][:] = values


#: Petrosian radius over half-light radius (exponential 1.29, de Vaucouleurs ~1.8; SDSS
#: measures Petrosian fluxes inside 2 Petrosian radii).
