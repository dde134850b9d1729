"""The headline command: its stages, its ratio and its outputs, on a stand-in pipeline."""
import types

import numpy as np
import pytest

from photoz_nb import headline, metrics, pdf, config, pipeline
from test_pipeline import fake_dataset, gaussian_pdfs


def test_headline_profile_changes_only_epochs_and_members():
    p = headline.headline_profile(7, 2)
    paper = config.get_profile("paper")
    assert (p.epochs, p.ensemble_size, p.model_width, p.batch_size, p.n_galaxies) == (7, 2, 1.0, 128, paper.n_galaxies)
    with pytest.raises(ValueError, match="at least 1"):
        headline.headline_profile(0)


def test_headline_runs_every_stage_and_reports_the_cnn_over_rf_ratio(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    ds = fake_dataset()
    z = np.asarray(ds.catalog["z_spec"])
    widths = {"CNN": 0.01, "kNN": 0.03, "RF": 0.02}
    member = types.SimpleNamespace(history={"loss": [2.0, 1.5], "val_loss": [2.1, 1.7]})
    monkeypatch.setattr(pipeline, "dataset", lambda profile: ds)
    monkeypatch.setattr(pipeline, "train_cnn", lambda profile, ds: [member] * profile.ensemble_size)

    def predictions(profile, ds, estimator, fit):  # stand-in PDFs; the constant n(z) is its own (cheap)
        if estimator.label not in widths:
            return estimator.fit(ds, ds.split("train"), ds.split("val")).predict_pdfs(ds, np.arange(len(ds)))
        return gaussian_pdfs(z, widths[estimator.label], 1 if estimator.label == "CNN" else 2)
    monkeypatch.setattr(pipeline, "predictions", predictions)
    out = headline.run(epochs=2, base="smoke")
    test = ds.split("test")
    sigma = {name: metrics.point_metrics(pdf.point_estimate(gaussian_pdfs(z, w, 1 if name == "CNN" else 2)[test],
                                                            config.redshift_edges(), "mean"), z[test])["sigma_mad"]
             for name, w in widths.items()}
    assert out["cnn_over_rf"] == pytest.approx(sigma["CNN"] / sigma["RF"], rel=1e-6)
    assert out["cnn_over_rf"] < 1  # narrower CNN PDFs: the ratio sees it
    assert len(out["stage_s"]) == 7 and all(t >= 0 for t in out["stage_s"].values())
    figures = tmp_path / "figures" / "smoke"
    assert (figures / "summary_table.md").exists()
    assert {"zphot_vs_zspec.png", "pit_histogram.png", "learning_curves.png"} <= {p.name for p in figures.iterdir()}
    assert "CNN / RF sigma_MAD" in capsys.readouterr().out
    assert "constant n(z): full test sample" in (figures / "summary_table.md").read_text()
