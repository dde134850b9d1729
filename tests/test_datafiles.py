"""Pinned inputs: the committed SDSS sample (registry, fetcher, checksums) and kcorrect's catalogue (offline)."""
import shutil
from pathlib import Path

import pytest

from photoz_nb import config, datafiles
from photoz_nb.sdss import frames as F
from photoz_nb.simulate import galaxies

SMALL = "photoField-002583-2.fits"  # the smallest file of the sample (0.65 MB)
SAS = "https://data.sdss.org/sas/dr17/eboss"


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_registry_lists_exactly_the_committed_files_at_their_archive_urls():
    pins = datafiles.registry()
    on_disk = {p.name for p in datafiles.SAMPLE_DIR.iterdir()} - {"README.md", "registry.txt"}
    assert set(pins) == on_disk
    assert sum((datafiles.SAMPLE_DIR / name).stat().st_size for name in pins) < 40e6  # the budget of the sample
    frames = [name for name in pins if name.startswith("frame-")]
    assert len(frames) == 10  # two fields in ugriz
    for name in frames:  # the frame URLs are the ones the package's own frame cache downloads
        assert pins[name][1] == F.frame_url(*F.parse_frame_name(name))
    assert pins["calibObj-004510-4-star.fits.gz"][1] == f"{SAS}/sweeps/dr13_final/301/calibObj-004510-4-star.fits.gz"
    assert pins[SMALL][1] == f"{SAS}/photoObj/301/2583/{SMALL}"


def test_sample_dir_is_the_checkouts_own_copy_whatever_shared_says(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOTOZ_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path / "home"))
    import photoz_nb

    assert config.sample_frames_dir() == Path(photoz_nb.__file__).resolve().parent.parent / "data" / "sdss_sample"


@pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "folder"])
def test_fetch_downloads_a_missing_file_from_a_mirror_and_checks_it(tmp_path, as_url):
    mirror, local = tmp_path / "mirror", tmp_path / "sample"
    mirror.mkdir()
    shutil.copyfile(datafiles.SAMPLE_DIR / SMALL, mirror / SMALL)
    path = datafiles.fetch(SMALL, directory=local, mirror=mirror.as_uri() if as_url else mirror)
    assert path == local / SMALL
    assert path.read_bytes() == (datafiles.SAMPLE_DIR / SMALL).read_bytes()
    (mirror / SMALL).unlink()  # present now: returned without a download
    assert datafiles.fetch(SMALL, directory=local, mirror=mirror) == path


def test_fetch_rejects_a_corrupt_mirror_file_and_keeps_nothing(tmp_path):
    mirror, local = tmp_path / "mirror", tmp_path / "sample"
    mirror.mkdir()
    shutil.copyfile(datafiles.SAMPLE_DIR / SMALL, mirror / SMALL)
    flip_one_byte(mirror / SMALL)
    sha = datafiles.registry()[SMALL][0]
    with pytest.raises(datafiles.ChecksumError, match=rf"{SMALL}.*does not match the known hash.*{sha}"):
        datafiles.fetch(SMALL, directory=local, mirror=mirror)
    assert not (local / SMALL).exists() and not [p for p in local.iterdir() if p.is_file()]


def test_fetch_names_a_file_the_mirror_lacks(tmp_path):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(OSError, match=rf"{SMALL} is missing from .*sample.*not in the local mirror"):
        datafiles.fetch(SMALL, directory=tmp_path / "sample", mirror=tmp_path / "mirror")


def test_a_corrupt_local_file_is_reported_not_replaced(tmp_path):
    local = tmp_path / "sample"
    local.mkdir()
    shutil.copyfile(datafiles.SAMPLE_DIR / SMALL, local / SMALL)
    flip_one_byte(local / SMALL)
    before = (local / SMALL).read_bytes()
    sha = datafiles.registry()[SMALL][0]
    with pytest.raises(datafiles.ChecksumError, match=rf"{SMALL}.*sha256 is [0-9a-f]{{64}}, but the pinned sha256 is "
                                                      rf"{sha}.*git checkout"):
        datafiles.fetch(SMALL, directory=local, mirror=datafiles.SAMPLE_DIR)
    assert (local / SMALL).read_bytes() == before


def test_fetch_names_the_registry_for_an_unknown_file():
    with pytest.raises(KeyError, match="registry.txt"):
        datafiles.fetch("frame-r-000001-1-0001.fits.bz2")


def test_kcorrect_catalogue_is_pinned(monkeypatch, tmp_path):
    import kcorrect

    real = galaxies.mgs_path()  # the installed release's file has the pinned sha256
    assert real.name == "gst_tests_small.fits"
    changed = tmp_path / "kcorrect" / "data" / "test" / real.name
    changed.parent.mkdir(parents=True)
    shutil.copyfile(real, changed)
    flip_one_byte(changed)
    monkeypatch.setattr(kcorrect, "__file__", str(tmp_path / "kcorrect" / "__init__.py"))
    actual = datafiles.safeio.sha256(changed)
    with pytest.raises(datafiles.ChecksumError, match=rf"{changed}.*kcorrect.*{actual}.*{galaxies.MGS_SHA256}"):
        galaxies.mgs_path()
