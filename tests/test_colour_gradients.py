"""SDSS-like model photometry on simulated stamps, and the Petrosian-minus-model colour check against the
real MGS: cases whose answer is known in closed form or by sign."""
import numpy as np
import pytest

from photoz_nb.simulate import galaxies, modelfit, photometry
from photoz_nb.validation import colour_gradients as cg


@pytest.fixture(scope="module")
def params():
    p = {k: np.array(v, copy=True) for k, v in galaxies.draw_galaxies(6, seed=4).params.items()}
    p["nb_flux"][:] = 0.0  # no neighbours: the deblender is not under test here
    return p


def isolated(params, i, bulge_share):
    """Row ``i`` re-made as a bulge + disk with the bulge holding ``bulge_share`` of each band's flux."""
    total = params["bulge_flux"][i] + params["disk_flux"][i]
    params["bulge_flux"][i], params["disk_flux"][i] = total * bulge_share, total * (1 - bulge_share)
    params["hlr_disk"][i], params["hlr_bulge"][i] = 6.0, 2.5
    return photometry.render_galaxy(params, i), total


def colours(flux):
    return -np.diff(-2.5 * np.log10(flux))


def test_a_pure_disk_has_its_true_colours_and_the_truncated_exponential_total(params):
    rendered, total = isolated(params, 0, np.zeros(5))
    model = modelfit.sdss_model_fluxes(rendered.stamp, rendered, params, 0)
    # no gradient: one shape fits every band, so colours come out exactly (fit noise-free)
    np.testing.assert_allclose(colours(model), colours(total), atol=2e-3)
    np.testing.assert_allclose(model / total, modelfit.TRUNCATED_TOTAL["exponential"], rtol=0.02)


def test_a_red_centre_makes_model_colours_redder_than_the_total_and_petrosian_ones_bluer(params):
    share = np.array([0.25, 0.33, 0.4, 0.43, 0.45])  # the bulge's share grows to the red: a red centre
    rendered, total = isolated(params, 1, share)
    model = modelfit.sdss_model_fluxes(rendered.stamp, rendered, params, 1)
    petro = photometry.measure_galaxy(rendered.stamp, rendered.stamp, rendered, params, 1)[3]
    assert np.all(colours(model) - colours(total) > 0.005)  # the r profile's weighting favours the centre
    delta = cg.gradient_sample([0.1], model[None], petro[None])["delta"][0]
    assert np.all(delta < 0)  # Petrosian (aperture) colours bluer than the centre-weighted model's


def test_gradient_table_compares_like_with_like_and_reports_what_it_sees():
    rng = np.random.default_rng(0)
    n = 3000

    def sample(width):
        z = rng.uniform(0.02, 0.3, n)
        u_minus_r = np.where(rng.random(n) < 0.7, 2.6, 1.8)
        return dict(z=z, u_minus_r=u_minus_r, delta=-0.02 + width * rng.standard_normal((n, 4)))
    table = cg.gradient_table(sample(0.04), sample(0.01), n_boot=50)
    assert set(table["type"]) == {"red", "blue"} and len(table) == 2 * 3 * 4
    ratio_err = table["sigma_ratio"] * np.hypot(table["sigma_real_err"] / table["sigma_real"],
                                                table["sigma_sim_err"] / table["sigma_sim"])
    assert np.all(np.abs(table["sigma_ratio"] - 0.25) < 4 * ratio_err)  # 0.01 / 0.04; 4 sigma over 24 rows
    np.testing.assert_allclose(table["median_real"], -0.02, atol=5 * np.max(table["median_real_err"]))


def test_a_blended_galaxy_gets_finite_model_fluxes_where_the_deblender_gives_pixels_away():
    params = galaxies.draw_galaxies(200, seed=5).params
    i = 34  # a galaxy with a neighbour whose template holds some pixels wholly (found by search, seed 5)
    rendered = photometry.render_galaxy(params, i)
    weight = photometry.deblend_weight(rendered.stamp, rendered, params, i)
    assert (weight == 0).any()  # pixels wholly a neighbour's: no noise, no information
    image = photometry.noisy_image(params, i, 5, i, rendered.stamp)
    with np.errstate(all="raise"):
        model = modelfit.sdss_model_fluxes(image, rendered, params, i)
    assert np.isfinite(model).all() and (model > 0).all()
