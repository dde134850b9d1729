"""The notebooks' helpers: example selection, readouts, and tolerances derived from the errors."""
import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import config, metrics, tutorial


def _gaussians(centres, widths, weights=None):
    edges = config.redshift_edges()
    mid = 0.5 * (edges[1:] + edges[:-1])
    centres, widths = np.atleast_2d(centres), np.atleast_2d(widths)
    weights = np.ones_like(centres) if weights is None else np.atleast_2d(weights)
    p = sum(w[:, None] * np.exp(-0.5 * ((mid - c[:, None]) / s[:, None]) ** 2)
            for c, s, w in zip(centres.T, widths.T, weights.T))
    return p / p.sum(axis=1, keepdims=True), edges


def test_second_mode_mass_finds_the_second_mode_and_ignores_shoulders():
    p, edges = _gaussians([[0.1, 0.25], [0.1, 0.12], [0.1, 0.3]], [[0.01, 0.01]] * 3,
                          [[0.7, 0.3], [0.5, 0.5], [1.0, 0.0]])
    mass = tutorial.second_mode_mass(p, edges)
    assert mass[0] == pytest.approx(0.3, abs=0.01)  # two separated modes, 30% in the second
    assert mass[1] == 0  # 0.02 apart: one broad mode
    assert mass[2] == 0


def test_example_pdf_rows_follow_the_rule():
    rng = np.random.default_rng(0)
    n = 200
    widths = rng.uniform(0.005, 0.03, n)
    p, edges = _gaussians(np.c_[rng.uniform(0.1, 0.2, n), np.full(n, 0.33)], np.c_[widths, widths],
                          np.c_[np.ones(n), np.where(np.arange(n) == 7, 0.8, 0.0)])
    chosen = tutorial.example_pdf_rows(p, edges)
    assert chosen["rows"]["bimodal"] == 7 and chosen["bimodal_passes"]
    unimodal = np.delete(np.arange(n), 7)
    rank = np.argsort(np.argsort(chosen["widths"][unimodal]))
    assert rank[np.searchsorted(unimodal, chosen["rows"]["narrow"])] == int(0.05 * (n - 2))
    assert rank[np.searchsorted(unimodal, chosen["rows"]["broad"])] == int(0.95 * (n - 2))
    assert chosen["bimodal_fraction"] == pytest.approx(1 / n)


def test_synthetic_pits_shapes():
    pits = tutorial.synthetic_pits(n=4000, seed=3)
    from scipy.stats import kstest
    assert kstest(pits["calibrated"], "uniform").pvalue > 1e-3
    tails = {k: np.mean((v < 0.1) | (v > 0.9)) for k, v in pits.items()}
    assert tails["too narrow"] > 0.3 > 0.2 > tails["too wide"]
    assert np.median(pits["shifted high"]) < 0.4


def test_slope_sentence_reads_the_numbers():
    text = tutorial.slope_sentence("E(B-V) [mag]", {"CNN": (0.30, 0.03), "RF": (0.01, 0.02)})
    assert "**CNN** +3.00e-01 ± 3.0e-02 per unit, a trend at 10.0 sigma" in text
    assert "**RF** +1.00e-02 ± 2.0e-02 per unit, consistent with no trend (0.5 sigma)" in text


def test_tolerances_from_errors():
    lo, hi = tutorial.coverage_bounds(0.68, 1962)
    assert hi - 0.68 == pytest.approx(3 * np.sqrt(0.68 * 0.32 / 1962))
    lo2, hi2 = tutorial.coverage_bounds(0.68, 1962, n_fit=785)
    assert hi2 - 0.68 == pytest.approx(3 * np.sqrt(0.68 * 0.32 * (1 / 1962 + 1 / 785)))
    assert tutorial.family_threshold(1) == pytest.approx(2.5758, abs=1e-3)  # two-sided 1%
    assert tutorial.family_threshold(20) > tutorial.family_threshold(2)
    assert tutorial.difference_significance((0.30, 0.03), (0.06, 0.04)) == pytest.approx(0.24 / 0.05)


def test_paired_difference_error_is_smaller_than_unpaired():
    rng = np.random.default_rng(1)
    z = rng.uniform(0.05, 0.3, 2000)
    shared = 0.015 * rng.standard_normal(2000)
    a, b = z + shared, z + 1.02 * shared  # b: 2% wider, errors on the same galaxies
    sigma = lambda zp, zs: metrics.point_metrics(zp, zs)["sigma_mad"]  # noqa: E731
    diff, err = tutorial.paired_difference(sigma, b, a, z, n_boot=100)
    unpaired = np.hypot(metrics.bootstrap(sigma, a, z, n_boot=100), metrics.bootstrap(sigma, b, z, n_boot=100))
    assert err < unpaired / 2


def test_expected_summary_round_trip_and_pulls(tmp_path):
    table = Table(rows=[["CNN: full test sample", 0.001, 0.015, 2.0, 0.011, 0.0004, 0.0004, 0.3, 0.0002]],
                  names=["trial", "bias", "sigma_mad", "outliers_pct", "crps",
                         "bias_err", "sigma_mad_err", "outliers_pct_err", "crps_err"])
    path = tutorial.write_expected_summary(table, "9.9", tmp_path / "expected.json", note="test",
                                           ebv_slopes={"with": (0.07, 0.03), "without": (0.3, 0.03)})
    expected = tutorial.expected_summary(path)
    assert tutorial.expected_simulator(path) == "9.9"
    assert tutorial.expected_ebv_slopes(path) == {"with": (0.07, 0.03), "without": (0.3, 0.03)}
    assert expected["CNN: full test sample"]["sigma_mad"] == 0.015
    same = tutorial.compare_with_expected(table, expected)
    assert np.all(same["pull"] == 0)
    table["sigma_mad"][0] = 0.015 + 0.0004 * np.sqrt(2) * 3  # three combined errors away
    moved = tutorial.compare_with_expected(table, expected)
    assert moved[moved["stat"] == "sigma_mad"]["pull"][0] == pytest.approx(3)
    with pytest.raises(ValueError, match="missing"):
        tutorial.compare_with_expected(table[:0], expected)


def test_shipped_expected_values_cover_the_readme_rows():
    expected = tutorial.expected_summary()
    assert "CNN: full test sample" in expected and "RF: full test sample" in expected
    assert all(row[f"{s}_err"] >= 0 for row in expected.values() for s in tutorial.EXPECTED_STATS)
    slopes = tutorial.expected_ebv_slopes()
    assert slopes["without"][0] > slopes["with"][0]


def test_seed_agreement_measures_each_member_against_the_ensemble():
    from test_pipeline import gaussian_pdfs
    z = np.random.default_rng(3).uniform(0.02, 0.35, 400)
    edges = config.redshift_edges()
    models = {"member 0": gaussian_pdfs(z, 0.01, 1), "member 1": gaussian_pdfs(z, 0.03, 2),
              "ensemble mean": gaussian_pdfs(z, 0.01, 1)}
    out = tutorial.seed_agreement(models, edges, z, seed=0)
    assert out["sigma"]["member 0"][0] == 0 and out["sigma"]["member 1"][0] > 2 * out["sigma"]["member 1"][1]
    best, gap, err = out["crps"]
    assert best == "member 0" and gap == 0 and err > 0


def test_width_coverage_bounds_are_those_of_gaussian_pdfs_ten_percent_off():
    from scipy.stats import norm
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(200_000)
    for level in (0.68, 0.95):
        lo, hi = tutorial.width_coverage_bounds(level, 10**12)  # no binomial widening
        z = norm.isf((1 - level) / 2)
        covered = [np.mean(np.abs(truth) < z * s) for s in (0.9, 1.1)]  # PDFs 10 % too narrow, too wide
        assert covered[0] == pytest.approx(lo, abs=0.003) and covered[1] == pytest.approx(hi, abs=0.003)
        wide = tutorial.width_coverage_bounds(level, 1962)
        assert wide[0] == pytest.approx(lo - 3 * tutorial.binomial_error(level, 1962), abs=1e-5)
