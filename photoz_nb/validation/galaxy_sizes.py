"""Comparison 3: Petrosian r, r50, concentration and b/a of simulated and real galaxies."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
from astropy.table import Table, vstack
from tqdm.auto import tqdm

from .. import catalog, config
from ..measure import curve_of_growth, detect_sources
from ..measure.growth import central_children
from ..measure.sky import nearest_arcsec
from ..sdss.cutouts import CutoutError, cutout
from ..stats import nanomaggies_to_mag
from .fields import RealField
from .noise import _rows
from .psf import PsfResult, point_source
from .thresholds import (
    FLAT_CONCENTRATION_MARGIN,
    GALAXY_MAG_RANGE,
    RESOLVED_R50_RATIO,
    SATURATED_LINEAR_PIXELS,
    SATURATION_BOX,
    SATURATION_MAG,
    SATURATION_MIN_DN,
    SIZE_TABLE_EDGES,
    STAR_MATCH_ARCSEC,
    R,
)


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
    stellar-locus cut of :func:`_measure_rows` (r50 against the PSF's), so no calibObj is needed.
    A blend is split into its children (:func:`split_blends`): each is a catalogue object, as in SDSS."""
    frame = field.frames["r"]
    src = detect_sources(frame.image)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = nanomaggies_to_mag(np.asarray(src["flux"], float))
    bright = (mag < mag_max) & (mag > GALAXY_MAG_RANGE[0] - 1.5)  # segment fluxes miss the faint wings
    src = split_blends(frame.image, src[bright])
    ra, dec = frame.wcs.pixel_to_world_values(np.asarray(src["x"]), np.asarray(src["y"]))
    src["ra"], src["dec"] = np.atleast_1d(ra), np.atleast_1d(dec)
    min_value = SATURATION_MIN_DN * float(frame.header.get("NMGY", 0.005))
    src["saturated"] = np.array([saturated_core(frame.image, x, y, min_value) for x, y in zip(src["x"], src["y"])],
                                bool)
    src = src[~src["saturated"]]
    if field.stars is not None:
        src = src[nearest_arcsec(src["ra"], src["dec"], field.stars["RA"], field.stars["DEC"]) > STAR_MATCH_ARCSEC]
    return src


def split_blends(image: np.ndarray, sources: Table, half: int = config.STAMP // 2) -> Table:
    """``sources`` (x, y frame pixels) with each blend replaced by its children at their peaks
    (:func:`photoz_nb.measure.growth.central_children` of a stamp-sized box of ``image``).  A source
    filling its box (too few sky pixels to measure the noise: a bright star's halo) stays as detected."""
    rows = []
    for k, (x, y) in enumerate(zip(sources["x"], sources["y"])):
        x0, y0 = max(int(round(x)) - half, 0), max(int(round(y)) - half, 0)
        box = np.nan_to_num(np.asarray(image[y0:y0 + 2 * half, x0:x0 + 2 * half], float))
        try:
            children = central_children(box) + (x0, y0)
        except ValueError:  # detect.sky_noise: no sky left in the box
            children = np.empty((0, 2))
        rows += [(k, cx, cy) for cx, cy in (children if len(children) > 1 else [(x, y)])]
    out = sources[[k for k, _, _ in rows]] if rows else sources[:0]
    out["x"], out["y"] = [x for _, x, _ in rows], [y for _, _, y in rows]
    return out


def compare_galaxy_sizes(ds: catalog.Dataset, fields: list[RealField], psf: PsfResult, n_sim: int | None = 600,
                         seed: int = 0, progress: bool = True) -> SizeResult:
    """r50, r90/r50 and Petrosian r of simulated stamps and of cutouts of real galaxies."""

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


def _median_and_error(values, rng, n_boot: int) -> tuple[float, float]:
    """Median and its bootstrap standard error (NaN with fewer than 2 values)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return (float(values[0]) if values.size else np.nan), np.nan
    boot = np.median(values[rng.integers(0, values.size, (n_boot, values.size))], axis=1)
    return float(np.median(values)), float(boot.std())


def binned_size_table(sizes: SizeResult, edges=SIZE_TABLE_EDGES, n_boot: int = 1000, seed: int = 0) -> Table:
    """Median Petrosian r50 (arcsec) and r90/r50 of the selected galaxies per bin of r magnitude,
    simulated and real, with bootstrap standard errors and the number of galaxies per bin."""
    rng = np.random.default_rng(seed)
    sim, real = (t[t["selected"]] if len(t) else t for t in (sizes.sim, sizes.real))
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        row = {"r_lo": float(lo), "r_hi": float(hi)}
        for name, t in (("sim", sim), ("real", real)):
            inside = t[(t["mag"] >= lo) & (t["mag"] < hi)] if len(t) else t
            row[f"n_{name}"] = len(inside)
            for column, short in (("r50", "r50"), ("concentration", "c")):
                values = inside[column] if len(inside) else []
                row[f"{short}_{name}"], row[f"{short}_{name}_err"] = _median_and_error(values, rng, n_boot)
        rows.append(row)
    return Table(rows=rows)


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
