"""Realism report of the simulation: the measurements against closed forms, then end to end on the real frames
of the committed sample data/sdss_sample."""
import numpy as np
import pytest
from scipy.optimize import brentq

from photoz_nb import config
from photoz_nb.simulate import build, realism, render
from photoz_nb.simulate.render import Component, render_stamp

SAMPLE = config.sample_frames_dir()  # checked against its sha256 registry
GAUSS_FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    """Keep data (and the kcorrect cache) out of the checkout; one cache for the session."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("PHOTOZ_HOME", str(home))


def pixelised(profile, size: int, x0: float, y0: float, oversample: int = 11) -> np.ndarray:
    """``profile(r2)`` averaged over square pixels (independent of the code under test)."""
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    coords = (np.arange(size)[:, None] + sub).ravel()
    r2 = (coords[None, :] - x0) ** 2 + (coords[:, None] - y0) ** 2
    return profile(r2).reshape(size, oversample, size, oversample).mean(axis=(1, 3))


def gaussian(fwhm):
    s = fwhm / GAUSS_FWHM_PER_SIGMA
    return lambda r2: np.exp(-r2 / (2 * s * s)) / (2 * np.pi * s * s)


def moffat(fwhm, beta):
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    return lambda r2: (beta - 1) / (np.pi * alpha ** 2) * (1 + r2 / alpha ** 2) ** -beta


# -- sky noise ---------------------------------------------------------------------------------
def test_sky_noise_recovers_sigma_next_to_a_source():
    rng = np.random.default_rng(3)
    sigma = 0.05
    galaxy = render_stamp([Component("exponential", [200.0], 5.0, dx=10, dy=-6)], [3.0], stamp=128, bands="r")[0]
    image = galaxy + rng.normal(0, sigma, galaxy.shape)
    assert np.std(image) > 1.1 * sigma  # the source would bias a plain estimate
    assert realism.sky_noise(image) == pytest.approx(sigma, rel=0.03)
    # and the mask covers the source, not the sky
    mask = realism.source_mask(image)
    assert mask[64 - 6, 64 + 10] and 0.02 < mask.mean() < 0.3


def test_sky_noise_rejects_bad_input():
    with pytest.raises(ValueError, match="2-d"):
        realism.sky_noise(np.zeros(100))
    with pytest.raises(ValueError, match="non-finite"):
        realism.sky_noise(np.full((32, 32), np.nan))


# -- PSF widths --------------------------------------------------------------------------------
@pytest.mark.parametrize("fwhm", [2.4, 3.6])
def test_fit_fwhm_recovers_gaussian_and_moffat(fwhm):
    rng = np.random.default_rng(0)
    for profile in (gaussian(fwhm), moffat(fwhm, 2.5), moffat(fwhm, 4.5)):
        image = 1000 * pixelised(profile, 21, 10.3, 9.6) + rng.normal(0, 0.05, (21, 21))
        fit = realism.fit_fwhm(image)
        assert fit["ok"]
        assert fit["fwhm"] == pytest.approx(fwhm, rel=0.02)
        assert (fit["x"], fit["y"]) == pytest.approx((10.3, 9.6), abs=0.02)


def test_effective_fwhm_closed_forms():
    fwhm, beta = 3.0, 3.0
    assert realism.effective_fwhm(pixelised(gaussian(fwhm), 31, 15.2, 14.9)) == pytest.approx(fwhm, rel=0.02)
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    expected = GAUSS_FWHM_PER_SIGMA * alpha * np.sqrt((2 * beta - 1) / (4 * (beta - 1) ** 2))
    # pixel-integrated Moffat: its n_eff includes the pixel, which effective_fwhm removes only approximately
    assert realism.effective_fwhm(pixelised(moffat(fwhm, beta), 31, 15.0, 15.0)) == pytest.approx(expected, rel=0.03)


def test_fit_psf_wing_recovers_core_and_wing():
    rng = np.random.default_rng(2)
    truth = dict(fwhm=2.6, wing_fraction=0.1, wing_scale=4.3)
    image = (realism.core_wing_image((31, 31), 15.3, 14.8, 5000.0, truth["fwhm"], 3.5, truth["wing_fraction"],
                                     truth["wing_scale"], oversample=9) + rng.normal(0, 0.05, (31, 31)))
    assert realism.star_sn(image) > 300
    free = realism.fit_psf_wing(image, 3.5)
    assert free["ok"] and (free["x"], free["y"]) == pytest.approx((15.3, 14.8), abs=0.01)
    for key, rel in (("fwhm", 0.01), ("wing_fraction", 0.1), ("wing_scale", 0.1)):
        assert free[key] == pytest.approx(truth[key], rel=rel), key
    fixed = realism.fit_psf_wing(image, 3.5, wing_scale=4.3)
    assert fixed["ok"] and fixed["wing_scale"] == 4.3 and fixed["wing_fraction"] == pytest.approx(0.1, rel=0.05)
    # in a large box, a neighbour is masked (other_sources) and the wing light at the border is modelled
    big = realism.core_wing_image((63, 63), 31.3, 30.8, 5000.0, truth["fwhm"], 3.5, truth["wing_fraction"],
                                  truth["wing_scale"], oversample=9) + rng.normal(0, 0.05, (63, 63))
    big += realism.moffat_image((63, 63), 52.0, 10.0, 3000.0, 2.6, 3.5)
    mask = realism.other_sources(big)
    assert mask[10, 52] and not mask[31, 31]
    masked = realism.fit_psf_wing(big, 3.5, wing_scale=4.3, mask=mask)
    assert masked["ok"] and masked["wing_fraction"] == pytest.approx(0.1, rel=0.02)
    assert realism.fit_psf_wing(big, 3.5, wing_scale=4.3)["wing_fraction"] > 0.102  # unmasked: biased
    # a pure Moffat has no wing
    bare = realism.fit_psf_wing(1000 * pixelised(moffat(2.6, 4.5), 31, 15.0, 15.0), 4.5, wing_scale=4.3)
    assert bare["wing_fraction"] < 0.005


def test_psf_constants_are_the_fit_to_the_real_stars():
    """render's per-band PSF shape is what realism.fit_psf_model derives from the real stars."""
    model = realism.fit_psf_model(realism.load_fields(SAMPLE, progress=False), progress=False)
    assert list(model["band"]) == list(config.BANDS)
    for row in model:
        assert row["core_beta"] == render.PSF_CORE_BETA[row["band"]]
        assert row["wing_fraction"] == pytest.approx(render.PSF_WING_FRACTION[row["band"]], abs=5e-4)
        assert row["wing_scale"] == pytest.approx(render.PSF_WING_SCALE, abs=5e-3)


# -- curve of growth ---------------------------------------------------------------------------
def exponential_petrosian(hlr):
    """Closed-form (R_P, r50, r90) of an exponential disk with SDSS's Petrosian definitions."""
    rd = hlr / render.EXP_HLR_OVER_SCALE
    enclosed = lambda r: 1 - (1 + r / rd) * np.exp(-r / rd)
    ratio = lambda r: (enclosed(1.25 * r) - enclosed(0.8 * r)) / (1.25 ** 2 - 0.8 ** 2) / enclosed(r)
    r_p = brentq(lambda r: ratio(r) - 0.2, 0.5 * rd, 20 * rd)
    flux = enclosed(2 * r_p)
    r50, r90 = (brentq(lambda r: enclosed(r) - f * flux, 1e-3, 50 * rd) for f in (0.5, 0.9))
    return r_p, r50, r90


def test_curve_of_growth_exponential_closed_form():
    hlr = 6.0
    r_p, r50, r90 = exponential_petrosian(hlr)
    image = render_stamp([Component("exponential", [1.0], hlr, dx=0.3, dy=-0.2)], None)[0]
    m = realism.curve_of_growth(image, noise=0.0)
    assert m["ok"] and not m["capped"]
    assert m["r_petro"] == pytest.approx(r_p, rel=0.01)
    assert m["r50"] == pytest.approx(r50, rel=0.01) and m["r90"] == pytest.approx(r90, rel=0.01)
    assert m["concentration"] == pytest.approx(2.29, abs=0.02)  # 2.32 for the total flux, 2.29 Petrosian
    assert (m["x"], m["y"]) == pytest.approx((31.8, 31.3), abs=0.01)


def test_curve_of_growth_noise_neighbour_and_de_vaucouleurs():
    rng = np.random.default_rng(1)
    alone = render_stamp([Component("exponential", [300.0], 4.0)], [3.0], bands="r")[0]
    crowded = render_stamp([Component("exponential", [300.0], 4.0),
                            Component("exponential", [150.0], 1.5, dx=22, dy=-22)], [3.0], bands="r")[0]
    noisy = realism.curve_of_growth(crowded + rng.normal(0, 0.1, crowded.shape))
    clean = realism.curve_of_growth(alone, noise=0.0)
    assert noisy["r50"] == pytest.approx(clean["r50"], rel=0.05)
    assert noisy["mag"] == pytest.approx(22.5 - 2.5 * np.log10(300), abs=0.05)
    bulge = realism.curve_of_growth(render_stamp([Component("devaucouleurs", [1.0], 3.0)], None)[0], noise=0.0)
    assert 2.9 < bulge["concentration"] < 3.6  # SDSS: ~3.3 for de Vaucouleurs profiles


def test_load_fields_names_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        realism.load_fields(tmp_path / "nowhere", progress=False)
    with pytest.raises(FileNotFoundError, match="no complete field"):
        realism.load_fields(tmp_path, progress=False)


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    return build.build_dataset("smoke", out_dir=tmp_path_factory.mktemp("realism") / "ds", n=200,
                               workers=1, progress=False)


def test_report_end_to_end_on_real_frames(small_build, tmp_path):
    table = realism.realism_report(small_build, SAMPLE, figures_dir=tmp_path, n_sim=40, progress=False)
    assert {"quantity", "band", "simulated", "real", "statistic", "passed"} <= set(table.colnames)
    noise = table[table["quantity"] == "sky noise [nmgy/pix]"]
    assert list(noise["band"]) == list(config.BANDS)
    for col in ("simulated", "real", "statistic"):
        assert np.isfinite(np.asarray(noise[col], float)).all()
    # the two real fields have different seeing: both measured, 5 bands each, finite
    psf = table[np.char.startswith(np.asarray(table["quantity"]).astype(str), "PSF FWHM, effective")]
    assert len(psf) == 10 and np.isfinite(np.asarray(psf["real"], float)).all()
    assert (np.asarray(psf["real"], float) > 0.7).all() and (np.asarray(psf["real"], float) < 3).all()
    colours = table[np.char.endswith(np.asarray(table["quantity"]).astype(str), "median vs z [mag]")]
    assert np.isfinite(np.asarray(colours["statistic"], float)).all()
    per_field = table[table["quantity"] == "sky noise per field [nmgy/pix]"]
    assert len(per_field) == 10 and set(per_field["field"]) == set(psf["field"])
    # the reference noise is the mean of the fields' medians, as the simulator's sky noise is
    for j, band in enumerate(config.BANDS):
        assert noise["real"][j] == pytest.approx(np.mean(per_field[per_field["band"] == band]["real"]))
    # rows with no simulated data are information, never counted as tests
    info = table[table["kind"] == "info"]
    assert len(info) and all(q.startswith("real stars:") for q in info["quantity"]) and info["passed"].all()
    tests = table[table["kind"] == "test"]
    assert realism.tally(table) == (f"{int(tests['passed'].sum())}/{len(tests)} tests pass "
                                    f"({len(info)} informative rows)")
    assert sorted(p.rsplit("/", 1)[-1] for p in table.meta["figures"] if p.endswith(".png")) == [
        "realism_colour_redshift.png", "realism_galaxy_sizes.png", "realism_psf_fwhm.png", "realism_sky_noise.png"]


def test_sky_noise_measurement_matches_the_simulated_truth(small_build):
    """On simulated stamps the measured sky noise is the noise the simulator put in (catalogue noise_*)."""
    from photoz_nb import catalog

    ds = catalog.open_dataset(small_build)
    result = realism.compare_sky_noise(ds, [], n_sim=60, progress=False)
    ratio = np.median(result.sim / result.sim_truth, axis=0)
    np.testing.assert_allclose(ratio, 1.0, atol=0.04)
