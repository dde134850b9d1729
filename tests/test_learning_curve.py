"""The learning curve (issue 30): splits, budget, paired bootstrap, resume, bad inputs, the command and the figure.

The curves here run on a tiny synthetic data set (blobs whose colour follows redshift) with a network of the
minimum width and a few optimiser steps: what is tested is the bookkeeping (which galaxies, which keys, what
is resumed, what the errors are), not the science of the numbers.
"""
import dataclasses
import json

import keras
import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import catalog, cli, config, learning_curve as lc, metrics, pdf, plots

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

#: A curve that trains in seconds: 2 sizes, a network of the minimum width, 4-8 steps of 16 galaxies.
TINY = dict(sizes=(48, 96), n_test=200, n_val=32, model_width=0.03, batch_size=16, min_steps=4, max_steps=8,
            steps_per_galaxy=0.1, n_boot=30, knn_k=8, rf_trees=20, seed=11)


def tiny(name: str, **changes) -> lc.CurveSettings:
    return lc.settings("smoke", name=name, **{**TINY, **changes})


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOZ_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def synthetic(home):
    from conftest import write_tiny_dataset
    return catalog.open_dataset(write_tiny_dataset(home / "synthetic", n=400, seed=3))


@pytest.fixture(scope="module")
def reference(synthetic):
    """An uninterrupted tiny curve on the synthetic data set."""
    return lc.run(tiny("reference"), dataset=synthetic, progress=False)


METRIC_COLUMNS = [c for s in lc.STATS for c in (s, f"{s}_err")]


def metric_rows(table):
    return {(int(r["training_size"]), str(r["subset"]), str(r["method"])): [float(r[c]) for c in METRIC_COLUMNS]
            for r in table}


def assert_same_metrics(a, b, exact: bool = False):
    """Every statistic and error of tables ``a`` and ``b`` equal (``exact``: bit for bit), NaN where NaN."""
    ra, rb = metric_rows(a), metric_rows(b)
    assert set(ra) == set(rb)
    for key in ra:
        if exact:
            np.testing.assert_array_equal(ra[key], rb[key], err_msg=str(key))
        else:
            np.testing.assert_allclose(ra[key], rb[key], rtol=1e-12, equal_nan=True, err_msg=str(key))


# --------------------------------------------------------------------------- splits and budget
def test_subsets_are_nested_and_the_test_split_is_disjoint_from_training_and_validation():
    s = lc.settings("smoke", name="splits", sizes=(100, 300, 700), n_test=500, n_val=200)
    splits = lc.make_splits(s.dataset_size, s)
    assert s.dataset_size == 1400 and len(splits.test) == 500 and len(splits.val) == 200 and len(splits.pool) == 700
    everything = np.concatenate([splits.test, splits.val, splits.pool])
    np.testing.assert_array_equal(np.sort(everything), np.arange(1400))  # a partition: no row twice, none lost
    previous = np.array([], int)
    for n in s.sizes:
        train = splits.train(n)
        assert len(train) == n == len(np.unique(train))
        assert set(previous) <= set(train)  # nested: each size holds the smaller ones
        assert not set(train) & set(splits.test) and not set(train) & set(splits.val)
        previous = train
    assert not set(splits.val) & set(splits.test)
    again = lc.make_splits(s.dataset_size, s)
    for a, b in zip(dataclasses.astuple(splits), dataclasses.astuple(again)):
        np.testing.assert_array_equal(a, b)  # same seed, same rows
    other = lc.make_splits(s.dataset_size, dataclasses.replace(s, seed=s.seed + 1))
    assert not np.array_equal(other.test, splits.test)
    with pytest.raises(lc.SizeTooLarge):
        splits.train(701)


def test_the_budget_is_steps_growing_with_size_in_whole_epochs():
    s = lc.settings("full")
    steps = []
    for n in (500, 1_000, 3_000, 10_000, 30_000, 100_000, 400_000):
        b = s.budget(n)
        asked = int(np.clip(round(s.steps_per_galaxy * n), s.min_steps, s.max_steps))
        assert b["steps_asked"] == asked
        assert b["steps_per_epoch"] == n // s.batch_size  # the trainer's epoch: full batches only
        assert b["steps_budget"] == b["epochs_budget"] * b["steps_per_epoch"]
        assert asked <= b["steps_budget"] < asked + b["steps_per_epoch"]  # rounded up to whole epochs, no more
        assert b["patience"] == max(3, b["epochs_budget"] // 5, -(-s.patience_steps // b["steps_per_epoch"]))
        assert b["patience"] * b["steps_per_epoch"] >= s.patience_steps  # never stops within 300 steps of a best
        steps.append(b["steps_budget"])
    assert steps == sorted(steps) and 2_000 <= steps[0] < 2_000 + 500 // 64 and steps[-1] >= 40_000
    assert s.budget(100_000)["steps_asked"] == 40_000
    profile = s.training_profile(10_000)
    assert (profile.epochs, profile.model_width, profile.batch_size) == (s.budget(10_000)["epochs_budget"], 0.25, 64)
    plan = s.plan()
    assert list(plan["training_size"]) == list(lc.DEFAULT_SIZES) and np.all(np.diff(plan["steps_budget"]) >= 0)


def test_the_presets_are_the_issue_curve_and_a_tiny_smoke_curve():
    full = lc.settings("full")
    assert full.sizes == (1_000, 3_000, 10_000, 30_000, 100_000) and full.n_test >= 20_000
    lc.check(full)  # its test split meets its own sigma_MAD requirement
    smoke = lc.settings("smoke")
    assert smoke.dataset_size <= 2_500 and smoke.max_steps <= 200
    assert lc.settings(None).name == lc.PROFILE_PRESETS[config.get_profile().name]


# --------------------------------------------------------------------------- statistics
def test_sigma_mad_error_rule_matches_gaussian_draws():
    """The rule of TestSplitTooSmall: sigma_MAD's relative error is 1.166 / sqrt(n) for Gaussian residuals."""
    assert lc.SIGMA_MAD_REL_ERROR == pytest.approx(1.1664, abs=2e-4)
    n, sigma = 2_000, 0.013
    draws = np.random.default_rng(0).normal(0, sigma, (3_000, n))
    med = np.median(draws, axis=1, keepdims=True)
    s_mad = 1.4826 * np.median(np.abs(draws - med), axis=1)
    assert s_mad.mean() == pytest.approx(sigma, rel=0.005)
    assert s_mad.std() / sigma == pytest.approx(lc.SIGMA_MAD_REL_ERROR / np.sqrt(n), rel=0.06)
    assert lc.required_test_size(0.01) == 13_605  # ceil((1.1664 / 0.01)^2)
    assert lc.required_test_size(lc.SIGMA_MAD_REL_ERROR / np.sqrt(20_000)) <= 20_000


def _three_methods(n=4_000, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    common = rng.normal(0, 0.012, n)  # the galaxies hard for every method: correlated errors
    zp = {"CNN": z + (common + rng.normal(0, 0.004, n)) * (1 + z), "RF": z + (common + rng.normal(0, 0.006, n)) * (1 + z),
          "kNN": z + (common + rng.normal(0, 0.008, n)) * (1 + z)}
    bad = rng.random(n) < 0.03
    for m in zp:
        zp[m] = np.where(bad, zp[m] + 0.1, zp[m])
    base = rng.gamma(2.0, 0.004, n)
    crps = {"CNN": base + rng.gamma(2, 0.0005, n), "RF": base + rng.gamma(2, 0.0008, n), "kNN": base + rng.gamma(2, 0.001, n)}
    return z, zp, crps


def test_paired_statistics_are_the_paper_definitions():
    z, zp, crps = _three_methods()
    stats = lc.paired_statistics(z, zp, crps)
    for m in ("CNN", "kNN", "RF"):
        ref = metrics.point_metrics(zp[m], z)
        assert stats[m]["sigma_mad"] == pytest.approx(ref["sigma_mad"], rel=1e-12)
        assert stats[m]["bias"] == pytest.approx(ref["bias"], rel=1e-12)
        assert stats[m]["outliers_pct"] == pytest.approx(100 * ref["outlier_frac"], rel=1e-12)
        assert stats[m]["crps"] == pytest.approx(crps[m].mean(), rel=1e-12)
    assert stats["CNN-RF"]["sigma_mad"] == pytest.approx(stats["CNN"]["sigma_mad"] - stats["RF"]["sigma_mad"])
    assert stats["CNN/RF"]["sigma_mad"] == pytest.approx(stats["CNN"]["sigma_mad"] / stats["RF"]["sigma_mad"])
    assert np.isnan(stats["CNN/RF"]["bias"])  # a ratio of biases means nothing
    only = lc.paired_statistics(z, {"RF": zp["RF"]}, {"RF": crps["RF"]})
    assert set(only) == {"RF"}  # comparisons only where both methods are there


def test_paired_bootstrap_errors_of_differences_match_the_closed_form():
    """A difference of means has the closed-form error std(a - b) / sqrt(n); the paired bootstrap must give it
    (not the quadrature sum of the two errors, several times larger for correlated methods)."""
    z, zp, crps = _three_methods()
    n = len(z)
    err = lc.paired_bootstrap(z, zp, crps, n_boot=400, seed=0)
    closed = np.std(crps["CNN"] - crps["RF"], ddof=1) / np.sqrt(n)
    assert err["CNN-RF"]["crps"] == pytest.approx(closed, rel=0.12)
    quadrature = np.hypot(crps["CNN"].std(ddof=1), crps["RF"].std(ddof=1)) / np.sqrt(n)
    assert err["CNN-RF"]["crps"] < quadrature / 3
    assert err["CNN"]["crps"] == pytest.approx(crps["CNN"].std(ddof=1) / np.sqrt(n), rel=0.12)
    out = {m: np.abs(metrics.dz(zp[m], z)) > metrics.OUTLIER_CUT for m in zp}
    closed = 100 * np.std(out["CNN"].astype(float) - out["kNN"], ddof=1) / np.sqrt(n)
    assert err["CNN-kNN"]["outliers_pct"] == pytest.approx(closed, rel=0.15)
    # the same galaxies for both: a method against itself differs by exactly 0 in every resample
    same = lc.paired_bootstrap(z, {"CNN": zp["RF"], "RF": zp["RF"]}, {"CNN": crps["RF"], "RF": crps["RF"]},
                               n_boot=50, seed=0)
    assert same["CNN-RF"]["sigma_mad"] == 0 and same["CNN/RF"]["sigma_mad"] == 0 and same["RF"]["sigma_mad"] > 0
    again = lc.paired_bootstrap(z, zp, crps, n_boot=400, seed=0)
    assert json.dumps(again) == json.dumps(err)  # seeded (NaN, the bias of a ratio, compares as text)


def test_colour_subsets_cut_dereddened_u_minus_r_at_2p22(synthetic):
    rows = np.arange(len(synthetic))
    masks = lc.colour_subsets(synthetic, rows)
    u_r = synthetic.column("mag_u") - synthetic.column("mag_r")
    np.testing.assert_array_equal(masks["red"], u_r > 2.22)
    np.testing.assert_array_equal(masks["blue"], ~masks["red"])
    assert masks["all"].all()


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_the_named_errors(tmp_path, monkeypatch):
    with pytest.raises(lc.SizeTooLarge, match="larger than the training pool of 500"):
        lc.check(lc.settings("smoke", name="x", n_galaxies=1_700))  # 1700 - 1000 - 200 = 500 < 800
    with pytest.raises(lc.TestSplitTooSmall, match=r"1.166/sqrt\(n\).*n_test >= 13,605"):
        lc.check(lc.settings("smoke", name="x", sigma_rel_error=0.01))
    monkeypatch.setattr(lc.shutil, "disk_usage", lambda path: type("U", (), {"free": 10_000_000})())
    with pytest.raises(lc.NoRoomOnDisk, match="needs about .* GB") as info:
        lc.check_disk(lc.settings("smoke", name="x"), tmp_path / "deep" / "folder", build=True)
    assert info.value.errno == 28  # ENOSPC
    for bad in (dict(sizes=(200, 200)), dict(sizes=(0, 10)), dict(name="a/b"), dict(knn_k=500), dict(min_steps=10, max_steps=5),
                dict(n_galaxies=1_000), dict(sigma_rel_error=2.0)):
        with pytest.raises(lc.CurveError):
            lc.settings("smoke", **{"name": "x", **bad})


def test_the_command_reports_bad_input_in_one_line(home, capsys, monkeypatch):
    cases = [(["--sizes", "100,100000", "--n-galaxies", "5000"], "training size 100,000 is larger than the training pool"),
             (["--sigma-rel-error", "0.005"], "needs n_test >= 54,419"),
             (["--sizes", "1e3"], "comma-separated integers")]
    for extra, message in cases:
        assert cli.main(["learning-curve", "--curve", "smoke", "--name", "bad", *extra]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and err.startswith("photoz-nb learning-curve: error:")
    assert cli.main(["learning-curve", "--curve", "smoke", "--sizes", "100,200"]) == 1  # a change needs its own name
    assert "--name" in capsys.readouterr().err
    monkeypatch.setattr(lc.shutil, "disk_usage", lambda path: type("U", (), {"free": 1_000})())
    assert cli.main(["learning-curve", "--curve", "smoke", "--plan"]) == 1
    err = capsys.readouterr().err.strip()
    assert "GB are free there" in err and "\n" not in err
    assert not (home / "data" / "learning_curve" / "smoke" / "dataset").exists()  # nothing built


def test_the_plan_prints_the_budget_and_fits_nothing(home, capsys):
    assert cli.main(["learning-curve", "--curve", "full", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "100,000" in out and "steps" in out and "1.166" not in out
    assert not (home / "data" / "learning_curve" / "full" / "points").exists()


# --------------------------------------------------------------------------- runs
def test_a_run_scores_every_method_on_the_same_test_galaxies(reference, synthetic):
    table, folder = reference.table, reference.folder
    methods = {"CNN", "kNN", "RF", "CNN-kNN", "CNN-RF", "CNN/kNN", "CNN/RF"}
    for n in (48, 96):
        for subset in lc.SUBSETS:
            rows = table[(table["training_size"] == n) & (table["subset"] == subset)]
            assert set(rows["method"]) == methods
            assert len(set(rows["n_test"])) == 1
    s = reference.settings
    splits = lc.make_splits(len(synthetic), s)
    edges, z = config.redshift_edges(), synthetic.column("z_spec")[splits.test]
    row = {(int(r["training_size"]), str(r["subset"]), str(r["method"])): r for r in table}
    for n in s.sizes:
        for method in ("CNN", "kNN", "RF"):
            with np.load(lc.point_path(folder, method, n)) as f:
                np.testing.assert_array_equal(f["index"], splits.test)  # the same test galaxies for every fit
                record = json.loads(str(f["record"]))
                zp = pdf.point_estimate(f["pdfs"], edges, "mean")
                crps = pdf.crps(f["pdfs"], edges, z)
            ref = metrics.point_metrics(zp, z)
            assert row[(n, "all", method)]["sigma_mad"] == pytest.approx(ref["sigma_mad"])
            assert row[(n, "all", method)]["crps"] == pytest.approx(crps.mean())
            assert record["training_size"] == n and record["n_test"] == s.n_test
        cnn, rf = row[(n, "all", "CNN")], row[(n, "all", "RF")]
        assert row[(n, "all", "CNN-RF")]["sigma_mad"] == pytest.approx(cnn["sigma_mad"] - rf["sigma_mad"])
        assert row[(n, "all", "CNN/RF")]["sigma_mad"] == pytest.approx(cnn["sigma_mad"] / rf["sigma_mad"])
        assert row[(n, "all", "CNN/RF")]["sigma_mad_err"] > 0
        b = s.budget(n)
        assert cnn["steps_budget"] == b["steps_budget"] and 0 < cnn["steps_run"] <= b["steps_budget"]
        assert cnn["epochs_budget"] == b["epochs_budget"] and cnn["members"] == 1 and cnn["stop"] in ("early", "budget")
        assert cnn["train_s"] > 0 and cnn["wall_s"] >= cnn["train_s"] and rf["wall_s"] > 0
        red, blue = row[(n, "red", "CNN")]["n_test"], row[(n, "blue", "CNN")]["n_test"]
        assert red + blue == s.n_test
    assert (folder / "models" / "cnn_n0000048_m0" / "model.keras").exists()
    assert not (config.data_root() / "reference").exists()  # nothing in a profile's folders


def test_results_files_round_trip_and_the_figure_is_drawn(reference):
    folder = reference.folder
    for name in ("results.ecsv", "results.json", "results.md", "curve.json", "splits.npz", "learning_curve.pdf",
                 "learning_curve.png", "learning_curve_red.png", "learning_curve_blue.png"):
        assert (folder / name).exists(), name
    loaded = lc.load(folder)
    assert_same_metrics(loaded, reference.table)
    assert lc.load("reference").colnames == list(lc.COLUMNS)
    data = json.loads((folder / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    assert len(data["rows"]) == len(reference.table) and data["meta"]["red_blue_cut_u_minus_r"] == 2.22
    md = (folder / "results.md").read_text()
    assert "σ_MAD CNN/RF" in md and "CNN training budget" in md and "red test galaxies" in md
    fig = plots.learning_curve_comparison(reference.table, subset="red")
    axes = fig.get_axes()
    assert len(axes) == 4 and all(ax.get_xscale() == "log" for ax in axes)
    assert axes[-1].get_xlabel() == "training galaxies" and all(ax.get_ylabel() for ax in axes)
    labels = axes[0].get_legend_handles_labels()[1]
    assert {"CNN", "kNN", "RF", "CNN, Pasquet et al. 2019", "B16 (photometry), paper"} <= set(labels)
    with pytest.raises(ValueError, match="no rows of subset 'green'"):
        plots.learning_curve_comparison(reference.table, subset="green")
    with pytest.raises(ValueError, match="missing column"):
        plots.learning_curve_comparison(Table({"training_size": [1]}))


def test_a_rerun_reads_every_finished_point(reference, synthetic, monkeypatch):
    from photoz_nb.estimators.cnn import train as T

    def refuse(*args, **kwargs):
        raise AssertionError("a finished point was fitted again")

    monkeypatch.setattr(T, "train", refuse)
    monkeypatch.setattr(lc.PhotometricEstimator, "fit", refuse)
    again = lc.run(tiny("reference"), dataset=synthetic, progress=False, figure=False)
    assert_same_metrics(again.table, reference.table, exact=True)
    # a changed setting changes the keys: the forest of another size is refitted, not read (and only it)
    fitted = []
    monkeypatch.setattr(lc.PhotometricEstimator, "fit", lambda self, *a: fitted.append(self.name) or refuse())
    with pytest.raises(AssertionError, match="fitted again"):
        lc.run(tiny("reference", rf_trees=21), dataset=synthetic, progress=False, figure=False)
    assert fitted == ["rf"]


class KillAt(keras.callbacks.Callback):
    """Raise KeyboardInterrupt (a kill) at the first batch of ``epoch`` (0-based), once."""

    def __init__(self, epoch):
        super().__init__()
        self.at, self.epoch, self.fired = epoch, None, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at and not self.fired:
            self.fired = True
            raise KeyboardInterrupt("simulated kill")


def test_a_killed_run_resumes_from_the_cnn_checkpoint_and_gives_the_same_curve(reference, synthetic, capfd):
    s = tiny("killed", sizes=(48,))  # the reference's first size: same rows, same keys (the pool does not depend on sizes)
    folder = lc.curve_dir(s)
    with pytest.raises(KeyboardInterrupt):
        lc.run(s, dataset=synthetic, progress=False, callbacks=[KillAt(epoch=1)])
    # the baselines are done (they come first), the first CNN has one epoch checkpointed and no result
    assert all(lc.point_path(folder, m, n).exists() for m in ("kNN", "RF") for n in s.sizes)
    member = folder / "models" / "cnn_n0000048_m0"
    state = json.loads((member / "checkpoint.json").read_text())
    assert state["epochs_done"] == 1 and not state["finished"]
    assert not lc.point_path(folder, "CNN", 48).exists() and not (folder / "results.ecsv").exists()
    capfd.readouterr()
    resumed = lc.run(s, dataset=synthetic, progress=False, figure=False)
    assert "resuming after epoch 1" in capfd.readouterr().err
    first = reference.table[reference.table["training_size"] == 48]
    assert_same_metrics(resumed.table, first, exact=True)  # bit for bit: same seed, same curve
    for n in s.sizes:
        for method in ("CNN", "kNN", "RF"):
            with np.load(lc.point_path(folder, method, n)) as a, np.load(lc.point_path(reference.folder, method, n)) as b:
                np.testing.assert_array_equal(a["pdfs"], b["pdfs"])
    clock = json.loads((member / "epoch_seconds.json").read_text())["seconds"]
    assert set(clock) == {str(e) for e in range(1, resumed.table[resumed.table["method"] == "CNN"]["epochs_run"][0] + 1)}


def test_the_curve_builds_its_own_simulated_data_set_once(home, monkeypatch):
    s = lc.settings("smoke", name="built", sizes=(30,), n_test=40, n_val=10, knn_k=8)
    ds = lc.ensure_dataset(s, progress=False)
    assert ds.path == lc.curve_dir(s) / "dataset" and len(ds) == 80
    assert ds.manifest["generator"] == "photoz_nb.simulate" and ds.manifest["n_requested"] == 80

    def refuse(*args, **kwargs):
        raise AssertionError("a current data set was built again")

    monkeypatch.setattr(lc, "build_dataset", refuse)
    again = lc.ensure_dataset(s, progress=False)
    assert again.manifest["files"] == ds.manifest["files"]
    with pytest.raises(AssertionError, match="built again"):  # another size is another build
        lc.ensure_dataset(dataclasses.replace(s, n_galaxies=90), progress=False)


def test_the_information_table_stands_beside_the_curve_on_its_galaxies(home, synthetic, monkeypatch):
    s = lc.settings("smoke", name="built", sizes=(30,), n_test=40, n_val=10, knn_k=8, n_boot=20)
    ds = lc.ensure_dataset(s, progress=False)  # the simulated set of the test above (built once per module)
    splits, folder = lc.make_splits(len(ds), s), lc.curve_dir(s)
    table = lc.information_table(ds, s, splits, folder)
    assert set(table["features"]) == {"colours + r", "+ Petrosian size, deficit", "+ b/a", "noise-free"}
    assert set(table["training_size"]) == {30} and (folder / "information.md").is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("computed again")
    monkeypatch.setattr(lc.ceiling, "ceiling_table", refuse)
    again = lc.information_table(ds, s, splits, folder)  # same data, rows and settings: read back
    np.testing.assert_array_equal(again["sigma_mad"], table["sigma_mad"])
    with pytest.raises(AssertionError, match="computed again"):  # other rows: computed again
        lc.information_table(ds, dataclasses.replace(s, seed=s.seed + 1), lc.make_splits(len(ds), s), folder)
    assert lc.information_table(synthetic, s, splits, folder) is None  # no simulation truths: nothing to say


def test_the_crossing_is_interpolated_in_log_size_with_its_error_range():
    def table(ratios, errors):
        rows = [(n, "all", "CNN/RF", 100, np.nan, np.nan, r, e, 1.0, 0.1, 1.0, 0.1) for n, r, e in
                zip((1_000, 10_000, 100_000), ratios, errors)]
        return Table(rows=rows, names=("training_size", "subset", "method", "n_test", "bias", "bias_err", "sigma_mad",
                                       "sigma_mad_err", "outliers_pct", "outliers_pct_err", "crps", "crps_err"))
    c = lc.crossing(table((1.2, 0.8, 0.7), (0.1, 0.1, 0.1)))
    assert c["n_cross"] == pytest.approx(10 ** 3.5)  # halfway from 1.2 to 0.8 in log n
    lo, hi = c["n_cross_range"]  # ratio - err crosses at 10^3.25, ratio + err at 10^3.75
    assert lo == pytest.approx(10 ** 3.25) and hi == pytest.approx(10 ** 3.75)
    assert c["paper_n_cross"] == pytest.approx(14_959, abs=1)  # 1.067 at 10,100, 0.679 at 99,001
    c = lc.crossing(table((1.3, 1.2, 1.1), (0.01, 0.01, 0.01)))
    assert c["n_cross"] is None and "do not cross within the sizes run" in c["sentence"]


def test_a_torn_point_file_is_set_aside_and_refitted(tmp_path, capfd):
    rows = np.arange(5)
    path = tmp_path / "points" / "rf_n0000100.npz"
    lc._save_pdfs(path, np.full((5, config.N_BINS), 1 / config.N_BINS), rows, {"key": "abc"})
    assert lc._load_pdfs(path, "abc", rows)[1]["key"] == "abc"
    assert lc._load_pdfs(path, "other", rows) is None and path.exists()  # another key: refit, file kept to replace
    assert lc._load_pdfs(path, "abc", rows[:4]) is None  # other test rows: not these PDFs
    path.write_bytes(path.read_bytes()[:100])  # torn
    assert lc._load_pdfs(path, "abc", rows) is None
    assert not path.exists() and (tmp_path / "points" / "rf_n0000100.npz.corrupt").exists()
    assert "unreadable learning-curve point" in capfd.readouterr().err
