"""photoz_nb.metrics: the paper's statistics, bootstrap errors, binned studies, the summary table."""
import re

import numpy as np
import pytest
from astropy.stats import median_absolute_deviation
from astropy.table import Table
from scipy.stats import norm

from photoz_nb import config, metrics, pdf


def test_dz_and_point_metrics_by_hand():
    z_spec = np.array([0.1, 0.2, 0.3, 0.0])
    z_phot = np.array([0.1 + 0.011, 0.2 - 0.012, 0.3 + 0.13, 0.0])
    d = metrics.dz(z_phot, z_spec)
    assert np.allclose(d, [0.01, -0.01, 0.1, 0.0])
    m = metrics.point_metrics(z_phot, z_spec)
    assert m["n"] == 4 and np.isclose(m["bias"], 0.025)
    assert m["outlier_frac"] == 0.25            # only |0.1| > 0.05
    # median dz = 0.005; |dz - 0.005| = 0.005, 0.015, 0.095, 0.005 -> median 0.01
    assert np.isclose(m["sigma_mad"], 1.4826 * 0.01)
    assert metrics.point_metrics(z_phot, z_spec, outlier_cut=0.005)["outlier_frac"] == 0.75


def test_outlier_cut_is_strict():
    z_spec = np.zeros(4)
    assert metrics.point_metrics([0.05, -0.05, 0.0500001, 0.0], z_spec)["outlier_frac"] == 0.25


def test_sigma_mad_matches_astropy():
    rng = np.random.default_rng(0)
    z_spec = rng.uniform(0.02, 0.35, 5001)
    z_phot = z_spec + (1 + z_spec) * (0.01 * rng.standard_t(3, z_spec.size) + 0.001)
    d = (z_phot - z_spec) / (1 + z_spec)
    assert np.isclose(metrics.point_metrics(z_phot, z_spec)["sigma_mad"],
                      1.4826 * median_absolute_deviation(d), rtol=1e-12)
    assert np.isclose(metrics.sigma_mad_dz(z_phot, z_spec), 1.4826 * median_absolute_deviation(d), rtol=1e-12)


def test_bootstrap_error_of_a_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2.0, 400)
    errs = metrics.bootstrap(lambda a: {"mean": a.mean(), "label": "skipped"}, x, n_boot=300, seed=3)
    assert set(errs) == {"mean"}
    assert abs(errs["mean"] / (2.0 / np.sqrt(400)) - 1) < 0.2
    assert metrics.bootstrap(np.mean, x, n_boot=300, seed=3) == errs["mean"]   # scalar statistic
    assert metrics.bootstrap(np.mean, x, n_boot=50, seed=4) != errs["mean"]


def test_bootstrap_resamples_rows_together():
    x = np.arange(100.0)
    errs = metrics.bootstrap(lambda a, b: {"diff": np.max(np.abs(a - b))}, x, x.copy(), n_boot=20)
    assert errs["diff"] == 0.0


def test_pdf_metrics_combines_point_estimate_and_crps():
    edges = config.redshift_edges()
    rng = np.random.default_rng(2)
    mu, sigma = rng.uniform(0.05, 0.35, 300), 0.01
    c = norm.cdf((edges[None, :] - mu[:, None]) / sigma)
    p = np.diff(c, axis=1)
    p /= p.sum(axis=1, keepdims=True)
    z = np.clip(mu + sigma * rng.normal(size=300), 0, 0.4)
    out = metrics.pdf_metrics(p, edges, z, kind="median")
    ref = metrics.point_metrics(pdf.point_estimate(p, edges, "median"), z)
    assert out["kind"] == "median" and out["n"] == 300
    assert all(out[k] == ref[k] for k in ("bias", "sigma_mad", "outlier_frac"))
    assert np.isclose(out["crps"], pdf.crps(p, edges, z).mean())


def _sloped_sample(n=20_000, slope=0.05, seed=5):
    """Galaxies whose dz grows linearly with z_spec: dz = slope * (z_spec - 0.2) + noise."""
    rng = np.random.default_rng(seed)
    z_spec = rng.uniform(0.02, 0.38, n)
    d = slope * (z_spec - 0.2) + rng.normal(0, 0.01, n)
    return z_spec, z_spec + d * (1 + z_spec)


def test_binned_metrics_recovers_a_known_slope():
    z_spec, z_phot = _sloped_sample()
    crps = np.random.default_rng(9).exponential(0.006, z_spec.size)   # no trend with z
    table = metrics.binned_metrics(z_spec, z_phot, z_spec, bins=8, crps=crps, n_boot=60, seed=1)
    assert table.colnames == ["lo", "hi", "centre", "n", "bias", "bias_err", "sigma_mad", "sigma_mad_err",
                              "outlier_frac", "outlier_frac_err", "crps", "crps_err"]
    assert len(table) == 8 and table["n"].sum() == z_spec.size
    assert abs(np.diff(table["n"])).max() <= 1            # quantile bins: equal counts
    assert np.all(np.abs(table["bias_err"] / (0.01 / np.sqrt(table["n"])) - 1) < 0.4)
    slope, err = metrics.fit_slope(table, "bias")
    assert abs(slope - 0.05) < 4 * err and err < 0.005
    flat, flat_err = metrics.fit_slope(table, "crps")
    assert abs(flat) < 4 * flat_err and np.allclose(table["crps"], 0.006, rtol=0.1)
    again = metrics.binned_metrics(z_spec, z_phot, z_spec, bins=8, crps=crps, n_boot=60, seed=1)
    assert np.all(again["bias_err"] == table["bias_err"])   # same seed, same errors


def test_binned_metrics_with_edges_and_empty_bin():
    z_spec, z_phot = _sloped_sample(n=2000)
    table = metrics.binned_metrics(z_spec, z_phot, z_spec, bins=[0.0, 0.2, 0.4, 0.5], n_boot=20)
    assert "crps" not in table.colnames
    assert list(table["n"]) == [int((z_spec < 0.2).sum()), int((z_spec >= 0.2).sum()), 0]
    assert np.isnan(table["bias"][2]) and np.isnan(table["bias_err"][2])
    assert np.isclose(table["bias"][0], metrics.point_metrics(z_phot[z_spec < 0.2], z_spec[z_spec < 0.2])["bias"])


def test_fit_slope_exact_line():
    t = Table({"centre": [0.0, 1.0, 2.0, 3.0], "bias": [1.0, 3.0, 5.0, 7.0], "bias_err": [0.1, 0.2, 0.1, 0.1]})
    slope, err = metrics.fit_slope(t)
    assert np.isclose(slope, 2.0)
    # unweighted-equivalent check: equal errors sigma -> slope_err = sigma / sqrt(sum (x - xbar)^2)
    t["bias_err"] = 0.1
    assert np.isclose(metrics.fit_slope(t)[1], 0.1 / np.sqrt(5.0))


def test_summary_table_written_and_parsed_back(tmp_path):
    rng = np.random.default_rng(7)
    z_spec = rng.uniform(0.02, 0.35, 1000)
    z_phot = z_spec + (1 + z_spec) * rng.normal(0.0001, 0.009, 1000)
    rows = [metrics.summary_row("cnn: 80% training, full_test & more", 393_219, z_phot, z_spec,
                                crps=np.full(1000, 0.00674), n_boot=0),
            metrics.summary_row("B16 | photometric", 393_219, z_phot[:500], z_spec[:500], n_boot=0)]
    table = metrics.summary_table(rows)
    paths = metrics.write_summary(table, tmp_path / "out" / "summary")
    assert [p.name for p in paths] == ["summary.md", "summary.tex", "summary.ecsv"]
    assert not list((tmp_path / "out").glob("*.tmp"))

    md = paths[0].read_text().splitlines()
    assert md[0] == ("| trial | training size | bias | sigma_MAD | outliers % | CRPS "
                     "| σ_IQR (RAIL) | outliers % (RAIL) | median bias (RAIL) |")
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", md[2])[1:-1]]
    assert cells[0] == "cnn: 80% training, full_test & more" and cells[1] == "393,219"
    assert float(cells[2]) == round(rows[0]["bias"], 5) and re.fullmatch(r"-?\d\.\d{5}", cells[2])
    assert float(cells[3]) == round(rows[0]["sigma_mad"], 5)
    assert float(cells[4]) == round(rows[0]["outliers_pct"], 2) and re.fullmatch(r"\d+\.\d{2}", cells[4])
    assert cells[5] == "0.00674"
    rail = metrics.rail_point_metrics(z_phot, z_spec)  # RAIL's conventions, extra columns after ours
    assert cells[6:] == [f"{rail['sigma_iqr']:.5f}", f"{100 * rail['outlier_rate_rail']:.2f}",
                         f"{rail['bias_median']:.5f}"]
    second = [c.strip() for c in re.split(r"(?<!\\)\|", md[3])[1:-1]]
    assert second[0] == r"B16 \| photometric" and second[5] == ""   # no CRPS for a point method

    tex = paths[1].read_text()
    assert r"\begin{tabular}" in tex and r"\end{tabular}" in tex
    assert r"cnn: 80\% training, full\_test \& more & 393{,}219 & " in tex
    assert tex.count(r"\\") == 3   # header + 2 rows
    bias_tex = f"{rows[0]['bias']:.5f}".replace("-", "$-$")
    assert f"& {bias_tex} &" in tex

    back = Table.read(paths[2], format="ascii.ecsv")
    assert list(back["trial"]) == list(table["trial"])
    assert np.allclose(back["bias"], table["bias"]) and back["training_size"][0] == 393_219
    assert back["n_test"][1] == 500 and np.isnan(back["crps"][1])


def test_summary_table_carries_bootstrap_errors(tmp_path):
    rng = np.random.default_rng(8)
    n = 4000
    z_spec = rng.uniform(0.02, 0.35, n)
    dz = rng.normal(0.0, 0.01, n)
    z_phot = z_spec + (1 + z_spec) * dz
    crps = rng.exponential(0.007, n)
    row = metrics.summary_row("CNN: full test sample", 7065, z_phot, z_spec, crps, n_boot=300, seed=5)
    # closed forms: the standard error of a mean, of a fraction, and of a Gaussian's MAD-sigma
    assert np.isclose(row["bias_err"], 0.01 / np.sqrt(n), rtol=0.15)
    assert np.isclose(row["crps_err"], crps.std() / np.sqrt(n), rtol=0.15)
    frac = row["outliers_pct"] / 100
    assert np.isclose(row["outliers_pct_err"], 100 * np.sqrt(frac * (1 - frac) / n), rtol=0.2)
    assert np.isclose(row["sigma_mad_err"], 1.1664 * row["sigma_mad"] / np.sqrt(n), rtol=0.2)  # 1.4826 / (4 phi(0.6745))
    assert metrics.summary_row("CNN: full test sample", 7065, z_phot, z_spec, crps, n_boot=300, seed=5) == row
    scalar = metrics.summary_row("B16", 0, z_phot, z_spec, crps=0.00674, n_boot=20)
    assert scalar["crps"] == 0.00674 and np.isnan(scalar["crps_err"]) and scalar["bias_err"] > 0

    table = metrics.summary_table([row, scalar])
    md, tex, ecsv = metrics.write_summary(table, tmp_path / "summary")
    cells = [c.strip() for c in md.read_text().splitlines()[2].split("|")[1:-1]]
    assert cells[2] == f"{row['bias']:.5f} ± {row['bias_err']:.5f}"
    assert cells[4] == f"{row['outliers_pct']:.2f} ± {row['outliers_pct_err']:.2f}"
    assert cells[5] == f"{row['crps']:.5f} ± {row['crps_err']:.5f}"
    assert md.read_text().splitlines()[3].split("|")[6].strip() == "0.00674"   # no error, no ±
    assert f"{row['sigma_mad']:.5f} $\\pm$ {row['sigma_mad_err']:.5f}" in tex.read_text()
    back = Table.read(ecsv, format="ascii.ecsv")
    assert {"bias_err", "sigma_mad_err", "outliers_pct_err", "crps_err"} <= set(back.colnames)
    assert back["sigma_mad_err"][0] == row["sigma_mad_err"] and np.isnan(back["crps_err"][1])
    # rows without errors join with NaN errors
    mixed = metrics.summary_table([row, metrics.summary_row("x", 1, z_phot, z_spec, n_boot=0)])
    assert np.isnan(mixed["bias_err"][1]) and "±" not in metrics.to_markdown(mixed).splitlines()[3]


def test_widest_removed_drops_the_widest_fifth():
    edges = config.redshift_edges()
    sigma = np.linspace(0.005, 0.03, 50)
    c = norm.cdf((edges[None, :] - 0.2) / sigma[:, None])
    p = np.diff(c, axis=1)
    p /= p.sum(axis=1, keepdims=True)
    order = np.random.default_rng(8).permutation(50)
    keep = metrics.widest_removed(p[order], edges)
    assert keep.sum() == 40
    assert np.all(sigma[order][~keep] > sigma[order][keep].max())
    assert metrics.widest_removed(p, edges, fraction=0.0).all()
    hpd = metrics.widest_removed(p[order], edges, kind="hpd68")
    assert np.array_equal(hpd, keep)


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.dz([0.1, 0.2], [0.1]), "differ in length: 2 != 1"),
    (lambda: metrics.dz([0.1, np.nan], [0.1, 0.2]), "z_phot has 1 NaN/inf value(s); first at index 1"),
    (lambda: metrics.dz([0.1, 0.2], [0.1, np.inf]), "z_spec has 1 NaN/inf"),
    (lambda: metrics.dz([[0.1]], [[0.1]]), "must be a 1-D array"),
    (lambda: metrics.dz([0.1], [-1.0]), "z_spec must be > -1"),
    (lambda: metrics.point_metrics([], []), "at least one galaxy"),
    (lambda: metrics.bootstrap(np.mean, np.ones(3), np.ones(4)), "differ in length"),
    (lambda: metrics.bootstrap(np.mean, np.ones(3), n_boot=1), "n_boot >= 2"),
    (lambda: metrics.binned_metrics(np.ones(3), np.ones(2), np.ones(2), 2), "differ in length"),
    (lambda: metrics.binned_metrics(np.ones(3), np.ones(3), np.ones(3), 2), "repeated values"),
    (lambda: metrics.binned_metrics(np.ones(3), np.ones(3), np.ones(3), [0, 2, 1]), "strictly increasing"),
    (lambda: metrics.binned_metrics(np.ones(3), np.ones(3), np.ones(3), 0), "positive integer"),
    (lambda: metrics.fit_slope(Table({"centre": [1.0]}), "bias"), "no column 'bias'"),
    (lambda: metrics.fit_slope(Table({"centre": [1.0, 2.0], "bias": [0.0, 1.0], "bias_err": [0.1, np.nan]})),
     "at least 2 bins"),
    (lambda: metrics.summary_table([{"trial": "x"}]), "summary rows lack"),
    (lambda: metrics.widest_removed(np.ones((2, 180)) / 180, config.redshift_edges(), 1.0), "fraction must be"),
])
def test_validation_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
