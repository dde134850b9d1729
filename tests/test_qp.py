"""Our PDF statistics against qp's and RAIL's own code on the same ``hist`` ensembles."""
import numpy as np
import pytest

from photoz_nb import calibrate, config, metrics, pdf

qp = pytest.importorskip("qp")
# qp's Anderson-Darling call (scipy's deprecation and p-value notices): not ours to fix
pytestmark = [pytest.mark.filterwarnings("ignore:Parameter `variant`:UserWarning"),
              pytest.mark.filterwarnings("ignore:p-value capped:UserWarning")]


@pytest.fixture(scope="module")
def sample():
    """PDFs with every bin occupied (so every quantile is unique), redshifts drawn from them (calibrated)."""
    rng = np.random.default_rng(3)
    edges = config.redshift_edges()
    centres = pdf.centres(edges)
    mu, sigma = rng.uniform(0.05, 0.35, 400), rng.uniform(0.01, 0.05, 400)
    p = np.exp(-0.5 * ((centres[None] - mu[:, None]) / sigma[:, None]) ** 2) + 1e-4
    p /= p.sum(axis=1, keepdims=True)
    bins = np.array([rng.choice(len(centres), p=row) for row in p])
    z = edges[bins] + rng.uniform(0, 1, len(p)) * np.diff(edges)[bins]
    return p, edges, z, pdf.to_qp(p, edges)


def test_pit_agrees_with_qp(sample):
    from qp.metrics.pit import PIT
    p, edges, z, ens = sample
    ours = pdf.pit(p, edges, z)
    np.testing.assert_allclose(PIT(ens, z).pit_samps, ours, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ens.cdf(z[:, None]).ravel(), ours, rtol=0, atol=1e-9)  # one z per PDF: an (N, 1) column


def test_quantiles_and_median_agree_with_qp(sample):
    p, edges, _, ens = sample
    levels = np.array([0.01, 0.16, 0.5, 0.84, 0.99])
    np.testing.assert_allclose(ens.ppf(levels), pdf.quantile(p, edges, levels), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ens.median().ravel(), pdf.point_estimate(p, edges, "median"), rtol=0, atol=1e-9)


def test_ks_and_cvm_of_the_pit_agree_with_qp(sample):
    from qp.metrics.pit import PIT
    p, edges, z, ens = sample
    ours = pdf.pit(p, edges, z)
    theirs = PIT(ens, z)
    assert calibrate.pit_ks(ours) == pytest.approx(theirs.evaluate_PIT_KS().statistic, abs=1e-9)
    assert calibrate.pit_cvm(ours) == pytest.approx(theirs.evaluate_PIT_CvM().statistic, abs=1e-6)
    # a calibrated sample: KS below its 1% critical value 1.63/sqrt(n) (not a tautology: PDFs built to be so)
    assert calibrate.pit_ks(ours) < 1.63 / np.sqrt(len(z))


def test_round_trip_through_a_qp_file_is_exact_to_float64(sample, tmp_path):
    p, edges, z, _ = sample
    pdf.to_qp(p, edges, ancil={"z_spec": z}, path=tmp_path / "e.hdf5")
    back, back_edges, ancil = pdf.from_qp(tmp_path / "e.hdf5")
    np.testing.assert_array_equal(back_edges, edges)
    np.testing.assert_allclose(back, p, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ancil["z_spec"], z)


# ---------------------------------------------------------------- RAIL's point metrics

def _independent_rail(zp, zs):
    """RAIL's definitions written out longhand: percentiles by linear interpolation of the sorted dz."""
    d = np.sort((zp - zs) / (1 + zs))

    def percentile(q):
        pos = q * (len(d) - 1)
        lo = int(np.floor(pos))
        return d[lo] + (pos - lo) * (d[min(lo + 1, len(d) - 1)] - d[lo])

    sigma_iqr = (percentile(0.75) - percentile(0.25)) / 1.349
    n = len(d)
    median = d[n // 2] if n % 2 else 0.5 * (d[n // 2 - 1] + d[n // 2])
    cut = max(0.06, 3 * sigma_iqr)
    return sigma_iqr, median, sum(abs(x) > cut for x in d) / n


@pytest.mark.parametrize("n, width", [(1001, 0.02), (500, 0.03), (40, 0.004)])
def test_rail_point_metrics_match_a_longhand_computation(n, width):
    rng = np.random.default_rng(n)
    zs = rng.uniform(0.01, 0.4, n)
    zp = zs + (1 + zs) * np.where(rng.uniform(size=n) < 0.05, rng.uniform(-0.3, 0.3, n), rng.normal(0.002, width, n))
    got = metrics.rail_point_metrics(zp, zs)
    sigma_iqr, median, rate = _independent_rail(zp, zs)
    assert got["sigma_iqr"] == pytest.approx(sigma_iqr, rel=1e-12)
    assert got["bias_median"] == pytest.approx(median, rel=1e-12, abs=1e-15)
    assert got["outlier_rate_rail"] == pytest.approx(rate, abs=1e-12)
    # the floor: for a narrow core (3 sigma_IQR < 0.06) the cut is 0.06, not 3 sigma
    assert (3 * got["sigma_iqr"] < 0.06) == (width <= 0.004)


def test_rail_point_metrics_on_a_gaussian_recover_sigma():
    """sigma_IQR of N(0, s) is s (to the statistical error ~ 1.1 s / sqrt(n)); outliers at 3 sigma: 0.27%."""
    rng = np.random.default_rng(0)
    n, s = 200_000, 0.03
    zs = np.full(n, 0.1)
    zp = zs + 1.1 * rng.normal(0, s, n)
    got = metrics.rail_point_metrics(zp, zs)
    assert got["sigma_iqr"] == pytest.approx(s, abs=5 * 1.1 * s / np.sqrt(n))
    assert got["outlier_rate_rail"] == pytest.approx(0.0027, abs=5 * np.sqrt(0.0027 / n))


def test_rail_point_metrics_agree_with_rail():
    pytest.importorskip("rail.evaluation.metrics.pointestimates")
    from rail.evaluation.metrics.pointestimates import PointBias, PointOutlierRate, PointSigmaIQR, PointSigmaMAD
    rng = np.random.default_rng(5)
    zs = rng.uniform(0.01, 0.4, 3000)
    zp = zs + rng.standard_t(3, 3000) * 0.015
    got = metrics.rail_point_metrics(zp, zs)
    assert got["sigma_iqr"] == PointSigmaIQR(zp, zs).evaluate()
    assert got["bias_median"] == PointBias(zp, zs).evaluate()
    assert got["outlier_rate_rail"] == PointOutlierRate(zp, zs).evaluate()
    assert got["sigma_mad_rail"] == pytest.approx(PointSigmaMAD(zp, zs).evaluate(), rel=1e-12)


def test_rail_evaluation_runs_on_our_pdfs(sample):
    pytest.importorskip("rail.evaluation.metrics.cdeloss")
    p, edges, z, _ = sample
    out = metrics.rail_evaluation(p, edges, z)
    ours = metrics.rail_point_metrics(pdf.point_estimate(p, edges, "mean"), z)
    assert out["sigma_iqr"] == pytest.approx(ours["sigma_iqr"], rel=1e-12)
    assert out["pit_ks"] == pytest.approx(calibrate.pit_ks(pdf.pit(p, edges, z)), abs=1e-9)
    assert out["cde_loss"] < 0  # -2 E[f(z_true)] dominates for PDFs that put mass at the truth
