"""photoz_nb.pdf against hand-computed cases, brute-force integrals and closed forms."""
import numpy as np
import properscoring
import pytest
from scipy import integrate
from scipy.stats import norm

from photoz_nb import config, pdf

EDGES2 = np.array([0.0, 0.1, 0.2])
TWO_BIN = np.array([[0.25, 0.75]])


def random_case(n=6, n_bins=12, seed=0):
    """Random PDFs (some empty bins) on random non-uniform edges, with z inside the grid."""
    rng = np.random.default_rng(seed)
    edges = np.concatenate([[0.0], np.cumsum(rng.uniform(0.01, 0.05, n_bins))])
    p = rng.exponential(1.0, (n, n_bins)) * (rng.random((n, n_bins)) > 0.3)
    p[:, rng.integers(n_bins)] += 0.1
    p /= p.sum(axis=1, keepdims=True)
    z = rng.uniform(edges[0], edges[-1], n)
    z[0], z[1] = edges[0], edges[3]  # on edges too
    return p, edges, z


def gaussian_pdfs(mu, sigma, edges):
    """Bin probabilities of Gaussians (normalised on the grid)."""
    c = norm.cdf((edges[None, :] - np.asarray(mu)[:, None]) / np.asarray(sigma)[:, None])
    p = np.diff(c, axis=1)
    return p / p.sum(axis=1, keepdims=True)


def reference_crps(row, edges, z):
    """Brute force: quad of (F - H)^2 with F from np.interp (an independent piecewise-linear CDF)."""
    cum = np.concatenate([[0.0], np.cumsum(row)])
    f = lambda x: np.interp(x, edges, cum)
    below = integrate.quad(lambda x: f(x) ** 2, edges[0], z, points=edges[(edges > edges[0]) & (edges < z)],
                           epsabs=1e-13, limit=500)[0] if z > edges[0] else 0.0
    above = integrate.quad(lambda x: (1 - f(x)) ** 2, z, edges[-1], points=edges[(edges > z) & (edges < edges[-1])],
                           epsabs=1e-13, limit=500)[0] if z < edges[-1] else 0.0
    return below + above


# --- point estimates, CDF, PIT, quantiles on hand cases ---------------------------------

def test_one_bin_pdf_is_uniform():
    edges, p = np.array([0.0, 1.0]), np.ones((3, 1))
    z = np.array([0.0, 0.3, 1.0])
    assert np.allclose(pdf.pit(p, edges, z), z)
    for kind in ("mean", "median", "mode"):
        assert np.allclose(pdf.point_estimate(p, edges, kind), 0.5)
    assert np.allclose(pdf.quantile(p, edges, [0.16, 0.84]), [[0.16, 0.84]] * 3)
    # uniform on [0, 1]: CRPS(z) = z^3/3 + (1 - z)^3/3
    assert np.allclose(pdf.crps(p, edges, z), z**3 / 3 + (1 - z) ** 3 / 3)


def test_two_bin_pdf_by_hand():
    z = np.array([0.0, 0.05, 0.1, 0.15, 0.2])
    p = np.repeat(TWO_BIN, len(z), axis=0)
    assert np.allclose(pdf.cdf(p, EDGES2, z), [0.0, 0.125, 0.25, 0.625, 1.0])
    assert np.allclose(pdf.point_estimate(TWO_BIN, EDGES2, "mean"), 0.25 * 0.05 + 0.75 * 0.15)
    assert np.allclose(pdf.point_estimate(TWO_BIN, EDGES2, "mode"), 0.15)
    # F(z) = 0.25 + 7.5 (z - 0.1) = 0.5  ->  z = 0.1 + 1/30
    assert np.allclose(pdf.point_estimate(TWO_BIN, EDGES2, "median"), 0.1 + 1 / 30)
    assert np.allclose(pdf.quantile(TWO_BIN, EDGES2, 0.125), 0.05)
    assert np.allclose(pdf.centres(EDGES2), [0.05, 0.15])
    # scalar z is applied to every row
    assert np.allclose(pdf.cdf(p, EDGES2, 0.15), 0.625)


def test_mean_uses_bin_centres_not_lower_edges():
    edges = config.redshift_edges()
    p = np.zeros((1, config.N_BINS))
    p[0, 40] = 1
    assert np.isclose(pdf.point_estimate(p, edges, "mean")[0], edges[40] + 0.5 * (edges[41] - edges[40]))


def test_median_of_symmetric_pdfs_is_the_centre():
    edges = np.linspace(0, 0.4, 41)
    p = np.zeros((3, 40))
    p[0] = gaussian_pdfs([0.2], [0.03], edges)[0]
    p[1, [10, 29]] = 0.5              # two spikes with empty bins between: flat CDF at 0.5
    p[2, 15:25] = np.r_[1, 2, 3, 4, 5, 5, 4, 3, 2, 1] / 30
    assert np.allclose(pdf.point_estimate(p, edges, "median"), 0.2, atol=1e-12)
    assert np.allclose(pdf.point_estimate(p, edges, "mean"), 0.2, atol=1e-12)


def test_quantile_inverts_cdf():
    p, edges, _ = random_case(n=20, seed=1)
    levels = np.array([0.01, 0.16, 0.5, 0.84, 0.99])
    q = pdf.quantile(p, edges, levels)
    back = np.column_stack([pdf.cdf(p, edges, q[:, j]) for j in range(len(levels))])
    assert q.shape == (20, 5) and np.all(np.diff(q, axis=1) >= 0)
    assert np.allclose(back, levels[None, :], atol=1e-12)


def test_pit_of_samples_from_the_pdfs_is_uniform():
    # Draw z from the piecewise-constant density itself: PIT must be U(0, 1).
    rng = np.random.default_rng(2)
    edges = config.redshift_edges()
    n = 20_000
    p = gaussian_pdfs(rng.uniform(0.1, 0.3, n), rng.uniform(0.01, 0.03, n), edges)
    c = np.cumsum(p, axis=1)
    k = np.minimum((c < rng.random(n)[:, None]).sum(axis=1), config.N_BINS - 1)
    z = edges[k] + rng.random(n) * np.diff(edges)[k]
    hist = np.histogram(pdf.pit(p, edges, z), bins=10, range=(0, 1))[0]
    assert np.all(np.abs(hist - n / 10) < 5 * np.sqrt(n / 10))


# --- widths ---------------------------------------------------------------------------

def test_widths_by_hand():
    edges = np.linspace(0, 1, 11)
    p = np.zeros((2, 10))
    p[0, 5] = 1                                 # all mass in one bin of width 0.1
    p[1, [2, 3, 4]] = [0.2, 0.5, 0.3]
    central = pdf.width(p, edges, "central68")
    hpd = pdf.width(p, edges, "hpd68")
    assert np.allclose(central[0], 0.068) and np.allclose(hpd[0], 0.068)
    # HPD row 1: bin 3 (0.5) full, then 0.18 of bin 4 (0.3) -> 0.1 + 0.1 * 0.18/0.3
    assert np.isclose(hpd[1], 0.1 + 0.06)
    # central row 1: q16 in bin 2 at 0.2 + 0.1*0.8, q84 in bin 4 at 0.4 + 0.1*(0.84-0.7)/0.3
    assert np.isclose(central[1], (0.4 + 0.1 * 0.14 / 0.3) - 0.28)


def test_gaussian_widths():
    edges = np.linspace(0, 0.4, 801)
    p = gaussian_pdfs([0.2, 0.15], [0.01, 0.02], edges)
    expected = 2 * norm.ppf(0.84) * np.array([0.01, 0.02])
    assert np.allclose(pdf.width(p, edges, "central68"), expected, rtol=2e-3)
    # symmetric unimodal: HPD interval for 68% equals the central one (+-0.9945 sigma)
    assert np.allclose(pdf.width(p, edges, "hpd68"), 2 * norm.ppf(0.84) * np.array([0.01, 0.02]), rtol=5e-3)


def test_hpd_never_wider_than_central():
    p, edges, _ = random_case(n=50, seed=3)
    assert np.all(pdf.width(p, edges, "hpd68") <= pdf.width(p, edges, "central68") + 1e-12)


# --- CRPS -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 4, 5])
def test_crps_matches_brute_force_integral(seed):
    p, edges, z = random_case(seed=seed)
    got = pdf.crps(p, edges, z)
    ref = [reference_crps(p[i], edges, z[i]) for i in range(len(z))]
    assert np.allclose(got, ref, rtol=0, atol=1e-9)


def test_crps_of_finely_binned_gaussian_matches_closed_form():
    edges = np.linspace(0, 0.4, 4001)
    mu, sigma = np.array([0.2, 0.18, 0.22, 0.2]), np.array([0.02, 0.01, 0.03, 0.015])
    z = np.array([0.2, 0.2, 0.15, 0.26])
    got = pdf.crps(gaussian_pdfs(mu, sigma, edges), edges, z)
    x = (z - mu) / sigma
    closed = sigma * (x * (2 * norm.cdf(x) - 1) + 2 * norm.pdf(x) - 1 / np.sqrt(np.pi))
    # binning a Gaussian changes its CRPS by O(w^2 / sigma) with w = 1e-4
    assert np.allclose(got, closed, rtol=0, atol=1e-6)
    assert np.allclose(got, properscoring.crps_gaussian(z, mu, sigma), rtol=0, atol=1e-6)


def test_crps_on_the_paper_grid_close_to_gaussian():
    edges = config.redshift_edges()
    rng = np.random.default_rng(6)
    mu, sigma = rng.uniform(0.1, 0.3, 200), rng.uniform(0.008, 0.03, 200)
    z = mu + sigma * rng.normal(size=200)
    got = pdf.crps(gaussian_pdfs(mu, sigma, edges), edges, z)
    ref = properscoring.crps_gaussian(z, mu, sigma)
    w = edges[1] - edges[0]
    assert np.all(np.abs(got - ref) < w**2 / sigma)  # the binning error


def test_crps_of_one_full_bin_with_z_at_its_centre():
    # F rises linearly 0 -> 1 over the bin: 2 * integral_0^{w/2} (x/w)^2 dx = w/12
    edges, p = np.array([0.0, 0.1, 0.2, 0.3]), np.array([[0.0, 1.0, 0.0]])
    assert np.isclose(pdf.crps(p, edges, [0.15])[0], 0.1 / 12)


def test_float32_input_and_chunking(monkeypatch):
    p, edges, z = random_case(n=40, seed=7)
    full = pdf.crps(p.astype(np.float32), edges, z)
    monkeypatch.setattr(pdf, "CHUNK", 7)
    assert np.allclose(pdf.crps(p, edges, z), full, atol=1e-6)
    assert np.allclose(pdf.width(p, edges, "hpd68"), pdf.width(p[::-1], edges, "hpd68")[::-1])


def test_stack_is_the_normalised_mean():
    p, edges, _ = random_case(seed=8)
    s = pdf.stack(p, edges)
    assert np.isclose(s.sum(), 1) and np.allclose(s, p.mean(axis=0))
    assert np.allclose(pdf.stack(p), s)


# --- validation -----------------------------------------------------------------------

def test_validation_renormalises_within_tolerance_and_leaves_input_alone():
    raw = np.array([[0.2504, 0.75]], dtype=np.float32)
    p, edges = pdf.validate_pdfs(raw, EDGES2)
    assert p.dtype == np.float64 and np.isclose(p.sum(), 1) and raw[0, 0] == np.float32(0.2504)


@pytest.mark.parametrize("pdfs, edges, z, message", [
    (np.array([0.5, 0.5]), EDGES2, None, "must be 2-D"),
    (np.ones((1, 3)) / 3, EDGES2, None, "3 bins but edges define 2"),
    (TWO_BIN, np.array([0.0, 0.2, 0.1]), None, "strictly increasing"),
    (TWO_BIN, np.array([0.0, np.nan, 0.2]), None, "edges contain NaN"),
    (np.array([[0.5, 0.5], [np.nan, 1.0]]), EDGES2, None, "NaN/inf value(s); first in row 1"),
    (np.array([[0.5, 0.5], [1.5, -0.5]]), EDGES2, None, "negative probabilities; first in row 1"),
    (np.array([[0.5, 0.5], [0.5, 0.5], [0.6, 0.6]]), EDGES2, None, "first row 2 sums to 1.2"),
    (np.ones((2, 2)) / 2, EDGES2, np.array([0.1, 0.1, 0.1]), "one value per PDF row (2)"),
    (np.ones((2, 2)) / 2, EDGES2, np.array([0.1, np.nan]), "NaN/inf value(s); first at index 1"),
    (np.ones((2, 2)) / 2, EDGES2, np.array([0.1, 0.25]), "outside the grid [0, 0.2]; first z[1]=0.25"),
])
def test_validation_errors(pdfs, edges, z, message):
    with pytest.raises(ValueError) as err:
        pdf.validate_pdfs(pdfs, edges, z)
    assert message in str(err.value)


@pytest.mark.parametrize("call, message", [
    (lambda: pdf.point_estimate(TWO_BIN, EDGES2, "average"), "kind must be one of"),
    (lambda: pdf.width(TWO_BIN, EDGES2, "iqr"), "kind must be one of"),
    (lambda: pdf.width(TWO_BIN, EDGES2, level=1.5), "level must be in (0, 1)"),
    (lambda: pdf.quantile(TWO_BIN, EDGES2, 1.2), "levels in [0, 1]"),
    (lambda: pdf.crps(TWO_BIN, EDGES2, [0.3]), "outside the grid"),
    (lambda: pdf.pit(TWO_BIN * 2, EDGES2, [0.1]), "first row 0 sums to 2"),
    (lambda: pdf.stack(np.zeros((0, 2)), EDGES2), "empty set"),
])
def test_public_functions_validate(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


# --- exchange with qp (skipped when qp-prob is not installed) ---------------------------

@pytest.mark.parametrize("suffix", [".hdf5", ".fits"])
def test_qp_round_trip_through_a_file(tmp_path, suffix):
    qp = pytest.importorskip("qp")
    edges = config.redshift_edges()
    rng = np.random.default_rng(3)
    mu, z = rng.uniform(0.05, 0.35, 200), rng.uniform(0.01, 0.39, 200)
    p = gaussian_pdfs(mu, rng.uniform(0.01, 0.03, 200), edges) + 1e-4  # no empty bins: qp's ppf and ours agree
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    path = tmp_path / f"pdfs{suffix}"
    ens = pdf.to_qp(p, edges, ancil={"z_spec": z}, path=path)
    assert isinstance(ens.gen_obj, qp.hist_gen) and ens.npdf == 200
    back, back_edges, ancil = pdf.from_qp(path)
    np.testing.assert_allclose(back, p, atol=1e-6)
    np.testing.assert_array_equal(back_edges, edges)
    np.testing.assert_array_equal(ancil["z_spec"], z)
    # qp's own statistics of the exported ensemble agree with ours
    np.testing.assert_allclose(np.ravel(ens.mean()), pdf.point_estimate(p, edges, "mean"), atol=1e-6)
    np.testing.assert_allclose(np.ravel(ens.median()), pdf.point_estimate(p, edges, "median"), atol=1e-6)
    np.testing.assert_allclose(np.ravel(ens.cdf(z[:, None])), pdf.pit(p, edges, z), atol=1e-6)


def test_qp_import_of_a_continuous_ensemble_and_errors():
    qp = pytest.importorskip("qp")
    edges = config.redshift_edges()
    loc, scale = np.array([0.1, 0.25]), np.array([0.02, 0.03])
    ens = qp.stats.norm.create_ensemble({"loc": loc[:, None], "scale": scale[:, None]})
    p, _, ancil = pdf.from_qp(ens, edges)
    np.testing.assert_allclose(p, gaussian_pdfs(loc, scale, edges), atol=1e-9)
    assert ancil == {}
    with pytest.raises(ValueError, match="pass the edges"):
        pdf.from_qp(ens)
    with pytest.raises(ValueError, match="one value per PDF row"):
        pdf.to_qp(p, edges, ancil={"z_spec": np.zeros(3)})
    with pytest.raises(FileNotFoundError, match="no such qp file"):
        pdf.from_qp("/nonexistent/pdfs.hdf5")
