"""The information ceiling: feature sets, same-redshift donors, paired errors, and the RF's verdicts on
cases whose answer is known."""
import numpy as np
import pytest
from astropy.stats import mad_std
from astropy.table import Table

from photoz_nb import ceiling, cli
from photoz_nb.simulate import galaxies

BANDS = "ugriz"


def synthetic_table(n: int, seed: int = 0, catalogue_noise: float = 0.08) -> Table:
    """Galaxies whose true colours are linear in z with 0.02 mag of intrinsic scatter, and whose
    catalogue magnitudes add ``catalogue_noise``: the truths know more about z than the catalogue."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.3, n)
    slope = np.array([3.0, 2.0, 1.0, 0.5, 0.0])
    true = 17.0 + np.outer(z, slope) + 0.02 * rng.standard_normal((n, 5))
    true[:, 0] += 2.0  # u - r = 2 + 3 z: red above z = 0.073, as the split at 2.22 needs both colours
    early = rng.random(n) < 0.5
    t = Table({"z_spec": z, "early_type": early, "bulge_frac": rng.uniform(0, 1, n), "b_over_a": rng.uniform(0.2, 1, n),
               "hlr_bulge_arcsec": rng.uniform(0.5, 3, n), "hlr_disk_arcsec": rng.uniform(1, 5, n),
               "petrorad_r": rng.uniform(2, 8, n), "petromag_r": true[:, 2] + 0.05})
    for i, b in enumerate(BANDS):
        t[f"mag_true_{b}"] = true[:, i]
        t[f"mag_{b}"] = true[:, i] + catalogue_noise * rng.standard_normal(n)
    return t


def test_same_redshift_donors_come_from_the_candidates_nearest_in_redshift():
    rng = np.random.default_rng(1)
    z = rng.uniform(0, 0.3, 5000)
    candidates = np.flatnonzero(rng.random(5000) < 0.3)
    donors = ceiling._same_redshift_donors(z, candidates, rng)
    assert np.isin(donors, candidates).all()
    # 25 of ~1,500 candidates spread over 0.3 in z: a window of ~0.005; allow the edges twice that
    assert np.abs(z[donors] - z).max() < 0.012
    assert len(np.unique(donors)) > 0.5 * len(candidates)  # random among the window, not always the nearest


def test_bulges_of_early_types_are_their_own_colours_and_late_types_borrow_an_early_type_at_their_z():
    t = synthetic_table(3000)
    mags = np.column_stack([np.asarray(t[f"mag_true_{b}"]) for b in BANDS])
    z, early = np.asarray(t["z_spec"]), np.asarray(t["early_type"])
    bulge = ceiling.bulge_colours(mags, z, early, np.random.default_rng(0))
    own = -np.diff(mags, axis=1)
    np.testing.assert_array_equal(bulge[early], own[early])
    early_colours = {tuple(c) for c in own[early]}
    assert all(tuple(c) in early_colours for c in bulge[~early])
    assert not np.array_equal(bulge[~early], own[~early])


def test_companions_come_at_the_stated_fraction_with_a_flag():
    n, fraction = 20_000, 0.13
    z = np.random.default_rng(2).uniform(0.02, 0.3, n)
    mags = 17 + np.random.default_rng(3).standard_normal((n, 5))
    out = ceiling.companion_colours(mags, z, fraction, np.random.default_rng(4))
    flag = out[:, -1].astype(bool)
    assert abs(flag.mean() - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / n)
    assert np.all(out[~flag, :-1] == 0) and np.all(out[flag, :-1] != 0)


def test_scores_are_the_papers_sigma_mad_with_paired_errors():
    rng = np.random.default_rng(5)
    z = rng.uniform(0.02, 0.3, 4000)
    a = z + 0.01 * (1 + z) * rng.standard_normal(len(z))
    b = a + 0.005 * (1 + z) * rng.standard_normal(len(z))  # a, degraded: correlated with a
    rows = {r["features"]: r for r in ceiling._scored({"a": a, "b": b, "a again": a}, z, "a", n_boot=200, seed=0)}
    assert rows["a"]["sigma_mad"] == pytest.approx(mad_std((a - z) / (1 + z)), rel=2e-6)  # astropy: 1/Phi^-1(3/4) = 1.482602, the paper 1.4826
    assert rows["a again"]["minus_reference"] == 0 and rows["a again"]["minus_reference_err"] == 0
    diff, err = rows["b"]["minus_reference"], rows["b"]["minus_reference_err"]
    assert diff > 3 * err  # sqrt(0.01^2 + 0.005^2) - 0.01 = 0.0012, detected
    # pairing: the difference is better known than two independent sigma_MADs' (ratio 1); here 0.65,
    # each bootstrap error being known to ~5 % with 200 resamples
    assert err < 0.8 * np.hypot(rows["a"]["sigma_mad_err"], rows["b"]["sigma_mad_err"])


def test_the_ceiling_sees_that_noise_free_truths_know_more_than_noisy_catalogue_magnitudes():
    table = ceiling.ceiling_table(synthetic_table(1700), sizes=(300, 1200), n_test=500, n_boot=100)
    assert set(table["subset"]) == {"all", "red", "blue"} and set(table["training_size"]) == {300, 1200}
    all_ = table[table["subset"] == "all"]
    for n in (300, 1200):
        row = all_[(all_["training_size"] == n) & (all_["features"] == "noise-free")][0]
        assert row["minus_reference"] < -3 * row["minus_reference_err"]
    cat = all_[all_["features"] == "colours + r"]
    assert cat["sigma_mad"][1] < cat["sigma_mad"][0]  # more training galaxies, better: 4x the data
    with pytest.raises(ValueError, match="exceeds"):
        ceiling.ceiling_table(synthetic_table(1000), sizes=(900,), n_test=200)
    with pytest.raises(ValueError, match="missing column"):
        ceiling.feature_sets(Table({"z_spec": [0.1]}))


def test_truth_table_keeps_the_drawn_galaxies_total_fluxes():
    t = ceiling.truth_table(300, seed=3)
    draws = galaxies.draw_galaxies(300, 3)
    mags = 22.5 - 2.5 * np.log10(draws.pop.flux)
    np.testing.assert_allclose(np.column_stack([t[f"mag_true_{b}"] for b in BANDS]), mags, atol=1e-9)
    np.testing.assert_array_equal(t["z_spec"], draws.pop.z)


def test_hypotheses_command_writes_its_table(tmp_path, capsys):
    assert cli.main(["ceiling", "--hypotheses", "900", "--sizes", "500", "--n-test", "300",
                     "--out", str(tmp_path)]) == 0
    table = Table.read(tmp_path / "hypotheses.ecsv")
    assert len(table) == 3 * 11 and set(table["training_size"]) == {500}
    ref = table[table["features"] == "noise-free"]
    assert np.all(ref["minus_reference"] == 0)
    assert "noise-free" in (tmp_path / "hypotheses.md").read_text() and "written:" in capsys.readouterr().out


def test_model_fit_removal_is_the_parabola_through_added_variances_extrapolated():
    f = lambda v: 0.011 + 0.0012 * v - 0.0001 * v ** 2  # sigma_MAD against added variance, in units of the error's
    names = [("noise-free", 0)] + [(f"+ {s}{t}", v) for s in ceiling.MODEL_FIT_SCENARIOS
                                   for t, v in (("", 1), (" (variance x 2)", 2))]
    rows = [dict(training_size=10, subset="all", features=name, sigma_mad=f(v), sigma_mad_err=1e-4,
                 minus_reference=f(v) - f(0), minus_reference_err=0.0 if v == 0 else 1e-4) for name, v in names]
    out = ceiling.model_fit_removed(Table(rows=rows))
    assert len(out) == len(ceiling.MODEL_FIT_SCENARIOS)
    np.testing.assert_allclose(out["sigma_mad"], f(-1), atol=1e-12)
    np.testing.assert_allclose(out["minus_reference_err"], np.hypot(3e-4, 1e-4))
