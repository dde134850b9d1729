"""The realism report: every comparison, the table of tests and its figures."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy import stats

from .. import catalog, plots, safeio
from ..simulate import population
from .catalogue_errors import ERROR_RATIO_TOLERANCE, error_ratio_table, format_error_table
from .colours import ColourResult, compare_colour_redshift
from .fields import load_fields, split_crowded
from .galaxy_sizes import SizeResult, binned_size_table, compare_galaxy_sizes, size_offset_dex
from .noise import NoiseResult, compare_sky_noise
from .psf import PsfResult, compare_psf
from .thresholds import (
    BANDS,
    COLOUR_RMS_MAX,
    CROWDED_DENSITY,
    FAMILY_ALPHA,
    KS_P_MIN,
    PERCENTILE_RANGE,
    SCATTER_RATIO_RANGE,
    SIZE_OFFSET_MAX_DEX,
)


@dataclasses.dataclass
class RealismResults:
    noise: NoiseResult
    psf: PsfResult
    sizes: SizeResult
    colours: ColourResult
    dataset: str
    crowding: dict = dataclasses.field(default_factory=dict)  # field -> field_crowding (every field)
    catalogue_errors: Table | None = None  # catalogue_errors.error_ratio_table (None: no true magnitudes)
    reobservation: Table | None = None  # population.reobservation_table: the population's own check


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
    errors = error_ratio_table(ds.catalog) if "mag_true_r" in ds.catalog.colnames else None
    return RealismResults(noise, psf, sizes, colours, str(ds.path), crowding, errors,
                          population.reobservation_table(seed=seed))


def _row(quantity, band, field, sim, real, statistic, name, threshold, passed, n_sim, n_real, kind="test",
         p_value=np.nan):
    """A row of the report: ``kind`` "test" (simulation vs real) or "info" (no simulated data;
    always ``passed``, never counted)."""
    return dict(quantity=quantity, band=band, field=field, simulated=float(sim), real=float(real),
                statistic=float(statistic), statistic_name=name, threshold=threshold,
                passed=bool(passed), n_sim=int(n_sim), n_real=int(n_real), kind=kind, p_value=float(p_value))


def holm_passed(p_values, passed, alpha: float = FAMILY_ALPHA) -> np.ndarray:
    """Family-wise verdicts (Holm 1979): the tests with a p-value (NaN: none) fail only if Holm's step-down
    procedure rejects them at family-wise error ``alpha``; the others keep ``passed``.

    Each test's own threshold fails a right simulation now and then: at 1 % (KS) or 2 % (percentile
    span) over ~50 tests, a perfect simulator fails at least one about 60 % of the time.  Holm bounds
    that chance by ``alpha`` for the whole report, whatever the tests' dependence.
    """
    p, out = np.asarray(p_values, float), np.array(passed, bool)
    has_p = np.flatnonzero(np.isfinite(p))
    order = has_p[np.argsort(p[has_p], kind="stable")]
    rejected = np.zeros(len(p), bool)
    for k, i in enumerate(order):
        if p[i] > alpha / (len(order) - k):
            break
        rejected[i] = True
    out[has_p] = ~rejected[has_p]
    return out


def tally(table: Table) -> str:
    """'N/M tests pass' over the rows that compare the simulation with real data, each at its own
    threshold and family-wise (:func:`holm_passed`)."""
    tests = table[table["kind"] == "test"]
    n_p = int(np.isfinite(tests["p_value"]).sum())
    return (f"{int(tests['passed'].sum())}/{len(tests)} tests pass at their own thresholds, "
            f"{int(tests['passed_family'].sum())}/{len(tests)} family-wise (Holm, alpha {FAMILY_ALPHA:g} over the "
            f"{n_p} tests with a p-value) ({len(table) - len(tests)} informative rows)")


def _percentile_row(quantity, band, field, sim_values, real_values):
    """Where the median of the real values falls in the simulated distribution."""
    lo, hi = PERCENTILE_RANGE
    sim_values = np.asarray(sim_values, float)[np.isfinite(sim_values)]
    real_values = np.asarray(real_values, float)[np.isfinite(real_values)]
    real = np.median(real_values) if real_values.size else np.nan
    pct = stats.percentileofscore(sim_values, real) if np.isfinite(real) and sim_values.size else np.nan
    return _row(quantity, band, field, np.median(sim_values) if sim_values.size else np.nan, real, pct,
                "percentile of real in sim", f"{lo:g} <= pct <= {hi:g}", lo <= pct <= hi,
                sim_values.size, real_values.size, p_value=2 * min(pct, 100 - pct) / 100)


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
                             f"p >= {KS_P_MIN}", p >= KS_P_MIN, a.size, b_.size, p_value=p))
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


def _catalogue_error_rows(errors: Table | None) -> list[dict]:
    """One test per band and magnitude bin: the simulated model magnitudes' scatter about the truth
    against the real catalogue's quoted errors (:func:`error_ratio_table`)."""
    if errors is None:
        return []
    return [_row("catalogue model-mag error [mag]", r["band"], f"MGS {r['mag_lo']:.2f}-{r['mag_hi']:.2f}",
                 r["sim_scatter"], r["real_error"], r["ratio"], "ratio sim scatter / real quoted",
                 f"|ratio - 1| <= {ERROR_RATIO_TOLERANCE} + 2 x {r['ratio_se']:.3f}", r["passed"],
                 r["n_sim"], r["n_real"]) for r in errors]


def summary_table(res: RealismResults) -> Table:
    """One row per test: quantity, band, field, simulated, real, statistic, threshold, passed, p_value
    (NaN where the test has none) and passed_family (:func:`holm_passed`)."""
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
    rows += _catalogue_error_rows(res.catalogue_errors)
    table = Table(rows=rows)
    tests = table["kind"] == "test"
    table["passed_family"] = table["passed"]
    table["passed_family"][tests] = holm_passed(table["p_value"][tests], table["passed"][tests])
    for col in ("simulated", "real", "statistic", "p_value"):
        table[col].format = ".4g"
    table.meta["dataset"] = res.dataset
    return table


def detail_markdown(res: RealismResults) -> str:
    """The report's tables behind its tests, as Markdown: galaxy sizes and concentrations per r bin
    (:func:`binned_size_table`) and the catalogue's error ratios per band and magnitude bin."""
    sizes = binned_size_table(res.sizes)
    cell = lambda v, e: f"{v:.2f} ± {e:.2f}" if np.isfinite(e) else (f"{v:.2f}" if np.isfinite(v) else "–")
    lines = ["Galaxy sizes and concentrations per r bin (medians, bootstrap errors; selected galaxies):", "",
             "| r | n sim / real | r50 sim [arcsec] | r50 real [arcsec] | r90/r50 sim | r90/r50 real |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['r_lo']:g}–{r['r_hi']:g} | {r['n_sim']} / {r['n_real']} | {cell(r['r50_sim'], r['r50_sim_err'])} "
              f"| {cell(r['r50_real'], r['r50_real_err'])} | {cell(r['c_sim'], r['c_sim_err'])} "
              f"| {cell(r['c_real'], r['c_real_err'])} |" for r in sizes]
    if res.catalogue_errors is not None:
        lines += ["", "Catalogue model-magnitude errors, simulated scatter about the truth / real quoted error, per "
                  "band and bin of the real magnitudes (ratio ± standard error; scatter / quoted; n sim / real):", "",
                  format_error_table(res.catalogue_errors)]
    if res.reobservation is not None:
        lines += ["", "The noise-free population's colours re-observed with SDSS's errors against the real catalogue's "
                  f"({max(res.reobservation['n_sim']):,} drawn galaxies, dereddened model colours; offset = median "
                  "sim - real):", "",
                  population.format_reobservation_table(res.reobservation)]
    return "\n".join(lines)


def figures(res: RealismResults) -> dict:
    """name -> matplotlib Figure of each comparison (see :mod:`photoz_nb.plots`)."""

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
    table.meta["details"] = detail_markdown(res)
    if figures_dir is not None:
        written = []
        for name, fig in figures(res).items():
            written += [str(p) for p in plots.save_figure(fig, figures_dir, name)]
        table.meta["figures"] = written
        tables = Path(figures_dir) / "realism_tables.md"
        safeio.write_atomic(tables, table.meta["details"] + "\n")
        table.meta["tables"] = str(tables)
    return table
