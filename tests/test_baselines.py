import numpy as np
import pytest

from photoz_nb import config
from photoz_nb.estimators.photometric import PhotometricBaseline, photometric_features, samples_to_pdfs
from conftest import make_catalog


def test_kernel_pdf_is_exact_gaussian_integral():
    edges = config.redshift_edges()
    pdfs = samples_to_pdfs(np.array([[0.2]]), edges, bandwidth=0.01)
    centres = 0.5 * (edges[1:] + edges[:-1])
    assert pdfs.shape == (1, 180) and np.isclose(pdfs.sum(), 1, atol=1e-6)
    assert np.isclose((pdfs[0] * centres).sum(), 0.2, atol=1e-5)
    assert np.isclose(np.sqrt((pdfs[0] * (centres - 0.2) ** 2).sum()), np.sqrt(0.01**2 + (0.4 / 180) ** 2 / 12), rtol=1e-3)


def redshift_from_colour(n, seed):
    """A catalogue where g-r determines z exactly: a photometric method must learn it."""
    cat = make_catalog(n, seed)
    cat["mag_r"] = 17.0
    cat["mag_g"] = cat["mag_r"] + 5 * cat["z_spec"]
    return cat


@pytest.mark.parametrize("method", ["knn", "rf"])
def test_baselines_learn_a_colour_redshift_relation(method):
    train, val, test = (redshift_from_colour(n, s) for n, s in ((2000, 1), (300, 2), (300, 3)))
    model = PhotometricBaseline(method, seed=0).fit(train, val)
    pdfs = model.predict_pdfs(test)
    assert pdfs.shape == (300, 180) and np.allclose(pdfs.sum(1), 1, atol=1e-5)
    centres = 0.5 * (model.edges[1:] + model.edges[:-1])
    z_phot = pdfs @ centres
    scatter = np.std(z_phot - test["z_spec"])
    assert scatter < 0.2 * np.std(test["z_spec"])


def test_baseline_is_deterministic_and_validates():
    train, val = redshift_from_colour(500, 1), redshift_from_colour(100, 2)
    a = PhotometricBaseline("rf", seed=3).fit(train, val).predict_pdfs(val)
    b = PhotometricBaseline("rf", seed=3).fit(train, val).predict_pdfs(val)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="unknown baseline method"):
        PhotometricBaseline("svm")
    with pytest.raises(RuntimeError, match="before fit"):
        PhotometricBaseline("knn").predict_pdfs(val)
    train["mag_i"][0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        photometric_features(train)


def test_real_catalog_matches_the_simulation_loader():
    from photoz_nb.baselines import real_catalog
    from photoz_nb.simulate import galaxies
    cat = real_catalog(n_galaxies=500, seed=4)
    real = galaxies.load_real_galaxies()
    rows = np.searchsorted(real.objid, cat["objid"])
    assert len(cat) == 500 and np.array_equal(real.objid[rows], cat["objid"])
    np.testing.assert_array_equal(cat["z_spec"], real.z[rows])
    # SDSS asinh magnitudes equal Pogson magnitudes of the dereddened fluxes for these bright galaxies
    pogson = galaxies.nanomaggies_to_mag(real.flux[rows, 2])
    np.testing.assert_allclose(cat["mag_r"], pogson, atol=2e-3)
    assert sorted(set(cat["split"])) == ["test", "train", "val"]
    with pytest.raises(ValueError, match="n_galaxies"):
        real_catalog(n_galaxies=10**6)


def test_real_catalog_benchmark_on_a_subsample():
    from photoz_nb.baselines import B16, real_catalog_benchmark
    t = real_catalog_benchmark(seed=2, n_galaxies=2000, n_boot=30)
    assert list(t["method"]) == ["kNN", "random forest", "B16 (published, 516k MGS)"]
    assert t["n_test"][0] == 400 and t["n_train"][0] == 1440
    for row in t[:2]:   # real photometry: a few percent scatter, errors positive and small
        assert 0.008 < row["sigma_mad"] < 0.03 and 0 < row["sigma_mad_err"] < 0.005
        assert abs(row["bias"]) < 5 * row["bias_err"] + 0.003 and 0 < row["crps"] < 0.03
        assert 0 <= row["outliers_pct"] < 10 and row["crps_err"] > 0
    assert t["sigma_mad"][2] == B16["sigma_mad"] and np.isnan(t["sigma_mad_err"][2])
    again = real_catalog_benchmark(seed=2, n_galaxies=2000, n_boot=30, methods=["knn"])
    assert again["sigma_mad"][0] == t["sigma_mad"][0] and again["bias_err"][0] == t["bias_err"][0]
    with pytest.raises(ValueError, match="methods"):
        real_catalog_benchmark(methods=["svm"])


def _reference_samples_to_pdfs(samples, edges, bandwidth, chunk=1024):
    """The PDF construction before the distinct-value table: every (galaxy, sample, edge) evaluated."""
    from scipy.special import ndtr
    pdfs = np.empty((len(samples), len(edges) - 1), np.float32)
    for start in range(0, len(samples), chunk):
        block = samples[start:start + chunk]
        cdf = ndtr((edges[None, None, :] - block[:, :, None]) / bandwidth).mean(axis=1)
        probs = np.diff(cdf, axis=1)
        pdfs[start:start + chunk] = probs / probs.sum(axis=1, keepdims=True)
    return pdfs


@pytest.mark.parametrize("pool, bandwidth", [(300, 0.006), (None, 0.002), (None, 0.024)])
def test_samples_to_pdfs_is_bitwise_the_direct_evaluation(pool, bandwidth):
    """Shared samples (a kNN-like pool of 300 training redshifts) or all distinct (tree leaves), any width."""
    rng = np.random.default_rng(11)
    shape = (1500, 24)
    samples = (rng.choice(rng.uniform(0.01, 0.39, pool), shape) if pool else rng.uniform(0.0, 0.4, shape))
    edges = config.redshift_edges()
    np.testing.assert_array_equal(samples_to_pdfs(samples, edges, bandwidth), _reference_samples_to_pdfs(samples, edges, bandwidth))


def test_samples_to_pdfs_splits_a_large_table_without_changing_the_pdfs(monkeypatch):
    """More distinct samples than the table bound: the galaxies are halved, the PDFs stay bitwise equal."""
    from photoz_nb.estimators import photometric as baselines
    rng = np.random.default_rng(12)
    samples, edges = rng.uniform(0.0, 0.4, (301, 10)), config.redshift_edges()
    monkeypatch.setattr(baselines, "MAX_TABLE_ROWS", 64)  # 3010 distinct values: split down to 8-galaxy blocks
    np.testing.assert_array_equal(baselines.samples_to_pdfs(samples, edges, 0.006),
                                  _reference_samples_to_pdfs(samples, edges, 0.006))
