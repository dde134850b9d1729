"""Point estimates: z_phot against z_spec, metrics against a property, the training-set size, Stripe 82 depth."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import config
from ..metrics import point_metrics
from ..stats import require_columns
from .style import (
    COLOURS,
    COLUMN_WIDTH,
    OUTLIER_DZ,
    STAT_LABELS,
    TEXT_WIDTH,
    ZPHOT_LABEL,
    _as_mapping,
    _figure,
    _redshift_axis,
    _same_length,
    _text_box,
    _vector,
    paper_style,
)


# --------------------------------------------------------------------------- z_phot vs z_spec
def _metrics_text(z_phot, z_spec) -> str:

    m = point_metrics(z_phot, z_spec)
    return (f"bias = {m['bias']:+.5f}\n$\\sigma_\\mathrm{{MAD}}$ = {m['sigma_mad']:.5f}\n"
            f"$\\eta$ = {100 * m['outlier_frac']:.2f}%  (N = {m['n']})")


def _density_panel(ax, z_spec, z_phot, label, bins, norm):
    counts, _, _ = np.histogram2d(z_spec, z_phot, bins=[bins, bins])
    mesh = ax.pcolormesh(bins, bins, np.ma.masked_equal(counts.T, 0), norm=norm,
                         cmap="viridis", rasterized=True)
    z = np.array([config.Z_MIN, config.Z_MAX])
    ax.plot(z, z, color="k", lw=0.8, label="1:1")
    for sign in (1, -1):
        ax.plot(z, z + sign * OUTLIER_DZ * (1 + z), color=COLOURS[1], ls="--", lw=0.8,
                label=rf"$|\Delta z| = {OUTLIER_DZ}$" if sign > 0 else None)
    _redshift_axis(ax, "x")
    _redshift_axis(ax, "y", label=ZPHOT_LABEL if ax.get_subplotspec().is_first_col() else "")
    ax.set_aspect("equal")
    ax.set_title(label)
    _text_box(ax, _metrics_text(z_phot, z_spec))
    return mesh


def zphot_vs_zspec(z_spec, z_phot, label: str = "CNN", baseline=None, n_cells: int = 80) -> Figure:
    """Density of z_phot against z_spec with the 1:1 line, the outlier envelope and metrics.

    Parameters
    ----------
    z_spec, z_phot : array (N,)
    label : str
        Title of the panel.
    baseline : (z_phot_baseline, label), optional
        A second method on the same galaxies, drawn in a panel to the right (e.g. B16);
        the figure is then page-wide (``TEXT_WIDTH``) with one shared colour scale.
    n_cells : int
        Cells per axis of the 2-D histogram on [0, 0.4].
    """
    z_spec, z_phot = _vector(z_spec, "z_spec"), _vector(z_phot, "z_phot")
    _same_length(z_spec=z_spec, z_phot=z_phot)
    panels = [(z_phot, label)]
    if baseline is not None:
        base_z, base_label = baseline
        base_z = _vector(base_z, f"baseline z_phot ({base_label})")
        _same_length(z_spec=z_spec, baseline=base_z)
        panels.append((base_z, base_label))
    bins = np.linspace(config.Z_MIN, config.Z_MAX, n_cells + 1)
    peak = max(np.histogram2d(z_spec, zp, bins=[bins, bins])[0].max() for zp, _ in panels)
    norm = LogNorm(vmin=1, vmax=max(peak, 2))  # one scale for both panels: densities compare
    with paper_style():
        wide = len(panels) > 1
        fig, axes = _figure(1, len(panels), height=3.0 if not wide else 3.1,
                            width=TEXT_WIDTH if wide else COLUMN_WIDTH, sharey=True)
        for ax, (zp, name) in zip(axes[0], panels):
            mesh = _density_panel(ax, z_spec, zp, name, bins, norm)
        axes[0, -1].legend(loc="lower right", handlelength=1.2, borderaxespad=0.2)
        bar = fig.colorbar(mesh, ax=axes[0].tolist(), label="galaxies per cell", shrink=0.9, aspect=25)
        plain = mpl.ticker.FuncFormatter(lambda value, _: f"{value:g}")  # 1, 10, 100 (not 10^0)
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain if peak < 10 else mpl.ticker.NullFormatter())
    return fig

# --------------------------------------------------------------------------- metrics vs a property
_TABLE_COLUMNS = ("lo", "hi", "centre", "n")


def _check_metric_table(table, label, stats) -> None:
    need = list(_TABLE_COLUMNS) + [c for s in stats for c in (s, f"{s}_err")]
    require_columns(table, need, f"table {label!r}", " (binned_metrics output expected)")


def metric_vs_property(tables, property_label: str,
                       stats=("bias", "sigma_mad", "outlier_frac")) -> Figure:
    """Binned metrics against a property: one stacked panel per statistic, one series per table.

    Parameters
    ----------
    tables : dict label -> astropy Table, or one Table
        Output of ``photoz_nb.metrics.binned_metrics`` (columns lo, hi, centre, n,
        ``<stat>`` and ``<stat>_err``), e.g. ``{"CNN": t1, "B16": t2}``.
    property_label : str
        The x-axis label, with units, e.g. ``"PSF FWHM [arcsec]"``.
    stats : sequence of str
        Statistics to draw, top to bottom; ``outlier_frac`` is shown in percent.
    """
    tables = _as_mapping(tables, "")
    unknown = [s for s in stats if s not in STAT_LABELS]
    if unknown or not stats:
        raise ValueError(f"stats must be chosen from {list(STAT_LABELS)}, got {list(stats)}")
    for label, table in tables.items():
        _check_metric_table(table, label, stats)
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.5 + 1.15 * len(stats), sharex=True)
        for i, (label, table) in enumerate(tables.items()):
            width = np.asarray(table["hi"], float) - np.asarray(table["lo"], float)
            # dodge series by a fixed step (a fraction of the typical bin): an open-ended last bin must not move far
            x = np.asarray(table["centre"], float) + 0.15 * np.median(width) * (i - (len(tables) - 1) / 2)
            for ax, stat in zip(axes[:, 0], stats):
                scale = 100.0 if stat == "outlier_frac" else 1.0
                ax.errorbar(x, scale * np.asarray(table[stat], float), yerr=scale * np.asarray(table[f"{stat}_err"], float),
                            marker="o", ms=3, capsize=1.5, lw=0.9, elinewidth=0.7, color=COLOURS[i],
                            label=label or None)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(STAT_LABELS[stat])
            if stat == "bias":
                ax.axhline(0, color="k", lw=0.6, ls="--")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
        axes[-1, 0].set_xlabel(property_label)
        if len(tables) > 1:  # above the panels, where it hides neither a point nor the axis' offset (1e-3)
            fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=min(len(tables), 3))
    return fig

# --------------------------------------------------------------------------- training-set size
#: Panels of :func:`metrics_vs_training_size`: summary-table column -> y label.
SIZE_STATS = {"sigma_mad": r"$\sigma_\mathrm{MAD}$", "outliers_pct": r"outliers $\eta$ [%]",
              "crps": "CRPS"}


def _reference_value(row, stat: str, name: str) -> float:
    """``stat`` of a baseline row (Table row or dict); ``outliers_pct`` also from ``outlier_frac``."""
    keys = row.colnames if hasattr(row, "colnames") else list(row)
    if stat in keys:
        return float(row[stat])
    if stat == "outliers_pct" and "outlier_frac" in keys:
        return 100.0 * float(row["outlier_frac"])
    if stat == "crps":
        return np.nan  # photometry-only baselines often have no PDF: no CRPS line
    raise ValueError(f"reference {name!r} lacks {stat!r} (has {sorted(keys)})")


def metrics_vs_training_size(rows, references: Mapping | None = None, label: str = "CNN") -> Figure:
    """sigma_MAD, outlier percentage and CRPS against the number of training galaxies (log x).

    Several rows at one size (repeated trainings) are all drawn; the line joins their means.

    Parameters
    ----------
    rows : astropy Table, or dict label -> Table
        Output of ``photoz_nb.metrics.summary_table`` (columns ``training_size``,
        ``sigma_mad``, ``outliers_pct``, ``crps``); ``label`` names a bare Table.
    references : dict label -> row or dict, optional
        Horizontal reference lines, e.g. ``{"kNN (full)": knn_row, "RF (full)": rf_row}``;
        each needs ``sigma_mad`` and ``outliers_pct`` (or ``outlier_frac``, a fraction);
        ``crps`` is optional.
    """
    series = _as_mapping(rows, label)
    references = dict(references or {})
    curves = {}
    for name, table in series.items():
        require_columns(table, ("training_size", *SIZE_STATS), f"rows {name!r}", " (summary_table output expected)")
        size = _vector(table["training_size"], f"rows[{name!r}]['training_size']")
        if np.any(size <= 0):
            raise ValueError(f"rows {name!r}: training_size must be positive for a log axis")
        curves[name] = (size, {s: np.asarray(table[s], float) for s in SIZE_STATS})
    levels = {name: {s: _reference_value(row, s, name) for s in SIZE_STATS} for name, row in references.items()}
    has_crps = any(np.isfinite(c[1]["crps"]).any() for c in curves.values()) or \
        any(np.isfinite(v["crps"]) for v in levels.values())
    stats = [s for s in SIZE_STATS if s != "crps" or has_crps]
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.5 + 1.1 * len(stats), sharex=True)
        for i, (name, (size, values)) in enumerate(curves.items()):
            sizes = np.unique(size)
            for ax, stat in zip(axes[:, 0], stats):
                ax.plot(size, values[stat], "o", ms=3, color=COLOURS[i], label=name)
                mean = [np.nanmean(values[stat][size == n]) if np.isfinite(values[stat][size == n]).any()
                        else np.nan for n in sizes]
                ax.plot(sizes, mean, "-", color=COLOURS[i])
        for j, (name, level) in enumerate(levels.items()):
            for ax, stat in zip(axes[:, 0], stats):
                if np.isfinite(level[stat]):
                    ax.axhline(level[stat], color=COLOURS[len(curves) + j], ls=("--", ":", "-.")[j % 3],
                               lw=0.9, label=name)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(SIZE_STATS[stat])
            ax.set_xscale("log")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
        axes[-1, 0].set_xlabel("training galaxies")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 3))
    return fig

# --------------------------------------------------------------------------- Stripe 82 depth
DEPTHS = {"normal": "normal depth", "stripe82": "Stripe 82"}


def _depth_stats(tables, stats) -> dict:
    if not isinstance(tables, Mapping) or not tables:
        raise ValueError("tables must be a non-empty dict label -> {'normal': stats, 'stripe82': stats}")
    for name, pair in tables.items():
        if not isinstance(pair, Mapping) or set(pair) != set(DEPTHS):
            keys = sorted(pair) if isinstance(pair, Mapping) else type(pair).__name__
            raise ValueError(f"tables[{name!r}] must have exactly the keys {sorted(DEPTHS)}, got {keys}")
        for depth, values in pair.items():
            missing = [s for s in stats if s not in values]
            if missing:
                raise ValueError(f"tables[{name!r}][{depth!r}] lacks {missing} (point_metrics output expected)")
    return tables


def stripe82_depth(tables, stats=("sigma_mad", "outlier_frac")) -> Figure:
    """Metrics of galaxies in normal-depth imaging against those in deeper Stripe 82, per method.

    Parameters
    ----------
    tables : dict label -> {"normal": stats, "stripe82": stats}
        Each stats dict holds ``bias``, ``sigma_mad``, ``outlier_frac`` (as returned by
        ``photoz_nb.metrics.point_metrics``) and optionally ``<stat>_err`` (e.g. from
        ``photoz_nb.metrics.bootstrap`` of ``point_metrics``) drawn as error bars; ``n``,
        if present, is shown in the legend when it is the same for every method.
    stats : sequence of str, from ``bias``, ``sigma_mad``, ``outlier_frac`` (in percent)
    """
    unknown = [s for s in stats if s not in STAT_LABELS]
    if unknown or not stats:
        raise ValueError(f"stats must be chosen from {list(STAT_LABELS)}, got {list(stats)}")
    tables = _depth_stats(tables, stats)
    methods = list(tables)
    x = np.arange(len(methods))
    with paper_style():
        fig, axes = _figure(len(stats), 1, height=0.6 + 1.1 * len(stats), sharex=True)
        for j, (depth, depth_label) in enumerate(DEPTHS.items()):
            counts = {tables[m][depth].get("n") for m in methods}
            if len(counts) == 1 and None not in counts:
                depth_label += f" (N={int(counts.pop()):,})"
            for ax, stat in zip(axes[:, 0], stats):
                scale = 100.0 if stat == "outlier_frac" else 1.0
                y = [scale * float(tables[m][depth][stat]) for m in methods]
                err = [scale * float(tables[m][depth].get(f"{stat}_err", np.nan)) for m in methods]
                ax.errorbar(x + (j - 0.5) * 0.25, y, yerr=np.nan_to_num(err), fmt="os"[j], ms=4,
                            capsize=2, lw=0, elinewidth=0.8, color=COLOURS[j], label=depth_label)
        for ax, stat in zip(axes[:, 0], stats):
            ax.set_ylabel(STAT_LABELS[stat])
            if stat == "bias":
                ax.axhline(0, color="k", lw=0.6, ls="--")
            ax.yaxis.get_major_formatter().set_powerlimits((-2, 3))
            ax.tick_params(axis="x", which="both", top=False)
        axes[-1, 0].set(xticks=x, xticklabels=methods, xlim=(-0.6, len(methods) - 0.4), xlabel="method")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig
