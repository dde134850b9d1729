"""Tests of the observing conditions: the survey distribution of simulated fields (observe.draw_fields)."""
import numpy as np
import pytest
from scipy import stats

from photoz_nb import config
from photoz_nb.simulate import galaxies, observe, render

BANDS = config.BANDS
R = BANDS.index("r")
N = 20000  # galaxies: 10,000 fields, drawn in well under a second


def observing(n, seed):
    return galaxies.draw_observing(n, galaxies.stream(seed, galaxies.STREAM_OBSERVING),
                                   galaxies.stream(seed, galaxies.STREAM_PSF_SHAPE))


@pytest.fixture(scope="module")
def obs():
    return observing(N, 0)


def test_the_psf_wing_scale_is_one_per_field_log_normal_around_the_survey_median(obs):
    """A field's galaxies share its wing scale; over 10,000 fields ln(scale) has median 0 and sigma
    FIELD_PSF_WING_SIGMA (4 standard errors: 1.2533 sigma / sqrt(n) for the median, sigma / sqrt(2n)),
    clipped at FIELD_CLIP_SIGMA; a render's wing fraction stays below 1 in every band."""
    first, _ = _per_field(obs, "psf_wing_scale")
    for f in np.unique(obs["field"])[:200]:
        assert len(set(obs["psf_wing_scale"][obs["field"] == f])) == 1
    ln, sigma, n = np.log(first), observe.FIELD_PSF_WING_SIGMA, len(first)
    assert abs(np.median(ln)) < 4 * 1.2533 * sigma / np.sqrt(n)
    assert abs(ln.std() - sigma) < 4 * sigma / np.sqrt(2 * n) + 0.01 * sigma  # + the clipped tails' share
    assert np.abs(ln).max() <= observe.FIELD_CLIP_SIGMA * sigma + 1e-12
    assert (render.wing_fractions(BANDS, first.max()) < 1).all()


def _per_field(obs, key):
    """One row per field (the first galaxy of each), so statistics count fields, not galaxies."""
    _, first = np.unique(obs["field"], return_index=True)
    return obs[key][first], obs["stripe82"][first]


def test_stamps_noise_spans_every_real_field(obs):
    """Delivered sky noise (what the stamps carry) puts every real field's cutout median inside its
    central SPAN_PERCENTILES in every band."""
    rows = observe.span_check(obs["noise"], observe.REAL_FIELD_NOISE)
    assert len(rows) == len(observe.REAL_FIELD_NOISE) * len(BANDS)
    failed = [(r["field"], r["band"], round(r["percentile"], 2)) for r in rows if not r["passed"]]
    assert not failed, f"real fields outside the simulated noise range: {failed}"
    # and the range is a survey's, not one field's: wider than the real fields' own spread in every band
    real = np.array(list(observe.REAL_FIELD_NOISE.values()))
    low, high = np.percentile(obs["noise"], [5, 95], axis=0)
    assert (low < real.min(axis=0)).all() and (high > real.max(axis=0)).all()


def test_span_check_flags_fields_outside_and_places_them():
    rng = np.random.default_rng(1)
    sim = np.exp(rng.normal(0.0, 0.1, (4000, len(BANDS))))
    inside = np.exp(np.full(len(BANDS), 0.1 * stats.norm.ppf(0.3)))   # 30th percentile
    outside = np.exp(np.full(len(BANDS), 0.5))                           # 5 sigma high
    rows = observe.span_check(sim, {"in": inside, "out": np.tile(outside, (3, 1))})
    pct_in = np.array([r["percentile"] for r in rows if r["field"] == "in"])
    # binomial error of an empirical percentile: sqrt(0.3 x 0.7 / 4000) = 0.7 percentage points
    np.testing.assert_allclose(pct_in, 30.0, atol=4 * 0.73)
    assert all(r["passed"] for r in rows if r["field"] == "in")
    assert not any(r["passed"] for r in rows if r["field"] == "out")
    with pytest.raises(ValueError, match=r"sim must be \(n >= 100, 5\)"):
        observe.span_check(sim[:10], {"in": inside})
    with pytest.raises(ValueError, match=r"real\['bad'\] must give 5 finite medians"):
        observe.span_check(sim, {"bad": [1.0, 2.0]})


def test_galaxies_of_a_field_share_its_conditions(obs):
    field = obs["field"]
    assert observe.n_fields(N) == N // observe.GALAXIES_PER_FIELD
    np.testing.assert_array_equal(np.bincount(field), observe.GALAXIES_PER_FIELD)
    order = np.argsort(field, kind="stable")
    for key in ("psf", "noise_native", "stripe82"):
        pairs = obs[key][order].reshape(N // 2, 2, -1)
        np.testing.assert_array_equal(pairs[:, 0], pairs[:, 1], err_msg=key)
    # the resampling shifts (a galaxy's position on the pixel grid) stay per galaxy
    assert not np.array_equal(obs["shifts"][order][0::2], obs["shifts"][order][1::2])


def test_field_distribution_has_the_fitted_medians_scatter_and_correlations(obs):
    psf, deep = _per_field(obs, "psf")
    noise, _ = _per_field(obs, "noise_native")
    values = np.log(np.column_stack([psf, noise]))[~deep]
    n = len(values)
    cov = observe.field_covariance()
    sigma = np.sqrt(np.diag(cov))
    # medians: clipping is symmetric in ln, so it keeps them; error of a median 1.2533 sigma / sqrt(n)
    np.testing.assert_allclose(np.median(values, axis=0), np.log(observe.field_median()),
                               atol=4 * 1.2533 * sigma.max() / np.sqrt(n))
    # scatter: a normal clipped at 3 sigma keeps 0.9866 of its sigma; error of a sd sigma / sqrt(2 n)
    np.testing.assert_allclose(values.std(axis=0) / (0.9866 * sigma), 1.0, atol=4 / np.sqrt(2 * n))
    # correlations the model sets: seeing across bands (common factor), noise across bands, and the
    # within-night seeing-noise term of run 2583 (Fisher z error 1 / sqrt(n - 3))
    expected = cov / np.outer(sigma, sigma)
    measured = np.corrcoef(values.T)
    for a, b in ((R, BANDS.index("i")), (0, R), (5 + R, 5 + BANDS.index("i")), (BANDS.index("g"), 5 + 1)):
        assert np.arctanh(measured[a, b]) == pytest.approx(np.arctanh(expected[a, b]), abs=4 / np.sqrt(n - 3))
    assert expected[R, BANDS.index("i")] > 0.7 and expected[5 + R, 5 + BANDS.index("i")] > 0.6


def test_field_quantities_stay_in_the_clip_range(obs):
    low, high = observe.field_range()
    psf, deep = _per_field(obs, "psf")
    noise, _ = _per_field(obs, "noise_native")
    assert (psf >= low[:5] * (1 - 1e-12)).all() and (psf <= high[:5] * (1 + 1e-12)).all()
    assert (noise[~deep] >= low[5:] * (1 - 1e-12)).all() and (noise[~deep] <= high[5:] * (1 + 1e-12)).all()
    lo, hi = observe.SEEING_R_RANGE
    assert 0.7 < lo < 0.9 and 1.7 < hi < 2.0  # core FWHM: no 0.6" or 2.5" SDSS field


def test_stripe82_fields_are_deeper_by_the_depth_factor(obs):
    noise, deep = _per_field(obs, "noise_native")
    assert deep.sum() == round(observe.STRIPE82_FRACTION * observe.n_fields(N))
    ratio = np.exp(np.median(np.log(noise[~deep]), axis=0) - np.median(np.log(noise[deep]), axis=0))
    # medians of ~500 deep fields: error 1.2533 x 0.17 / sqrt(500) ~ 0.01 in ln
    np.testing.assert_allclose(np.log(ratio), np.log(observe.STRIPE82_DEPTH), atol=4 * 1.2533 * 0.18 / np.sqrt(500))


def test_draws_are_deterministic_and_keyed_by_seed():
    a, b, c = (observing(500, seed) for seed in (7, 7, 8))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["psf"], c["psf"]) and not np.array_equal(a["psf_wing_scale"], c["psf_wing_scale"])
    with pytest.raises(ValueError, match="number of fields must be a positive integer"):
        observe.draw_fields(np.random.default_rng(0), 0)


def test_model_constants_are_consistent():
    corr = observe.RUN_CORRELATION
    np.testing.assert_array_equal(corr, corr.T)
    np.testing.assert_array_equal(np.diag(corr), 1.0)
    assert np.linalg.eigvalsh(corr).min() > 0 and np.linalg.eigvalsh(observe.field_covariance()).min() > 0
    # the r totals reproduce the survey quartiles they were fitted to (DR1: PSF 1.30-1.58", sky 20.70-21.03)
    sigma = observe.field_sigma()
    assert sigma[R] == pytest.approx(np.log(1.58 / 1.30) / 1.349, rel=0.01)
    assert sigma[5 + R] == pytest.approx(0.5 * 0.4 * np.log(10) * (21.03 - 20.70) / 1.349, rel=0.01)
    assert observe.sky_noise("i") == observe.FIELD_NOISE_MEDIAN["i"]


def test_run_statistics_match_the_photofield_file():
    """RUN_SIGMA / RUN_CORRELATION are the run's: re-measured from photoField-002583-2.fits when present."""
    path = config.sample_frames_dir() / "photoField-002583-2.fits"
    if not path.is_file():
        pytest.skip(f"{path}: not present (needed only to re-check the fitted constants)")
    from astropy.io import fits

    t = fits.getdata(path, 1)
    good = np.asarray(t["QUALITY"]) == 3
    noise = np.asarray(t["SKYSIG"], float) * np.asarray(t["NMGYPERCOUNT"], float)
    # units: SKYSIG in counts per pixel x NMGYPERCOUNT = SIGPIX (nanomaggies / arcsec^2) x pixel area
    # (two estimates of the same sigma: medians agree to 1.1-2.6 %, a field to 10-25 %)
    ratio = noise / (np.asarray(t["SIGPIX"], float) * np.asarray(t["PIXSCALE"], float) ** 2)
    np.testing.assert_allclose(np.median(ratio, axis=0), 1.0, atol=0.03)
    values = np.log(np.column_stack([np.asarray(t["PSF_WIDTH"], float), noise]))[good]
    assert good.sum() == 224
    np.testing.assert_allclose(values.std(axis=0, ddof=1), observe.RUN_SIGMA, atol=6e-5)
    np.testing.assert_allclose(np.corrcoef(values.T), observe.RUN_CORRELATION, atol=0.0051)
