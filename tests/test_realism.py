"""Realism report of the simulation: the measurements against closed forms, then end to end on the real frames
of the committed sample data/sdss_sample."""
import numpy as np
import pytest
from scipy.optimize import brentq

from photoz_nb import config
from photoz_nb import validation as realism
from photoz_nb.measure import deblend, growth
from photoz_nb.simulate import build, render
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


def test_binned_curve_of_growth_gives_the_petrosian_radius_and_flux():
    """The simulator's cheap curve of growth (whole pixels in 0.25-px rings) with the one Petrosian
    definition: R_P and the flux within 2 R_P of an exponential disk, against the closed form; the
    rings lose at most a ring's width (0.25 px) against the sub-pixel curve."""

    for hlr in (2.0, 6.0):
        r_p, _, _ = exponential_petrosian(hlr)
        rd = hlr / render.EXP_HLR_OVER_SCALE
        image = render_stamp([Component("exponential", [1.0, 3.0], hlr, dx=0.3, dy=-0.2)], None)
        radii, cumulative = growth.binned_curve_of_growth(image, (31.8, 31.3))
        assert cumulative.shape == (2, len(radii))
        assert (np.diff(cumulative, axis=1) > -1e-3 * cumulative[:, -1:]).all()  # the image's aliasing ripples
        np.testing.assert_allclose(cumulative[:, -1], image.sum(axis=(1, 2)), rtol=1e-6)
        found, ok = growth.petrosian_radius(radii, cumulative[0], max_radius=31.0)
        assert ok and found == pytest.approx(r_p, abs=0.25)
        expected = 1 - (1 + 2 * r_p / rd) * np.exp(-2 * r_p / rd)  # 0.99 of the light
        assert np.interp(2 * found, radii, cumulative[1]) == pytest.approx(3 * expected, rel=0.01)
    # a flat image has no Petrosian radius: max_radius / 2, not found
    radii, cumulative = growth.binned_curve_of_growth(np.ones((64, 64)), (31.5, 31.5))
    assert growth.petrosian_radius(radii, cumulative, max_radius=30.0) == (15.0, False)


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


def test_mirror_reflects_through_the_nearest_half_pixel():
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(deblend.mirror(image, (1.5, 1.5), np.full((4, 4), -1.0)), image[::-1, ::-1])
    shifted = deblend.mirror(image, (1.0, 1.5), np.full((4, 4), -1.0))  # x' = 2 - x
    np.testing.assert_array_equal(shifted[:, :3], image[::-1, 2::-1])
    assert (shifted[:, 3] == -1).all()


def _pair(separation: float, companion_flux: float, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(the blend, the central galaxy alone): an exponential disk at the stamp centre and a smaller one
    ``separation`` px to its right, in r through the simulator's PSF, white noise ``noise``."""
    galaxy = Component("exponential", [300.0], 3.0, q=0.7, pa=0.4)
    companion = Component("exponential", [companion_flux], 2.0, dx=separation, dy=3.0)
    alone, blend = (render_stamp(parts, [3.0], bands="r")[0] for parts in ([galaxy], [galaxy, companion]))
    white = np.random.default_rng(seed).normal(0, noise, alone.shape) if noise else 0.0
    return blend + white, alone + white


def test_a_blend_is_deblended_and_the_central_child_measured():
    """SDSS-like symmetric-template deblending: the galaxy of a blend with an equally bright neighbour
    10 px away measures as it does alone (flux to 0.05 mag, r50 to 5 %, r90/r50 to 0.15), where the whole
    segment holds 0.75 mag more light; a lone galaxy, with noise or without, is one child."""

    blend, alone = _pair(10.0, 300.0, noise=0.05)
    children = growth.central_children(blend)
    assert len(children) == 2
    np.testing.assert_allclose(children[0], (31.5, 31.5), atol=1.0)    # the central child first
    np.testing.assert_allclose(children[1], (41.5, 34.5), atol=1.0)
    deblended, isolated = realism.curve_of_growth(blend), realism.curve_of_growth(alone)
    # the neighbour's light in the galaxy's symmetric overlap stays with it, as in SDSS: r90 grows a little
    # (undeblended, this blend measures r50 1.7x too large and r90/r50 1.71 against 2.19)
    assert deblended["mag"] == pytest.approx(isolated["mag"], abs=0.05)
    assert deblended["r50"] == pytest.approx(isolated["r50"], rel=0.05)
    assert deblended["concentration"] == pytest.approx(isolated["concentration"], abs=0.15)
    segment = blend[growth._central_segment(blend, growth.source_mask(blend))].sum()
    assert 22.5 - 2.5 * np.log10(segment) < isolated["mag"] - 0.6  # what the blend would have measured
    for image in (alone, _pair(10.0, 300.0)[1]):  # one galaxy: one child
        assert len(growth.central_children(image)) == 1
    bulge_disk = render_stamp([Component("devaucouleurs", [100.0], 1.5), Component("exponential", [200.0], 5.0, q=0.5)],
                              [3.0], bands="r")[0]
    assert len(growth.central_children(bulge_disk, noise=0.0)) == 1
    share = deblend.child_share(blend, children)
    assert share[31, 31] > 0.95 and share[34, 41] < 0.05 and ((share >= 0) & (share <= 1)).all()


def test_split_blends_lists_every_child_at_its_peak():
    from astropy.table import Table

    frame = np.zeros((200, 300))
    blend, _ = _pair(12.0, 200.0)
    single = render_stamp([Component("exponential", [300.0], 3.0)], [3.0], bands="r")[0]
    frame[20:84, 30:94] += blend
    frame[100:164, 200:264] += single
    frame += np.random.default_rng(2).normal(0, 0.05, frame.shape)
    sources = Table({"x": [62.0, 231.5], "y": [52.5, 131.5], "flux": [500.0, 300.0]})
    out = realism.galaxy_sizes.split_blends(frame, sources)
    assert len(out) == 3 and list(out["flux"]) == [500.0, 500.0, 300.0]
    np.testing.assert_allclose(np.column_stack([out["x"], out["y"]]),
                               [[61.5, 51.5], [73.5, 54.5], [231.5, 131.5]], atol=1.0)


def test_split_blends_keeps_a_source_whose_box_has_no_sky(monkeypatch):
    from astropy.table import Table

    def no_sky(box):
        raise ValueError("sky_noise: only 12 sky pixels left after masking sources")
    monkeypatch.setattr(realism.galaxy_sizes, "central_children", no_sky)
    kept = realism.galaxy_sizes.split_blends(np.zeros((100, 100)), Table({"x": [50.0], "y": [40.0], "flux": [1.0]}))
    assert list(kept["x"]) == [50.0] and list(kept["y"]) == [40.0]


def test_axis_ratio_of_an_inclined_disk():
    """Moments of a noise-free inclined exponential give its b/a (the circular 2 R_P aperture trims
    the major axis a little: biased up by 0.03 at q = 0.3); a round PSF pushes it towards 1."""
    for q in (0.3, 0.6, 1.0):
        disk = render_stamp([Component("exponential", [1.0], 6.0, q=q, pa=0.7)], None)[0]
        m = realism.curve_of_growth(disk, noise=0.0)
        assert q - 0.01 <= m["b_over_a"] <= q + 0.04
    blurred = render_stamp([Component("exponential", [1.0], 2.0, q=0.3, pa=0.7)], [6.0], bands="r")[0]
    assert 0.45 < realism.curve_of_growth(blurred, noise=0.0)["b_over_a"] < 1.0


def _interpolated_star(saturate: bool) -> np.ndarray:
    """A bright star (peak 2,000 nmgy, 400,000 counts at 0.005 nmgy/count); saturated above 150 nmgy,
    SDSS-like: the saturated pixels of each row replaced by the straight line between their neighbours."""
    star = 2000.0 * pixelised(moffat(3.0, 3.5), 41, 20.0, 20.0) / pixelised(moffat(3.0, 3.5), 41, 20.0, 20.0).max()
    star += np.random.default_rng(0).normal(0, 0.025, star.shape)
    if saturate:
        for y in np.flatnonzero((star > 150).any(axis=1)):
            cols = np.flatnonzero(star[y] > 150)
            lo, hi = cols.min() - 1, cols.max() + 1
            star[y, lo:hi + 1] = np.linspace(star[y, lo], star[y, hi], hi - lo + 1)
    return star


def test_saturated_core_found_without_calibobj():
    min_value = realism.SATURATION_MIN_DN * 0.005
    assert realism.saturated_core(_interpolated_star(True), 20, 20, min_value)
    assert not realism.saturated_core(_interpolated_star(False), 20, 20, min_value)
    # a faint flat galaxy's noisy core is never taken for an interpolated one
    rng = np.random.default_rng(1)
    flat = render_stamp([Component("exponential", [60.0], 12.0)], [3.0], bands="r")[0] + rng.normal(0, 0.025, (64, 64))
    assert not realism.saturated_core(flat, 31.5, 31.5, min_value)


def _fake_field(n_stars: int, size: int = 600, seed: int = 0):
    """A RealField whose r frame (0.396"/pix, size^2 pixels) holds ``n_stars`` stars with 16 < r < 18."""
    from astropy.wcs import WCS

    from photoz_nb.sdss.frames import Frame

    rng = np.random.default_rng(seed)
    image = rng.normal(0, 0.025, (size, size)).astype(np.float32)
    for x, y, mag in zip(rng.uniform(20, size - 20, n_stars), rng.uniform(20, size - 20, n_stars),
                         rng.uniform(16, 18, n_stars)):
        image[int(y) - 10:int(y) + 11, int(x) - 10:int(x) + 11] += (
            10 ** (-0.4 * (mag - 22.5)) * pixelised(gaussian(3.0), 21, 10 + x % 1, 10 + y % 1))
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cdelt = [-config.PIXEL_SCALE / 3600, config.PIXEL_SCALE / 3600]
    return realism.RealField(f"fake-{n_stars}", {"r": Frame(image, w, {"NMGY": 0.005})})


def test_crowded_field_is_detected_and_left_out():
    area = (600 * config.PIXEL_SCALE / 60) ** 2  # arcmin^2
    sparse, crowded = _fake_field(int(0.3 * area)), _fake_field(int(1.5 * area), seed=1)
    assert realism.field_crowding(sparse)["density"] == pytest.approx(0.3, rel=0.15)
    assert realism.field_crowding(crowded)["crowded"] and not realism.field_crowding(sparse)["crowded"]
    with pytest.warns(UserWarning, match="fake-.*crowded.*left out"):
        kept, crowding = realism.split_crowded([sparse, crowded], progress=False)
    assert [f.name for f in kept] == [sparse.name] and set(crowding) == {sparse.name, crowded.name}
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="every field is crowded"):
        realism.split_crowded([crowded], progress=False)


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
    # every field not left out as crowded is measured, 5 bands each, finite
    quantity = np.asarray(table["quantity"]).astype(str)
    crowding = table[np.char.startswith(quantity, "field crowding")]
    used = [f for f, q in zip(crowding["field"], crowding["quantity"]) if "left out" not in q]
    assert len(used) >= 2 and "004510-4-0030" in used and "007264-3-0111" in used
    psf = table[np.char.startswith(quantity, "PSF FWHM, effective")]
    assert len(psf) == 5 * len(used) and np.isfinite(np.asarray(psf["real"], float)).all()
    assert (np.asarray(psf["real"], float) > 0.7).all() and (np.asarray(psf["real"], float) < 3).all()
    colours = table[np.char.endswith(np.asarray(table["quantity"]).astype(str), "median vs z [mag]")]
    assert np.isfinite(np.asarray(colours["statistic"], float)).all()
    per_field = table[table["quantity"] == "sky noise per field [nmgy/pix]"]
    assert len(per_field) == 5 * len(used) and set(per_field["field"]) == set(psf["field"]) == set(used)
    # the survey-vs-these-fields ratio uses the mean of the fields' medians; it is information
    assert (noise["kind"] == "info").all()
    for j, band in enumerate(config.BANDS):
        assert noise["real"][j] == pytest.approx(np.mean(per_field[per_field["band"] == band]["real"]))
    # rows with no simulated data are information, never counted as tests
    info = table[table["kind"] == "info"]
    assert len(info) and all(q.startswith(("real stars:", "field crowding", "sky noise [")) for q in info["quantity"])
    assert info["passed"].all()
    # galaxy structure: pooled ("both") and per field rows
    galaxy = table[np.char.startswith(quantity, "galaxy r50")]
    assert "both" in galaxy["field"] and set(galaxy["field"]) - {"both"} <= set(used)
    tests = table[table["kind"] == "test"]
    assert realism.tally(table) == (
        f"{int(tests['passed'].sum())}/{len(tests)} tests pass at their own thresholds, "
        f"{int(tests['passed_family'].sum())}/{len(tests)} family-wise (Holm, alpha 0.05 over the "
        f"{int(np.isfinite(tests['p_value']).sum())} tests with a p-value) ({len(info)} informative rows)")
    # KS and percentile tests carry p-values; the catalogue's error ratios are 5 bands x 5 bins of tests
    assert np.isfinite(table[np.char.startswith(quantity, "galaxy r50")]["p_value"]).all()
    assert np.isfinite(per_field["p_value"]).all()
    errors = table[quantity == "catalogue model-mag error [mag]"]
    assert len(errors) == 25 and set(errors["band"]) == set(config.BANDS) and (errors["kind"] == "test").all()
    details = (tmp_path / "realism_tables.md").read_text()
    assert details.strip() == table.meta["details"] and "| 17–17.8 |" in details and "| z |" in details
    # the population's re-observed colours: a row per colour and redshift bin, the last per colour pooled
    pooled = [line for line in details.splitlines() if "| 0–0.4 | 9811 / 10000 |" in line]
    assert [line.split("|")[1].strip() for line in pooled] == ["u-g", "g-r", "r-i", "i-z"]
    assert sorted(p.rsplit("/", 1)[-1] for p in table.meta["figures"] if p.endswith(".png")) == [
        "realism_colour_redshift.png", "realism_galaxy_sizes.png", "realism_psf_fwhm.png", "realism_sky_noise.png"]


def test_sky_noise_measurement_matches_the_simulated_truth(small_build):
    """On simulated stamps the measured sky noise is the noise the simulator put in (catalogue noise_*)."""
    from photoz_nb import catalog

    ds = catalog.open_dataset(small_build)
    result = realism.compare_sky_noise(ds, [], n_sim=60, progress=False)
    ratio = np.median(result.sim / result.sim_truth, axis=0)
    np.testing.assert_allclose(ratio, 1.0, atol=0.04)


def test_holm_family_wise_verdicts_on_a_worked_case_and_its_error_rate_under_the_null():
    """Holm at 0.05 over 4 p-values: thresholds 0.0125, 0.0167, 0.025, 0.05; it stops at the first
    p above its threshold.  Tests without a p-value keep their own verdict.  Under the null (independent
    uniform p-values, 50 per family) at most 5 % of 4,000 families see any rejection (3 binomial errors)."""
    p = [0.04, 0.001, np.nan, 0.3, 0.01, np.nan]
    own = [False, False, False, True, False, True]
    assert realism.holm_passed(p, own).tolist() == [True, False, False, True, False, True]
    assert realism.holm_passed([0.0064] + [0.5] * 56, [False] + [True] * 56).all()
    assert not realism.holm_passed([0.0005] + [0.5] * 56, [False] + [True] * 56)[0]
    rng = np.random.default_rng(0)
    any_rejected = np.mean([not realism.holm_passed(rng.uniform(size=50), np.ones(50, bool)).all()
                            for _ in range(4000)])
    assert any_rejected <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 4000)
    assert any_rejected > 0.02  # and it is not vacuous: Holm at 0.05 does reject now and then
