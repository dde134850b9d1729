"""Check a cutout pipeline against SDSS calibration stars (calibObj): astrometry and photometry.

Stars of known position and PSF flux are cut out exactly like galaxies; a correct
pipeline puts their light centroid at the stamp centre ((size-1)/2) in every band and
recovers their flux in a ~7 arcsec aperture.  The same helpers measure real and
simulated stamps alike.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy.io import fits
from astropy.table import Table

from .. import config
from ..measure.photometry import aperture_flux, windowed_centroid
from ..stats import nanomaggies_to_mag, sigma_mad
from .cutouts import cutout

#: calibObj FLAGS bit for saturated pixels (photo flag SATURATED).
SATURATED = 1 << 18
CALIB_COLUMNS = ("RA", "DEC", "PSFFLUX", "PSF_FWHM", "FLAGS")


def read_calib_stars(path) -> Table:
    """The star catalogue of a calibObj file; raises ``ValueError`` naming missing columns."""
    data = fits.getdata(path, 1)
    missing = [c for c in CALIB_COLUMNS if c not in data.columns.names]
    if missing:
        raise ValueError(f"{path}: calibObj table lacks column(s) {missing}; has {data.columns.names}")
    return Table({c: np.asarray(data[c]) for c in CALIB_COLUMNS})


def select_stars(stars: Table, frames_by_band: Mapping, r_mag=(14.0, 20.0), margin: float = 48.0) -> np.ndarray:
    """Indices of unsaturated stars with r PSF mag in ``r_mag``, ``margin`` px inside every frame."""
    flux_r = np.asarray(stars["PSFFLUX"])[:, config.BANDS.index("r")]
    with np.errstate(divide="ignore", invalid="ignore"):
        mag_r = nanomaggies_to_mag(flux_r)
    keep = (mag_r > r_mag[0]) & (mag_r < r_mag[1])
    keep &= ~(np.asarray(stars["FLAGS"]) & SATURATED).any(axis=1)
    for frame in frames_by_band.values():
        x, y = frame.wcs.world_to_pixel_values(stars["RA"], stars["DEC"])
        ny, nx = frame.image.shape
        keep &= (x > margin) & (x < nx - 1 - margin) & (y > margin) & (y < ny - 1 - margin)
    return np.flatnonzero(keep)


def star_check(stars: Table, frames_by_band: Mapping, indices=None, aperture_arcsec: float = 7.0,
               size: int = config.STAMP, snr_aperture_arcsec: float = 3.0) -> Table:
    """Per star and band: centroid offset from the stamp centre (px) and aperture / PSF flux.

    Columns ``dx_<b>``, ``dy_<b>`` (px), ``flux_ratio_<b>`` (sky-subtracted flux within
    ``aperture_arcsec`` over the catalogue PSF flux) and ``snr_<b>`` (S/N within the
    smaller ``snr_aperture_arcsec``, close to a PSF S/N, noise from the annulus).
    """
    indices = np.arange(len(stars)) if indices is None else np.asarray(indices)
    radius = aperture_arcsec / config.PIXEL_SCALE
    snr_radius = snr_aperture_arcsec / config.PIXEL_SCALE
    rows = []
    for i in indices:
        stamp = cutout(frames_by_band, float(stars["RA"][i]), float(stars["DEC"][i]), size=size)
        row = {"index": int(i)}
        for j, band in enumerate(config.BANDS):
            sigma = float(stars["PSF_FWHM"][i][j]) / 2.3548 / config.PIXEL_SCALE
            cx, cy = windowed_centroid(stamp[:, :, j], sigma)
            flux, noise = aperture_flux(stamp[:, :, j], radius)
            row[f"dx_{band}"], row[f"dy_{band}"] = cx - (size - 1) / 2, cy - (size - 1) / 2
            row[f"flux_ratio_{band}"] = flux / float(stars["PSFFLUX"][i][j])
            core, _ = aperture_flux(stamp[:, :, j], snr_radius)
            row[f"snr_{band}"] = core / (noise * np.sqrt(np.pi * snr_radius**2))
        rows.append(row)
    return Table(rows=rows)


def summarize_star_check(check: Table, min_snr: float = 50.0) -> Table:
    """Per band: number of stars with S/N >= ``min_snr``, median radial and signed centroid
    offsets (px), median flux ratio and its robust scatter (1.4826 MAD)."""
    out = []
    for band in config.BANDS:
        good = np.asarray(check[f"snr_{band}"]) >= min_snr
        dx, dy = np.asarray(check[f"dx_{band}"])[good], np.asarray(check[f"dy_{band}"])[good]
        ratio = np.asarray(check[f"flux_ratio_{band}"])[good]
        med = np.median(ratio)
        out.append({"band": band, "n": int(good.sum()), "median_offset_px": np.median(np.hypot(dx, dy)),
                    "median_dx_px": np.median(dx), "median_dy_px": np.median(dy),
                    "median_flux_ratio": med, "flux_ratio_scatter": sigma_mad(ratio)})
    table = Table(rows=out)
    for name in table.colnames[2:]:
        table[name].format = ".4f"
    return table
