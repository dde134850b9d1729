"""Training: pixel stretch, labels, input pipeline, determinism, resume, caching, errors."""
import dataclasses
import json
import shutil

import keras
import numpy as np
import pytest

from photoz_nb import catalog, config
from photoz_nb.estimators.cnn import train as T

# Keras converts variables with np.array(x, copy=False): numpy 2 notes it once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

#: A network small enough to train in seconds (every map count at its minimum of 4).  Two epochs of two
#: batches are enough to resume after the first (whose steps run at learning_rate, the resumed ones at
#: learning_rate / 5: a resume that restarted the schedule would differ); a run costs mostly the
#: tracing of its train step, once per run whatever its length.
TINY = dataclasses.replace(config.PROFILES["smoke"], model_width=0.03, epochs=2, batch_size=16,
                           learning_rate=1e-3, seed=7)


def weights(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from conftest import write_tiny_dataset
    return catalog.open_dataset(write_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny"))


@pytest.fixture(scope="module")
def reference_run(dataset, tmp_path_factory):
    """An uninterrupted training run (TINY: 2 epochs) that other tests compare against."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    return T.train(dataset, TINY, out, progress=False), out


# --------------------------------------------------------------------------- pixels and labels
def test_stretch_is_odd_monotonic_and_sqrt_like():
    x = np.array([-8.0, -3.0, 0.0, 3.0, 8.0, 99.0])
    np.testing.assert_allclose(T.stretch(x), [-2, -1, 0, 1, 2, 9])
    assert T.stretch(x).dtype == np.float32
    grid = np.linspace(-50, 50, 1001)
    assert np.all(np.diff(T.stretch(grid)) > 0)
    np.testing.assert_allclose(T.stretch(-grid), -T.stretch(grid))
    np.testing.assert_allclose(T.stretch(1e-4), 0.5e-4, rtol=1e-4)  # slope 1/2 at 0: noise not amplified


def test_redshift_bins_are_the_pdf_bins_on_0_to_0p4():
    """Labels use pdf.bin_index: [e_k, e_k+1), the last bin closed (a z on an edge opens the bin above)."""
    edges = config.redshift_edges()
    z = np.array([1e-6, edges[1], edges[1] + 1e-9, 0.2 + 1e-9, 0.4])
    np.testing.assert_array_equal(T.redshift_bins(z), [0, 1, 1, 90, 179])
    centres = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_array_equal(T.redshift_bins(centres), np.arange(180))
    for bad in (0.0, 0.41, np.nan):
        with pytest.raises(ValueError, match="outside"):
            T.redshift_bins([0.1, bad])


def test_dihedral_gives_the_eight_rotations_and_flips():
    img = np.random.default_rng(0).normal(size=(1, 64, 64, 5)).astype("f4")
    out = [T.dihedral(img, t)[0] for t in range(8)]
    np.testing.assert_array_equal(out[0], img[0])
    expected = [np.rot90(img[0], k) for k in range(4)] + [np.rot90(img[0], k)[:, ::-1] for k in range(4)]
    for e in expected:
        assert sum(np.array_equal(e, o) for o in out) == 1
    both = T.dihedral(np.concatenate([img, img]), np.array([1, 5]))
    np.testing.assert_array_equal(both[0], out[1])
    np.testing.assert_array_equal(both[1], out[5])


# --------------------------------------------------------------------------- input pipeline
def test_batches_stream_shuffle_per_epoch_and_match_the_catalogue(dataset):
    assert isinstance(dataset.images, np.memmap)
    index = dataset.split("train")
    seq = T.GalaxyBatches(dataset, index, 16, seed=3, train=True)
    assert len(seq) == len(index) // 16
    epoch0 = [seq[i] for i in range(len(seq))]
    again = T.GalaxyBatches(dataset, index, 16, seed=3, train=True)
    np.testing.assert_array_equal(again[1][0]["image"], epoch0[1][0]["image"])
    seq.epoch = 1
    assert not np.array_equal(seq[0][1], epoch0[0][1])
    z = np.asarray(dataset.catalog["z_spec"])
    ebv = np.asarray(dataset.catalog["ebv"], "f4")
    seen = []
    for inputs, labels in epoch0:
        for image, e, label in zip(inputs["image"], inputs["ebv"], labels):
            row = int(np.flatnonzero(ebv == e[0])[0])  # ebv values are unique: they identify the row
            seen.append(row)
            assert label == T.redshift_bins([z[row]])[0]
            raw = T.stretch(dataset.images[row])
            assert any(np.array_equal(T.dihedral(raw[None], t)[0], image) for t in range(8))
    assert len(set(seen)) == len(seen) and set(seen) <= set(index.tolist())


def test_batches_check_pixels_lazily(dataset):
    ds = dataclasses.replace(dataset, images=np.array(dataset.images))
    row = int(dataset.split("test")[3])
    ds.images[row, 5, 5, 2] = np.inf
    seq = T.GalaxyBatches(ds, [0, 1, row], 8, labels=False)
    with pytest.raises(ValueError, match=rf"non-finite.*\[{row}\]"):
        seq[0]


# --------------------------------------------------------------------------- training
def test_same_seed_gives_identical_weights(dataset, reference_run, tmp_path):
    """A second run with the reference's seed: the same weights and history, bit for bit.

    It reads its batches in the calling thread (``input_workers=1``: no thread pool), the reference
    in INPUT_WORKERS threads: one run less than testing one thread apart (a run is mostly tracing).
    """
    result, _ = reference_run
    again = T.train(dataset, TINY, tmp_path / "again", progress=False, input_workers=1)
    assert_same_weights(result.model, again.model)
    assert again.history == result.history


def test_input_threads_do_not_change_the_weights(dataset, reference_run, tmp_path):
    """5 threads give the weights of the reference's INPUT_WORKERS threads (and of the single thread of
    test_same_seed_gives_identical_weights)."""
    again = T.train(dataset, TINY, tmp_path / "again", progress=False, input_workers=5)
    assert_same_weights(reference_run[0].model, again.model)
    assert again.history == reference_run[0].history


def test_device_resident_input_gives_the_weights_of_streamed_input(dataset, reference_run, tmp_path):
    again = T.train(dataset, TINY, tmp_path / "again", progress=False, input_source="device")
    assert_same_weights(reference_run[0].model, again.model)


def test_training_records_history_and_restores_best_weights(dataset, reference_run):
    result, out = reference_run
    history = json.loads((out / "history.json").read_text())
    assert history == result.history and len(history["loss"]) == TINY.epochs
    assert sorted(p.name for p in out.glob("ckpt-*")) == []  # epoch checkpoints are cleaned up
    run = json.loads((out / "run.json").read_text())
    assert run["best_val_loss"] == min(history["val_loss"])
    assert run["best_epoch"] == int(np.argmin(history["val_loss"])) + 1
    val = T.GalaxyBatches(dataset, dataset.split("val"), TINY.batch_size)
    assert result.model.evaluate(val, verbose=0) == pytest.approx(run["best_val_loss"], rel=1e-4)
    reloaded = keras.models.load_model(result.path)
    assert_same_weights(reloaded, result.model)


class KillAt(keras.callbacks.Callback):
    """Simulate a kill in the middle of an epoch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("simulated kill")


def test_resume_after_kill_gives_the_uninterrupted_weights(dataset, reference_run, tmp_path):
    result, _ = reference_run
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        T.train(dataset, TINY, out, progress=False, callbacks=[KillAt(epoch=1, batch=0)])
    state = json.loads((out / "checkpoint.json").read_text())
    assert state["epochs_done"] == 1 and not state["finished"]
    assert not (out / "model.keras").exists()
    resumed = T.train(dataset, TINY, out, progress=False)
    assert resumed.history == result.history
    assert_same_weights(resumed.model, result.model)

    wider = dataclasses.replace(TINY, model_width=0.05)
    with pytest.raises(ValueError, match="different architecture.*width"):
        T.train(dataset, wider, out, progress=False)


def test_ensure_trained_reuses_a_matching_model(dataset, reference_run, tmp_path, monkeypatch):
    _, out = reference_run
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    shutil.copytree(out, TINY.models_dir / "cnn")

    def no_training(*args, **kwargs):
        raise AssertionError("retrained")

    monkeypatch.setattr(T, "train", no_training)
    cached = T.ensure_trained(TINY, dataset)
    assert cached.path == TINY.models_dir / "cnn" / "model.keras"
    assert_same_weights(cached.model, reference_run[0].model)
    for changed in ({"use_ebv": False}, {"train_index": dataset.split("train")[:-1]}):
        with pytest.raises(AssertionError, match="retrained"):
            T.ensure_trained(TINY, dataset, **changed)
    with pytest.raises(AssertionError, match="retrained"):
        T.ensure_trained(dataclasses.replace(TINY, learning_rate=2e-3), dataset)


def test_a_damaged_finished_model_is_named_set_aside_and_retrained(dataset, reference_run, tmp_path, monkeypatch,
                                                                    capsys):
    _, out = reference_run
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    folder = TINY.models_dir / "cnn"
    shutil.copytree(out, folder)
    (folder / "model.keras").write_bytes(b"PK\x03\x04 torn zip")
    with pytest.raises(T.NotTrained, match="its model.keras was unreadable .set aside.; train it first"):
        T.ensure_trained(TINY, dataset, fit=False)
    assert f"{folder / 'model.keras'}: unreadable model" in capsys.readouterr().err
    assert (folder / "model.keras.corrupt").read_bytes() == b"PK\x03\x04 torn zip"  # kept for a look
    monkeypatch.setattr(T, "train", lambda *a, **k: "retrained")
    assert T.ensure_trained(TINY, dataset) == "retrained"  # the next run trains afresh beside the damaged file
    assert f"training {folder}: no model there yet" in capsys.readouterr().err


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_are_refused_with_clear_errors(tiny_dataset, tmp_path):
    dataset = catalog.open_dataset(tiny_dataset)
    with pytest.raises(ValueError, match="train split is empty"):
        T.train(dataset, TINY, tmp_path / "a", train_index=np.array([], int), progress=False)
    no_val = dataclasses.replace(dataset, catalog=dataset.catalog.copy())
    no_val.catalog["split"][no_val.catalog["split"] == "val"] = "test"
    with pytest.raises(ValueError, match="val split is empty"):
        T.train(no_val, TINY, tmp_path / "b", progress=False)
    bad_z = dataclasses.replace(dataset, catalog=dataset.catalog.copy())
    row = int(dataset.split("train")[4])
    bad_z.catalog["z_spec"][row] = 0.55
    with pytest.raises(ValueError, match=rf"z_spec.*outside.*train split.*\[{row}\]"):
        T.train(bad_z, TINY, tmp_path / "c", progress=False)
    nan = dataclasses.replace(dataset, images=np.array(dataset.images))
    row = int(dataset.split("val")[2])
    nan.images[row, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=rf"images.npy: non-finite.*\[{row}\]"):
        T.train(nan, TINY, tmp_path / "d", progress=False)
    with pytest.raises(ValueError, match="outside"):
        T.train(dataset, TINY, tmp_path / "e", train_index=np.array([0, len(dataset)]), progress=False)
    assert not any((tmp_path / d).glob("*.keras") for d in "abcde" if (tmp_path / d).exists())


# --------------------------------------------------------------------------- inference
def test_predict_rows_sum_to_one_and_tta_averages_the_eight_views(dataset, reference_run):
    model = reference_run[0].model
    index = np.arange(10)
    pdfs = T.predict(model, dataset, index, batch_size=4, progress=False)
    assert pdfs.dtype == np.float32 and pdfs.shape == (10, config.N_BINS)
    np.testing.assert_allclose(pdfs.sum(axis=1), 1, atol=1e-6)
    views = []
    for t in range(8):
        (inputs,) = T.GalaxyBatches(dataset, index, 10, labels=False, transform=t)[0]
        views.append(np.asarray(model.predict_on_batch(inputs), float))
    np.testing.assert_allclose(pdfs, views[0], atol=1e-6)
    tta = T.predict(model, dataset, index, batch_size=4, tta=True, progress=False)
    np.testing.assert_allclose(tta, np.mean(views, axis=0), atol=1e-6)


def test_predictions_round_trip(tmp_path):
    edges = config.redshift_edges()
    pdfs = np.random.default_rng(0).dirichlet(np.ones(180), 5).astype("f4")
    path = T.save_predictions(tmp_path / "p" / "cnn.npz", pdfs, edges, np.arange(5) * 2, meta={"model": "x"})
    got = T.load_predictions(path)
    np.testing.assert_array_equal(got.pdfs, pdfs)
    np.testing.assert_array_equal(got.edges, edges)
    np.testing.assert_array_equal(got.index, np.arange(5) * 2)
    assert got.meta == {"model": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["cnn.npz"]
    with pytest.raises(ValueError, match="do not agree"):
        T.save_predictions(tmp_path / "bad.npz", pdfs[:, :-1], edges, np.arange(5))
    assert not (tmp_path / "bad.npz").exists()


# --------------------------------------------------------------------------- precision and devices
def test_mixed_precision_computes_in_bfloat16_and_keeps_float32_weights_and_output(dataset, tmp_path):
    profile = dataclasses.replace(TINY, epochs=1)
    result = T.train(dataset, profile, tmp_path / "mixed", progress=False, mixed_precision=True)
    conv = result.model.get_layer("conv0")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert result.model.get_layer("pdf").compute_dtype == "float32"
    assert np.isfinite(result.history["loss"]).all()
    pdfs = T.predict(result.model, dataset, progress=False)
    assert pdfs.dtype == np.float32
    np.testing.assert_allclose(pdfs.sum(axis=1), 1, atol=1e-5)
    run = json.loads((tmp_path / "mixed" / "run.json").read_text())
    assert run["identity"]["training"]["precision"] == "mixed_bfloat16"


def test_data_parallel_needs_jax_and_an_even_split():
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="JAX backend"):
            T.data_parallel_distribution(16, data_parallel=True)
    assert T.data_parallel_distribution(16, data_parallel=False) is None


DATA_PARALLEL_SCRIPT = """
import dataclasses, sys
import keras, numpy as np
sys.path.insert(0, {tests!r})
from conftest import write_tiny_dataset
from photoz_nb import catalog, config
from photoz_nb.estimators.cnn import train as T
assert len(keras.distribution.list_devices()) == 2
ds = catalog.open_dataset(write_tiny_dataset({out!r} + "/tiny"))
profile = dataclasses.replace(config.PROFILES["smoke"], model_width=0.03, epochs=2, batch_size=16, seed=7)
try:
    T.data_parallel_distribution(15, data_parallel=True)
    raise SystemExit("an uneven split was accepted")
except ValueError as err:
    assert "does not split evenly" in str(err)
runs = [T.train(ds, profile, {out!r} + f"/run{{dp}}", progress=False, data_parallel=dp) for dp in (True, False)]
for a, b in zip(*(r.model.weights for r in runs)):
    np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-5)
print("same weights", runs[0].history["loss"], runs[1].history["loss"])
"""


def test_data_parallel_over_two_devices_gives_the_single_device_weights(tmp_path):
    """keras.distribution.DataParallel on two (virtual CPU) JAX devices trains the same network."""
    import os
    import subprocess
    import sys
    pytest.importorskip("jax")
    if keras.backend.backend() == "torch":
        pytest.skip("runs its own JAX process: once, in the default-backend pass, is enough")
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = subprocess.run([sys.executable, "-c", DATA_PARALLEL_SCRIPT.format(tests=tests, out=str(tmp_path))],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "same weights" in run.stdout
