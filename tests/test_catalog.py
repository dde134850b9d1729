import json

import numpy as np
import pytest

from photoz_nb import catalog
from conftest import make_catalog, write_tiny_dataset


def test_roundtrip_opens_memory_mapped(tiny_dataset):
    ds = catalog.open_dataset(tiny_dataset)
    assert len(ds) == 64 and ds.images.shape == (64, 64, 64, 5)
    assert isinstance(ds.images, np.memmap) and not ds.images.flags.writeable
    assert ds.manifest["files"]["images.npy"]["sha256"] == catalog.sha256(tiny_dataset / "images.npy")
    assert sorted(np.concatenate([ds.split(s) for s in catalog.SPLITS])) == list(range(64))
    assert np.array_equal(ds.column("z_spec", "test"), np.asarray(ds.catalog["z_spec"])[ds.split("test")])
    assert ds.column("stripe82", dtype=bool).dtype == bool and len(ds.column("ebv")) == 64
    assert str(ds.catalog["psf_fwhm_r"].unit) == "arcsec" or "psf_fwhm_r" in ds.manifest["columns"]


def test_same_seed_same_bytes(tmp_path):
    a = write_tiny_dataset(tmp_path / "a", seed=3)
    b = write_tiny_dataset(tmp_path / "b", seed=3)
    c = write_tiny_dataset(tmp_path / "c", seed=4)
    for name in ("catalog.fits", "images.npy"):
        assert catalog.sha256(a / name) == catalog.sha256(b / name)
        assert catalog.sha256(a / name) != catalog.sha256(c / name)


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "images.npy").unlink(), "missing file"),
    (lambda p: (p / "manifest.json").write_text("{"), "not valid JSON"),
    (lambda p: open(p / "images.npy", "r+b").write(b"\x00" * 200), "sha256"),
    (lambda p: open(p / "catalog.fits", "ab").write(b"\x00" * 2880), "size"),
])
def test_damage_is_named(tiny_dataset, damage, message):
    damage(tiny_dataset)
    with pytest.raises(catalog.ContractError, match=message):
        catalog.open_dataset(tiny_dataset)


def test_catalog_violations_name_the_column():
    cat = make_catalog(10)
    cat.remove_column("ebv")
    with pytest.raises(catalog.ContractError, match="ebv"):
        catalog.validate_catalog(cat)
    cat = make_catalog(10)
    cat["snr_r"][3] = np.nan
    with pytest.raises(catalog.ContractError, match="snr_r.*row 3"):
        catalog.validate_catalog(cat)
    cat = make_catalog(10)
    cat["z_spec"][2] = 0.55
    with pytest.raises(catalog.ContractError, match="z_spec"):
        catalog.validate_catalog(cat)


def replace_images(path, images):
    """Swap in other images with a consistent manifest, as a buggy writer would."""
    np.save(path / "images.npy", images)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["images.npy"] = {"sha256": catalog.sha256(path / "images.npy"),
                                       "bytes": (path / "images.npy").stat().st_size}
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("images, message", [
    (np.zeros((64, 32, 32, 5), np.float32), r"shape \(64, 32, 32, 5\)"),
    (np.zeros((63, 64, 64, 5), np.float32), "64 rows but images.npy has 63"),
    (np.zeros((64, 64, 64, 5), np.float64), "float64"),
])
def test_wrong_images_are_named(tiny_dataset, images, message):
    replace_images(tiny_dataset, images)
    with pytest.raises(catalog.ContractError, match=message):
        catalog.validate_dataset(tiny_dataset)


def test_images_checksum_follows_chunks_written_out_of_order(tmp_path, monkeypatch):
    """The writer hashes images.npy as chunks arrive (in completion order, as parallel builds deliver them):
    the manifest's sha256 must be the file's, without reading the file back at the end."""
    cat, out = make_catalog(100), tmp_path / "ds"
    rng = np.random.default_rng(3)
    read_back = []
    original = catalog.sha256
    monkeypatch.setattr(catalog, "sha256", lambda path: read_back.append(path.name) or original(path))
    with catalog.DatasetWriter(out, cat, {"seed": 1}) as w:
        chunks = w.pending_chunks(30)  # 30, 30, 30, 10 rows
        for start, stop in [chunks[i] for i in (2, 0, 3, 1)]:
            w.write(start, rng.normal(size=(stop - start, 64, 64, 5)).astype(np.float32))
    assert read_back == [catalog.CATALOG]  # the images were hashed while written
    manifest = json.loads((out / catalog.MANIFEST).read_text())
    assert manifest["files"][catalog.IMAGES]["sha256"] == original(out / catalog.IMAGES)
    catalog.validate_dataset(out)


def test_interrupted_build_resumes_and_never_validates(tmp_path):
    cat = make_catalog(100)
    out = tmp_path / "ds"
    block = np.ones((25, 64, 64, 5), np.float32)
    with pytest.raises(KeyboardInterrupt):
        with catalog.DatasetWriter(out, cat, {"seed": 1}) as w:
            for i, (start, stop) in enumerate(w.pending_chunks(25)):
                if i == 2:
                    raise KeyboardInterrupt
                w.write(start, block * start)
    with pytest.raises(catalog.ContractError, match="interrupted build"):
        catalog.validate_dataset(out)
    with catalog.DatasetWriter(out, cat, {"seed": 1}) as w:
        assert w.pending_chunks(25) == [(50, 75), (75, 100)]
        for start, stop in w.pending_chunks(25):
            w.write(start, block * start)
    ds = catalog.open_dataset(out)
    assert ds.images[30, 0, 0, 0] == 25 and ds.images[99, 0, 0, 0] == 75
    # a different build identity discards the partial state
    with pytest.raises(RuntimeError):
        with catalog.DatasetWriter(tmp_path / "other", cat, {"seed": 1}) as w:
            w.write(0, block)
            raise RuntimeError
    with catalog.DatasetWriter(tmp_path / "other", cat, {"seed": 2}) as w:
        assert len(w.pending_chunks(25)) == 4
        with pytest.raises(catalog.ContractError, match="non-finite"):
            w.write(0, block * np.nan)
        for start, stop in w.pending_chunks(25):
            w.write(start, block)


def test_incomplete_writer_refuses_to_publish(tmp_path):
    with pytest.raises(catalog.ContractError, match="only 25 of 100"):
        with catalog.DatasetWriter(tmp_path / "ds", make_catalog(100), {}) as w:
            w.write(0, np.zeros((25, 64, 64, 5), np.float32))
    assert not (tmp_path / "ds").exists()


def test_splits_exact_and_seeded():
    s = catalog.assign_splits(1000, (0.7, 0.1, 0.2), seed=5)
    assert [(s == k).sum() for k in catalog.SPLITS] == [700, 100, 200]
    assert (s == catalog.assign_splits(1000, (0.7, 0.1, 0.2), seed=5)).all()
    with pytest.raises(ValueError, match="summing to 1"):
        catalog.assign_splits(10, (0.5, 0.1, 0.1))
