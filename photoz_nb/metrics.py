"""Point-estimate statistics of the paper, bootstrap errors, binned studies and the summary table.

Definitions (Pasquet et al. 2019; other libraries differ, so these are implemented here):
``dz = (z_phot - z_spec) / (1 + z_spec)``; bias = mean(dz);
``sigma_MAD = 1.4826 * median(|dz - median(dz)|)``; outlier fraction = fraction of ``|dz| > 0.05``.
Inputs must be finite, and ``z_spec >= Z_SPEC_MIN`` (-0.01): a lower value is a placeholder or a
star, not a galaxy's redshift, and is refused with its index rather than scored.

>>> point_metrics([0.11, 0.2], [0.1, 0.2])["outlier_frac"]
0.0
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table

from . import pdf as pdf_mod
from .stats import (MAD_TO_SIGMA, OUTLIER_CUT, PROGRESS_THRESHOLD, bootstrap, fit_slope,  # noqa: F401 (re-exported)
                    finite_vector, markdown_table, sigma_mad)

#: The paper's table: column name -> (header, format of one value).
SUMMARY_COLUMNS = {
    "trial": ("trial", "{}"),
    "training_size": ("training size", "{:,d}"),
    "bias": ("bias", "{:.5f}"),
    "sigma_mad": ("sigma_MAD", "{:.5f}"),
    "outliers_pct": ("outliers %", "{:.2f}"),
    "crps": ("CRPS", "{:.5f}"),
}
TEX_HEADERS = {"sigma_mad": r"$\sigma_{\rm MAD}$", "outliers_pct": r"outliers (\%)",
               "bias": "bias", "crps": "CRPS", "trial": "trial", "training_size": "training size"}


#: Lowest spectroscopic redshift accepted: blueshifts of nearby galaxies stay above it (M31: -0.001).
Z_SPEC_MIN = -0.01


def _check_pair(z_phot, z_spec) -> tuple[np.ndarray, np.ndarray]:
    zp, zs = finite_vector(z_phot, "z_phot", allow_empty=True), finite_vector(z_spec, "z_spec", allow_empty=True)
    if len(zp) != len(zs):
        raise ValueError(f"z_phot and z_spec differ in length: {len(zp)} != {len(zs)}")
    if np.any(zs <= -1):
        raise ValueError("z_spec must be > -1 (dz divides by 1 + z_spec)")
    low = zs < Z_SPEC_MIN
    if low.any():
        i = int(np.argmax(low))
        raise ValueError(f"z_spec has {int(low.sum())} value(s) below {Z_SPEC_MIN}, first at index {i} ({zs[i]:g}): "
                         "not a galaxy redshift (a placeholder or a star?); remove those rows")
    return zp, zs


def check_cut(value, name: str) -> float:
    """A threshold that must be a finite positive number (e.g. ``outlier_cut``), else a ValueError naming it."""
    try:
        cut = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}") from None
    if not np.isfinite(cut) or cut <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return cut


def dz(z_phot, z_spec) -> np.ndarray:
    """Normalised residual ``(z_phot - z_spec) / (1 + z_spec)``."""
    zp, zs = _check_pair(z_phot, z_spec)
    return (zp - zs) / (1 + zs)


def point_metrics(z_phot, z_spec, outlier_cut: float = OUTLIER_CUT) -> dict:
    """The paper's statistics of ``dz``: ``bias``, ``sigma_mad``, ``outlier_frac`` (|dz| > cut), ``n``."""
    check_cut(outlier_cut, "outlier_cut")
    d = dz(z_phot, z_spec)
    if len(d) == 0:
        raise ValueError("point_metrics needs at least one galaxy, got empty arrays")
    return {"bias": float(d.mean()), "sigma_mad": sigma_mad(d),
            "outlier_frac": float(np.mean(np.abs(d) > outlier_cut)), "n": len(d)}


def sigma_mad_dz(z_phot, z_spec) -> float:
    """sigma_MAD of ``dz`` alone: the statistic to bootstrap when comparing methods' scatter."""
    return sigma_mad(dz(z_phot, z_spec))


def pdf_metrics(pdfs, edges, z_spec, kind: str = "mean") -> dict:
    """:func:`point_metrics` of the ``kind`` point estimate, plus the mean ``crps`` and ``kind``."""
    z_phot = pdf_mod.point_estimate(pdfs, edges, kind)
    out = point_metrics(z_phot, z_spec)
    out["crps"] = float(np.mean(pdf_mod.crps(pdfs, edges, z_spec)))
    out["kind"] = kind
    return out


def _bin_edges(values: np.ndarray, bins) -> np.ndarray:
    if np.ndim(bins) == 0:
        if int(bins) != bins or bins < 1:
            raise ValueError(f"bins must be a positive integer or an array of edges, got {bins!r}")
        edges = np.quantile(values, np.linspace(0, 1, int(bins) + 1))
        if np.any(np.diff(edges) <= 0):
            raise ValueError(f"{int(bins)} quantile bins of these values have empty widths "
                             "(too many repeated values); pass explicit edges")
        return edges
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0) or not np.all(np.isfinite(edges)):
        raise ValueError(f"bin edges must be a 1-D strictly increasing finite array, got {bins!r}")
    return edges


def _binned_statistic(z_phot, z_spec, crps=None) -> dict:
    out = point_metrics(z_phot, z_spec)
    if crps is not None:
        out["crps"] = float(np.mean(crps))
    return out


def binned_metrics(values, z_phot, z_spec, bins, crps=None, n_boot: int = 200, seed: int = 0) -> Table:
    """Bias, sigma_MAD, outlier fraction (and mean CRPS) in bins of ``values``, with bootstrap errors.

    Parameters
    ----------
    values : array_like
        The property binned on (z_spec, z_phot, magnitude, E(B-V), b/a, seeing, ...).
    bins : int or array_like
        Number of equal-count (quantile) bins, or bin edges; values outside the edges are
        left out, the last bin includes its right edge.
    crps : array_like, optional
        Per-galaxy CRPS; adds ``crps`` and ``crps_err`` columns.

    Returns
    -------
    astropy.table.Table with ``lo, hi, centre, n, bias, bias_err, sigma_mad, sigma_mad_err,
    outlier_frac, outlier_frac_err`` (+ ``crps, crps_err``); statistics are NaN in empty bins
    and errors NaN in bins with fewer than 2 galaxies.  ``centre`` is the median value in the bin.
    """
    zp, zs = _check_pair(z_phot, z_spec)
    values = finite_vector(values, "values", allow_empty=True)
    arrays = [zp, zs]
    if crps is not None:
        arrays.append(finite_vector(crps, "crps", allow_empty=True))
    if any(len(a) != len(values) for a in arrays):
        raise ValueError(f"values, z_phot, z_spec (and crps) differ in length: "
                         f"{[len(values)] + [len(a) for a in arrays]}")
    edges = _bin_edges(values, bins)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    inside = (values >= edges[0]) & (values <= edges[-1])
    stats = ["bias", "sigma_mad", "outlier_frac"] + (["crps"] if crps is not None else [])
    rows = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = inside & (which == i)
        row = {"lo": lo, "hi": hi, "centre": float(np.median(values[sel])) if sel.any() else 0.5 * (lo + hi),
               "n": int(sel.sum())}
        vals = _binned_statistic(*(a[sel] for a in arrays)) if sel.any() else {}
        errs = (bootstrap(_binned_statistic, *(a[sel] for a in arrays), n_boot=n_boot,
                          seed=np.random.SeedSequence([seed, i]).generate_state(1)[0])
                if sel.sum() >= 2 else {})
        for s in stats:
            row[s], row[f"{s}_err"] = vals.get(s, np.nan), errs.get(s, np.nan)
        rows.append(row)
    names = ["lo", "hi", "centre", "n"] + [c for s in stats for c in (s, f"{s}_err")]
    return Table(rows=[[r[c] for c in names] for r in rows], names=names,
                 dtype=[float, float, float, int] + [float] * (2 * len(stats)))


#: Summary statistics that get a bootstrap error (column ``<name>_err``).
SUMMARY_ERRORS = ("bias", "sigma_mad", "outliers_pct", "crps")


def _summary_stats(z_phot, z_spec, crps=None) -> dict:
    m = point_metrics(z_phot, z_spec)
    return {"bias": m["bias"], "sigma_mad": m["sigma_mad"], "outliers_pct": 100 * m["outlier_frac"],
            "crps": float(np.mean(crps)) if crps is not None else np.nan}


def summary_row(trial: str, training_size: int, z_phot, z_spec, crps=None, n_boot: int = 200,
                seed: int = 0) -> dict:
    """One row of the paper's table, with bootstrap errors ``bias_err, sigma_mad_err, outliers_pct_err, crps_err``.

    ``crps`` is per-galaxy values (averaged here, resampled with the galaxies) or one number
    (then ``crps_err`` is NaN).  ``n_boot`` resamples of the galaxies, seeded by ``seed``;
    ``n_boot=0`` leaves the errors out.
    """
    zp, zs = _check_pair(z_phot, z_spec)
    per_galaxy = crps is not None and np.ndim(crps) > 0
    arrays = [zp, zs] + ([finite_vector(crps, "crps", allow_empty=True)] if per_galaxy else [])
    row = {"trial": str(trial), "training_size": int(training_size), **_summary_stats(*arrays), "n_test": len(zp),
           **rail_summary_columns(zp, zs)}
    if crps is not None and not per_galaxy:
        row["crps"] = float(crps)
    if n_boot:
        errors = bootstrap(_summary_stats, *arrays, n_boot=n_boot, seed=seed)
        row.update({f"{s}_err": errors[s] if s != "crps" or per_galaxy else np.nan for s in SUMMARY_ERRORS})
    return row


def summary_table(rows) -> Table:
    """The paper's layout: trial, training size, bias, sigma_MAD, outliers %, CRPS (+ n_test).

    Bootstrap errors (``*_err`` columns, see :func:`summary_row`) are kept when any row has
    them (NaN in rows without).
    """
    rows = list(rows)
    names = list(SUMMARY_COLUMNS) + ["n_test"]
    missing = [c for r in rows for c in names if c not in r]
    if missing:
        raise ValueError(f"summary rows lack {sorted(set(missing))}; build them with summary_row")
    errors = [f"{s}_err" for s in SUMMARY_ERRORS if any(f"{s}_err" in r for r in rows)]
    rail = [c for c in RAIL_SUMMARY_COLUMNS if any(c in r for r in rows)]  # RAIL's conventions, after ours
    table = Table(rows=[[r[c] for c in names] + [r.get(c, np.nan) for c in errors + rail] for r in rows],
                  names=names + errors + rail,
                  dtype=[str, int, float, float, float, float, int] + [float] * (len(errors) + len(rail)))
    table["outliers_pct"].unit = "%"
    if "outliers_pct_err" in errors:
        table["outliers_pct_err"].unit = "%"
    return table


def _cell(row, col: str, pm: str = " ± ") -> str:
    """One formatted value, followed by ``pm`` and its bootstrap error where the table has one."""
    value = row[col]
    if col != "trial" and not np.isfinite(value):
        return ""
    fmt = {**SUMMARY_COLUMNS, **RAIL_SUMMARY_COLUMNS}[col][1]
    text = fmt.format(value.item() if hasattr(value, "item") else value)
    err = row[f"{col}_err"] if f"{col}_err" in row.colnames else np.nan
    return text + pm + fmt.format(float(err)) if np.isfinite(err) else text


def to_markdown(table: Table) -> str:
    """Markdown pipe table of the paper's columns, numbers as the paper prints them (``value ± error``)."""
    cols = _table_columns(table)
    headers = {**SUMMARY_COLUMNS, **RAIL_SUMMARY_COLUMNS}
    cells = [[_cell(row, c).replace("|", r"\|") for c in cols] for row in table]
    return markdown_table(cells, headers=[headers[c][0] for c in cols],
                          align=["---" if c == "trial" else "---:" for c in cols]) + "\n"


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """LaTeX ``tabular`` of the paper's columns, ``value $\\pm$ error`` (booktabs: needs ``\\usepackage{booktabs}``)."""
    cols = _table_columns(table)
    lines = [r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule",
             " & ".join({**TEX_HEADERS, **RAIL_TEX_HEADERS}[c] for c in cols) + r" \\", r"\midrule"]
    for row in table:
        cells = [_tex_escape(_cell(row, c)) if c == "trial"
                 else _cell(row, c, pm=" PM ").replace(",", "{,}").replace("-", "$-$").replace("PM", r"$\pm$")
                 for c in cols]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_summary(table: Table, path_stem) -> list[Path]:
    """Write ``<stem>.md``, ``<stem>.tex`` (value ± error) and ``<stem>.ecsv`` (full precision,
    errors in their own ``*_err`` columns); return the paths."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ext) for ext in (".md", ".tex", ".ecsv")]
    _write_atomic(paths[0], lambda p: p.write_text(to_markdown(table)))
    _write_atomic(paths[1], lambda p: p.write_text(to_latex(table)))
    _write_atomic(paths[2], lambda p: table.write(p, format="ascii.ecsv", overwrite=True))
    return paths


def widest_removed(pdfs, edges, fraction: float = 0.2, kind: str = "central68") -> np.ndarray:
    """Boolean mask keeping all but the ``fraction`` of galaxies with the widest PDFs.

    ``round(fraction * N)`` galaxies are dropped; ties are broken by row order (stable).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    w = pdf_mod.width(pdfs, edges, kind=kind)
    n_drop = int(round(fraction * len(w)))
    keep = np.ones(len(w), bool)
    if n_drop:
        keep[np.argsort(w, kind="stable")[len(w) - n_drop:]] = False
    return keep


# ---------------------------------------------------------------- RAIL's conventions (LSST-DESC)

#: Gaussian sigma per interquartile range, as RAIL (``PointSigmaIQR``) rounds it: IQR / 1.349.
IQR_TO_SIGMA = 1.349
#: RAIL's catastrophic outliers: |dz| > max(RAIL_OUTLIER_FLOOR, 3 sigma_IQR) (LSST Science Book).
RAIL_OUTLIER_FLOOR = 0.06


def rail_point_metrics(z_phot, z_spec) -> dict:
    """RAIL's point statistics of ``dz = (z_phot - z_spec) / (1 + z_spec)`` (rail.evaluation.metrics.pointestimates).

    ``sigma_iqr``: (75th - 25th percentile of dz, numpy's linear interpolation) / 1.349;
    ``bias_median``: median of dz (RAIL's "bias"; ours, :func:`point_metrics`, is the mean);
    ``outlier_rate_rail``: fraction with |dz| > max(0.06, 3 sigma_iqr) (ours: |dz| > 0.05);
    ``sigma_mad_rail``: 1.4826 median |dz - median dz|, the same as our ``sigma_mad``.
    """
    d = dz(z_phot, z_spec)
    if len(d) == 0:
        raise ValueError("rail_point_metrics needs at least one galaxy, got empty arrays")
    q75, q25 = np.percentile(d, [75.0, 25.0])
    sigma_iqr = float((q75 - q25) / IQR_TO_SIGMA)
    cut = max(RAIL_OUTLIER_FLOOR, 3.0 * sigma_iqr)
    return {"sigma_iqr": sigma_iqr, "bias_median": float(np.median(d)),
            "outlier_rate_rail": float(np.mean(np.abs(d) > cut)), "sigma_mad_rail": sigma_mad(d), "n": len(d)}


def rail_evaluation(pdfs, edges, z_spec, kind: str = "mean", n_grid: int = 401) -> dict:
    """Our PDFs scored by RAIL's and qp's own code, through the qp boundary (``hist`` ensemble).

    Needs ``qp-prob`` and ``pz-rail-base`` (``pip install 'photoz-nb[rail]'``).  Returns RAIL's point
    metrics of the ``kind`` point estimate (``PointSigmaIQR``, ``PointBias``, ``PointOutlierRate``,
    ``PointSigmaMAD``), qp's PIT meta-metrics (KS, CvM, AD statistics; PIT outlier rate) and RAIL's
    CDE loss on a grid of ``n_grid`` points over the edges.  Beside :func:`pdf_metrics` it shows the
    two conventions side by side (see :func:`rail_point_metrics` for what differs).
    """
    import qp  # optional extra [rail] (qp-prob, pz-rail-base): only this comparison needs them
    from qp.metrics.pit import PIT
    from rail.evaluation.metrics.cdeloss import CDELoss
    from rail.evaluation.metrics.pointestimates import PointBias, PointOutlierRate, PointSigmaIQR, PointSigmaMAD

    p, edges, z = pdf_mod.validate_pdfs(pdfs, edges, z_spec)
    zp = pdf_mod.point_estimate(p, edges, kind)
    ens = pdf_mod.to_qp(p, edges)
    pit = PIT(ens, z)
    with warnings.catch_warnings():  # qp calls scipy's anderson_ksamp the old way: a deprecation notice per call
        warnings.filterwarnings("ignore", message="Parameter `variant` has been introduced", category=UserWarning)
        meta = pit.calculate_pit_meta_metrics()
    grid = np.linspace(edges[0], edges[-1], n_grid)
    return {
        "sigma_iqr": float(PointSigmaIQR(zp, z).evaluate()),
        "bias_median": float(PointBias(zp, z).evaluate()),
        "outlier_rate": float(PointOutlierRate(zp, z).evaluate()),
        "sigma_mad": float(PointSigmaMAD(zp, z).evaluate()),
        "pit_ks": float(meta["ks"].statistic), "pit_cvm": float(meta["cvm"].statistic),
        "pit_ad": float(meta["ad"].statistic), "pit_outlier_rate": float(meta["outlier_rate"]),
        "cde_loss": float(CDELoss(ens, grid, z).evaluate().statistic),
        "n": len(z), "point_estimate": kind, "qp": qp.__version__,
    }


#: RAIL's point metrics as extra columns of the summary table (after ours; no bootstrap errors).
RAIL_SUMMARY_COLUMNS = {
    "sigma_iqr": ("σ_IQR (RAIL)", "{:.5f}"),
    "outliers_rail_pct": ("outliers % (RAIL)", "{:.2f}"),  # |dz| > max(0.06, 3 sigma_IQR)
    "bias_median": ("median bias (RAIL)", "{:.5f}"),
}
RAIL_TEX_HEADERS = {"sigma_iqr": r"$\sigma_{\rm IQR}$", "outliers_rail_pct": r"outliers$_{\rm RAIL}$ (\%)",
                    "bias_median": "median bias"}


def rail_summary_columns(z_phot, z_spec) -> dict:
    """The RAIL columns of one summary row, from :func:`rail_point_metrics` (outlier rate in %)."""
    m = rail_point_metrics(z_phot, z_spec)
    return {"sigma_iqr": m["sigma_iqr"], "outliers_rail_pct": 100 * m["outlier_rate_rail"],
            "bias_median": m["bias_median"]}


def _table_columns(table) -> list[str]:
    """The paper's columns, then the RAIL columns the table has."""
    return list(SUMMARY_COLUMNS) + [c for c in RAIL_SUMMARY_COLUMNS if c in table.colnames]
