"""Calibration: synthetic Gaussian PDFs with a known miscalibration, fitted on one half, tested on the other."""
import numpy as np
import pytest
from scipy import stats

from photoz_nb import calibrate as cal
from photoz_nb import config, pdf

EDGES = config.redshift_edges()
N = 12_000  # 6000 to fit, 6000 to test: coverage noise ~0.6 pp per half


def gaussian_pdfs(mu, sigma, edges=EDGES):
    """Exact bin probabilities of N(mu, sigma) truncated to the grid."""
    c = stats.norm.cdf((edges[None, :] - mu[:, None]) / sigma[:, None])
    p = np.diff(c, axis=1)
    return p / p.sum(axis=1, keepdims=True)


def truth(n, seed, sigma_range=(0.008, 0.025)):
    """Per-galaxy true mean and width, and z drawn from that (grid-truncated) Gaussian."""
    rng = np.random.default_rng(seed)
    mu, sigma = rng.uniform(0.08, 0.32, n), rng.uniform(*sigma_range, n)
    a, b = (EDGES[0] - mu) / sigma, (EDGES[-1] - mu) / sigma
    return mu, sigma, stats.truncnorm.rvs(a, b, loc=mu, scale=sigma, random_state=rng)


def halves(pdfs, z, *more):
    h = len(z) // 2
    return [(x[:h], x[h:]) for x in (pdfs, z, *more)]


@pytest.fixture(scope="module")
def galaxies():
    return truth(N, seed=7)


@pytest.fixture(scope="module")
def cases(galaxies):
    """{name: (fit half, test half)} of (pdfs, z) for calibrated and miscalibrated PDFs."""
    mu, sigma, z = galaxies
    pdfs = {"calibrated": gaussian_pdfs(mu, sigma),
            "overconfident": gaussian_pdfs(mu, sigma / 2),
            "underconfident": gaussian_pdfs(mu, sigma * 1.5),
            "biased": gaussian_pdfs(mu + 0.7 * sigma, sigma)}
    return {name: halves(p, z) for name, p in pdfs.items()}


def summary(pdfs, z):
    return {"ks": cal.pit_ks(pdf.pit(pdfs, EDGES, z)), "crps": pdf.crps(pdfs, EDGES, z).mean(),
            **cal.coverage(pdfs, EDGES, z)}


# ---------------------------------------------------------------- diagnostics vs closed forms

def test_pit_ks_and_cvm_match_closed_forms():
    u = np.sort(np.random.default_rng(0).beta(1.3, 1.0, 500))
    i, n = np.arange(1, 501), 500
    ks = max(np.max(i / n - u), np.max(u - (i - 1) / n))
    cvm = 1 / (12 * n) + np.sum(((2 * i - 1) / (2 * n) - u) ** 2)
    assert cal.pit_ks(u) == pytest.approx(ks, rel=1e-12)
    assert cal.pit_cvm(u) == pytest.approx(cvm, rel=1e-10)
    assert cal.pit_ks((i - 0.5) / n) == pytest.approx(0.5 / n)  # perfectly flat


def test_coverage_of_a_box_pdf_is_exact():
    # Uniform on [0.1, 0.3] (bins of width 0.1): 68% interval [0.132, 0.268], 95% [0.105, 0.295].
    edges = np.linspace(0, 0.4, 5)
    p = np.tile([0, 0.5, 0.5, 0], (4, 1))
    z = np.array([0.131, 0.133, 0.104, 0.2])
    assert cal.coverage(p, edges, z) == {0.68: 0.5, 0.95: 0.75}


def test_diagnostics_reject_bad_input():
    with pytest.raises(ValueError, match="outside"):
        cal.pit_ks([0.2, 1.5])
    with pytest.raises(ValueError, match="NaN"):
        cal.pit_cvm([0.2, np.nan])
    with pytest.raises(ValueError, match="levels"):
        cal.coverage(np.full((1, 180), 1 / 180), EDGES, [0.1], levels=(1.2,))
    with pytest.raises(ValueError, match="empty"):
        cal.calibration_report({}, EDGES, [0.1])


# ---------------------------------------------------------------- temperature scaling

@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_temperature_recovers_the_gaussian_width_factor(factor):
    # A Gaussian tempered by T is a Gaussian sqrt(T) wider: PDFs `factor` x too wide need T = 1/factor^2.
    mu, sigma, z = truth(4000, seed=3, sigma_range=(0.02, 0.03))  # wide vs the bins: little discretisation
    t = cal.TemperatureScaling().fit(gaussian_pdfs(mu, sigma * factor), z)
    assert t.temperature_ == pytest.approx(1 / factor ** 2, rel=0.1)


def test_temperature_of_one_is_the_identity(cases):
    p = cases["overconfident"][0][1]
    t = cal.TemperatureScaling()
    t.temperature_, t.fitted_ = 1.0, True
    np.testing.assert_allclose(t.transform(p), p, atol=1e-6)


# ---------------------------------------------------------------- every method on known miscalibrations

@pytest.fixture(scope="module")
def calibrated_outputs(cases):
    """{case: {method: (pdfs out, z)}} with calibrators fitted on the first half."""
    out = {}
    for name, ((p_fit, p_test), (z_fit, z_test)) in cases.items():
        fitted = cal.fit_all(p_fit, z_fit)
        out[name] = {m: (pdfs, z_test) for m, pdfs in cal.apply_all(fitted, p_test).items()}
        out[name]["T"] = fitted["temperature"].temperature_
    return out


@pytest.mark.parametrize("method", cal.METHODS)
@pytest.mark.parametrize("case", ["overconfident", "underconfident"])
def test_width_miscalibration_is_fixed(calibrated_outputs, case, method):
    before = summary(*calibrated_outputs[case]["uncalibrated"])
    after = summary(*calibrated_outputs[case][method])
    assert before["ks"] > 0.09
    assert after["ks"] < before["ks"] / 4
    assert after[0.68] == pytest.approx(0.68, abs=0.02)
    assert after[0.95] == pytest.approx(0.95, abs=0.02)
    assert after["crps"] < before["crps"]


def test_temperature_direction(calibrated_outputs):
    assert calibrated_outputs["overconfident"]["T"] > 2  # 2x too narrow: ~4 (bin averaging lowers it)
    assert calibrated_outputs["underconfident"]["T"] < 0.6
    assert calibrated_outputs["calibrated"]["T"] == pytest.approx(1, abs=0.05)


@pytest.mark.parametrize("method", ["pit_remap", "conditional_pit_remap"])
def test_pit_remap_fixes_a_bias(calibrated_outputs, method):
    before = summary(*calibrated_outputs["biased"]["uncalibrated"])
    after = summary(*calibrated_outputs["biased"][method])
    assert before["ks"] > 0.2
    assert after["ks"] < 0.03
    assert after[0.68] == pytest.approx(0.68, abs=0.02)
    assert after[0.95] == pytest.approx(0.95, abs=0.02)
    assert after["crps"] < 0.9 * before["crps"]


def test_temperature_cannot_fix_a_bias(calibrated_outputs):
    # A symmetric rescaling cannot move the PDF: the PIT stays lopsided (documented limitation).
    assert summary(*calibrated_outputs["biased"]["temperature"])["ks"] > 0.2


@pytest.mark.parametrize("method", cal.METHODS)
def test_calibrated_pdfs_stay_nearly_unchanged(calibrated_outputs, method):
    p_in, z = calibrated_outputs["calibrated"]["uncalibrated"]
    p_out = calibrated_outputs["calibrated"][method][0]
    before, after = summary(p_in, z), summary(p_out, z)
    assert before["ks"] < 0.02 and after["ks"] < 0.025
    assert after["crps"] == pytest.approx(before["crps"], rel=0.005)
    assert after[0.68] == pytest.approx(0.68, abs=0.02)
    cdf_shift = np.abs(np.cumsum(p_out, axis=1) - np.cumsum(p_in, axis=1)).max(axis=1)
    assert np.median(cdf_shift) < 0.03  # the CDFs move by about the noise of the fitted map


@pytest.mark.parametrize("method", cal.METHODS)
def test_outputs_are_float32_pdfs_and_deterministic(cases, method):
    (p_fit, p_test), (z_fit, _) = cases["overconfident"]
    p_copy = p_test.copy()
    first = cal.fit_all(p_fit, z_fit)[method].transform(p_test)
    again = cal.fit_all(p_fit, z_fit)[method].transform(p_test)
    assert first.dtype == np.float32 and first.shape == p_test.shape
    assert first.min() >= 0
    np.testing.assert_allclose(first.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(p_test, p_copy)  # the input is not modified


# ---------------------------------------------------------------- PIT remap internals

def test_pit_remap_is_exact_at_the_edges(cases):
    (p_fit, p_test), (z_fit, _) = cases["biased"]
    r = cal.PITRemap().fit(p_fit, z_fit)
    assert r.knots_x_[0] == 0 and r.knots_x_[-1] == 1 and np.all(np.diff(r.knots_x_) > 0)
    assert r.knots_y_[0] == 0 and r.knots_y_[-1] == 1 and np.all(np.diff(r.knots_y_) > 0)
    new = r.transform(p_test[:200])
    for k in (20, 60, 90, 150):  # new CDF at an edge = G(old CDF at that edge)
        expected = np.interp(pdf.cdf(p_test[:200], EDGES, EDGES[k]), r.knots_x_, r.knots_y_)
        np.testing.assert_allclose(pdf.cdf(new, EDGES, EDGES[k]), expected, atol=2e-5)


def test_pit_remap_learns_the_pit_cdf():
    # PITs drawn from Beta(2, 2): G must approach its CDF.
    pit_sample = np.random.default_rng(1).beta(2, 2, 20_000)
    x, y = cal._fit_pit_map(pit_sample, 200)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(np.interp(grid, x, y), stats.beta(2, 2).cdf(grid), atol=0.015)


# ---------------------------------------------------------------- conditional remap

@pytest.fixture(scope="module")
def half_overconfident():
    """Faint galaxies (mag > 16) have 2x too narrow PDFs, bright ones are calibrated."""
    n = 16_000
    mu, sigma, z = truth(n, seed=11)
    mag = np.random.default_rng(12).uniform(14, 18, n)
    pdfs = gaussian_pdfs(mu, np.where(mag > 16, sigma / 2, sigma))
    return halves(pdfs, z, mag)


def test_conditional_remap_beats_global_when_miscalibration_depends_on_condition(half_overconfident):
    (p_fit, p_test), (z_fit, z_test), (m_fit, m_test) = half_overconfident
    glob = cal.PITRemap().fit(p_fit, z_fit).transform(p_test)
    cond_cal = cal.ConditionalPITRemap(n_groups=4).fit(p_fit, z_fit, condition=m_fit)
    cond = cond_cal.transform(p_test, condition=m_test)
    assert not cond_cal.uses_global_.any()
    for faint in (True, False):
        sel = (m_test > 16) == faint
        g, c = summary(glob[sel], z_test[sel]), summary(cond[sel], z_test[sel])
        assert abs(g[0.68] - 0.68) > 0.1       # global: too wide for the bright, too narrow for the faint
        assert abs(c[0.68] - 0.68) < 0.035     # ~4000 galaxies per half: ~1 pp noise
        assert c["ks"] < g["ks"] / 2


def test_conditional_groups_adapt_to_the_validation_size(cases):
    (p_fit, p_test), (z_fit, _) = cases["overconfident"]
    cond = np.linspace(0, 1, len(z_fit))
    few = cal.ConditionalPITRemap(n_groups=4, min_count=200).fit(p_fit[:784], z_fit[:784], condition=cond[:784])
    assert few.n_groups_ == 3 and few.group_counts_.min() >= 200 and not few.uses_global_.any()
    assert cal.ConditionalPITRemap(n_groups=4).fit(p_fit, z_fit, condition=cond).n_groups_ == 4
    one = cal.ConditionalPITRemap(n_groups=3, min_count=10**6).fit(p_fit, z_fit, condition=cond)
    assert one.n_groups_ == 1   # too few galaxies for two groups: the single map is the global one
    np.testing.assert_array_equal(one.transform(p_test, condition=np.linspace(-1, 2, len(p_test))),
                                  cal.PITRemap().fit(p_fit, z_fit).transform(p_test))


def test_conditional_falls_back_to_global_map_on_ties(cases):
    (p_fit, p_test), (z_fit, _) = cases["overconfident"]
    cond = np.where(np.arange(len(z_fit)) < 0.8 * len(z_fit), 0.0, np.linspace(0, 1, len(z_fit)))
    with pytest.warns(UserWarning, match="global PIT map"):
        c = cal.ConditionalPITRemap(n_groups=4, min_count=100).fit(p_fit, z_fit, condition=cond)
    assert c.n_groups_ == 4 and c.uses_global_[:3].all() and not c.uses_global_[3]
    glob = cal.PITRemap().fit(p_fit, z_fit).transform(p_test[:50])
    np.testing.assert_array_equal(c.transform(p_test[:50], condition=np.full(50, -1.0)), glob)


def test_conditional_uses_point_estimate_without_condition(cases):
    (p_fit, p_test), (z_fit, z_test) = cases["overconfident"]
    c = cal.ConditionalPITRemap().fit(p_fit, z_fit)
    z_fit_point = pdf.point_estimate(p_fit, EDGES, "median")
    np.testing.assert_allclose(c.group_edges_, np.quantile(z_fit_point, [0.25, 0.5, 0.75]))
    assert summary(c.transform(p_test), z_test)["ks"] < 0.03


# ---------------------------------------------------------------- errors

def test_input_errors_are_clear(cases):
    (p_fit, p_test), (z_fit, _) = cases["calibrated"]
    with pytest.raises(ValueError, match="one value per PDF row"):
        cal.PITRemap().fit(p_fit[:10], z_fit[:9])
    with pytest.raises(ValueError, match="1-D"):
        cal.TemperatureScaling().fit(p_fit[:10], 0.1)
    for calibrator in (cal.TemperatureScaling(), cal.PITRemap(), cal.ConditionalPITRemap()):
        with pytest.raises(cal.NotFittedError, match="not fitted"):
            calibrator.transform(p_test)
    with pytest.raises(ValueError, match="bins"):
        cal.PITRemap().fit(p_fit[:, :100], z_fit)
    with pytest.raises(ValueError, match="outside the grid"):
        cal.PITRemap().fit(p_fit[:3], [0.1, 0.2, 0.5])
    cond = np.linspace(14, 18, len(z_fit))
    with pytest.raises(ValueError, match="condition has 15 NaN"):
        cal.ConditionalPITRemap().fit(p_fit, z_fit, condition=np.where(cond > 17.99, np.nan, cond))
    with pytest.raises(ValueError, match="condition must be a 1-D array with one value per PDF row"):
        cal.ConditionalPITRemap().fit(p_fit, z_fit, condition=cond[:-1])
    fitted = cal.ConditionalPITRemap().fit(p_fit, z_fit, condition=cond)
    with pytest.raises(ValueError, match="condition mismatch"):
        fitted.transform(p_test)
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(p_test[:2], condition=[15.0, np.nan])


# ---------------------------------------------------------------- report

def test_calibration_report(calibrated_outputs):
    outputs = calibrated_outputs["overconfident"]
    z = outputs["uncalibrated"][1]
    table = cal.calibration_report({m: outputs[m][0] for m in ("uncalibrated", *cal.METHODS)}, EDGES, z,
                                   n_boot=100, seed=3)
    stats = ["coverage68", "coverage95", "crps_mean", "sigma_mad", "crps_change", "sigma_mad_change"]
    assert table.colnames == ["method", "ks", "cvm"] + [c for s in stats for c in (s, f"{s}_err")]
    assert list(table["method"]) == ["uncalibrated", *cal.METHODS]
    raw = table[0]
    p_raw = outputs["uncalibrated"][0]
    assert raw["ks"] == pytest.approx(cal.pit_ks(pdf.pit(p_raw, EDGES, z)))
    assert raw["crps_mean"] == pytest.approx(pdf.crps(p_raw, EDGES, z).mean())
    assert raw["coverage68"] == pytest.approx(cal.coverage(p_raw, EDGES, z)[0.68])
    dz = (pdf.point_estimate(p_raw, EDGES, "mean") - z) / (1 + z)
    assert raw["sigma_mad"] == pytest.approx(1.4826 * np.median(np.abs(dz - np.median(dz))), rel=1e-6)
    assert np.all(table["ks"][1:] < raw["ks"] / 4)
    # bootstrap errors: a binomial fraction's, and paired changes that are 0 for the reference
    n = len(z)
    assert raw["coverage68_err"] == pytest.approx(np.sqrt(raw["coverage68"] * (1 - raw["coverage68"]) / n), rel=0.2)
    assert raw["crps_change"] == 0 and raw["crps_change_err"] == 0 and raw["sigma_mad_change_err"] == 0
    pit_remap = table[list(table["method"]).index("pit_remap")]
    assert pit_remap["crps_change"] < -3 * pit_remap["crps_change_err"] < 0   # widening overconfident PDFs helps
    assert pit_remap["crps_change_err"] < pit_remap["crps_mean_err"]          # pairing removes the common noise
    again = cal.calibration_report({m: outputs[m][0] for m in ("uncalibrated", "pit_remap")}, EDGES, z,
                                   n_boot=100, seed=3)
    assert again["crps_mean_err"][1] == pit_remap["crps_mean_err"]
    assert cal.calibration_report({"raw": p_raw}, EDGES, z, n_boot=0).colnames == [
        "method", "ks", "cvm", "coverage68", "coverage95", "crps_mean", "sigma_mad", "crps_change", "sigma_mad_change"]


# ---------------------------------------------------------------- out-of-sample coverage and cross-fitting

def skewed_overconfident(n, seed):
    """PDFs 1.6x too narrow and shifted by 0.4 sigma, with their true redshifts."""
    mu, sigma, z = truth(n, seed)
    return gaussian_pdfs(mu + 0.4 * sigma, sigma / 1.6), z


@pytest.mark.parametrize("method", ["pit_remap", "conditional_pit_remap"])
def test_remap_fitted_on_one_sample_calibrates_an_independent_one(method):
    p_fit, z_fit = skewed_overconfident(20_000, seed=21)
    p_new, z_new = skewed_overconfident(20_000, seed=22)   # coverage noise ~0.3 points from each sample
    before = cal.coverage(p_new, EDGES, z_new)
    assert before[0.68] < 0.55 and before[0.95] < 0.88
    fitted = {"pit_remap": cal.PITRemap, "conditional_pit_remap": cal.ConditionalPITRemap}[method]().fit(p_fit, z_fit)
    after = cal.coverage(fitted.transform(p_new), EDGES, z_new)
    assert after[0.68] == pytest.approx(0.68, abs=0.02) and after[0.95] == pytest.approx(0.95, abs=0.02)


def test_cross_fit_calibrates_every_galaxy_out_of_sample():
    p_val, z_val = skewed_overconfident(800, seed=31)
    p_test, z_test = skewed_overconfident(2000, seed=32)
    out = cal.cross_fit_all(p_val, z_val, p_test, z_test, n_folds=5, seed=0)
    assert list(out) == ["uncalibrated", *cal.METHODS]
    for method in ("pit_remap", "conditional_pit_remap"):
        cov = cal.coverage(out[method], EDGES, z_test)
        assert cov[0.68] == pytest.approx(0.68, abs=0.03) and cov[0.95] == pytest.approx(0.95, abs=0.02)
    # fold k is exactly the map fitted on val + the other folds, applied to fold k
    folds = cal._fold_labels(len(z_test), 5, 0)
    rest = folds != 2
    by_hand = cal.PITRemap().fit(np.concatenate([p_val, p_test[rest]]), np.concatenate([z_val, z_test[rest]]))
    np.testing.assert_allclose(out["pit_remap"][folds == 2], by_hand.transform(p_test[folds == 2]), atol=1e-7)
    again = cal.cross_fit(cal.PITRemap(), p_val, z_val, p_test, z_test, n_folds=5, seed=0)
    np.testing.assert_array_equal(again, out["pit_remap"])
    with pytest.raises(ValueError, match="n_folds"):
        cal.cross_fit(cal.PITRemap(), p_val, z_val, p_test, z_test, n_folds=1)
    with pytest.raises(ValueError, match="both condition_fit and condition_eval"):
        cal.cross_fit(cal.ConditionalPITRemap(), p_val, z_val, p_test, z_test, condition_fit=z_val)
