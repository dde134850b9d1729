"""The photometric baselines on the real SDSS MGS catalogue of kcorrect, beside Beck et al. (2016).

A study built on the estimators of :mod:`photoz_nb.estimators.photometric` (whose names are re-exported
here for existing imports): fit kNN and RF on real magnitudes, score them like the summary table.
"""
from __future__ import annotations

import numpy as np
from astropy.table import Table

from . import catalog, config, mgs, pdf
from .estimators.photometric import (BANDWIDTHS, MAX_TABLE_ROWS, PhotometricBaseline,  # noqa: F401 (re-exported)
                                     check_inputs, photometric_features, samples_to_pdfs)
from .metrics import rail_point_metrics, summary_row

#: Beck et al. (2016) on the paper's full MGS test sample (Pasquet et al. 2019, Table 1; no CRPS).
B16 = {"bias": 0.00064, "sigma_mad": 0.01350, "outliers_pct": 1.34}
#: Labels of the methods in the benchmark table.
METHOD_LABELS = {"knn": "kNN", "rf": "random forest"}


def real_catalog(n_galaxies: int | None = None, seed: int = 0,
                 split_fractions=(0.72, 0.08, 0.2)):
    """kcorrect's real SDSS MGS galaxies after the paper's cuts, as a baseline-ready catalogue.

    Magnitudes are SDSS-style: asinh magnitudes of the measured model fluxes minus the
    Galactic extinction of the file (no simulation, no SED fill-in of negative fluxes).

    Parameters
    ----------
    n_galaxies : int, optional
        A seeded random subset of this size (all ~9,800 by default).
    seed : int
        Seed of the subset and of the train/val/test labels (:func:`catalog.assign_splits`).
    split_fractions : (float, float, float)
        Train, validation and test fractions.

    Returns
    -------
    astropy.table.Table with ``objid, z_spec, ebv, mag_u..mag_z, petro_r, split``.
    """
    real = mgs.read_mgs()
    t = Table.read(mgs.mgs_path())
    rows = real.objid - 1  # objid is the row number in the kcorrect file, from 1
    if n_galaxies is not None:
        if not 10 <= n_galaxies <= len(rows):
            raise ValueError(f"n_galaxies must be in [10, {len(rows)}] (galaxies passing the cuts), got {n_galaxies}")
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_galaxies, replace=False))
    flux, ext = np.asarray(t["MODELFLUX"], float)[rows], np.asarray(t["EXTINCTION"], float)[rows]
    mags = {f"mag_{b}": mgs.asinh_mag(flux[:, i], b) - ext[:, i] for i, b in enumerate(config.BANDS)}
    keep = np.isin(real.objid, rows + 1)
    return Table({"objid": rows + 1, "z_spec": real.z[keep], "ebv": real.ebv[keep], **mags,
                  "petro_r": real.petro_r[keep],
                  "split": catalog.assign_splits(len(rows), split_fractions, seed)})


def real_catalog_benchmark(seed: int = 0, n_galaxies: int | None = None, methods=("knn", "rf"),
                           n_boot: int = 200, kind: str = "mean"):
    """Both photometric baselines on the real MGS galaxies, next to Beck et al. (2016).

    Each method is fitted on the training split, its kernel width tuned on the validation
    split, and scored on the test split; errors are bootstrap standard deviations over
    test galaxies (``n_boot`` resamples, seeded).

    Parameters
    ----------
    seed : int
        Seeds the subset, the splits, the random forest and the bootstrap.
    n_galaxies : int, optional
        Use a random subset (tests); all galaxies passing the cuts by default.
    methods : sequence of str
        ``"knn"`` and/or ``"rf"``.
    n_boot : int
        Bootstrap resamples.
    kind : str
        Point estimate of the PDFs (``mean``, ``median`` or ``mode``; the paper's table uses ``mean``).

    Returns
    -------
    astropy.table.Table
        One row per method and a last ``B16 (published, 516k MGS)`` row: ``method, n_train,
        n_test, bias, bias_err, sigma_mad, sigma_mad_err, outliers_pct, outliers_pct_err,
        crps, crps_err`` and the RAIL point metrics :data:`RAIL_STATS` (see :func:`benchmark`);
        the B16 row has no errors, sizes, CRPS or RAIL metrics (NaN / 0).
    """
    cat = real_catalog(n_galaxies, seed)
    table, _ = benchmark(cat, methods, seed=seed, n_boot=n_boot, kind=kind)
    n_rail = len(table.colnames) - 3 - 2 * len(BENCHMARK_STATS)
    table.add_row(["B16 (published, 516k MGS)", 0, 0]
                  + [v for s in BENCHMARK_STATS for v in (B16.get(s, np.nan), np.nan)] + [np.nan] * n_rail)
    table.meta.update(note="photometry-only baselines on kcorrect's real SDSS MGS galaxies "
                           "(r <= 17.8, 0 < z <= 0.4); B16 from Pasquet et al. 2019, Table 1")
    return table


#: Statistics of :func:`benchmark` with a bootstrap error each (columns ``s`` and ``s_err``).
BENCHMARK_STATS = ("bias", "sigma_mad", "outliers_pct", "crps")
#: RAIL's point metrics (:func:`photoz_nb.metrics.rail_point_metrics`), extra columns of :func:`benchmark`.
RAIL_STATS = ("sigma_iqr", "outlier_rate_rail", "bias_median")


def benchmark(cat, methods=("knn", "rf"), seed: int = 0, n_boot: int = 200, kind: str = "mean"):
    """Fit each method on the ``train`` rows of ``cat``, tune its kernel on ``val``, score it on ``test``.

    ``cat`` has ``z_spec``, ``mag_u..mag_z`` (dereddened) and ``split``.  Returns the table (one row
    per method: ``method, n_train, n_test``, each of :data:`BENCHMARK_STATS` with its bootstrap
    error, then :data:`RAIL_STATS`) and a dict method -> test PDFs (float32, ``config.redshift_edges()``).
    """
    unknown = [m for m in methods if m not in METHOD_LABELS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {list(METHOD_LABELS)}, got {list(methods)}")
    split = np.asarray(cat["split"]).astype(str)
    train, val, test = (cat[split == s] for s in ("train", "val", "test"))
    z = np.asarray(test["z_spec"], float)
    stats = list(BENCHMARK_STATS)
    rows, pdfs = [], {}
    for method in methods:
        model = PhotometricBaseline(method, seed=seed).fit(train, val)
        pdfs[method] = p = model.predict_pdfs(test)
        zp = pdf.point_estimate(p, model.edges, kind)
        row = summary_row(METHOD_LABELS[method], len(train), zp, z, pdf.crps(p, model.edges, z), n_boot=n_boot, seed=seed)
        rail = rail_point_metrics(zp, z)
        rows.append([row["trial"], len(train), len(test)] + [row.get(c, np.nan) for s in stats for c in (s, f"{s}_err")]
                    + [rail[c] for c in RAIL_STATS])
    names = ["method", "n_train", "n_test"] + [c for s in stats for c in (s, f"{s}_err")] + list(RAIL_STATS)
    table = Table(rows=rows, names=names, dtype=[str, int, int] + [float] * (2 * len(stats) + len(RAIL_STATS)))
    table["outliers_pct"].unit = table["outliers_pct_err"].unit = "%"
    table.meta.update(seed=seed, n_boot=n_boot, point_estimate=kind)
    return table, pdfs
