"""Training input: the device-resident batch source serves exactly the streamed batches."""
import dataclasses

import keras
import numpy as np
import pytest

from photoz_nb import catalog
from photoz_nb.estimators.cnn import inputs

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from conftest import write_tiny_dataset
    return catalog.open_dataset(write_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", n=96))


def as_numpy(batch):
    x, *rest = batch
    out = {k: keras.ops.convert_to_numpy(keras.ops.cast(v, "float32")) for k, v in x.items()}
    return (out, *(keras.ops.convert_to_numpy(r) for r in rest))


def test_dihedral_ops_turns_images_exactly_as_numpy():
    images = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype(np.float32)
    transform = np.arange(16) % 8
    got = keras.ops.convert_to_numpy(inputs.dihedral_ops(keras.ops.convert_to_tensor(images), transform))
    np.testing.assert_array_equal(got, inputs.dihedral(images, transform))
    one = np.repeat(images[:1], 8, axis=0)
    views = keras.ops.convert_to_numpy(inputs.dihedral_ops(keras.ops.convert_to_tensor(one), np.arange(8)))
    assert len({v.tobytes() for v in views}) == 8  # the eight views of one image all differ


@pytest.mark.parametrize("train, transform", [(True, 0), (False, 0), (False, 5)])
def test_device_batches_equal_streamed_batches(dataset, train, transform):
    index = dataset.split("train")
    stream = inputs.GalaxyBatches(dataset, index, 16, seed=3, train=train, transform=transform)
    device = inputs.DeviceBatches(dataset, index, 16, seed=3, train=train, transform=transform)
    assert len(device) == len(stream)
    for epoch in (0, 1):
        stream.epoch = device.epoch = epoch
        for i in range(len(stream)):
            (x_s, y_s), (x_d, y_d) = stream[i], as_numpy(device[i])
            np.testing.assert_array_equal(x_d["image"], x_s["image"])
            np.testing.assert_array_equal(x_d["ebv"], x_s["ebv"])
            np.testing.assert_array_equal(y_d, y_s)


def test_bfloat16_device_batches_are_the_cast_of_the_streamed_ones(dataset):
    index = dataset.split("val")
    stream = inputs.GalaxyBatches(dataset, index, 8, seed=1, train=True)
    device = inputs.DeviceBatches(dataset, index, 8, seed=1, train=True, dtype="bfloat16")
    (x_s, _), (x_d, _) = stream[0], as_numpy(device[0])
    expected = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x_s["image"], "bfloat16"), "float32"))
    np.testing.assert_array_equal(x_d["image"], expected)
    assert inputs.device_bytes(len(index), "bfloat16") * 2 == inputs.device_bytes(len(index), "float32")


def test_device_upload_rejects_non_finite_pixels_naming_the_row(dataset):
    ds = dataclasses.replace(dataset, images=np.array(dataset.images))
    row = int(dataset.split("train")[7])
    ds.images[row, 3, 3, 1] = np.nan
    with pytest.raises(ValueError, match=rf"images.npy: non-finite.*\[{row}\]"):
        inputs.DeviceBatches(ds, dataset.split("train"), 16)


def test_batch_source_falls_back_to_streaming_when_the_images_do_not_fit(dataset, monkeypatch, capsys):
    index = dataset.split("train")
    args = (dataset, index, 16, 0, True, True, 1)
    assert type(inputs.training_batches(*args, source="device")) is inputs.DeviceBatches
    assert type(inputs.training_batches(*args, source="auto")) is inputs.GalaxyBatches  # no GPU here
    monkeypatch.setattr(inputs, "free_device_memory", lambda: inputs.device_bytes(len(index), "float32"))
    assert type(inputs.training_batches(*args, source="device")) is inputs.GalaxyBatches
    assert "streaming them from disk instead" in capsys.readouterr().err
    with pytest.raises(ValueError, match="input source must be"):
        inputs.training_batches(*args, source="gpu")
