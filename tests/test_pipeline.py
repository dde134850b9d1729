"""The figure and table steps of the pipeline on an in-memory data set with every branch taken."""
import numpy as np
from astropy.table import Table

from photoz_nb import catalog, config, pipeline
from conftest import make_catalog


def fake_dataset(n=300, seed=0):
    cat = make_catalog(n, seed)
    cat["stripe82"] = np.arange(n) % 4 == 0  # enough Stripe 82 test galaxies for its rows and figure
    images = np.random.default_rng(seed).normal(0, 0.05, (n, 64, 64, 5)).astype(np.float32)
    return catalog.Dataset(None, cat, images, {"files": {catalog.IMAGES: {"sha256": "0" * 64}}})


def gaussian_pdfs(z, width, seed):
    centres = 0.5 * (config.redshift_edges()[1:] + config.redshift_edges()[:-1])
    mu = z + np.random.default_rng(seed).normal(0, width, len(z))
    p = np.exp(-0.5 * ((centres - mu[:, None]) / width) ** 2) + 1e-12
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def test_prediction_figures_and_summary_take_every_branch(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    ds = fake_dataset()
    z = np.asarray(ds.catalog["z_spec"])
    pdfs = {"CNN": gaussian_pdfs(z, 0.01, 1), "kNN": gaussian_pdfs(z, 0.02, 2)}
    profile = config.get_profile("smoke")
    made = pipeline.prediction_figures(profile, ds, pdfs)
    assert {"zphot_vs_zspec", "pit_histogram", "pdf_widths", "stripe82_depth"} <= set(made)
    table = pipeline.summary(profile, ds, pdfs, size_runs={10: pdfs["kNN"]})
    trials = list(table["trial"])
    assert "CNN: testing on Stripe 82" in trials and "kNN: Stripe 82, widest 20% removed" in trials
    assert trials[-1].startswith("CNN: ") and table["training_size"][-1] == 10
    # the narrower, unbiased CNN PDFs must score better than the wider kNN ones
    rows = {t: r for t, r in zip(trials, table)}
    assert rows["CNN: full test sample"]["sigma_mad"] < rows["kNN: full test sample"]["sigma_mad"]
    assert rows["CNN: full test sample"]["crps"] < rows["kNN: full test sample"]["crps"]


def test_studies_bin_every_property_including_discrete_ones():
    ds = fake_dataset()
    z = np.asarray(ds.catalog["z_spec"])
    study = pipeline.studies(ds, {"CNN": gaussian_pdfs(z, 0.01, 1)})
    assert set(study) == set(pipeline.PROPERTIES)
    assert len(study["n_neighbours"]["tables"]["CNN"]) == 3
    slopes = pipeline.slope_table(study)
    assert isinstance(slopes, Table) and len(slopes) == len(pipeline.PROPERTIES)
    assert pipeline.markdown(slopes).count("\n") == len(slopes) + 1


def test_ebv_slope_difference_recovers_an_injected_trend_over_seeds():
    """'Without' PDFs biased by 0.5 x E(B-V), 'with' PDFs unbiased: every seed's difference is 0.5 within its
    error, and the error of the mean holds the bootstrap error of one seed plus the scatter over seeds."""
    ds = fake_dataset(n=2000)
    z, ebv = np.asarray(ds.catalog["z_spec"]), np.asarray(ds.catalog["ebv"])
    pairs = [{"CNN with E(B-V)": gaussian_pdfs(z, 0.01, 10 + k),
              "CNN without E(B-V)": gaussian_pdfs(z + 0.5 * ebv, 0.01, 20 + k)} for k in range(3)]
    mean, err, table = pipeline.ebv_slope_difference(ds, pairs)
    assert list(table["seed"]) == [0, 1, 2]
    assert np.all(np.abs(table["difference"] - 0.5) < 4 * table["difference_err"]), table
    assert abs(mean - 0.5) < 4 * err and mean > 3 * err  # resolved, not just consistent
    assert err >= np.sqrt(np.mean(table["difference_err"] ** 2))
    one = pipeline.ebv_slope_difference(ds, pairs[:1])
    assert one[0] == table["difference"][0] and one[1] == table["difference_err"][0]  # no seed scatter from one seed
