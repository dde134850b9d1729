"""Comparison 2: PSF widths of real stars and of rendered point sources; the PSF model derived from real stars."""
from __future__ import annotations

import dataclasses

import numpy as np
from astropy.table import Table
from scipy import ndimage
from tqdm.auto import tqdm

from .. import catalog, config
from ..measure import curve_of_growth, detect_sources, effective_fwhm, fit_fwhm, fit_psf_wing, source_mask
from ..measure.detect import _check_image
from ..measure.sky import nearest_arcsec
from ..sdss.cutouts import CutoutError, cutout
from ..sdss.stars import SATURATED
from ..simulate import render
from ..stats import nanomaggies_to_mag, require_columns, sigma_mad
from .fields import RealField, _box, _world_to_pixel
from .noise import _rows
from .thresholds import BANDS, FWHM_BOX, FWHM_FIT_BOX, STAR_MAG_RANGE, R


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
    require_columns(cat, [f"psf_fwhm_{b}" for b in BANDS], "catalogue", " (the PSF comparison needs every band's)")
    return np.column_stack([np.asarray(cat[f"psf_fwhm_{b}"], float) for b in BANDS])


def catalog_wing_scale(cat: Table) -> np.ndarray:
    """PSF wing scale of each catalogue row (simulator 1.7's ``psf_wing_scale``; 1, the survey median's
    shape, for data sets made before it varied between fields)."""
    if "psf_wing_scale" not in cat.colnames:
        return np.ones(len(cat))
    return np.asarray(cat["psf_wing_scale"], float)


def point_source(psf_fwhm_pix, dx: float = 0.0, dy: float = 0.0, stamp: int = 32, bands=None,
                 wing_scale: float = 1.0) -> np.ndarray:
    """A rendered unit-flux point source through the simulator's PSF in ``bands`` (default all),
    shape (n_bands, stamp, stamp)."""
    psf = np.atleast_1d(np.asarray(psf_fwhm_pix, float))
    return render.render_stamp([render.Component("exponential", np.ones(len(psf)), 1e-3, dx=dx, dy=dy)], psf, stamp,
                               bands=bands, wing_scale=wing_scale)


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

    s = field.stars
    with np.errstate(divide="ignore", invalid="ignore"):
        mag_r = nanomaggies_to_mag(np.asarray(s["PSFFLUX"], float)[:, R])
    keep = (mag_r > STAR_MAG_RANGE[0]) & (mag_r < STAR_MAG_RANGE[1])
    keep &= ~(np.asarray(s["FLAGS"]) & SATURATED).any(axis=1)
    ra, dec = np.asarray(s["RA"], float), np.asarray(s["DEC"], float)
    keep &= nearest_arcsec(ra, dec, ra, dec, exclude_self=True) > 10.0
    order = np.flatnonzero(keep)[np.argsort(mag_r[keep])][:max_stars]
    return ra[order], dec[order], np.asarray(s["PSF_FWHM"], float)[order]


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
    wing = catalog_wing_scale(ds.catalog)
    rows = _rows(len(nominal), n_sim, seed)
    rng = np.random.default_rng(seed)
    widths, r_images = [], []
    for i in tqdm(rows, desc="PSF (sim)", unit="psf", disable=not progress):
        dx, dy = rng.uniform(-0.5, 0.5, 2)
        image = point_source(nominal[i] / config.PIXEL_SCALE, dx, dy, stamp=FWHM_BOX + 1,
                             wing_scale=wing[i])[:, :-1, :-1]
        widths.append([_psf_widths(image[j], config.PIXEL_SCALE) for j in range(len(BANDS))])
        r_images.append(point_source([nominal[i, R] / config.PIXEL_SCALE], dx, dy, stamp=config.STAMP, bands="r",
                                     wing_scale=wing[i])[0])
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


def star_profiles(field: RealField, ra=None, dec=None) -> Table:
    """r50 (arcsec) and r90/r50 of the r cutouts of the stars at (ra, dec), default the field's
    :func:`psf_stars`."""

    if ra is None:
        ra, dec, _, _ = psf_stars(field)
    stamps = []
    for a, d in zip(ra, dec):
        try:
            stamps.append(cutout(field.frames, float(a), float(d), bands=("r",))[:, :, 0].astype(float))
        except CutoutError:
            continue
    return _profile_table(stamps)
