"""Realism of the simulation: simulated images and catalogue against real SDSS data.

Four comparisons, each measured with ONE function on simulated and real pixels alike (the
measurement primitives are in :mod:`photoz_nb.simulate.measure`; real frames, star and crowding
selections, comparisons and the report are here):

1. :func:`compare_sky_noise` -- sky noise per pixel (nanomaggies) of 64x64 stamps, measured by
   :func:`sky_noise` (1.4826 MAD of source-masked pixels) on simulated stamps and on real
   cutouts made by the real cutout pipeline (:func:`photoz_nb.sdss.cutouts.cutout`) at random
   positions in the real frames, so resampling affects both the same way.
2. :func:`compare_psf` -- PSF FWHM (arcsec) by :func:`fit_fwhm` (pixel-integrated circular
   Moffat, free beta) on isolated unsaturated stars in the native real frames, against the same
   fit on point sources rendered with the simulated catalogue's PSF FWHMs.  Stars come from
   calibObj where the field has one, else from a stellar-locus selection of detected sources.
3. :func:`compare_galaxy_sizes` -- Petrosian r magnitude, half-light radius r50, concentration
   r90/r50 and moment b/a from :func:`curve_of_growth` on simulated r stamps and on cutouts of
   extended sources detected in the real r frames (14 < r < 17.8, the same resolved-source cut
   applied to both).  Stars are removed without calibObj: unsaturated stars by the stellar
   locus in size (r50 within RESOLVED_R50_RATIO of the PSF's, whose spread is 3-5 %),
   saturated ones, which look extended, by their row-interpolated cores
   (:func:`saturated_core`) and their flat profiles; calibObj stars, where a field has them,
   are removed as well.
4. :func:`compare_colour_redshift` -- median and robust scatter of u-g, g-r, r-i in redshift
   bins: the simulated catalogue against the real kcorrect MGS catalogue.

Pass thresholds (fixed in advance, never tuned to the result):

* sky noise: each real field's median lies between the 1st and 99th percentiles of the simulated
  distribution, per band.  The simulator draws each field's noise from the survey's distribution
  (:mod:`photoz_nb.simulate.observe`), so the ratio of the simulated median to these fields' mean is
  information, not a test: the shipped fields have darker skies than the survey median;
* PSF: each real field's median FWHM lies between the 1st and 99th percentiles of the
  simulated distribution, per band.  Our effective FWHM of the real stars against calibObj's
  PSF_FWHM is reported as information only: it involves no simulated data, and the two widths
  count different amounts of the PSF's wing;
* galaxies: two-sample KS p-value >= 0.01 for log r50 and for r90/r50, and the median offset of
  real sizes from the simulated size-magnitude relation within 0.10 dex.  The two real fields
  hold only a handful of MGS-bright galaxies, so these tests have little power: read N;
* colours: rms over redshift bins of the median colour difference <= 0.03 mag for g-r and r-i,
  <= 0.05 mag for u-g (SDSS colour calibration is good to ~1-2%, u to ~3%), and the mean ratio of
  the robust scatters within [0.8, 1.25].

Every complete field of the frames folder is used, except crowded ones (:func:`field_crowding`:
more than CROWDED_DENSITY sources with 15 < r < 19 per arcmin^2, where blends of stars pass for
galaxies), which are left out with a message; one informative row per field gives its density.
Noise and PSF have rows per field; the galaxy tests are pooled ("both") and per field.

:func:`realism_report` runs all four and returns an astropy Table, one row per test.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy import ndimage, stats
from tqdm.auto import tqdm

from .. import catalog, config
from ..stats import nanomaggies_to_mag, sigma_mad
from . import galaxies, render
# Measurement primitives live in .measure; re-exported here, where the comparisons use them.
from .measure import (  # noqa: F401
    _check_image, source_mask, sky_noise, moffat_alpha, moffat_image,
    fit_fwhm, core_wing_image, fit_psf_wing, effective_fwhm, _cumulative_flux,
    _central_segment, curve_of_growth, axis_ratio, _refine, _petrosian_radius,
)

BANDS = config.BANDS
R = BANDS.index("r")

#: Pass thresholds (see the module docstring).
PERCENTILE_RANGE = (1.0, 99.0)
KS_P_MIN = 0.01
SIZE_OFFSET_MAX_DEX = 0.10
COLOUR_RMS_MAX = {"u-g": 0.05, "g-r": 0.03, "r-i": 0.03}
SCATTER_RATIO_RANGE = (0.8, 1.25)

#: Selections.
GALAXY_MAG_RANGE = (14.0, config.R_PETRO_MAX)
STAR_MAG_RANGE = (15.0, 19.0)
#: A source is resolved (a galaxy) when its r50 exceeds this multiple of the PSF's r50.
RESOLVED_R50_RATIO = 1.2
STAR_MATCH_ARCSEC = 3.0
COLOUR_Z_EDGES = np.arange(0.0, 0.3001, 0.025)
MIN_PER_BIN = 20  # galaxies per redshift bin in both samples (sampling error of a median ~1.25 sigma/sqrt(N))
FWHM_BOX = 31      # side (native pixels) of the box a star's effective width is measured in
FWHM_FIT_BOX = 21  # ... and of its central part the Moffat is fitted to
#: Sources more diffuse than the PSF by this much in r90/r50 are saturated stars (see _measure_rows).
FLAT_CONCENTRATION_MARGIN, SATURATION_MAG = 0.05, 15.5
#: Side (native pixels) of the core box, and the number of row-interpolated pixels, of a saturated star.
SATURATION_BOX, SATURATED_LINEAR_PIXELS = 13, 3
#: ... whose interpolated pixels hold more than this many counts (frame header NMGY: nanomaggies per
#: count); the interpolated cores measured hold 5,900-16,000, galaxies with r > 14 under ~1,000.
SATURATION_MIN_DN = 2000.0
#: A field is crowded (left out of the report) above this density of sources with 15 < r < 19 (by
#: segment flux) per arcmin^2.  Measured: 0.29-0.41 on the three high-latitude shared fields (|b| > 45),
#: 1.29 on 008162-6-0080 (b = -23), where blends and stars pass for galaxies.
CROWDED_DENSITY = 0.8
CROWDING_MAG_RANGE = (15.0, 19.0)

FRAME_RE = re.compile(r"frame-r-(\d{6})-(\d)-(\d{4})\.fits(\.bz2)?$")


# =========================================================================== real frames
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
    from ..sdss import frames as F
    from ..sdss import stars as S

    frames_dir = Path(frames_dir) if frames_dir is not None else config.sample_frames_dir()
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"{frames_dir}: no such directory of real SDSS frames (see --frames-dir)")
    keys = sorted({tuple(int(g) for g in FRAME_RE.search(p.name).groups()[:3])
                   for p in frames_dir.iterdir() if FRAME_RE.search(p.name)})
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


def detect_sources(image, nsigma: float = 3.0, smooth: float = 1.5, min_pixels: int = 10) -> Table:
    """Sources of a (sky-subtracted) frame: segments of the smoothed image above ``nsigma``.

    Columns x, y (flux-weighted centroid, 0-based pixels), flux (segment sum), npix,
    nearest (distance to the nearest other segment's centroid, pixels).
    """
    image = np.nan_to_num(np.asarray(image, dtype=float))
    smoothed = ndimage.gaussian_filter(image, smooth)
    rows = np.linspace(0, image.shape[0], 5, dtype=int)
    sigma = np.median([sigma_mad(smoothed[a:b:2, ::2]) for a, b in zip(rows[:-1], rows[1:])])
    labels, n = ndimage.label(smoothed > nsigma * sigma)
    index = np.arange(1, n + 1)
    npix = ndimage.sum_labels(np.ones_like(image), labels, index)
    positive = np.maximum(image, 0)
    weight = ndimage.sum_labels(positive, labels, index)
    yy, xx = np.indices(image.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = ndimage.sum_labels(positive * xx, labels, index) / weight
        y = ndimage.sum_labels(positive * yy, labels, index) / weight
    keep = (npix >= min_pixels) & (weight > 0)
    x, y = x[keep], y[keep]
    table = Table({"x": x, "y": y, "flux": ndimage.sum_labels(image, labels, index)[keep], "npix": npix[keep]})
    if len(table) > 1:
        from scipy.spatial import cKDTree
        table["nearest"] = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)[0][:, 1]
    else:
        table["nearest"] = np.full(len(table), np.inf)
    return table


# =========================================================================== 1. sky noise
@dataclasses.dataclass
class NoiseResult:
    sim: np.ndarray            # (n_sim, 5) measured on simulated stamps
    sim_truth: np.ndarray      # (n_sim, 5) the catalogue's delivered noise of the same stamps
    real: dict                 # field -> (n, 5) measured on real cutouts
    real_native: dict          # field -> (n, 5) measured on native frame boxes of the same size

    def medians(self):
        """Median simulated noise, and the mean over real fields of each field's median: the
        simulator's sky noise is the mean of the fields, and a pooled median of two fields that
        differ by 20 % falls in the gap between them."""
        real = np.mean([np.median(v, axis=0) for v in self.real.values()], axis=0)
        return np.median(self.sim, axis=0), real


def _rows(n_total: int, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def compare_sky_noise(ds: catalog.Dataset, fields: list[RealField], n_sim: int | None = 300,
                      n_real: int = 40, seed: int = 0, progress: bool = True) -> NoiseResult:
    """Sky noise per stamp pixel on simulated stamps and on real cutouts at random positions."""
    from ..sdss.cutouts import CutoutError, cutout

    rows = _rows(len(ds), n_sim, seed)
    sim = np.array([[sky_noise(ds.images[i, :, :, b]) for b in range(len(BANDS))]
                    for i in tqdm(rows, desc="sky noise (sim)", unit="stamp", disable=not progress)])
    truth_cols = [f"noise_{b}" for b in BANDS]
    truth = (np.column_stack([ds.column(c)[rows] for c in truth_cols])
             if all(c in ds.catalog.colnames for c in truth_cols) else np.full_like(sim, np.nan))
    rng = np.random.default_rng(seed)
    real, native = {}, {}
    for field in tqdm(fields, desc="sky noise (real)", unit="field", disable=not progress):
        frame_r = field.frames["r"]
        ny, nx = frame_r.image.shape
        measured, measured_native = [], []
        for _ in range(4 * n_real):
            if len(measured) == n_real:
                break
            x, y = rng.uniform(60, nx - 60), rng.uniform(60, ny - 60)
            ra, dec = frame_r.wcs.pixel_to_world_values(x, y)
            try:
                stamp = cutout(field.frames, float(ra), float(dec))
            except CutoutError:
                continue
            boxes = [_box(field.frames[b].image, *_world_to_pixel(field.frames[b], ra, dec), config.STAMP - 1)
                     for b in BANDS]
            if any(box is None for box in boxes):
                continue
            measured.append([sky_noise(stamp[:, :, j]) for j in range(len(BANDS))])
            measured_native.append([sky_noise(box) for box in boxes])
        real[field.name], native[field.name] = np.array(measured), np.array(measured_native)
    return NoiseResult(sim, truth, real, native)


# =========================================================================== 2. PSF
@dataclasses.dataclass
class PsfResult:
    """PSF sizes in arcsec.  ``sim*`` from point sources rendered with the catalogue's PSFs; ``real*``
    map a field to one row per star (NaN: failed fit)."""

    sim: np.ndarray            # (n_sim, 5) Moffat-fit FWHM
    sim_eff: np.ndarray        # (n_sim, 5) effective (noise-equivalent) FWHM
    sim_r: Table               # r-band r50, concentration of the same point sources (64x64 stamps)
    sim_nominal: np.ndarray    # (n_catalogue, 5) the catalogue's PSF FWHMs
    real: dict                 # field -> (n_stars, 5) Moffat-fit FWHM
    real_eff: dict             # field -> (n_stars, 5) effective FWHM
    real_r: dict               # field -> Table r50, concentration of the stars' r-band cutouts
    calibobj: dict             # field -> (n_stars, 5) calibObj PSF_FWHM (fields with a calibObj only)
    star_source: dict          # field -> "calibObj" | "stellar locus"

    def real_median(self, field: str, effective: bool = False) -> np.ndarray:
        return np.nanmedian((self.real_eff if effective else self.real)[field], axis=0)


def catalog_psf(cat: Table) -> np.ndarray:
    """PSF FWHM (arcsec) per band of each catalogue row, shape (n, 5)."""
    missing = [f"psf_fwhm_{b}" for b in BANDS if f"psf_fwhm_{b}" not in cat.colnames]
    if missing:
        raise ValueError(f"catalogue lacks {missing}: the PSF comparison needs every band's PSF FWHM")
    return np.column_stack([np.asarray(cat[f"psf_fwhm_{b}"], float) for b in BANDS])


def point_source(psf_fwhm_pix, dx: float = 0.0, dy: float = 0.0, stamp: int = 32, bands=None) -> np.ndarray:
    """A rendered unit-flux point source through the simulator's PSF in ``bands`` (default all),
    shape (n_bands, stamp, stamp)."""
    psf = np.atleast_1d(np.asarray(psf_fwhm_pix, float))
    return render.render_stamp([render.Component("exponential", np.ones(len(psf)), 1e-3, dx=dx, dy=dy)], psf, stamp,
                               bands=bands)


def _psf_widths(box: np.ndarray | None, scale: float) -> tuple[float, float]:
    """(Moffat FWHM, effective FWHM) in arcsec of the star in a FWHM_BOX-sided box."""
    if box is None:
        return np.nan, np.nan
    half, inner = FWHM_BOX // 2, FWHM_FIT_BOX // 2
    fit = fit_fwhm(box[half - inner:half + inner + 1, half - inner:half + inner + 1])
    return (fit["fwhm"] * scale if fit["ok"] else np.nan), effective_fwhm(box) * scale


def _star_widths(field: RealField, ra: float, dec: float) -> np.ndarray:
    """(2, 5): Moffat and effective FWHM (arcsec) per band of the star at (ra, dec), native pixels."""
    scale = field.pixel_scale
    return np.array([_psf_widths(_box(field.frames[b].image, *_world_to_pixel(field.frames[b], ra, dec), FWHM_BOX),
                                 scale[b]) for b in BANDS]).T


def _profile_table(images) -> Table:
    out = [curve_of_growth(image) for image in images]
    return Table({"r50": np.array([o["r50"] for o in out], float) * config.PIXEL_SCALE,
                  "concentration": np.array([o["concentration"] for o in out], float)})


def calib_star_positions(field: RealField, max_stars: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ra, dec, PSF_FWHM) of the brightest isolated unsaturated calibObj stars with 15 < r < 19."""
    from ..sdss.stars import SATURATED

    s = field.stars
    with np.errstate(divide="ignore", invalid="ignore"):
        mag_r = nanomaggies_to_mag(np.asarray(s["PSFFLUX"], float)[:, R])
    keep = (mag_r > STAR_MAG_RANGE[0]) & (mag_r < STAR_MAG_RANGE[1])
    keep &= ~(np.asarray(s["FLAGS"]) & SATURATED).any(axis=1)
    ra, dec = np.asarray(s["RA"], float), np.asarray(s["DEC"], float)
    keep &= _nearest_arcsec(ra, dec, ra, dec, exclude_self=True) > 10.0
    order = np.flatnonzero(keep)[np.argsort(mag_r[keep])][:max_stars]
    return ra[order], dec[order], np.asarray(s["PSF_FWHM"], float)[order]


def _nearest_arcsec(ra1, dec1, ra2, dec2, exclude_self: bool = False) -> np.ndarray:
    """Distance (arcsec) from each (ra1, dec1) to the nearest (ra2, dec2) (small-field approximation)."""
    from scipy.spatial import cKDTree

    k = 2 if exclude_self else 1
    if len(ra2) < k:
        return np.full(len(ra1), np.inf)
    cosd = np.cos(np.radians(np.median(dec2)))
    tree = cKDTree(np.column_stack([np.asarray(ra2) * cosd, dec2]))
    dist = tree.query(np.column_stack([np.asarray(ra1) * cosd, dec1]), k=k)[0]
    return (dist[:, -1] if exclude_self else dist) * 3600


def locus_star_positions(field: RealField, max_stars: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) of point sources chosen from the stellar locus of detected sources.

    Bright isolated sources (15 < r < 19 by segment flux) are fitted in r; stars share the PSF,
    galaxies are broader, so the FWHM distribution peaks at the PSF: iterate a 10% window
    around the median starting from the 20th percentile.
    """
    frame = field.frames["r"]
    src = detect_sources(frame.image)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = nanomaggies_to_mag(np.asarray(src["flux"], float))
    cand = src[(mag > STAR_MAG_RANGE[0]) & (mag < STAR_MAG_RANGE[1]) & (src["nearest"] > 25)]
    fwhm = np.array([_psf_widths(_box(frame.image, x, y, FWHM_BOX), 1.0)[0] for x, y in zip(cand["x"], cand["y"])])
    good = np.isfinite(fwhm)
    cand, fwhm = cand[good], fwhm[good]
    if len(fwhm) < 3:
        return np.array([]), np.array([])
    centre = np.percentile(fwhm, 20)
    for _ in range(10):
        centre = np.median(fwhm[np.abs(fwhm / centre - 1) < 0.10])
    on_locus = np.abs(fwhm / centre - 1) < 0.10
    chosen = cand[on_locus][np.argsort(-np.asarray(cand["flux"])[on_locus])][:max_stars]
    ra, dec = frame.wcs.pixel_to_world_values(np.asarray(chosen["x"]), np.asarray(chosen["y"]))
    return np.atleast_1d(ra), np.atleast_1d(dec)


def psf_stars(field: RealField):
    """(ra, dec, calibObj PSF_FWHM or None, source) of the stars the PSF is measured on: calibObj's
    where the field has a calibObj, else a stellar-locus selection."""
    if field.stars is not None and len(field.stars):
        return (*calib_star_positions(field), "calibObj")
    return (*locus_star_positions(field), None, "stellar locus")


def compare_psf(ds: catalog.Dataset, fields: list[RealField], n_sim: int = 150, seed: int = 0,
                progress: bool = True) -> PsfResult:
    """PSF widths of real stars and of point sources rendered with the simulated PSFs, same code."""

    nominal = catalog_psf(ds.catalog)
    rows = _rows(len(nominal), n_sim, seed)
    rng = np.random.default_rng(seed)
    widths, r_images = [], []
    for i in tqdm(rows, desc="PSF (sim)", unit="psf", disable=not progress):
        dx, dy = rng.uniform(-0.5, 0.5, 2)
        image = point_source(nominal[i] / config.PIXEL_SCALE, dx, dy, stamp=FWHM_BOX + 1)[:, :-1, :-1]
        widths.append([_psf_widths(image[j], config.PIXEL_SCALE) for j in range(len(BANDS))])
        r_images.append(point_source([nominal[i, R] / config.PIXEL_SCALE], dx, dy, stamp=config.STAMP, bands="r")[0])
    widths = np.array(widths).reshape(len(rows), len(BANDS), 2)
    real, real_eff, real_r, calib, source = {}, {}, {}, {}, {}
    for field in tqdm(fields, desc="PSF (real)", unit="field", disable=not progress):
        ra, dec, calib_fwhm, source[field.name] = psf_stars(field)
        if calib_fwhm is not None:
            calib[field.name] = calib_fwhm
        w = np.array([_star_widths(field, a, d) for a, d in zip(ra, dec)]).reshape(-1, 2, len(BANDS))
        real[field.name], real_eff[field.name] = w[:, 0], w[:, 1]
        real_r[field.name] = star_profiles(field, ra, dec)
    return PsfResult(widths[..., 0], widths[..., 1], _profile_table(r_images), nominal, real, real_eff, real_r,
                     calib, source)


PSF_FIT_SN_MIN = 300.0  # S/N of the stars the wing is fitted to (it is faint)
# Side (native pixels, +-12.5") of the box core + wing is fitted in: it holds the light that the
# r90/r50 of a STAMP-sided (64 px at 0.396") stamp sees; a FWHM_BOX fit misses the outer wing.
PSF_FIT_BOX = 63


def star_sn(box: np.ndarray) -> float:
    """Sky-limited PSF-photometry S/N of a (sky-subtracted) star box: sqrt(sum I^2) / sigma, sigma
    the border pixels' robust noise (the S/N of a matched-filter flux)."""
    border = np.concatenate([box[0], box[-1], box[:, 0], box[:, -1]])
    return float(np.sqrt((box ** 2).sum()) / sigma_mad(border))


def other_sources(box: np.ndarray) -> np.ndarray:
    """True on the pixels of ``box`` covered by sources other than the central star: the
    :func:`source_mask` of the box less its azimuthal median profile about the centre (which
    removes the star, wing included, so that a neighbour does not merge into it), without the
    segment at the centre (residuals of the star's core)."""
    box = _check_image(box)
    yy, xx = np.indices(box.shape)
    ring = np.hypot(xx - (box.shape[1] - 1) / 2, yy - (box.shape[0] - 1) / 2).astype(int)
    profile = np.asarray(ndimage.median(box, labels=ring + 1, index=np.arange(1, ring.max() + 2)))
    residual = box - profile[ring]
    labels, _ = ndimage.label(source_mask(residual))
    centre = labels[box.shape[0] // 2, box.shape[1] // 2]
    return (labels > 0) & (labels != centre)


def _crop(box: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` part of an odd-sided box."""
    half, inner = box.shape[0] // 2, size // 2
    return box[half - inner:half + inner + 1, half - inner:half + inner + 1]


def _star_boxes(fields: list[RealField], progress: bool) -> dict:
    """band -> PSF_FIT_BOX-sided native boxes (float) of the :func:`psf_stars` of every field."""
    boxes = {b: [] for b in BANDS}
    for field in tqdm(fields, desc="PSF stars", unit="field", disable=not progress):
        ra, dec, _, _ = psf_stars(field)
        for b in BANDS:
            frame = field.frames[b]
            found = [_box(frame.image, *_world_to_pixel(frame, a, d), PSF_FIT_BOX) for a, d in zip(ra, dec)]
            boxes[b] += [box.astype(float) for box in found if box is not None]
    return boxes


def _quartiles(values) -> tuple[float, float, float]:
    values = np.asarray(values, float)
    return tuple(np.percentile(values, [25, 50, 75])) if values.size else (np.nan,) * 3


def fit_psf_model(fields: list[RealField], sn_min: float = PSF_FIT_SN_MIN, progress: bool = True) -> Table:
    """Per band, the simulator's PSF shape from the real stars of ``fields`` (render.PSF_CORE_BETA, ...).

    1. core beta: the median over the stars (:func:`psf_stars`) of :func:`fit_fwhm`'s beta on the
       central FWHM_FIT_BOX native pixels, rounded to the nearest half-integer (closed-form FT);
    2. wing scale, common to the bands: the median wing FWHM / core FWHM of :func:`fit_psf_wing`
       (scale free) over the PSF_FIT_BOX boxes of all bands' stars whose central FWHM_BOX has
       :func:`star_sn` > ``sn_min``, other sources masked (:func:`other_sources`) (per band it is
       poorly constrained, and in u, whose few bright stars show no broad wing, a free "wing"
       becomes a shoulder of the core);
    3. wing fraction: the median of :func:`fit_psf_wing` with that scale fixed, per band.
    Returns a Table, one row per band, with interquartile ranges.  Deterministic.
    """
    boxes = _star_boxes(fields, progress)
    core_beta, bright = {}, {}
    for b in BANDS:
        betas = np.array([f["beta"] for f in (fit_fwhm(_crop(box, FWHM_FIT_BOX)) for box in boxes[b]) if f["ok"]])
        if betas.size == 0:
            raise ValueError(f"fit_psf_model: no star of band {b} could be fitted in {[f.name for f in fields]}")
        core_beta[b] = (betas, float(np.floor(np.median(betas)) + 0.5))  # the nearest half-integer
        bright[b] = [(box, other_sources(box)) for box in boxes[b] if star_sn(_crop(box, FWHM_BOX)) > sn_min]
    free = [fit_psf_wing(box, core_beta[b][1], mask=mask)
            for b in tqdm(BANDS, desc="PSF wing scale", unit="band", disable=not progress) for box, mask in bright[b]]
    scales = [f["wing_scale"] for f in free if f["ok"]]
    if not scales:
        raise ValueError(f"fit_psf_model: no star with S/N > {sn_min:g} could be fitted with a wing")
    s25, scale, s75 = _quartiles(scales)
    rows = []
    for b in tqdm(BANDS, desc="PSF wing fraction", unit="band", disable=not progress):
        betas, beta = core_beta[b]
        fits = [f for f in (fit_psf_wing(box, beta, wing_scale=scale, mask=mask) for box, mask in bright[b]) if f["ok"]]
        f25, fraction, f75 = _quartiles([f["wing_fraction"] for f in fits])
        rows.append(dict(band=b, n_beta=betas.size, beta_median=float(np.median(betas)), core_beta=beta,
                         n_wing=len(fits), wing_fraction=fraction, wing_fraction_iqr=(f25, f75),
                         n_scale=len(scales), wing_scale=scale, wing_scale_iqr=(s25, s75)))
    return Table(rows=rows)


# =========================================================================== 3. galaxy sizes
@dataclasses.dataclass
class SizeResult:
    sim: Table     # mag, r50, r90 (arcsec), concentration, ok, capped, r50_psf, c_psf, resolved, flat, selected
    real: Table    # same, plus field, ra, dec


def _measure_rows(images, r50_psf, c_psf) -> Table:
    """Curve-of-growth photometry (arcsec) of r-band stamps, and the selection flags.

    resolved: r50 > RESOLVED_R50_RATIO x the PSF's r50; flat: brighter than SATURATION_MAG and
    more diffuse than the PSF (r90/r50 below the PSF's by more than FLAT_CONCENTRATION_MARGIN)
    though the Petrosian aperture fits in the stamp -- the interpolated core of a saturated
    star, which SDSS frames carry and calibObj does not list.
    """
    out = [curve_of_growth(image) for image in images]
    pix = config.PIXEL_SCALE
    table = Table({"mag": np.array([o["mag"] for o in out], float), "r50": np.array([o["r50"] for o in out]) * pix,
                   "r90": np.array([o["r90"] for o in out]) * pix,
                   "concentration": np.array([o["concentration"] for o in out], float),
                   "b_over_a": np.array([o["b_over_a"] for o in out], float),
                   "ok": np.array([o["ok"] for o in out], bool), "capped": np.array([o["capped"] for o in out], bool),
                   "r50_psf": np.asarray(r50_psf, float), "c_psf": np.asarray(c_psf, float)})
    mag = np.nan_to_num(table["mag"], nan=99.0)
    table["resolved"] = np.nan_to_num(table["r50"] / table["r50_psf"]) > RESOLVED_R50_RATIO
    table["flat"] = (~table["capped"] & (mag < SATURATION_MAG)
                     & (np.nan_to_num(table["concentration"]) < table["c_psf"] - FLAT_CONCENTRATION_MARGIN))
    table["selected"] = (table["resolved"] & ~table["flat"] & table["ok"] & (mag > GALAXY_MAG_RANGE[0])
                         & (mag < GALAXY_MAG_RANGE[1]))
    return table


@functools.lru_cache(maxsize=1)
def _psf_profile_table():
    """(FWHM arcsec, r50 arcsec, r90/r50) of the simulator's r-band point source by :func:`curve_of_growth`."""
    fwhm = np.linspace(0.6, 3.0, 13)
    out = [curve_of_growth(point_source([f / config.PIXEL_SCALE], stamp=config.STAMP, bands="r")[0], noise=0.0) for f in fwhm]
    return fwhm, np.array([o["r50"] for o in out]) * config.PIXEL_SCALE, np.array([o["concentration"] for o in out])


def psf_r50(fwhm_arcsec) -> np.ndarray:
    """r50 (arcsec) that :func:`curve_of_growth` gives a simulated point source of this FWHM."""
    fwhm, r50, _ = _psf_profile_table()
    return np.interp(fwhm_arcsec, fwhm, r50)


def psf_concentration(fwhm_arcsec) -> np.ndarray:
    """r90/r50 that :func:`curve_of_growth` gives a simulated point source of this FWHM."""
    fwhm, _, conc = _psf_profile_table()
    return np.interp(fwhm_arcsec, fwhm, conc)


def saturated_core(image: np.ndarray, x: float, y: float, min_value: float, half: int = SATURATION_BOX // 2) -> bool:
    """True if the source at native pixel (x, y) has an interpolated (saturated) core.

    SDSS replaces saturated pixels and their bleed trail by a linear interpolation along the row,
    so such a core holds several bright pixels (> 30 % of the box's peak) whose row second
    difference vanishes (< 2 % of the pixel), all above ``min_value`` (so that the noise of a faint,
    flat galaxy cannot pass: SATURATION_MIN_DN); a real core, star or galaxy, is curved.  Measured on
    the four shared fields: the saturated stars (r < 15, with diffraction spikes and a flat top) have
    3-7 such pixels, the galaxies 0-2, unsaturated stars 0-2 (one 3).  These cores look extended
    (r50 up to 6 x the PSF's), and calibObj does not list them.
    """
    xi, yi = int(round(float(x))), int(round(float(y)))
    box = np.asarray(image[max(yi - half, 0):yi + half + 1, max(xi - half, 0):xi + half + 1], float)
    if box.shape[1] < 3 or not np.isfinite(box).all():
        return False
    centre = box[:, 1:-1]
    curvature = np.abs(box[:, 2:] - 2 * centre + box[:, :-2])
    linear = (centre > max(0.3 * box.max(), min_value)) & (curvature < 0.02 * np.abs(centre))
    return int(linear.sum()) >= SATURATED_LINEAR_PIXELS


def real_galaxy_candidates(field: RealField, mag_max: float = GALAXY_MAG_RANGE[1] + 0.7) -> Table:
    """Sources of the r frame brighter than ~18.5 by segment flux, away from calibObj stars and
    without a saturated core (:func:`saturated_core`).  Unsaturated stars are left to the
    stellar-locus cut of :func:`_measure_rows` (r50 against the PSF's), so no calibObj is needed."""
    frame = field.frames["r"]
    src = detect_sources(frame.image)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = nanomaggies_to_mag(np.asarray(src["flux"], float))
    src = src[(mag < mag_max) & (mag > GALAXY_MAG_RANGE[0] - 1.5)]  # segment fluxes miss the faint wings
    ra, dec = frame.wcs.pixel_to_world_values(np.asarray(src["x"]), np.asarray(src["y"]))
    src["ra"], src["dec"] = np.atleast_1d(ra), np.atleast_1d(dec)
    min_value = SATURATION_MIN_DN * float(frame.header.get("NMGY", 0.005))
    src["saturated"] = np.array([saturated_core(frame.image, x, y, min_value) for x, y in zip(src["x"], src["y"])],
                                bool)
    src = src[~src["saturated"]]
    if field.stars is not None:
        src = src[_nearest_arcsec(src["ra"], src["dec"], field.stars["RA"], field.stars["DEC"]) > STAR_MATCH_ARCSEC]
    return src


def compare_galaxy_sizes(ds: catalog.Dataset, fields: list[RealField], psf: PsfResult, n_sim: int | None = 600,
                         seed: int = 0, progress: bool = True) -> SizeResult:
    """r50, r90/r50 and Petrosian r of simulated stamps and of cutouts of real galaxies."""
    from astropy.table import vstack

    rows = _rows(len(ds), n_sim, seed)
    images = (ds.images[i, :, :, R].astype(float) for i in rows)
    images = tqdm(images, total=len(rows), desc="galaxy sizes (sim)", unit="stamp", disable=not progress)
    fwhm_r = ds.column("psf_fwhm_r")[rows]
    sim = _measure_rows(images, psf_r50(fwhm_r), psf_concentration(fwhm_r))
    sim["row"] = rows
    parts = [measure_real_galaxies(field, psf.real_r[field.name])
             for field in tqdm(fields, desc="galaxy sizes (real)", unit="field", disable=not progress)]
    return SizeResult(sim, vstack(parts) if parts else Table())


def measure_real_galaxies(field: RealField, stars: Table, bands=("r",), mag_max: float = GALAXY_MAG_RANGE[1] + 0.7) -> Table:
    """:func:`_measure_rows` of the r cutouts of :func:`real_galaxy_candidates`, the PSF's r50 and
    r90/r50 being the medians of ``stars`` (a :func:`_profile_table` of the field's stars); with
    ``mag_<band>`` (Petrosian, :func:`curve_of_growth`) of each other band in ``bands``."""
    from ..sdss.cutouts import CutoutError, cutout

    bands = tuple(dict.fromkeys(("r", *bands)))
    cand = real_galaxy_candidates(field, mag_max)
    stamps, keep = [], []
    for k, (ra, dec) in enumerate(zip(cand["ra"], cand["dec"])):
        try:
            stamps.append(cutout(field.frames, float(ra), float(dec), bands=bands).astype(float))
            keep.append(k)
        except CutoutError:
            continue
    n = len(stamps)
    table = _measure_rows([s[:, :, 0] for s in stamps], np.full(n, np.nanmedian(stars["r50"])),
                          np.full(n, np.nanmedian(stars["concentration"])))
    for j, b in enumerate(bands[1:], start=1):
        table[f"mag_{b}"] = np.array([curve_of_growth(s[:, :, j])["mag"] for s in stamps], float)
    table["field"], table["ra"], table["dec"] = [field.name] * n, cand["ra"][keep], cand["dec"][keep]
    return table


def star_profiles(field: RealField, ra=None, dec=None) -> Table:
    """r50 (arcsec) and r90/r50 of the r cutouts of the stars at (ra, dec), default the field's
    :func:`psf_stars`."""
    from ..sdss.cutouts import CutoutError, cutout

    if ra is None:
        ra, dec, _, _ = psf_stars(field)
    stamps = []
    for a, d in zip(ra, dec):
        try:
            stamps.append(cutout(field.frames, float(a), float(d), bands=("r",))[:, :, 0].astype(float))
        except CutoutError:
            continue
    return _profile_table(stamps)


def size_offset_dex(sizes: SizeResult, bin_width: float = 0.5) -> float:
    """Median of log10 r50 of real galaxies minus the simulated median log10 r50 at their magnitude."""
    sim, real = (t[t["selected"]] for t in (sizes.sim, sizes.real))
    if len(real) == 0 or len(sim) < 10:
        return np.nan
    edges = np.arange(GALAXY_MAG_RANGE[0], GALAXY_MAG_RANGE[1] + bin_width, bin_width)
    centres, medians = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (sim["mag"] >= lo) & (sim["mag"] < hi)
        if inside.sum() >= 5:
            centres.append(np.median(sim["mag"][inside]))
            medians.append(np.median(np.log10(sim["r50"][inside])))
    if not centres:
        return np.nan
    return float(np.median(np.log10(real["r50"]) - np.interp(real["mag"], centres, medians)))


# =========================================================================== 4. colours
COLOURS = (("u", "g"), ("g", "r"), ("r", "i"))


@dataclasses.dataclass
class ColourResult:
    z_edges: np.ndarray
    n_sim: np.ndarray          # per bin
    n_real: np.ndarray
    sim: dict                  # "g-r" -> (median per bin, scatter per bin)
    real: dict
    samples: dict              # "sim" / "real" -> (z, {colour: values}) for scatter plots

    @property
    def usable(self) -> np.ndarray:
        return (self.n_sim >= MIN_PER_BIN) & (self.n_real >= MIN_PER_BIN)

    def rms_median_difference(self, colour: str) -> float:
        d = (self.sim[colour][0] - self.real[colour][0])[self.usable]
        return float(np.sqrt(np.mean(d ** 2))) if d.size else np.nan

    def scatter_ratio(self, colour: str) -> float:
        return float(np.mean((self.sim[colour][1] / self.real[colour][1])[self.usable]))


def _binned(z, values, edges):
    idx = np.digitize(z, edges) - 1
    med, scat, n = (np.full(len(edges) - 1, np.nan) for _ in range(3))
    for k in range(len(edges) - 1):
        v = values[idx == k]
        n[k] = v.size
        if v.size:
            med[k], scat[k] = np.median(v), sigma_mad(v)
    return med, scat, n


def compare_colour_redshift(cat: Table, real: galaxies.Population | None = None,
                            z_edges: np.ndarray = COLOUR_Z_EDGES) -> ColourResult:
    """Median and robust scatter of colours in redshift bins: simulated vs real MGS catalogue."""
    real = real if real is not None else galaxies.load_real_galaxies()
    missing = [c for c in ("z_spec", *(f"mag_{b}" for b in BANDS)) if c not in cat.colnames]
    if missing:
        raise ValueError(f"catalogue lacks column(s) {missing} for the colour-redshift comparison")
    z_sim = np.asarray(cat["z_spec"], float)
    mag_sim = {b: np.asarray(cat[f"mag_{b}"], float) for b in BANDS}
    mag_real = {b: galaxies.nanomaggies_to_mag(real.flux[:, j]) for j, b in enumerate(BANDS)}
    out = {"sim": {}, "real": {}}
    samples = {"sim": (z_sim, {}), "real": (real.z, {})}
    for a, b in COLOURS:
        name = f"{a}-{b}"
        for key, z, mags in (("sim", z_sim, mag_sim), ("real", real.z, mag_real)):
            colour = mags[a] - mags[b]
            med, scat, n = _binned(z, colour, z_edges)
            out[key][name] = (med, scat)
            out[key + "_n"] = n
            samples[key][1][name] = colour
    return ColourResult(np.asarray(z_edges), out["sim_n"], out["real_n"], out["sim"], out["real"], samples)


# =========================================================================== the report
@dataclasses.dataclass
class RealismResults:
    noise: NoiseResult
    psf: PsfResult
    sizes: SizeResult
    colours: ColourResult
    dataset: str
    crowding: dict = dataclasses.field(default_factory=dict)  # field -> field_crowding (every field)


def _as_dataset(dataset) -> catalog.Dataset:
    if isinstance(dataset, catalog.Dataset):
        return dataset
    return catalog.open_dataset(dataset, verify_checksums=False)


def run_comparisons(dataset, frames_dir=None, n_sim: int = 600, seed: int = 0,
                    progress: bool = True) -> RealismResults:
    """All four comparisons of ``dataset`` (path or opened Dataset) with the frames in ``frames_dir``."""
    ds = _as_dataset(dataset)
    fields, crowding = split_crowded(load_fields(frames_dir, progress), progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN medians of empty bins
        noise = compare_sky_noise(ds, fields, n_sim=min(n_sim, 300), seed=seed, progress=progress)
        psf = compare_psf(ds, fields, n_sim=min(n_sim, 150), seed=seed, progress=progress)
        sizes = compare_galaxy_sizes(ds, fields, psf, n_sim=n_sim, seed=seed, progress=progress)
        colours = compare_colour_redshift(ds.catalog)
    return RealismResults(noise, psf, sizes, colours, str(ds.path), crowding)


def _row(quantity, band, field, sim, real, statistic, name, threshold, passed, n_sim, n_real, kind="test"):
    """A row of the report: ``kind`` "test" (simulation vs real) or "info" (no simulated data;
    always ``passed``, never counted)."""
    return dict(quantity=quantity, band=band, field=field, simulated=float(sim), real=float(real),
                statistic=float(statistic), statistic_name=name, threshold=threshold,
                passed=bool(passed), n_sim=int(n_sim), n_real=int(n_real), kind=kind)


def tally(table: Table) -> str:
    """'N/M tests pass' over the rows that compare the simulation with real data."""
    tests = table[table["kind"] == "test"]
    return f"{int(tests['passed'].sum())}/{len(tests)} tests pass ({len(table) - len(tests)} informative rows)"


def _percentile_row(quantity, band, field, sim_values, real_values):
    """Where the median of the real values falls in the simulated distribution."""
    lo, hi = PERCENTILE_RANGE
    sim_values = np.asarray(sim_values, float)[np.isfinite(sim_values)]
    real_values = np.asarray(real_values, float)[np.isfinite(real_values)]
    real = np.median(real_values) if real_values.size else np.nan
    pct = stats.percentileofscore(sim_values, real) if np.isfinite(real) and sim_values.size else np.nan
    return _row(quantity, band, field, np.median(sim_values) if sim_values.size else np.nan, real, pct,
                "percentile of real in sim", f"{lo:g} <= pct <= {hi:g}", lo <= pct <= hi,
                sim_values.size, real_values.size)


def _psf_rows(psf: PsfResult) -> list[dict]:
    rows = []
    for field in psf.real:
        stars = psf.star_source[field]
        for label, sim, real in (("PSF FWHM, Moffat core [arcsec]", psf.sim, psf.real[field]),
                                 ("PSF FWHM, effective [arcsec]", psf.sim_eff, psf.real_eff[field])):
            rows += [_percentile_row(f"{label} ({stars})", b, field, sim[:, j], real[:, j])
                     for j, b in enumerate(BANDS)]
        rows.append(_percentile_row(f"PSF concentration r90/r50 ({stars})", "r", field,
                                    psf.sim_r["concentration"], psf.real_r[field]["concentration"]))
        if field in psf.calibobj:
            ours, calib = psf.real_median(field, effective=True), np.median(psf.calibobj[field], axis=0)
            for j, b in enumerate(BANDS):
                diff = ours[j] - calib[j]
                rows.append(_row("real stars: effective FWHM vs calibObj PSF_FWHM [arcsec]", b, field, ours[j],
                                 calib[j], diff, "difference (ours - calibObj)", "informative: no simulated data",
                                 True, np.isfinite(psf.real_eff[field][:, j]).sum(), len(psf.calibobj[field]),
                                 kind="info"))
    return rows


GALAXY_TESTS = (("galaxy r50 [arcsec]", "r50", np.log10), ("galaxy concentration r90/r50", "concentration", None),
                ("galaxy b/a (moments)", "b_over_a", None))


def _galaxy_rows(sizes: SizeResult) -> list[dict]:
    """KS tests of log r50, r90/r50 and b/a of the selected galaxies, pooled ("both") and per field,
    and the pooled size offset at fixed magnitude."""
    sim_g = sizes.sim[sizes.sim["selected"]]
    real_g = sizes.real[sizes.real["selected"]] if len(sizes.real) else sizes.real
    groups = [("both", real_g)]
    if len(real_g):
        groups += [(f, real_g[real_g["field"] == f]) for f in sorted(set(real_g["field"]))]
    rows = []
    for field, real in groups:
        for name, col, transform in GALAXY_TESTS:
            if col not in sim_g.colnames:
                continue
            a, b_ = (np.asarray(t[col], float) if len(t) else np.array([]) for t in (sim_g, real))
            a, b_ = a[np.isfinite(a)], b_[np.isfinite(b_)]
            ta, tb = (a, b_) if transform is None else (transform(a), transform(b_))
            p = stats.ks_2samp(ta, tb).pvalue if a.size and b_.size else np.nan
            rows.append(_row(name, "r", field, np.median(a) if a.size else np.nan,
                             np.median(b_) if b_.size else np.nan, p, "KS p-value",
                             f"p >= {KS_P_MIN}", p >= KS_P_MIN, a.size, b_.size))
    offset = size_offset_dex(sizes)
    rows.append(_row("galaxy size at fixed r mag [dex]", "r", "both", 0.0, offset, offset,
                     "median log r50 offset real - sim", f"|offset| <= {SIZE_OFFSET_MAX_DEX}",
                     abs(offset) <= SIZE_OFFSET_MAX_DEX, len(sim_g), len(real_g)))
    return rows


def _crowding_rows(crowding: dict) -> list[dict]:
    """One informative row per field: its source density, and whether it was left out as crowded."""
    return [_row("field crowding: sources 15<r<19 per arcmin^2" + (" (crowded: left out)" if c["crowded"] else ""),
                 "r", field, np.nan, c["density"], c["masked"], "fraction of pixels masked",
                 f"density <= {CROWDED_DENSITY}", True, 0, c["n_sources"], kind="info")
            for field, c in crowding.items()]


def summary_table(res: RealismResults) -> Table:
    """One row per test: quantity, band, field, simulated, real, statistic, threshold, passed."""
    rows = []
    sim_med, real_med = res.noise.medians()
    n_real = sum(len(v) for v in res.noise.real.values())
    for j, b in enumerate(BANDS):
        ratio = sim_med[j] / real_med[j]
        rows.append(_row("sky noise [nmgy/pix]", b, "both", sim_med[j], real_med[j], ratio, "ratio sim/real",
                         "informative: survey vs these fields", True, len(res.noise.sim), n_real, kind="info"))
    rows += [_percentile_row("sky noise per field [nmgy/pix]", b, field, res.noise.sim[:, j], real[:, j])
             for field, real in res.noise.real.items() for j, b in enumerate(BANDS)]
    rows += _psf_rows(res.psf)
    rows += _galaxy_rows(res.sizes)
    rows += _crowding_rows(res.crowding)
    c = res.colours
    for name, limit in COLOUR_RMS_MAX.items():
        use = c.usable
        rms = c.rms_median_difference(name)
        rows.append(_row(f"{name} median vs z [mag]", name, "MGS", np.nanmedian(c.sim[name][0][use]),
                         np.nanmedian(c.real[name][0][use]), rms, "rms over z bins of median difference",
                         f"rms <= {limit}", rms <= limit, c.n_sim[use].sum(), c.n_real[use].sum()))
        ratio = c.scatter_ratio(name)
        rows.append(_row(f"{name} scatter vs z [mag]", name, "MGS", np.nanmedian(c.sim[name][1][use]),
                         np.nanmedian(c.real[name][1][use]), ratio, "mean scatter ratio sim/real",
                         f"{SCATTER_RATIO_RANGE[0]} <= ratio <= {SCATTER_RATIO_RANGE[1]}",
                         SCATTER_RATIO_RANGE[0] <= ratio <= SCATTER_RATIO_RANGE[1], c.n_sim[use].sum(),
                         c.n_real[use].sum()))
    table = Table(rows=rows)
    for col in ("simulated", "real", "statistic"):
        table[col].format = ".4g"
    table.meta["dataset"] = res.dataset
    return table


def figures(res: RealismResults) -> dict:
    """name -> matplotlib Figure of each comparison (see :mod:`photoz_nb.plots`)."""
    from .. import plots

    sizes_sim = res.sizes.sim[res.sizes.sim["selected"]]
    sizes_real = res.sizes.real[res.sizes.real["selected"]] if len(res.sizes.real) else res.sizes.real
    c = res.colours
    keep = c.usable
    centres = 0.5 * (c.z_edges[:-1] + c.z_edges[1:])
    return {
        "realism_sky_noise": plots.realism_sky_noise(res.noise.sim, res.noise.real),
        "realism_psf_fwhm": plots.realism_psf_fwhm({"Moffat core": (res.psf.sim, res.psf.real),
                                                     "effective": (res.psf.sim_eff, res.psf.real_eff)}),
        "realism_galaxy_sizes": plots.realism_galaxy_sizes(
            {k: np.asarray(sizes_sim[k], float) for k in ("mag", "r50", "concentration")},
            {k: np.asarray(sizes_real[k], float) for k in ("mag", "r50", "concentration")}),
        "realism_colour_redshift": plots.realism_colour_redshift(
            centres[keep], {k: (m[keep], s[keep]) for k, (m, s) in c.sim.items()},
            {k: (m[keep], s[keep]) for k, (m, s) in c.real.items()}),
    }


def realism_report(dataset_path, frames_dir=None, figures_dir=None, n_sim: int = 600, seed: int = 0,
                   progress: bool = True) -> Table:
    """Run every comparison and return the summary table (see the module docstring for the tests).

    Parameters
    ----------
    dataset_path : path of a simulated data set (or an opened :class:`~photoz_nb.catalog.Dataset`)
    frames_dir : folder of real SDSS frames; default: the committed sample ``data/sdss_sample``
    figures_dir : if given, ``realism_*.pdf/.png`` are written there (paths in ``table.meta``)
    n_sim : simulated stamps measured for the galaxy sizes (fewer for noise and PSF)
    """
    res = run_comparisons(dataset_path, frames_dir, n_sim=n_sim, seed=seed, progress=progress)
    table = summary_table(res)
    if figures_dir is not None:
        from .. import plots
        written = []
        for name, fig in figures(res).items():
            written += [str(p) for p in plots.save_figure(fig, figures_dir, name)]
        table.meta["figures"] = written
    return table
