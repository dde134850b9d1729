"""Catalogue photometric errors: the simulated model magnitudes' scatter about the truth against the
errors the real SDSS catalogue quotes, per band and magnitude bin.

The simulated catalogue knows each galaxy's true magnitude (``mag_true_*``), so its magnitude errors
are measured: the robust scatter (sigma_MAD) of measured minus true in a bin.  The real catalogue
(kcorrect's MGS, :func:`photoz_nb.mgs.read_mgs`: model fluxes with their inverse variances) only
quotes its errors: their median in the same bin.  Bins are quantiles of the real magnitudes, so
each holds the same share of the real sample.
"""
from __future__ import annotations

import numpy as np
from astropy.table import Table

from .. import config, mgs
from ..stats import require_columns, sigma_mad

BANDS = config.BANDS
#: Quantiles of the real magnitudes that bound the bins (the outer 2 % on each side are left out).
BIN_QUANTILES = (0.02, 0.2, 0.4, 0.6, 0.8, 0.98)
#: sigma_MAD of n normal deviates has a relative standard error of 1.1664 / sqrt(n) (its asymptotic
#: efficiency is 36.75 %: 1 / sqrt(2 x 0.3675)).
SIGMA_MAD_REL_SE = 1.1664
#: Issue 13: the simulated errors must match the real ones within 10 % per band and magnitude bin.
ERROR_RATIO_TOLERANCE = 0.10


def real_quoted_errors(real: mgs.MgsGalaxies | None = None) -> dict:
    """Band -> (dereddened asinh model magnitude, its quoted 1-sigma error) of the real MGS galaxies."""
    real = real if real is not None else mgs.read_mgs()
    out = {}
    for j, band in enumerate(BANDS):
        flux, ivar = real.flux[:, j], real.ivar[:, j]
        ok = ivar > 0
        out[band] = (mgs.asinh_mag(flux[ok], band), mgs.asinh_mag_error(flux[ok], 1 / np.sqrt(ivar[ok]), band))
    return out


def error_ratio_table(cat: Table, real: mgs.MgsGalaxies | None = None, quantiles=BIN_QUANTILES,
                      kind: str = "mag") -> Table:
    """Simulated magnitude errors against the real catalogue's, per band and magnitude bin.

    ``cat``: a simulated catalogue with ``{kind}_*`` (measured, dereddened) and ``mag_true_*``.
    One row per band and bin: band, mag_lo, mag_hi, n_sim, n_real, sim_scatter (sigma_MAD of
    measured minus true, simulated galaxies binned by their measured magnitude, like the real
    ones), real_error (median quoted error), ratio = sim_scatter / real_error, ratio_se (its
    standard error from the n_sim deviates) and passed: |ratio - 1| <= ERROR_RATIO_TOLERANCE
    within two standard errors.
    """
    require_columns(cat, [f"{kind}_{b}" for b in BANDS] + [f"mag_true_{b}" for b in BANDS], "catalogue",
                    " for the catalogue error table")
    rows = []
    for band, (mag_real, err_real) in real_quoted_errors(real).items():
        measured = np.asarray(cat[f"{kind}_{band}"], float)
        error = measured - np.asarray(cat[f"mag_true_{band}"], float)
        edges = np.quantile(mag_real, quantiles)
        for lo, hi in zip(edges[:-1], edges[1:]):
            sim = error[(measured >= lo) & (measured < hi)]
            in_real = (mag_real >= lo) & (mag_real < hi)
            scatter = sigma_mad(sim) if sim.size else np.nan
            quoted = float(np.median(err_real[in_real]))
            ratio = scatter / quoted
            se = ratio * SIGMA_MAD_REL_SE / np.sqrt(max(sim.size, 1))
            rows.append(dict(band=band, mag_lo=float(lo), mag_hi=float(hi), n_sim=int(sim.size),
                             n_real=int(in_real.sum()), sim_scatter=scatter, real_error=quoted, ratio=ratio,
                             ratio_se=se, passed=bool(abs(ratio - 1) <= ERROR_RATIO_TOLERANCE + 2 * se)))
    return Table(rows=rows, names=list(rows[0]))


def real_petrosian_errors(real: mgs.MgsGalaxies | None = None) -> dict:
    """Band -> (dereddened asinh Petrosian magnitude, its quoted 1-sigma error) of the real MGS galaxies."""
    real = real if real is not None else mgs.read_mgs()
    t = Table.read(mgs.mgs_path())
    rows = real.objid - 1  # objid is the row number in kcorrect's file, from 1
    flux, ivar = np.asarray(t["PETROFLUX"], float)[rows], np.asarray(t["PETROFLUX_IVAR"], float)[rows]
    extinction = np.asarray(t["EXTINCTION"], float)[rows]
    out = {}
    for j, band in enumerate(BANDS):
        ok = ivar[:, j] > 0
        out[band] = (mgs.asinh_mag(flux[ok, j], band) - extinction[ok, j],
                     mgs.asinh_mag_error(flux[ok, j], 1 / np.sqrt(ivar[ok, j]), band))
    return out


def petrosian_error_table(cat: Table, real: mgs.MgsGalaxies | None = None, quantiles=BIN_QUANTILES) -> Table:
    """Quoted Petrosian errors, simulated (``petromagerr_*``) against real, per band and magnitude bin.

    The simulation has no true Petrosian magnitude, so this compares what the two catalogues quote:
    one row per band and bin with band, mag_lo, mag_hi, n_sim, n_real, sim_error and real_error (the
    medians) and ratio = sim_error / real_error.
    """
    require_columns(cat, [f"petromag_{b}" for b in BANDS] + [f"petromagerr_{b}" for b in BANDS], "catalogue",
                    " for the Petrosian error table")
    rows = []
    for band, (mag_real, err_real) in real_petrosian_errors(real).items():
        mag, err = np.asarray(cat[f"petromag_{band}"], float), np.asarray(cat[f"petromagerr_{band}"], float)
        edges = np.quantile(mag_real, quantiles)
        for lo, hi in zip(edges[:-1], edges[1:]):
            sim, in_real = (mag >= lo) & (mag < hi), (mag_real >= lo) & (mag_real < hi)
            sim_error = float(np.median(err[sim])) if sim.any() else np.nan
            real_error = float(np.median(err_real[in_real]))
            rows.append(dict(band=band, mag_lo=float(lo), mag_hi=float(hi), n_sim=int(sim.sum()),
                             n_real=int(in_real.sum()), sim_error=sim_error, real_error=real_error,
                             ratio=sim_error / real_error))
    return Table(rows=rows, names=list(rows[0]))


def format_error_table(table: Table) -> str:
    """The table as markdown: a row per band, a cell per bin (range, ratio +- se, n_sim / n_real)."""
    lines = ["| band | " + " | ".join(f"bin {k + 1}" for k in range(len(table) // len(BANDS))) + " |",
             "|---|" + "---|" * (len(table) // len(BANDS))]
    for band in BANDS:
        cells = [f"{r['mag_lo']:.2f}-{r['mag_hi']:.2f}: {r['ratio']:.3f}"
                 + (f" ± {r['ratio_se']:.3f}" if "ratio_se" in table.colnames else "")
                 + f" ({r['sim_scatter' if 'sim_scatter' in table.colnames else 'sim_error']:.4f}/"
                 f"{r['real_error']:.4f}; n {r['n_sim']}/{r['n_real']})"
                 for r in table[table["band"] == band]]
        lines.append(f"| {band} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
