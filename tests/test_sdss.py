"""The real SDSS data path, tested on the two real fields of the committed sample data/sdss_sample (offline)."""
import functools
import re
import http.server
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import config
from photoz_nb.sdss import cutouts as C
from photoz_nb.sdss import frames as F
from photoz_nb.sdss import stars as S

SAMPLE = config.sample_frames_dir()  # checked against its sha256 registry
FIELD = (4510, 4, 30)
OTHER_FIELD = (7264, 3, 111)


@pytest.fixture(scope="module")
def field():
    """The five frames of run 4510 camcol 4 field 30, each decompressed once."""
    return {b: F.read_frame(SAMPLE / F.frame_name(b, *FIELD)) for b in config.BANDS}


@pytest.fixture(scope="module")
def other_field():
    return {b: F.read_frame(SAMPLE / F.frame_name(b, *OTHER_FIELD)) for b in config.BANDS}


@pytest.fixture(scope="module")
def calib_stars():
    return S.read_calib_stars(SAMPLE / "calibObj-004510-4-star.fits.gz")


@pytest.fixture(scope="module")
def star_table(field, calib_stars):
    return S.star_check(calib_stars, field, S.select_stars(calib_stars, field))


def centre_of(frame, x=1024.0, y=744.0):
    ra, dec = frame.wcs.pixel_to_world_values(x, y)
    return float(ra), float(dec)


# -- frames.py --------------------------------------------------------------
def test_frame_name_and_url():
    assert F.frame_name("r", 4510, 4, 30) == "frame-r-004510-4-0030.fits.bz2"
    assert F.frame_url("r", 4510, 4, 30) == (
        "https://data.sdss.org/sas/dr17/eboss/photoObj/frames/301/4510/4/frame-r-004510-4-0030.fits.bz2")
    assert F.parse_frame_name("/x/frame-z-007264-3-0111.fits.bz2") == ("z", 7264, 3, 111)
    with pytest.raises(ValueError, match="band"):
        F.frame_name("y", 4510, 4, 30)
    with pytest.raises(ValueError, match="camcol"):
        F.frame_name("r", 4510, 7, 30)


def test_read_frame_real(field):
    image, wcs, header = field["r"]
    assert image.dtype == np.float32 and image.shape == (1489, 2048)
    assert header["FILTER"].strip() == "r" and header["PZ_NBAD"] == 0
    # The header WCS puts the reference pixel (CRPIX, 1-based) on CRVAL.
    ra, dec = wcs.pixel_to_world_values(header["CRPIX1"] - 1, header["CRPIX2"] - 1)
    assert ra == pytest.approx(header["CRVAL1"], abs=1e-9) and dec == pytest.approx(header["CRVAL2"], abs=1e-9)
    # Sky-subtracted nanomaggies: the median pixel is near zero, the noise a few 1e-3..1e-1.
    assert abs(np.median(image)) < 0.02 and 0.001 < np.std(image[image < np.percentile(image, 90)]) < 0.2


def test_read_frame_truncated_bz2(tmp_path):
    bad = tmp_path / F.frame_name("r", *FIELD)
    raw = (SAMPLE / bad.name).read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(F.FrameError, match=rf"{bad.name}.*(corrupt|truncated)"):
        F.read_frame(bad)


def test_read_frame_keeps_decompressed_frames_by_content(tmp_path, monkeypatch, field):
    """A frame read before is not decompressed again, its image is a fresh array, and a changed
    file at the same path is read anew."""
    calls = []
    real_decompress = F._decompress_capped
    monkeypatch.setattr(F, "_decompress_capped", lambda raw, *a: calls.append(len(raw)) or real_decompress(raw, *a))
    path = tmp_path / F.frame_name("r", *FIELD)
    shutil.copyfile(SAMPLE / path.name, path)  # a copy of what the fixture read
    frame = F.read_frame(path)
    assert calls == [] and frame.header["PZ_PATH"] == str(path)
    np.testing.assert_array_equal(frame.image, field["r"].image)
    frame.image[:] = 0.0
    assert np.array_equal(F.read_frame(path).image, field["r"].image) and calls == []
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(F.FrameError, match="corrupt or truncated"):
        F.read_frame(path)
    assert calls == [len(raw) // 2]
    shutil.copyfile(SAMPLE / F.frame_name("g", *FIELD), path)  # another frame under the r frame's name
    with pytest.raises(F.FrameError, match="FILTER='g'"):
        F.read_frame(path)
    monkeypatch.setenv(F.KEEP_DECOMPRESSED_ENV, "0")  # keep none: every read decompresses
    F.read_frame(SAMPLE / F.frame_name("g", *FIELD))
    assert len(calls) == 2
    monkeypatch.setenv(F.KEEP_DECOMPRESSED_ENV, "ten")
    with pytest.raises(ValueError, match=f"{F.KEEP_DECOMPRESSED_ENV}='ten'"):
        F.read_frame(SAMPLE / F.frame_name("g", *FIELD))


def test_read_frame_garbage_and_missing(tmp_path):
    junk = tmp_path / "frame-r-004510-4-0030.fits"
    junk.write_bytes(b"SIMPLE  = not really a FITS file" * 100)
    with pytest.raises(F.FrameError, match=junk.name):
        F.read_frame(junk)
    with pytest.raises(FileNotFoundError, match="nope"):
        F.read_frame(tmp_path / "nope.fits.bz2")


def test_read_frame_wrong_band(tmp_path):
    mislabelled = tmp_path / F.frame_name("g", *FIELD)
    shutil.copyfile(SAMPLE / F.frame_name("r", *FIELD), mislabelled)
    with pytest.raises(F.FrameError, match=r"FILTER='r'.*band 'g'"):
        F.read_frame(mislabelled)
    with pytest.raises(F.FrameError, match="FILTER"):
        F.read_frame(SAMPLE / F.frame_name("r", *FIELD), band="i")


def test_read_frame_flags_nan_pixels(tmp_path, field):
    from astropy.io import fits
    image, _, header = field["i"]
    image = image.copy()
    image[100:103, 200:210] = np.nan
    path = tmp_path / "frame-i-004510-4-0030.fits"
    fits.PrimaryHDU(image, header).writeto(path)
    with pytest.warns(F.FrameWarning, match="30 non-finite"):
        frame = F.read_frame(path)
    assert frame.header["PZ_NBAD"] == 30 and frame.bad_mask.sum() == 30


class CountingFetch:
    """Copies frames from the sample folder; optionally corrupts the first ``n_bad`` downloads."""

    def __init__(self, n_bad=0):
        self.calls, self.n_bad = [], n_bad
        self.lock = threading.Lock()

    def __call__(self, url, dest):
        with self.lock:
            self.calls.append(url)
            corrupt = len(self.calls) <= self.n_bad
        F.local_fetch(SAMPLE)(url, dest)
        if corrupt:
            dest.write_bytes(dest.read_bytes()[:1000])


def test_cache_downloads_verifies_and_reuses(tmp_path):
    fetch = CountingFetch()
    cache = F.FrameCache(tmp_path, fetch=fetch)
    path = cache.get("r", *FIELD)
    assert path == tmp_path / "4510" / "4" / "frame-r-004510-4-0030.fits.bz2"
    assert path.read_bytes() == (SAMPLE / path.name).read_bytes()
    assert fetch.calls == [F.frame_url("r", *FIELD)]
    assert cache.get("r", *FIELD) == path and len(fetch.calls) == 1  # cached, not fetched again
    assert not list(path.parent.glob(".part-*"))  # no temporary leftovers


def test_cache_refetches_corrupt_file(tmp_path):
    fetch = CountingFetch()
    cache = F.FrameCache(tmp_path, fetch=fetch)
    path = cache.get("u", *FIELD)
    path.write_bytes(path.read_bytes()[:5000])  # truncated on disk after the download
    assert cache.get("u", *FIELD) == path and len(fetch.calls) == 2
    F.verify_frame(path)


def test_cache_retries_corrupt_download(tmp_path):
    fetch = CountingFetch(n_bad=1)
    path = F.FrameCache(tmp_path, fetch=fetch, backoff=0).get("z", *FIELD)
    assert len(fetch.calls) == 2
    F.verify_frame(path)
    always_bad = CountingFetch(n_bad=99)
    with pytest.raises(F.FrameError, match="failed after 2 attempt"):
        F.FrameCache(tmp_path / "b", fetch=always_bad, retries=2, backoff=0).get("z", *FIELD)
    assert not (tmp_path / "b" / "4510" / "4" / F.frame_name("z", *FIELD)).exists()


def test_cache_over_local_http_server(tmp_path):
    """The real urllib download path against a local HTTP server laid out like the SAS."""
    served = tmp_path / "www"
    frames_dir = served / "dr17" / "eboss" / "photoObj" / "frames" / "301" / "4510" / "4"
    frames_dir.mkdir(parents=True)
    for band in "ug":
        (frames_dir / F.frame_name(band, *FIELD)).symlink_to(SAMPLE / F.frame_name(band, *FIELD))
    handler = functools.partial(QuietHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        cache = F.FrameCache(tmp_path / "cache", base=f"http://127.0.0.1:{server.server_address[1]}", backoff=0)
        paths = cache.get_many([("u", *FIELD), ("g", *FIELD)], max_workers=2, progress=False)
        with pytest.raises(FileNotFoundError, match="404"):
            cache.get("r", *FIELD)
        server.shutdown()
    assert [p.name for p in paths] == [F.frame_name("u", *FIELD), F.frame_name("g", *FIELD)]
    assert all(p.read_bytes() == (SAMPLE / p.name).read_bytes() for p in paths)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# -- cutouts.py ---------------------------------------------------------------
def test_stamp_grid_convention():
    w = C.stamp_wcs(150.0, 2.0)
    x, y = w.world_to_pixel_values(150.0, 2.0)
    assert (x, y) == pytest.approx((31.5, 31.5), abs=1e-9)
    # North up (+y), east left (-x), 0.396 arcsec per pixel.
    ra_e, _ = w.pixel_to_world_values(30.5, 31.5)
    _, dec_n = w.pixel_to_world_values(31.5, 32.5)
    assert (ra_e - 150.0) * np.cos(np.radians(2.0)) * 3600 == pytest.approx(0.396, rel=1e-4)
    assert (dec_n - 2.0) * 3600 == pytest.approx(0.396, rel=1e-4)


def test_cutout_shape_and_matches_reproject(field):
    reproject = pytest.importorskip("reproject")
    ra, dec = centre_of(field["g"], 700.3, 500.7)
    stamp = C.cutout(field, ra, dec)
    assert stamp.shape == (64, 64, 5) and stamp.dtype == np.float32 and np.isfinite(stamp).all()
    # Independent implementation: reproject's bicubic interpolation of the whole frame.
    target = C.stamp_wcs(ra, dec)
    ref, footprint = reproject.reproject_interp((field["g"].image, field["g"].wcs), target,
                                                shape_out=(64, 64), order="bicubic")
    from astropy.wcs.utils import proj_plane_pixel_area
    ref *= proj_plane_pixel_area(target) / proj_plane_pixel_area(field["g"].wcs)
    assert footprint.all()
    np.testing.assert_allclose(stamp[:, :, 1], ref, atol=1e-5 * np.abs(ref).max() + 1e-6)


def test_star_centroids_and_fluxes(star_table):
    """Calibration stars: centred to < 0.1 px in every band, aperture flux ~ PSF flux."""
    assert len(star_table) >= 30
    summary = S.summarize_star_check(star_table, min_snr=20)
    print("\n" + "\n".join(summary.pformat(max_lines=-1, max_width=-1)))
    for row in summary:
        assert row["n"] >= 8, row["band"]
        assert row["median_offset_px"] < 0.1, row["band"]
        assert abs(row["median_flux_ratio"] - 1) < 0.08, row["band"]
        assert row["flux_ratio_scatter"] < 0.15, row["band"]


def test_resampling_preserves_position_and_flux(field, calib_stars, star_table):
    """Stamp vs raw frame for the same stars: no catalogue involved, so errors are the pipeline's."""
    for j, band in enumerate(config.BANDS):
        frame = field[band]
        shifts, ratios = [], []
        for i in star_table["index"][star_table[f"snr_{band}"] >= 20]:
            ra, dec = float(calib_stars["RA"][i]), float(calib_stars["DEC"][i])
            sigma = float(calib_stars["PSF_FWHM"][i][j]) / 2.3548 / config.PIXEL_SCALE
            x, y = frame.wcs.world_to_pixel_values(ra, dec)
            x0, y0 = int(round(float(x))) - 32, int(round(float(y))) - 32
            raw = frame.image[y0:y0 + 64, x0:x0 + 64]
            rx, ry = S.windowed_centroid(raw, sigma, x - x0, y - y0)
            mapped = C.stamp_wcs(ra, dec).world_to_pixel_values(*frame.wcs.pixel_to_world_values(rx + x0, ry + y0))
            stamp = C.cutout({band: frame}, ra, dec, bands=(band,))[:, :, 0]
            sx, sy = S.windowed_centroid(stamp, sigma)
            shifts.append(np.hypot(sx - mapped[0], sy - mapped[1]))
            ratios.append(S.aperture_flux(stamp, 15.0, annulus=None)[0]
                          / S.aperture_flux(raw, 15.0, annulus=None, x=x - x0, y=y - y0)[0])
        assert np.median(shifts) < 0.02, band
        assert abs(np.median(ratios) - 1) < 0.01, band


def test_outside_frame_raises_and_is_flagged(field, other_field):
    frame = field["r"]
    near_edge = centre_of(frame, 10.0, 700.0)  # a 64-px stamp would leave the frame
    with pytest.raises(C.OutsideFrameError, match=r"leaves frame .*frame-.-004510"):
        C.cutout(field, *near_edge)
    far_away = centre_of(other_field["r"])
    inside = centre_of(frame)
    cat = Table({"ra": [inside[0], far_away[0], near_edge[0]], "dec": [inside[1], far_away[1], near_edge[1]]})
    images, flags = C.make_cutouts(cat, field, progress=False)
    assert list(flags) == [0, C.OUTSIDE, C.OUTSIDE]
    assert np.isfinite(images[0]).all() and np.isnan(images[1:]).all()  # never zero-padded
    # With both fields available, the second position is found in the other field.
    images2, flags2 = C.make_cutouts(cat, [field, other_field], progress=False)
    assert list(flags2) == [0, 0, C.OUTSIDE]
    np.testing.assert_array_equal(images2[0], images[0])
    assert C.describe_flags(flags2) == {C.FLAG_NAMES[C.OUTSIDE]: 1, C.FLAG_NAMES[C.BAD_PIXELS]: 0,
                                        C.FLAG_NAMES[C.NO_FRAME]: 0}


def test_nan_pixels_flag_only_stamps_that_touch_them(field):
    image, wcs, header = field["z"]
    image = image.copy()
    image[700:702, 1000:1003] = np.nan
    damaged = dict(field, z=F.Frame(image, wcs, header))
    on_hole = centre_of(field["z"], 1001.0, 700.5)
    elsewhere = centre_of(field["z"], 1400.0, 300.0)
    with pytest.raises(C.BadPixelsError, match="band z"):
        C.cutout(damaged, *on_hole)
    np.testing.assert_array_equal(C.cutout(damaged, *elsewhere), C.cutout(field, *elsewhere))
    cat = Table({"ra": [on_hole[0], elsewhere[0]], "dec": [on_hole[1], elsewhere[1]]})
    images, flags = C.make_cutouts(cat, damaged, progress=False)
    assert list(flags) == [C.BAD_PIXELS, 0] and np.isnan(images[0]).all() and np.isfinite(images[1]).all()


def test_make_cutouts_bad_catalogue_and_missing_band(field):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['dec'\]"):
        C.make_cutouts(Table({"ra": [1.0]}), field, progress=False)
    no_u = {b: f for b, f in field.items() if b != "u"}
    with pytest.raises(C.CutoutError, match="no 'u' frame"):
        C.cutout(no_u, *centre_of(field["r"]))
    images, flags = C.make_cutouts(Table({"ra": [centre_of(field["r"])[0]], "dec": [centre_of(field["r"])[1]]}),
                                   no_u, progress=False)
    assert list(flags) == [C.NO_FRAME]


def test_field_frames_lookup_through_cache(tmp_path):
    cache = F.FrameCache(tmp_path, fetch=F.local_fetch(SAMPLE))
    lookup = C.FieldFrames(cache, max_fields=1)
    frames = lookup({"run": 4510, "camcol": 4, "field": 30})
    ra, dec = centre_of(frames["r"])
    cat = Table({"ra": [ra, ra], "dec": [dec, dec + 1e-3], "run": [4510, 4510], "camcol": [4, 4], "field": [30, 30]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, flags = C.make_cutouts(cat, lookup, progress=False)
    assert list(flags) == [0, 0] and np.isfinite(images).all()
    assert lookup._load.cache_info().misses == 1  # the field was decompressed once
    with pytest.raises(ValueError, match="run"):
        C.make_cutouts(Table({"ra": [ra], "dec": [dec]}), lookup, progress=False)


# -- cube.py ------------------------------------------------------------------
from photoz_nb import catalog as contract  # noqa: E402
from photoz_nb.sdss import cube as K  # noqa: E402
from photoz_nb.sdss import query as Q  # noqa: E402


def write_cube(path, n=50, compressed=False, seed=1, structured=True):
    """A small cube in the upstream layout: ``cube`` (N, 64, 64, 5) float32 and ``labels`` records."""
    rng = np.random.default_rng(seed)
    cube = rng.normal(0, 1, (n, 64, 64, 5)).astype(np.float32)
    cube[:, 0, 0, 0] = np.arange(n)  # row tag, to check which rows were kept
    labels = np.zeros(n, dtype=[("objID", "i8"), ("ra", "f8"), ("dec", "f8"), ("z", "f4"), ("EBV", "f4"),
                                *[(f"dered_{b}", "f4") for b in config.BANDS], ("dered_petro_r", "f4"),
                                ("primtarget", "i4"), ("expAB_r", "f4")])
    labels["objID"] = 10**18 + np.arange(n)
    labels["ra"], labels["dec"] = rng.uniform(0, 360, n), rng.uniform(-2, 60, n)
    labels["z"] = rng.uniform(0.01, 0.5, n)  # some beyond 0.4: dropped
    labels["EBV"] = rng.uniform(0, 0.1, n)
    for b in config.BANDS:
        labels[f"dered_{b}"] = rng.uniform(14, 19, n)
    labels["dered_petro_r"] = rng.uniform(14, 18.2, n)  # some fainter than 17.8: dropped
    labels["primtarget"] = np.where(np.arange(n) % 7 == 0, 4, 64)  # every 7th is not MGS: dropped
    labels["expAB_r"] = rng.uniform(0.1, 1, n)
    arrays = {"cube": cube, "labels": labels} if structured else {"cube": cube, "z": labels["z"], "ebv": labels["EBV"]}
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return cube, labels


FILL = {"psf_fwhm_r": -1.0, "n_neighbours": -1, "snr_r": -1.0}


def expected_rows(labels):
    return np.flatnonzero((labels["z"] > 0) & (labels["z"] <= 0.4) & (labels["dered_petro_r"] <= 17.8)
                          & ((labels["primtarget"] & 448) != 0))


def test_npz_member_is_memory_mapped(tmp_path):
    cube, labels = write_cube(tmp_path / "c.npz")
    members = K.npz_members(tmp_path / "c.npz")
    assert members["cube"].shape == (50, 64, 64, 5) and not members["cube"].compressed
    mapped = K.open_member(tmp_path / "c.npz", members["cube"])
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, cube)
    assert members["labels"].dtype.names[0] == "objID"
    write_cube(tmp_path / "z.npz", compressed=True)
    zmember = K.npz_members(tmp_path / "z.npz")["cube"]
    with pytest.raises(ValueError, match="compressed"):
        K.open_member(tmp_path / "z.npz", zmember)
    blocks = list(K.iter_member_rows(tmp_path / "z.npz", zmember, chunk_rows=16))
    assert [s for s, _ in blocks] == [0, 16, 32, 48]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), cube)


@pytest.mark.parametrize("compressed", [False, True])
def test_import_cube_selects_and_streams(tmp_path, compressed):
    cube, labels = write_cube(tmp_path / "c.npz", compressed=compressed)
    out = K.import_cube(tmp_path / "c.npz", tmp_path / "ds", fill=FILL, chunk_rows=8, progress=False, seed=3)
    ds = contract.open_dataset(out)
    rows = expected_rows(labels)
    assert 10 < len(rows) < 50 and len(ds) == len(rows)
    np.testing.assert_array_equal(ds.images, cube[rows])
    np.testing.assert_array_equal(ds.catalog["objid"], labels["objID"][rows])
    np.testing.assert_allclose(ds.catalog["z_spec"], labels["z"][rows])
    np.testing.assert_allclose(ds.catalog["petro_r"], labels["dered_petro_r"][rows])
    assert ds.manifest["filled_columns"] == sorted(FILL) and ds.manifest["source_rows"] == 50


def test_import_cube_stored_and_compressed_agree(tmp_path):
    write_cube(tmp_path / "a.npz", compressed=False)
    write_cube(tmp_path / "b.npz", compressed=True)
    a = K.import_cube(tmp_path / "a.npz", tmp_path / "da", fill=FILL, chunk_rows=7, progress=False)
    b = K.import_cube(tmp_path / "b.npz", tmp_path / "db", fill=FILL, chunk_rows=7, progress=False)
    assert contract.sha256(a / "images.npy") == contract.sha256(b / "images.npy")
    assert contract.sha256(a / "catalog.fits") == contract.sha256(b / "catalog.fits")


def test_import_cube_bad_inputs(tmp_path):
    write_cube(tmp_path / "c.npz")
    with pytest.raises(contract.ContractError, match=r"lack contract column\(s\) \['psf_fwhm_r', 'n_neighbours', 'snr_r'\]"):
        K.import_cube(tmp_path / "c.npz", tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()
    with pytest.raises(ValueError, match="no image member 'images'"):
        K.import_cube(tmp_path / "c.npz", tmp_path / "ds", image_key="images", progress=False)
    np.savez(tmp_path / "small.npz", cube=np.zeros((3, 32, 32, 5), np.float32), z=np.full(3, 0.1))
    with pytest.raises(contract.ContractError, match=r"\(3, 32, 32, 5\)"):
        K.import_cube(tmp_path / "small.npz", tmp_path / "ds", progress=False)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable"):
        K.npz_members(tmp_path / "junk.npz")


def test_import_cube_flat_label_members(tmp_path):
    cube, labels = write_cube(tmp_path / "c.npz", structured=False)
    fill = {**FILL, **{f"mag_{b}": 17.0 for b in config.BANDS}, "petro_r": 17.0, "b_over_a": 1.0,
            "ra": 10.0, "dec": 0.0}
    out = K.import_cube(tmp_path / "c.npz", tmp_path / "ds", fill=fill, progress=False)
    ds = contract.open_dataset(out)
    keep = np.flatnonzero(labels["z"] <= 0.4)
    np.testing.assert_allclose(ds.catalog["ebv"], labels["EBV"][keep])
    assert ds.catalog["stripe82"].all()  # (ra, dec) = (10, 0) lies in Stripe 82
    np.testing.assert_array_equal(ds.images[:, 0, 0, 0], keep)


# -- query.py -----------------------------------------------------------------
FIXTURE = Path(__file__).parent / "fixtures" / "sdss" / "mgs_response.csv"


class FakeSkyServer:
    """Answers the paged SQL from a recorded CSV response, like SkyServer would."""

    def __init__(self, fail_on_call=()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # specobjid > 2**63 is read as a string, as astroquery does
            self.rows = Table.read(FIXTURE, format="ascii.csv", comment="#")
        self.calls, self.fail_on_call = 0, set(fail_on_call)

    def __call__(self, sql):
        self.calls += 1
        if self.calls in self.fail_on_call:
            raise ConnectionError("simulated SkyServer timeout")
        top = int(re.search(r"SELECT TOP (\d+)", sql).group(1))
        after = int(re.search(r"p\.objID > (\d+)", sql).group(1))
        page = self.rows[np.asarray(self.rows["objid"], dtype=np.int64) > after]
        return page[:top]


def test_mgs_sql_has_the_paper_selection():
    sql = Q.mgs_sql(after=123, page_size=1000)
    for clause in ("TOP 1000", "s.class = 'GALAXY'", "s.zWarning = 0", "(s.primTarget & 448) > 0", "p.clean = 1",
                   "s.z > 0.0 AND s.z <= 0.4", "p.petroMag_r - p.extinction_r <= 17.8", "p.objID > 123",
                   "ORDER BY p.objID", "p.modelMag_z - p.extinction_z AS mag_z"):
        assert clause in sql, clause


def test_query_pages_cache_and_resume(tmp_path):
    server = FakeSkyServer(fail_on_call={3})
    with pytest.raises(RuntimeError, match=r"page 2 \(objID > \d+\) failed after 1 attempt"):
        Q.query_sample(tmp_path, server, page_size=10, retries=1, progress=False)
    assert server.calls == 3 and len(list(tmp_path.rglob("page_*.ecsv"))) == 2
    rows = Q.query_sample(tmp_path, server, page_size=10, retries=1, progress=False)  # resumes at page 2
    assert server.calls == 5 and len(rows) == 23  # pages 2 (3 rows) and 3 (empty: the end, confirmed)
    np.testing.assert_array_equal(rows["objid"], server.rows["objid"])
    again = Q.query_sample(tmp_path, server, page_size=10, progress=False)  # complete: no query at all
    assert server.calls == 5 and len(again) == 23


def test_query_retries_then_succeeds(tmp_path):
    server = FakeSkyServer(fail_on_call={1, 2})
    rows = Q.query_sample(tmp_path, server, page_size=50, retries=3, backoff=0, progress=False)
    assert server.calls == 4 and len(rows) == 23  # two failures, the page, the empty page that ends it


def test_to_contract(tmp_path):
    rows = Q.query_sample(tmp_path, FakeSkyServer(), page_size=8, progress=False)
    cat = Q.to_contract(rows, seed=5)
    contract.validate_catalog(cat)
    raw = FakeSkyServer().rows
    np.testing.assert_allclose(cat["ebv"], raw["extinction_r"] / 2.751)
    np.testing.assert_allclose(cat["snr_r"], 1.0857 / raw["petro_r_err"])
    assert cat["specobjid"][3] == str(raw["specobjid"][3]) and int(cat["specobjid"][3]) > 2**63
    assert cat["stripe82"][0] and cat["stripe82"].sum() == np.sum(K.is_stripe82(raw["ra"], raw["dec"]))
    assert list(cat["split"]) == list(Q.to_contract(rows, seed=5)["split"])  # same seed, same split
    rows.remove_column("psf_fwhm_r")
    with pytest.raises(contract.ContractError, match=r"missing column\(s\) \['psf_fwhm_r'\]"):
        Q.to_contract(rows)


# -- command functions (photoz_nb.sdss.query_catalog / fetch_frames / build_cutout_dataset) ----------------
def test_commands_query_frames_cutouts(tmp_path, field):
    import photoz_nb.sdss as sdss
    from conftest import make_catalog

    cat_path = sdss.query_catalog(tmp_path / "sample.fits", query_fn=FakeSkyServer(), page_size=10, progress=False)
    assert len(Table.read(cat_path)) == 23
    # A small catalogue in field 4510/4/30: three galaxies inside, one at the frame edge.
    cat = make_catalog(4, seed=2)
    positions = [centre_of(field["r"], x, y) for x, y in [(500, 400), (1500, 1000), (900, 800), (5, 700)]]
    cat["ra"], cat["dec"] = [p[0] for p in positions], [p[1] for p in positions]
    cat["run"], cat["camcol"], cat["field"] = [4510] * 4, [4] * 4, [30] * 4
    paths = sdss.fetch_frames(cat, tmp_path / "frames", mirror=SAMPLE, max_workers=2, progress=False)
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    out = sdss.build_cutout_dataset(cat, tmp_path / "frames", tmp_path / "real", progress=False)
    ds = contract.open_dataset(out)
    assert len(ds) == 3 and ds.manifest["n_flagged"] == 1
    np.testing.assert_array_equal(ds.images[1], C.cutout(field, *positions[1]))
    flagged = Table.read(tmp_path / "real.flagged.ecsv")
    assert list(flagged["objid"]) == [cat["objid"][3]] and flagged["reason"][0] == "outside every frame"
    assert not list(tmp_path.glob(".real*"))  # scratch files removed


def _skyserver_reachable(host: str = "skyserver.sdss.org", timeout: float = 3.0) -> bool:
    import socket
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@pytest.mark.network
def test_live_skyserver_query_returns_the_contract(tmp_path):
    """The real query against SkyServer (one small page); skipped where SkyServer cannot be reached."""
    if not _skyserver_reachable():
        pytest.skip("SkyServer cannot be reached from this machine")
    pytest.importorskip("astroquery")
    from photoz_nb import catalog, sdss
    out = sdss.query_catalog(tmp_path / "mgs.fits", page_size=200, max_pages=1, progress=False)
    cat = Table.read(out)
    catalog.validate_catalog(cat, where=str(out))
    assert 0 < len(cat) <= 200 and {"run", "camcol", "field"} <= set(cat.colnames)
    assert (cat["z_spec"] > 0).all() and (cat["z_spec"] <= config.Z_MAX).all() and (cat["petro_r"] <= 17.8).all()
