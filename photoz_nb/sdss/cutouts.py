"""Cut 64x64 ugriz stamps out of SDSS frames, the five bands on one common pixel grid.

The five frames of a field have different WCSs, so every band is resampled onto one
TAN grid centred on the galaxy: ``size`` x ``size`` pixels of ``pixel_scale`` arcsec,
north up (+y, increasing row index) and east left (-x).  The target position falls at
0-based pixel ``((size - 1) / 2, (size - 1) / 2)`` = (31.5, 31.5) for size 64, i.e. on
the corner shared by the four central pixels (FITS CRPIX = size/2 + 0.5), the same
convention as SWarp stamps of even size.  Arrays are indexed ``[y, x, band]``.

Resampling is a cubic-spline interpolation (scipy ``map_coordinates``, order 3, close
to SWarp's Lanczos3) of a small sub-image around the target, followed by the pixel-area
ratio, so stamp pixels stay fluxes in nanomaggies per pixel.  A stamp whose footprint
leaves a frame is never zero-padded: :func:`cutout` raises and :func:`make_cutouts`
flags the row (and fills it with NaN so it cannot be used by accident).
"""
from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_area
from scipy import ndimage
from tqdm.auto import tqdm

from .. import config
from ..stats import require_columns
from .frames import Frame, FrameCache, FrameError, read_frame

#: Flag bits of :func:`make_cutouts`.
OUTSIDE, BAD_PIXELS, NO_FRAME = 1, 2, 4
FLAG_NAMES = {OUTSIDE: "outside every frame", BAD_PIXELS: "non-finite frame pixels", NO_FRAME: "frame missing or unreadable"}
#: Extra frame pixels kept around the footprint so the spline prefilter has no edge effect.
SUBIMAGE_MARGIN = 8


class CutoutError(ValueError):
    """A stamp cannot be cut; ``flag`` says why (one of the flag bits)."""

    flag = NO_FRAME


class OutsideFrameError(CutoutError):
    flag = OUTSIDE


class BadPixelsError(CutoutError):
    flag = BAD_PIXELS


def stamp_wcs(ra: float, dec: float, size: int = config.STAMP, pixel_scale: float = config.PIXEL_SCALE) -> WCS:
    """The common TAN grid of a stamp: centred on (ra, dec), north up, east left."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra), float(dec)]
    w.wcs.crpix = [size / 2 + 0.5, size / 2 + 0.5]  # 1-based: centre at 0-based (size-1)/2
    w.wcs.cdelt = [-pixel_scale / 3600.0, pixel_scale / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.pixel_shape = (size, size)
    return w


def _as_frame(frame) -> Frame:
    return frame if isinstance(frame, Frame) else read_frame(frame, warn_bad=False)


def resample(frame: Frame, target: WCS, size: int, order: int = 3, where: str = "") -> np.ndarray:
    """One frame resampled onto the ``size`` x ``size`` grid ``target`` (flux per pixel).

    Raises :class:`OutsideFrameError` if any target pixel maps outside the frame and
    :class:`BadPixelsError` if the interpolation would use a non-finite pixel.
    """
    return _resample(frame, _StampGrid.of(target, size), order, where)


class _StampGrid(NamedTuple):
    """What every band of one stamp shares: the sky position of each target pixel and the pixel area."""

    ra: np.ndarray
    dec: np.ndarray
    area: float

    @classmethod
    def of(cls, target: WCS, size: int) -> "_StampGrid":
        yy, xx = np.mgrid[:size, :size].astype(float)
        return cls(*target.pixel_to_world_values(xx, yy), proj_plane_pixel_area(target))


#: Pixel area of each frame's WCS (its linear part, constant over the frame), computed once per frame.
_FRAME_PIXEL_AREA: "weakref.WeakKeyDictionary[WCS, float]" = weakref.WeakKeyDictionary()


def _frame_pixel_area(wcs: WCS) -> float:
    area = _FRAME_PIXEL_AREA.get(wcs)
    if area is None:
        area = _FRAME_PIXEL_AREA[wcs] = proj_plane_pixel_area(wcs)
    return area


def _resample(frame: Frame, grid: _StampGrid, order: int, where: str) -> np.ndarray:
    size = grid.ra.shape[0]
    fx, fy = frame.wcs.world_to_pixel_values(grid.ra, grid.dec)
    ny, nx = frame.image.shape
    if not (np.all(np.isfinite(fx)) and np.all(np.isfinite(fy))):
        raise OutsideFrameError(f"{where}: position is not on the projection of frame {frame.path or frame.band}")
    if fx.min() < 0 or fy.min() < 0 or fx.max() > nx - 1 or fy.max() > ny - 1:
        raise OutsideFrameError(f"{where}: the {size}x{size} stamp leaves frame {frame.path or frame.band} "
                                f"(frame pixels x {fx.min():.1f}..{fx.max():.1f} of 0..{nx - 1}, "
                                f"y {fy.min():.1f}..{fy.max():.1f} of 0..{ny - 1})")
    x0, y0 = max(int(fx.min()) - SUBIMAGE_MARGIN, 0), max(int(fy.min()) - SUBIMAGE_MARGIN, 0)
    x1, y1 = min(int(np.ceil(fx.max())) + SUBIMAGE_MARGIN + 1, nx), min(int(np.ceil(fy.max())) + SUBIMAGE_MARGIN + 1, ny)
    sub = frame.image[y0:y1, x0:x1].astype(np.float64)
    coords = np.array([fy - y0, fx - x0])
    bad = ~np.isfinite(sub)
    if bad.any():
        # A cubic spline reads a 4x4 neighbourhood: dilate by one pixel, then bilinear support.
        touched = ndimage.map_coordinates(ndimage.binary_dilation(bad).astype(float), coords, order=1) > 0
        if touched.any():
            raise BadPixelsError(f"{where}: {int(touched.sum())} stamp pixel(s) depend on non-finite pixels "
                                 f"of frame {frame.path or frame.band}")
        sub[bad] = 0.0  # far from the stamp: only keeps NaN out of the spline prefilter
    values = ndimage.map_coordinates(sub, coords, order=order, mode="mirror", prefilter=order > 1)
    return (values * (grid.area / _frame_pixel_area(frame.wcs))).astype(np.float32)


def cutout(frames_by_band: Mapping, ra: float, dec: float, size: int = config.STAMP,
           pixel_scale: float = config.PIXEL_SCALE, bands: Sequence[str] = config.BANDS,
           order: int = 3) -> np.ndarray:
    """A (size, size, n_bands) float32 stamp in nanomaggies centred on (ra, dec).

    Parameters
    ----------
    frames_by_band : band -> :class:`~photoz_nb.sdss.frames.Frame` (or a frame path).
    ra, dec : centre in degrees; it lands at 0-based pixel ((size-1)/2, (size-1)/2).
    order : spline order of the resampling (1 bilinear, 3 cubic).

    Raises :class:`OutsideFrameError`, :class:`BadPixelsError`, or :class:`CutoutError`
    (missing band), each naming the position, band and frame.
    """
    grid = _StampGrid.of(stamp_wcs(ra, dec, size, pixel_scale), size)
    stamp = np.empty((size, size, len(bands)), dtype=np.float32)
    for i, band in enumerate(bands):
        if band not in frames_by_band:
            raise CutoutError(f"no {band!r} frame given for (ra, dec) = ({ra:.6f}, {dec:.6f}); "
                              f"have {sorted(frames_by_band)}")
        where = f"(ra, dec) = ({ra:.6f}, {dec:.6f}) band {band}"
        stamp[:, :, i] = _resample(_as_frame(frames_by_band[band]), grid, order, where)
    return stamp


# -- batches --------------------------------------------------------------
class FieldFrames:
    """Frame lookup by catalogue row: reads the field ``(run, camcol, field)`` of the row.

    Keeps the last ``max_fields`` decoded fields in memory (about 60 MB each), so a
    catalogue sorted by field decompresses each frame once.
    """

    def __init__(self, cache: FrameCache, bands: Sequence[str] = config.BANDS, max_fields: int = 4):
        self.cache, self.bands = cache, tuple(bands)
        self._load = functools.lru_cache(maxsize=max_fields)(self._read_field)

    def _read_field(self, run: int, camcol: int, field: int) -> dict[str, Frame]:
        paths = self.cache.get_field(run, camcol, field, self.bands)
        return {band: read_frame(path, band, warn_bad=False) for band, path in paths.items()}

    def __call__(self, row) -> dict[str, Frame]:
        return self._load(int(row["run"]), int(row["camcol"]), int(row["field"]))


def _decoded(frames):
    """Read frame paths once up front, so a mapping of paths is not re-read for every row."""
    if callable(frames):
        return frames
    if isinstance(frames, Mapping):
        return {band: _as_frame(f) for band, f in frames.items()}
    return [{band: _as_frame(f) for band, f in field.items()} for field in frames]


def _candidate_fields(frames, row) -> list[Mapping]:
    if callable(frames):
        return [frames(row)]
    if isinstance(frames, Mapping):
        return [frames]
    return list(frames)


def _check_catalog(catalog: Table, frames) -> None:
    needed = ["ra", "dec"] + (["run", "camcol", "field"] if isinstance(frames, FieldFrames) else [])
    require_columns(catalog, needed, "catalogue for cutouts")


def make_cutouts(catalog: Table, frames, size: int = config.STAMP, bands: Sequence[str] = config.BANDS,
                 pixel_scale: float = config.PIXEL_SCALE, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Stamps for every row of ``catalog`` (columns ``ra``, ``dec``).

    Parameters
    ----------
    frames : where the pixels come from, one of
        * a mapping band -> Frame (one field for every row);
        * a sequence of such mappings (fields tried in order until one covers the stamp);
        * a callable ``row -> mapping`` such as :class:`FieldFrames` (needs ``run``,
          ``camcol``, ``field`` columns).

    Returns
    -------
    images : float32 (N, size, size, n_bands); flagged rows are NaN.
    flags : int32 (N,), 0 for a good stamp, else an OR of ``OUTSIDE``, ``BAD_PIXELS``, ``NO_FRAME``.
    """
    _check_catalog(catalog, frames)
    frames = _decoded(frames)
    n = len(catalog)
    images = np.full((n, size, size, len(bands)), np.nan, dtype=np.float32)
    flags = np.zeros(n, dtype=np.int32)
    for i in tqdm(range(n), desc="cutouts", unit="stamp", disable=not progress):
        row = catalog[i]
        images[i], flags[i] = _first_covering(frames, row, size, bands, pixel_scale)
    return images, flags


def _first_covering(frames, row, size, bands, pixel_scale):
    flag = OUTSIDE
    try:
        fields = _candidate_fields(frames, row)
    except (FrameError, OSError):
        return np.nan, NO_FRAME
    for field in fields:
        try:
            return cutout(field, float(row["ra"]), float(row["dec"]), size, pixel_scale, bands), 0
        except OutsideFrameError:
            continue
        except CutoutError as err:
            flag = err.flag
        except (FrameError, OSError):
            flag = NO_FRAME
    return np.nan, flag


def describe_flags(flags: np.ndarray) -> dict[str, int]:
    """Counts of each flag reason, for reports."""
    flags = np.asarray(flags)
    return {name: int(((flags & bit) != 0).sum()) for bit, name in FLAG_NAMES.items()}
