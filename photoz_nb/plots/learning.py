"""The learning curve of issue 30: sigma_MAD, outliers and CRPS of the CNN, kNN and RF against the number of
training galaxies, the paper's CNN and B16 drawn in, and the CNN/RF ratio with its paired error below."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..stats import require_columns
from .style import COLOURS, _figure, paper_style

#: Pasquet et al. (2019), Table 1: the CNN at 10,100, 99,001 and 393,219 training galaxies, and B16 (Beck et
#: al. 2016) on the same test sample.  Kept here too, so that the figure needs only the table.
PAPER_CNN_POINTS = {"training_size": (10_100, 99_001, 393_219), "sigma_mad": (0.01440, 0.00917, 0.00912),
                    "outliers_pct": (1.29, 0.30, 0.31), "crps": (0.01013, 0.00679, 0.00674)}
PAPER_B16_LEVELS = {"sigma_mad": 0.01350, "outliers_pct": 1.34}
#: Panels of the figure: statistic -> axis label (units in brackets; dz = (z_phot - z_spec) / (1 + z_spec)).
LEARNING_STATS = {"sigma_mad": r"$\sigma_\mathrm{MAD}$ of $\Delta z/(1+z)$",
                  "outliers_pct": r"outliers $\eta$ [%]",
                  "crps": "mean CRPS [redshift]"}
_METHOD_STYLE = {"CNN": (COLOURS[0], "o"), "kNN": (COLOURS[1], "s"), "RF": (COLOURS[2], "^")}


def learning_curve_comparison(table, subset: str = "all", paper: bool = True, ratio: str = "CNN/RF") -> Figure:
    """sigma_MAD, outlier percentage and mean CRPS against training size (log x) for CNN, kNN and RF, and below
    them the ``ratio`` (default CNN/RF) of sigma_MAD with its paired bootstrap error band.

    Parameters
    ----------
    table : astropy Table
        :func:`photoz_nb.learning_curve.results_table` (columns ``training_size, subset, method`` and each
        statistic with ``*_err``).
    subset : str
        "all", "red" or "blue" test galaxies.
    paper : bool
        Draw the paper's CNN points (stars; 10,100, 99,001 and 393,219 galaxies) and B16's level (dashed), and
        the paper's CNN/B16 ratios in the lowest panel.
    """
    require_columns(table, ("training_size", "subset", "method", *LEARNING_STATS,
                            *(f"{s}_err" for s in LEARNING_STATS)), "learning-curve table",
                    " (photoz_nb.learning_curve.results_table output expected)")
    subsets = sorted({str(s) for s in table["subset"]})
    rows = table[np.asarray(table["subset"]).astype(str) == subset]
    if not len(rows):
        raise ValueError(f"learning-curve table has no rows of subset {subset!r}; it has {subsets}")
    methods = [m for m in _METHOD_STYLE if m in set(np.asarray(rows["method"]).astype(str))]
    with paper_style():
        fig, axes = _figure(4, 1, height=6.4, sharex=True, gridspec_kw={"height_ratios": [1, 1, 1, 0.9]})
        axes = axes[:, 0]
        sizes_all = []
        for method in methods:
            sel = rows[np.asarray(rows["method"]).astype(str) == method]
            sel = sel[np.argsort(sel["training_size"])]
            n = np.asarray(sel["training_size"], float)
            sizes_all += list(n)
            colour, marker = _METHOD_STYLE[method]
            for ax, stat in zip(axes, LEARNING_STATS):
                ax.errorbar(n, np.asarray(sel[stat], float), yerr=np.asarray(sel[f"{stat}_err"], float), color=colour,
                            marker=marker, ms=3.5, capsize=2, lw=1, label=method)
        if paper:
            for ax, stat in zip(axes, LEARNING_STATS):
                ax.plot(PAPER_CNN_POINTS["training_size"], PAPER_CNN_POINTS[stat], ls=":", marker="*", ms=7,
                        color="black", lw=0.8, label="CNN, Pasquet et al. 2019")
                if stat in PAPER_B16_LEVELS:
                    ax.axhline(PAPER_B16_LEVELS[stat], color="0.45", ls="--", lw=0.9, label="B16 (photometry), paper")
        ax = axes[-1]
        sel = rows[np.asarray(rows["method"]).astype(str) == ratio]
        sel = sel[np.argsort(sel["training_size"])]
        if len(sel):
            n, r, e = (np.asarray(sel[c], float) for c in ("training_size", "sigma_mad", "sigma_mad_err"))
            ax.fill_between(n, r - e, r + e, color=COLOURS[0], alpha=0.25, lw=0, label="±1σ (paired bootstrap)")
            ax.plot(n, r, "o-", color=COLOURS[0], ms=3.5, label=ratio)
            sizes_all += list(n)
        if paper:
            ax.plot(PAPER_CNN_POINTS["training_size"],
                    np.asarray(PAPER_CNN_POINTS["sigma_mad"]) / PAPER_B16_LEVELS["sigma_mad"], ls=":", marker="*",
                    ms=7, color="black", lw=0.8, label="CNN/B16, paper")
        ax.axhline(1.0, color="0.3", lw=0.6)
        ax.set_ylabel(r"$\sigma_\mathrm{MAD}$ ratio " + ratio)
        for a, stat in zip(axes, LEARNING_STATS):  # learning curves span decades: log y (errors clipped at 0)
            a.set_ylabel(LEARNING_STATS[stat])
            a.set_yscale("log")
        axes[0].set_xscale("log")
        xs = sizes_all + (list(PAPER_CNN_POINTS["training_size"]) if paper else [])
        if xs:
            axes[0].set_xlim(min(xs) / 1.6, max(xs) * 1.6)
        axes[-1].set_xlabel("training galaxies")
        label = {"all": "all test galaxies", "red": "red test galaxies (u-r > 2.22)",
                 "blue": "blue test galaxies (u-r ≤ 2.22)"}.get(subset, subset)
        n_test = int(rows["n_test"][0]) if "n_test" in rows.colnames else None
        axes[0].set_title(label + (f", {n_test:,}" if n_test else "") + "\n" + r"$\eta$: $|\Delta z|/(1+z) > 0.05$"
                          + ("" if subset == "all" or not paper else "; paper: all galaxies"))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=2)
        ax.legend(loc="best", fontsize=7)
    return fig
