"""Real SDSS fields for the realism report: the five frames and calibObj stars of each, crowded fields left out."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.wcs.utils import proj_plane_pixel_scales
from tqdm.auto import tqdm

from .. import config
from ..measure import detect_sources, source_mask
from ..sdss import frames as F
from ..sdss import stars as S
from ..stats import nanomaggies_to_mag
from .thresholds import BANDS, CROWDED_DENSITY, CROWDING_MAG_RANGE


@dataclasses.dataclass
class RealField:
    """The five frames of one field, and its calibObj stars if a calibObj file covers it."""

    name: str                     # "004510-4-0030"
    frames: dict                  # band -> photoz_nb.sdss.frames.Frame
    stars: Table | None = None    # calibObj stars inside the frames (RA, DEC, PSFFLUX, PSF_FWHM, FLAGS)

    @property
    def pixel_scale(self) -> dict:
        """Native pixel scale (arcsec) per band, from the WCS."""
        return {b: float(np.mean(proj_plane_pixel_scales(f.wcs)) * 3600) for b, f in self.frames.items()}


def load_fields(frames_dir=None, progress: bool = True) -> list[RealField]:
    """Every field with all five ``frame-<band>-RRRRRR-C-FFFF.fits.bz2`` files in ``frames_dir``."""



    frames_dir = Path(frames_dir) if frames_dir is not None else config.sample_frames_dir()
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"{frames_dir}: no such directory of real SDSS frames (see --frames-dir)")
    matches = [F.FRAME_PATTERN.search(p.name) for p in frames_dir.iterdir()]
    keys = sorted({tuple(int(g) for g in m.groups()[1:4]) for m in matches if m and m.group(1) == "r"})
    fields = []
    for run, camcol, field in tqdm(keys, desc="real frames", unit="field", disable=not progress):
        paths = {b: frames_dir / F.frame_name(b, run, camcol, field) for b in BANDS}
        if not all(p.is_file() for p in paths.values()):
            continue
        frames = {b: F.read_frame(p, b, warn_bad=False) for b, p in paths.items()}
        calib = frames_dir / f"calibObj-{run:06d}-{camcol}-star.fits.gz"
        stars = None
        if calib.is_file():
            all_stars = S.read_calib_stars(calib)
            stars = all_stars[S.select_stars(all_stars, frames, r_mag=(0, 99), margin=0)]
        fields.append(RealField(f"{run:06d}-{camcol}-{field:04d}", frames, stars))
    if not fields:
        raise FileNotFoundError(f"{frames_dir}: no complete field (frame-[ugriz]-RRRRRR-C-FFFF.fits.bz2 x 5)")
    return fields


def field_crowding(field: RealField) -> dict:
    """density: sources with CROWDING_MAG_RANGE r magnitudes (segment flux) per arcmin^2 of the r
    frame; masked: fraction of its pixels under :func:`source_mask`; crowded: density > CROWDED_DENSITY."""
    image = np.nan_to_num(field.frames["r"].image)
    src = detect_sources(image)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = nanomaggies_to_mag(np.asarray(src["flux"], float))
    area = image.size * field.pixel_scale["r"] ** 2 / 3600.0
    n = int(((mag > CROWDING_MAG_RANGE[0]) & (mag < CROWDING_MAG_RANGE[1])).sum())
    density = n / area
    return dict(density=density, masked=float(source_mask(image).mean()), n_sources=n,
                crowded=bool(density > CROWDED_DENSITY))


def split_crowded(fields: list[RealField], progress: bool = True) -> tuple[list[RealField], dict]:
    """(uncrowded fields, {name: field_crowding} of every field); a message names each crowded one."""
    crowding = {f.name: field_crowding(f) for f in fields}
    for name, c in crowding.items():
        if c["crowded"]:
            msg = (f"field {name} is crowded ({c['density']:.2f} sources with {CROWDING_MAG_RANGE[0]:g} < r < "
                   f"{CROWDING_MAG_RANGE[1]:g} per arcmin^2 > {CROWDED_DENSITY}, {100 * c['masked']:.0f}% of pixels "
                   f"masked): left out of the realism report")
            warnings.warn(msg, stacklevel=2)
            if progress:
                print(msg)
    kept = [f for f in fields if not crowding[f.name]["crowded"]]
    if not kept:
        raise ValueError(f"every field is crowded: {sorted(crowding)}; no field to compare with")
    return kept, crowding


def _world_to_pixel(frame, ra, dec):
    x, y = frame.wcs.world_to_pixel_values(np.asarray(ra, float), np.asarray(dec, float))
    return np.asarray(x), np.asarray(y)


def _box(image: np.ndarray, x: float, y: float, size: int):
    """The ``size`` x ``size`` box of ``image`` centred on pixel (x, y), or None at an edge."""
    half = size // 2
    xi, yi = int(round(float(x))), int(round(float(y)))
    ny, nx = image.shape
    if xi - half < 0 or yi - half < 0 or xi + half >= nx or yi + half >= ny:
        return None
    box = image[yi - half:yi + half + 1, xi - half:xi + half + 1]
    return box if np.isfinite(box).all() else None
