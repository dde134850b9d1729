"""Find the brightest extended sources (galaxies) in SDSS frames and cut them out.

The two fields of the committed sample ``data/sdss_sample`` hold no spectroscopic galaxies, so the figure of
real galaxies is made from a simple detection on the r frame:

1. smooth with a Gaussian of ``smooth_px`` and keep connected pixels above
   ``threshold`` times the robust noise of the smoothed image;
2. per source: position of the smoothed peak, flux, peak, and the concentration
   ``c = F(r < 3 px) / F(r < 10 px)`` (about 0.7-0.85 for the PSF, lower when extended);
3. extended = ``c`` below ``extended_ratio`` times the stellar concentration (the median
   over calibObj stars when a star list is given, else over the most compact bright sources);
4. not a star: more than ``star_match_arcsec`` from every calibObj star, and no pixel
   above ``SATURATION_SUSPECT_DN`` counts: photo interpolates over saturated cores, which
   then look extended (in these fields such cores keep peaks of 5,900-38,000 counts,
   while no unsaturated extended source exceeds ~2,000).

Everything is measured, then cut with the package's own :func:`~photoz_nb.sdss.cutouts.cutout`.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack
from scipy import ndimage

from .. import config
from ..measure.detect import segment
from ..measure.photometry import concentration
from ..measure.sky import nearest_arcsec
from ..stats import nanomaggies_to_mag
from .cutouts import OutsideFrameError, cutout
from .frames import Frame, frame_name, read_frame
from .stars import read_calib_stars

#: Peak counts (frame value / NMGY) above which a source may be an interpolated saturated star.
SATURATION_SUSPECT_DN = 5000.0
FIELDS = ((4510, 4, 30), (7264, 3, 111))


def detect_sources(frame: Frame, threshold: float = 5.0, smooth_px: float = 1.5, min_area: int = 20) -> Table:
    """Sources of one frame: ``x``, ``y`` (0-based px of the smoothed peak), ``ra``, ``dec``, ``flux`` (nanomaggies in
    the segment), ``mag``, ``peak_dn``, ``area`` (px), ``concentration``; brightest first."""
    image = np.nan_to_num(frame.image)
    labels, n, smooth = segment(image, threshold, smooth_px, noise="global")
    index = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones_like(image), labels, index)
    flux = ndimage.sum_labels(image, labels, index)
    keep = (area >= min_area) & (flux > 0)
    index, area, flux = index[keep], area[keep], flux[keep]
    peak = ndimage.maximum(image, labels, index)
    # The smoothed peak, not the segment's centroid: a segment may hold neighbours too.
    cy, cx = np.array(ndimage.maximum_position(smooth, labels, index), dtype=float).reshape(-1, 2).T
    ra, dec = frame.wcs.pixel_to_world_values(cx, cy)
    table = Table({"x": cx, "y": cy, "ra": ra, "dec": dec, "flux": flux, "mag": nanomaggies_to_mag(flux),
                   "peak_dn": peak / float(frame.header.get("NMGY", 1.0)), "area": area,
                   "concentration": [concentration(image, x, y) for x, y in zip(cx, cy)]})
    table.sort("flux", reverse=True)
    return table


def _star_distance_arcsec(sources: Table, stars: Table | None) -> np.ndarray:
    if stars is None or not len(stars):
        return np.full(len(sources), np.inf)
    return nearest_arcsec(sources["ra"], sources["dec"], stars["RA"], stars["DEC"])


def extended_sources(frames_by_band: Mapping, stars: Table | None = None, n: int = 3, band: str = "r",
                     extended_ratio: float = 0.75, star_match_arcsec: float = 3.0, **detect) -> Table:
    """The ``n`` brightest extended, unsaturated, non-star sources whose stamp fits in every frame.

    Adds columns ``star_concentration`` (the stellar reference) and ``star_distance`` (arcsec).
    """
    sources = detect_sources(frames_by_band[band], **detect)
    sources["star_distance"] = _star_distance_arcsec(sources, stars)
    is_star = sources["star_distance"] < star_match_arcsec
    compact_bright = (sources["peak_dn"] < SATURATION_SUSPECT_DN) & (sources["mag"] < 20)
    reference = sources["concentration"][is_star & compact_bright] if is_star.sum() >= 5 else \
        np.sort(sources["concentration"][compact_bright])[-max(5, int(compact_bright.sum()) // 2):]
    sources["star_concentration"] = float(np.median(reference))
    chosen = (sources["concentration"] < extended_ratio * sources["star_concentration"]) & ~is_star \
        & (sources["peak_dn"] < SATURATION_SUSPECT_DN)
    # brightest first, stopping at the n-th that fits (each check resamples every band)
    fitting = (i for i in np.flatnonzero(chosen) if _fits_every_frame(frames_by_band, sources[i]))
    return sources[list(itertools.islice(fitting, n))]


def _fits_every_frame(frames_by_band: Mapping, source) -> bool:
    try:
        cutout(frames_by_band, float(source["ra"]), float(source["dec"]), order=1)
        return True
    except OutsideFrameError:
        return False


def bright_galaxy_stamps(frames_dir=None, fields=FIELDS, n_per_field: int = 3,
                         calib_stars: Mapping | None = None) -> tuple[np.ndarray, Table]:
    """Stamps (N, 64, 64, 5) and the source table of the brightest extended sources of each field.

    ``frames_dir`` holds ``frame-[ugriz]-RRRRRR-C-FFFF.fits.bz2`` (default: the sample ``data/sdss_sample``);
    ``fields`` lists ``(run, camcol, field)`` keys, or maps each key to its frames already read
    (band -> Frame); ``calib_stars`` maps a key to a calibObj star table (default: the
    ``calibObj-RRRRRR-C-star.fits.gz`` of its run and camcol in ``frames_dir``, if there).
    """
    frames_dir = Path(frames_dir) if frames_dir is not None else config.sample_frames_dir()
    tables, stamps = [], []
    for key in fields:
        frames = fields[key] if isinstance(fields, Mapping) else \
            {b: read_frame(frames_dir / frame_name(b, *key), b, warn_bad=False) for b in config.BANDS}
        stars = (calib_stars or {}).get(key)
        star_file = frames_dir / f"calibObj-{key[0]:06d}-{key[1]}-star.fits.gz"
        if stars is None and star_file.is_file():
            stars = read_calib_stars(star_file)
        found = extended_sources(frames, stars, n=n_per_field)
        found["field"] = [f"{key[0]}-{key[1]}-{key[2]}"] * len(found)
        tables.append(found)
        stamps += [cutout(frames, float(s["ra"]), float(s["dec"])) for s in found]
    if not stamps:
        raise ValueError(f"no extended source found in fields {list(fields)} of {frames_dir}")
    return np.stack(stamps), vstack(tables)
