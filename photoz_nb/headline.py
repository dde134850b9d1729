"""The paper's headline at scale: build the paper set, train Net_P, compare it with photometry.

One command runs the same pipeline steps as the notebooks (:mod:`photoz_nb.pipeline`) on the
``paper`` profile with a chosen number of epochs and ensemble members, and prints the wall time
of each stage as it ends::

    photoz-nb headline --epochs 12            # one GPU: scripts/gpu_headline.sh

Stages: the 516,525-galaxy data set (built in parallel over all cores, or reused), Net_P at full
width on the training split (images held on the GPU when they fit), the test split's PDFs with
8-fold test-time augmentation, every other estimator of the registry (kNN, RF, constant n(z)) on
the same training galaxies, then the summary table, the CNN/RF sigma_MAD ratio beside the paper's,
and the figures of the test-split PDFs (z_phot-z_spec, PIT, ...) with the learning curve.
"""
from __future__ import annotations

import dataclasses
import time

from . import config, estimators, metrics, pipeline, plots

#: Pasquet et al. 2019, Table 1: CNN and B16 sigma_MAD on the full test sample.
PAPER_SIGMA_MAD = {"CNN": 0.00912, "B16": 0.01350}


def headline_profile(epochs: int, members: int = 1, base: str = "paper") -> config.Profile:
    """The ``base`` profile with ``epochs`` epochs and ``members`` ensemble members."""
    if epochs < 1 or members < 1:
        raise ValueError(f"epochs and members must be at least 1, got epochs={epochs}, members={members}")
    return dataclasses.replace(config.get_profile(base), epochs=int(epochs), ensemble_size=int(members))


class _Stages:
    """Wall time of each stage, printed as it ends."""

    def __init__(self):
        self.times, self._t = {}, time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = now - self._t
        self._t = now
        print(f"[headline] {name}: {self.times[name]:.0f} s", flush=True)


def run(epochs: int, members: int = 1, base: str = "paper") -> dict:
    """Run every stage on the ``base`` profile (the paper's; others for tests) with ``epochs`` and
    ``members``; returns the summary table, the CNN/RF sigma_MAD ratio and the stage times [s]."""
    profile = headline_profile(epochs, members, base)
    stages = _Stages()
    ds = pipeline.dataset(profile)
    stages.done(f"data set ({len(ds):,} galaxies)")
    trained = pipeline.train_cnn(profile, ds)
    stages.done(f"training ({members} x Net_P, {epochs} epochs, {len(ds.split('train')):,} galaxies)")
    pdfs = {}
    for label, estimator in estimators.registry(profile).items():  # the CNN's models are trained: it predicts
        pdfs[label] = pipeline.predictions(profile, ds, estimator, fit=True)
        stages.done(f"{label} PDFs ({'8-fold TTA' if profile.tta else 'no TTA'})" if label == "CNN"
                    else f"{label} fit and PDFs")
    table = pipeline.summary(profile, ds, pdfs)
    metrics.write_summary(table, profile.figures_dir / "summary_table")
    full = {row["trial"].split(":")[0]: row for row in table if row["trial"].endswith("full test sample")}
    ratio = full["CNN"]["sigma_mad"] / full["RF"]["sigma_mad"]
    figures = {**pipeline.prediction_figures(profile, ds, pdfs), "learning_curves": plots.learning_curves(trained[0].history)}
    for name, fig in figures.items():
        plots.save_figure(fig, profile.figures_dir, name)
    stages.done("summary table and figures")
    print(metrics.to_markdown(table))
    print(f"\nCNN / RF sigma_MAD = {ratio:.3f} (paper: CNN / B16 = "
          f"{PAPER_SIGMA_MAD['CNN'] / PAPER_SIGMA_MAD['B16']:.2f}); learning curve (val_loss per epoch): "
          + ", ".join(f"{v:.4f}" for v in trained[0].history["val_loss"]))
    print(f"figures and summary_table.md in {profile.figures_dir}")
    return {"table": table, "cnn_over_rf": ratio, "stage_s": stages.times}
