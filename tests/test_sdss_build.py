"""Building real-SDSS data sets from the frames of the committed sample data/sdss_sample: parallel, resumable, bad input,
the notebook entry point and the figure of bright galaxies (offline)."""
import bz2
import importlib.util
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.wcs import WCS

from photoz_nb import catalog as contract
from photoz_nb import cli, config, pipeline, plots
from photoz_nb.plots import data as plot_data
from photoz_nb.sdss import build as B
from photoz_nb.sdss import cutouts as C
from photoz_nb.sdss import frames as F
from photoz_nb.sdss import prepare_real_dataset
from photoz_nb.sdss import sources as Src

SAMPLE = config.sample_frames_dir()  # checked against its sha256 registry
FIELD, OTHER = (4510, 4, 30), (7264, 3, 111)
GALAXIES = Path(__file__).parent / "fixtures" / "sdss" / "field_galaxies.ecsv"


@pytest.fixture(scope="module")
def fields():
    """Both fields, each band decompressed once: the independent reference for stamps."""
    return {key: {b: F.read_frame(SAMPLE / F.frame_name(b, *key), warn_bad=False) for b in config.BANDS}
            for key in (FIELD, OTHER)}


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    """A verified frame cache of both fields (read-only for the tests: copy it to damage it)."""
    root = tmp_path_factory.mktemp("frames")
    cache = F.FrameCache(root)
    for key in (FIELD, OTHER):
        for band in config.BANDS:  # copies of the sample originals: marked verified, not decompressed again
            path = cache.path(band, *key)
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SAMPLE / path.name, path)
            cache._mark_verified(path)
    return root


def galaxies() -> Table:
    """Ten extended sources of the two fields (labels are placeholders: the fields have no spectra)."""
    return Table.read(GALAXIES, format="ascii.ecsv")


def with_bad_rows(cat: Table, fields) -> Table:
    """The galaxies + one row 1 deg off its field and one at the frame edge (both must be flagged)."""
    extra = cat[:2].copy()
    extra["objid"] = [101, 102]
    extra["dec"][0] += 1.0
    edge_ra, edge_dec = fields[FIELD]["r"].wcs.pixel_to_world_values(5.0, 700.0)
    extra["ra"][1], extra["dec"][1] = float(edge_ra), float(edge_dec)
    return vstack([extra[:1], cat, extra[1:]])  # bad rows first and last: sorting must keep them per field


def files_digest(path: Path) -> tuple[str, str]:
    return contract.sha256(path / "images.npy"), contract.sha256(path / "catalog.fits")


# -- parallel builds ------------------------------------------------------------------------------
def test_same_bytes_in_process_local_processes_and_dask(tmp_path, frames_dir, fields):
    cat = with_bad_rows(galaxies(), fields)
    # In this process, through the notebooks' entry point (smoke keeps all 12 rows).
    serial = pipeline.dataset("smoke", "sdss", catalog=cat, frames_dir=frames_dir, out=tmp_path / "w1",
                              workers=1, progress=False).path
    two = B.build_cutout_dataset(cat, frames_dir, tmp_path / "w2", workers=2, progress=False)
    assert files_digest(two) == files_digest(serial)
    if importlib.util.find_spec("distributed"):
        on_dask = B.build_cutout_dataset(cat, frames_dir, tmp_path / "dask", workers=2, scheduler="dask-local",
                                         progress=False)
        assert files_digest(on_dask) == files_digest(serial)
    ds = contract.open_dataset(serial)
    # Rows sorted by field, catalogue order kept within a field; the two bad rows flagged, not written.
    assert list(ds.catalog["objid"]) == list(range(1, 11))
    assert ds.manifest["n_flagged"] == 2 and not list(tmp_path.glob(".*cutouts"))
    flagged = Table.read(tmp_path / "w1.flagged.ecsv")
    assert list(flagged["objid"]) == [101, 102] and set(flagged["reason"]) == {"outside every frame"}
    assert "leaves frame" in flagged["detail"][1]
    # Independent check: each stamp is the cutout of its row from frames read directly.
    for row, stamp in zip(ds.catalog, ds.images):
        key = (int(row["run"]), int(row["camcol"]), int(row["field"]))
        np.testing.assert_array_equal(stamp, C.cutout(fields[key], float(row["ra"]), float(row["dec"])))
    # Called again with the same inputs: the data set is current and reused, not rebuilt.
    before = (serial / "images.npy").stat().st_mtime_ns
    assert prepare_real_dataset("sdss", "smoke", catalog=cat, frames_dir=frames_dir, out=serial,
                                progress=False) == serial
    assert (serial / "images.npy").stat().st_mtime_ns == before


def test_field_tasks_split_large_fields():
    cat = Table({"run": [1, 1, 1, 2, 2], "camcol": [1] * 5, "field": [5, 5, 5, 5, 5]})
    assert B.field_tasks(cat, 2) == [(0, 2, (1, 1, 5)), (2, 3, (1, 1, 5)), (3, 5, (2, 1, 5))]
    shuffled = Table({"run": [2, 1, 2, 1], "camcol": [1] * 4, "field": [3, 9, 3, 9], "objid": [1, 2, 3, 4]})
    assert list(B.sort_by_field(shuffled)["objid"]) == [2, 4, 1, 3]


def test_interrupted_build_resumes_without_redoing_fields(tmp_path, frames_dir, fields, monkeypatch):
    cat = galaxies()
    calls = []
    real_cut_field = B.cut_field

    def failing_on_second_field(*args):
        calls.append(args[2])
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return real_cut_field(*args)

    monkeypatch.setattr(B, "cut_field", failing_on_second_field)
    with pytest.raises(KeyboardInterrupt):
        B.build_cutout_dataset(cat, frames_dir, tmp_path / "ds", workers=1, progress=False)
    assert not (tmp_path / "ds").exists()  # nothing published
    calls.clear()
    out = B.build_cutout_dataset(cat, frames_dir, tmp_path / "ds", workers=1, progress=False)
    assert calls == [OTHER]  # the first field was kept from the interrupted run
    ds = contract.open_dataset(out)
    assert len(ds) == len(cat)
    row = ds.catalog[0]
    np.testing.assert_array_equal(ds.images[0], C.cutout(fields[FIELD], float(row["ra"]), float(row["dec"])))


# -- bad input: each a clear error or a flagged row, nothing lost ---------------------------------
def write_bz2_frame(dest: Path, source: Path, edit) -> None:
    with fits.open(source) as hdul:
        edit(hdul[0].data)
        buffer = io.BytesIO()
        hdul.writeto(buffer)
    dest.write_bytes(bz2.compress(buffer.getvalue(), compresslevel=1))


def test_bad_frames_and_positions_are_flagged(tmp_path, frames_dir, fields):
    cache_dir = tmp_path / "frames"
    shutil.copytree(frames_dir, cache_dir)
    cache = F.FrameCache(cache_dir)
    # Wrong band: the g frame of FIELD holds r data, and no source offers the right one.
    g_path = cache.path("g", *FIELD)
    shutil.copyfile(SAMPLE / F.frame_name("r", *FIELD), g_path)
    g_path.with_name(g_path.name + ".ok").unlink()
    # Corrupt bz2: the u frame of OTHER is truncated; the mirror holds a good copy.
    u_path = cache.path("u", *OTHER)
    u_path.write_bytes(u_path.read_bytes()[:100_000])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / u_path.name).symlink_to(SAMPLE / u_path.name)
    # NaN pixels: a hole in the z frame of OTHER under the first galaxy of that field.
    cat = galaxies()
    victim = cat[np.flatnonzero(cat["run"] == OTHER[0])[0]]
    x, y = fields[OTHER]["z"].wcs.world_to_pixel_values(victim["ra"], victim["dec"])
    z_path = cache.path("z", *OTHER)

    def punch_hole(data):
        data[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = np.nan

    write_bz2_frame(z_path, SAMPLE / z_path.name, punch_hole)
    z_path.with_name(z_path.name + ".ok").unlink()
    outside = cat[-1:].copy()  # a position outside every frame
    outside["objid"], outside["dec"] = [99], [outside["dec"][0] + 2.0]
    cat = vstack([cat, outside])

    with warnings.catch_warnings():
        warnings.simplefilter("error", F.FrameWarning)  # the hole is reported per row (below), never as a warning
        out = B.build_cutout_dataset(cat, cache_dir, tmp_path / "ds", mirror=mirror, workers=1, progress=False)

    ds = contract.open_dataset(out)
    flagged = Table.read(tmp_path / "ds.flagged.ecsv")
    reasons = dict(zip(flagged["objid"], flagged["reason"]))
    details = dict(zip(flagged["objid"], flagged["detail"]))
    in_field = [int(i) for i in cat["objid"][cat["run"] == FIELD[0]]]
    assert {i: reasons[i] for i in in_field} == {i: "frame missing or unreadable" for i in in_field}
    assert all("FILTER='r'" in details[i] and F.frame_name("g", *FIELD) in details[i] for i in in_field)
    assert reasons[int(victim["objid"])] == "non-finite frame pixels" and "band z" in details[int(victim["objid"])]
    assert reasons[99] == "outside every frame"
    # Nothing lost: every other row is in the data set, the corrupt copy was replaced from the mirror.
    kept = sorted(set(cat["objid"]) - set(flagged["objid"]))
    assert sorted(ds.catalog["objid"]) == kept and len(kept) == 4
    assert u_path.read_bytes() == (SAMPLE / u_path.name).read_bytes()
    assert np.isfinite(ds.images).all()


def test_catalogue_missing_columns_is_an_error_before_any_work(tmp_path, frames_dir):
    cat = galaxies()
    cat.remove_column("field")
    with pytest.raises(contract.ContractError, match=r"missing column\(s\) \['field'\]"):
        B.build_cutout_dataset(cat, frames_dir, tmp_path / "ds", progress=False)
    cat = galaxies()
    cat.remove_column("z_spec")
    with pytest.raises(contract.ContractError, match="z_spec"):
        B.build_cutout_dataset(cat, frames_dir, tmp_path / "ds", progress=False)
    assert not list(tmp_path.iterdir())  # nothing written
    # The same error through the command line, with the new options parsed.
    path = tmp_path / "no_z.ecsv"
    cat.write(path, format="ascii.ecsv")
    code = cli.main(["sdss", "cutouts", str(path), "--frames-dir", str(frames_dir), "--out", str(tmp_path / "x"),
                     "--workers", "2", "--scheduler", "dask-local"])
    assert code == 1 and not (tmp_path / "x").exists()


# -- notebook entry point: the cube branch and argument errors -------------------------------------
def test_prepare_real_dataset_cube_and_errors(tmp_path):
    from test_sdss import FILL, expected_rows, write_cube

    cube, labels = write_cube(tmp_path / "sdss.npz")
    out = prepare_real_dataset("cube", "smoke", cube=tmp_path / "sdss.npz", out=tmp_path / "cube_ds", fill=FILL,
                               progress=False)
    ds = contract.open_dataset(out)
    np.testing.assert_array_equal(ds.images, cube[expected_rows(labels)])
    assert ds.manifest["seed"] == config.get_profile("smoke").seed
    before = (out / "images.npy").stat().st_mtime_ns
    assert prepare_real_dataset("cube", "smoke", cube=tmp_path / "sdss.npz", out=out, fill=FILL) == out
    assert (out / "images.npy").stat().st_mtime_ns == before  # current: reused
    with pytest.raises(ValueError, match="'simulation'"):
        prepare_real_dataset("simulated", "smoke")
    with pytest.raises(ValueError, match="needs cube="):
        prepare_real_dataset("cube", "smoke")


def test_prepare_subsamples_to_the_profile_size(monkeypatch, tmp_path):
    from photoz_nb import sdss
    from photoz_nb.sdss import prepare

    seen = {}
    monkeypatch.setattr(prepare, "build_cutout_dataset", lambda cat, *a, **k: seen.setdefault("cat", cat))
    small = config.Profile("tiny", n_galaxies=4, split_fractions=(0.5, 0.25, 0.25), model_width=0.1, epochs=1,
                           batch_size=2, learning_rate=1e-3, seed=7)
    cat = galaxies()
    cat.remove_column("split")
    sdss.prepare_real_dataset("sdss", small, catalog=cat, out=tmp_path / "ds", frames_dir=tmp_path)
    chosen = seen["cat"]
    assert len(chosen) == 4 and set(chosen["objid"]) <= set(cat["objid"])
    assert sorted(chosen["split"]) == ["test", "train", "train", "val"]  # the profile's fractions, on the subsample


# -- figure of bright galaxies ----------------------------------------------------------------------
def test_bright_galaxies_figure_on_real_frames(tmp_path, fields, monkeypatch):
    made = []  # the stamps and sources the figure is drawn from (the sources are detected once), checked below

    def recorded(*args, **kwargs):
        made.append(Src.bright_galaxy_stamps(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(plot_data, "bright_galaxy_stamps", recorded)
    paths = plots.bright_galaxies_figure(tmp_path, SAMPLE, n_per_field=2, fields=fields)
    assert [p.name for p in paths] == ["sdss_bright_galaxies.pdf", "sdss_bright_galaxies.png"]
    assert paths[0].read_bytes()[:4] == b"%PDF" and paths[1].stat().st_size > 10_000
    [(stamps, sources)] = made
    assert stamps.shape == (4, 64, 64, 5) and np.isfinite(stamps).all()
    assert list(sources["field"]) == ["4510-4-30"] * 2 + ["7264-3-111"] * 2
    assert (sources["concentration"] < 0.75 * sources["star_concentration"]).all()
    assert (sources["star_distance"][:2] > 3).all() and (sources["peak_dn"] < Src.SATURATION_SUSPECT_DN).all()
    # Independent size check: the r-band light of each source is more spread than a calibObj star's.
    star = _star_stamp(fields[FIELD])
    assert all(_radius(s[..., 2]) > 1.3 * _radius(star) for s in stamps)


def _radius(image, r_max=10.0):
    """Flux-weighted mean radius (px) within ``r_max`` of the stamp centre."""
    yy, xx = np.mgrid[:64, :64] - 31.5
    r = np.hypot(xx, yy)
    w = np.clip(image, 0, None) * (r < r_max)
    return float((w * r).sum() / w.sum())


def _star_stamp(frames):
    from photoz_nb.sdss import stars as S
    stars = S.read_calib_stars(SAMPLE / "calibObj-004510-4-star.fits.gz")
    i = S.select_stars(stars, frames, r_mag=(16.0, 17.5))[0]
    return C.cutout(frames, float(stars["RA"][i]), float(stars["DEC"][i]))[..., 2]


def test_bright_galaxies_plot_rejects_bad_input():
    good = np.ones((2, 64, 64, 5))
    with pytest.raises(ValueError, match="shape"):
        plots.sdss_bright_galaxies(np.ones((2, 32, 32, 5)), ["a", "b"])
    bad = good.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        plots.sdss_bright_galaxies(bad, ["a", "b"])
    with pytest.raises(ValueError, match="labels"):
        plots.sdss_bright_galaxies(good, ["a"])


@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_bench_catalogue_is_inside_the_fields():
    from photoz_nb.bench.cutouts import bench_catalog, frame_header

    cat = bench_catalog(9, SAMPLE, seed=3)
    contract.validate_catalog(cat)
    assert list(cat["run"]) == [4510] * 5 + [7264] * 4
    assert list(bench_catalog(9, SAMPLE, seed=3)["ra"]) == list(cat["ra"])  # seeded
    for key in (FIELD, OTHER):
        header = frame_header(SAMPLE / F.frame_name("r", *key))
        rows = cat[cat["run"] == key[0]]
        x, y = WCS(header, naxis=2).world_to_pixel_values(rows["ra"], rows["dec"])
        assert (x > 39).all() and (x < 2048 - 40).all() and (y > 39).all() and (y < 1489 - 40).all()
