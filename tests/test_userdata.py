"""A user's cutouts and catalogues: reading, every bad-input error, SFD lookup, predict to qp files."""
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from photoz_nb import cli, config, pdf, userdata

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Configuration file not found")]  # dustmaps without ~/.dustmapsrc


def fake_cutouts(n=12, seed=0, noise=0.05):
    """Sky-subtracted nanomaggy stamps: Gaussian noise plus a round galaxy brighter from u to z."""
    rng = np.random.default_rng(seed)
    s = config.STAMP
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    profile = np.exp(-(xx ** 2 + yy ** 2) / (2 * 3.0 ** 2))
    flux = np.array([2.0, 6.0, 12.0, 16.0, 20.0]) * rng.uniform(0.5, 2, (n, 1))  # u < g < r < i < z, nmgy
    images = rng.normal(0, noise, (n, s, s, 5)) + profile[None, :, :, None] * flux[:, None, None, :] / profile.sum()
    return images.astype(np.float32)


# ---------------------------------------------------------------- reading images

def test_npy_channels_last_reads_unchanged(tmp_path):
    x = fake_cutouts()
    np.save(tmp_path / "c.npy", x)
    images = userdata.read_images(tmp_path / "c.npy")
    np.testing.assert_array_equal(images.pixels, x)
    assert any("not labelled" in n for n in images.notes)  # the assumption is said, not silent


def test_channels_first_is_detected_and_announced(tmp_path):
    x = fake_cutouts()
    np.save(tmp_path / "c.npy", np.moveaxis(x, -1, 1))
    images = userdata.read_images(tmp_path / "c.npy")
    np.testing.assert_array_equal(images.pixels, x)
    assert any("channels-first" in n for n in images.notes)
    with pytest.raises(userdata.UserDataError, match="layout nhwc needs shape"):
        userdata.read_images(tmp_path / "c.npy", layout="nhwc")


@pytest.mark.parametrize("shape", [(4, 32, 32, 5), (4, 64, 64, 3), (64, 64), (2, 4, 64, 64, 5)])
def test_wrong_shape_names_the_shape(tmp_path, shape):
    np.save(tmp_path / "c.npy", np.zeros(shape, np.float32))
    with pytest.raises(userdata.UserDataError, match=r"shape \(" + ", ".join(map(str, shape))):
        userdata.read_images(tmp_path / "c.npy")


def test_nan_pixels_name_the_rows(tmp_path):
    x = fake_cutouts()
    x[3, 10, 10, 2] = np.nan
    x[7, 0, 0, 0] = np.inf
    np.save(tmp_path / "c.npy", x)
    with pytest.raises(userdata.UserDataError, match=r"2 cutout\(s\), rows \[3, 7\]"):
        userdata.read_images(tmp_path / "c.npy")


def test_fits_cube_with_band_labels_is_reordered(tmp_path):
    x = fake_cutouts()
    order = "zirgu"
    stored = x[..., [config.BANDS.index(b) for b in order]]
    hdu = fits.PrimaryHDU(stored)
    hdu.header["BANDS"], hdu.header["BUNIT"] = ",".join(order), "nanomaggy"
    hdu.writeto(tmp_path / "c.fits")
    images = userdata.read_images(tmp_path / "c.fits")
    np.testing.assert_array_equal(images.pixels, x)
    with pytest.raises(userdata.UserDataError, match="labels its bands zirgu but bands=ugriz"):
        userdata.read_images(tmp_path / "c.fits", bands="ugriz")


def test_fits_one_hdu_per_band(tmp_path):
    x = fake_cutouts()
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(x[..., k], header=fits.Header({"FILTER": b}))
                                  for k, b in reversed(list(enumerate(config.BANDS)))]
    fits.HDUList(hdus).writeto(tmp_path / "c.fits")
    np.testing.assert_array_equal(userdata.read_images(tmp_path / "c.fits").pixels, x)


def test_unlabelled_reversed_bands_are_caught(tmp_path):
    np.save(tmp_path / "c.npy", fake_cutouts()[..., ::-1])
    with pytest.raises(userdata.UserDataError, match="bands look misordered"):
        userdata.read_images(tmp_path / "c.npy")
    fixed = userdata.read_images(tmp_path / "c.npy", bands="zirgu")
    np.testing.assert_array_equal(fixed.pixels, fake_cutouts())


def test_bands_must_be_ugriz_once_each(tmp_path):
    np.save(tmp_path / "c.npy", fake_cutouts())
    with pytest.raises(userdata.UserDataError, match="not the five SDSS bands"):
        userdata.read_images(tmp_path / "c.npy", bands="ugrii")


@pytest.mark.parametrize("what, transform", [
    ("counts with sky", lambda x: x / 0.005 + 120.0),  # DN: nmgy / (nmgy per count) + sky ~120 DN
    ("sky-subtracted counts", lambda x: x / 0.005),      # noise ~10 DN
    ("jansky", lambda x: x * 3.631e-6),                   # 1 nmgy = 3.631 microJy
])
def test_implausible_units_are_refused(tmp_path, what, transform):
    np.save(tmp_path / "c.npy", transform(fake_cutouts()).astype(np.float32))
    with pytest.raises(userdata.UserDataError, match="sky-subtracted nanomaggies give"):
        userdata.read_images(tmp_path / "c.npy")
    userdata.read_images(tmp_path / "c.npy", plausibility=False)  # the user may override


def test_bunit_other_than_nanomaggies_is_refused(tmp_path):
    hdu = fits.PrimaryHDU(fake_cutouts())
    hdu.header["BUNIT"] = "counts"
    hdu.writeto(tmp_path / "c.fits")
    with pytest.raises(userdata.UserDataError, match="BUNIT='counts'"):
        userdata.read_images(tmp_path / "c.fits", plausibility=False)


def test_real_sdss_cutouts_pass_the_unit_checks_with_margin():
    """The noise range is set from real frames: their stamps sit well inside it."""
    from photoz_nb.sdss.sources import bright_galaxy_stamps
    stamps, _ = bright_galaxy_stamps(fields=((4510, 4, 30),), n_per_field=2)
    level, noise = userdata.sky_statistics(stamps)
    lo, hi = userdata.SKY_NOISE_RANGE
    assert np.all(np.abs(level) < userdata.SKY_LEVEL_MAX / 10)
    assert np.all((noise > 10 * lo) & (noise < hi / 4)), noise


# ---------------------------------------------------------------- catalogues

def test_catalogue_rows_must_match_and_ebv_is_checked(tmp_path):
    Table({"objid": [5, 6, 7], "ebv": [0.02, 0.03, np.nan]}).write(tmp_path / "c.csv")
    with pytest.raises(userdata.UserDataError, match="3 rows but 4 cutouts"):
        userdata.image_catalog(tmp_path / "c.csv", 4)
    with pytest.raises(userdata.UserDataError, match=r"first at row 2 \(id 7\)"):
        userdata.image_catalog(tmp_path / "c.csv", 3)
    Table({"objid": [5]}).write(tmp_path / "d.csv")
    with pytest.raises(userdata.UserDataError, match="needs an E\\(B-V\\) column 'ebv', or 'ra' and 'dec'"):
        userdata.image_catalog(tmp_path / "d.csv", 1)


# ---------------------------------------------------------------- SFD map

def write_sfd_maps(folder: Path, half: int = 16, seed: int = 0) -> dict:
    """Two tiny maps in SFD's format: Lambert ZEA of each galactic pole, header as SFD's own files
    (CRVAL1 = +-90, CD1_1 = -+scale, LONPOLE 180) at 2*half pixels instead of 4096."""
    rng = np.random.default_rng(seed)
    scale = np.degrees(np.sqrt(2)) / half  # SFD: 0.0395646818624 deg/px at half = 2048
    maps = {}
    for pole, n in (("ngp", 1), ("sgp", -1)):
        data = rng.uniform(0, 0.5, (2 * half, 2 * half)).astype(np.float32)
        header = fits.Header({"CTYPE1": "GLON-ZEA", "CTYPE2": "GLAT-ZEA", "CRPIX1": half + 0.5, "CRPIX2": half + 0.5,
                              "CRVAL1": 90.0 * n, "CRVAL2": 90.0 * n, "CD1_1": -n * scale, "CD1_2": 0.0,
                              "CD2_1": 0.0, "CD2_2": n * scale, "LONPOLE": 180.0, "LAM_NSGP": n, "LAM_SCAL": half,
                              "BUNIT": "mag"})
        fits.PrimaryHDU(data, header).writeto(folder / f"SFD_dust_4096_{pole}.fits")
        maps[pole] = data
    return maps


def sfd_pixel_to_lb(x, y, n, half):
    """Inverse of SFD's own formula (its README; IDL lambert_xy): x = S rho cos l + x0,
    y = -n S rho sin l + y0, rho = sqrt(1 - n sin b), 0-based pixels, x0 = y0 = S - 0.5."""
    dx, dy = x - (half - 0.5), y - (half - 0.5)
    rho2 = (dx ** 2 + dy ** 2) / half ** 2
    return np.degrees(np.arctan2(-dy / n, dx)) % 360, np.degrees(np.arcsin(n * (1 - rho2)))


def test_sfd_lookup_returns_the_map_value_at_its_pixels(tmp_path):
    pytest.importorskip("dustmaps")
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from photoz_nb.dust import sfd_ebv
    half = 16
    maps = write_sfd_maps(tmp_path, half)
    for pole, n in (("ngp", 1), ("sgp", -1)):
        x, y = np.array([20, 5, 12, 16]), np.array([9, 17, 25, 16])
        l, b = sfd_pixel_to_lb(x, y, n, half)
        icrs = SkyCoord(l=l * u.deg, b=b * u.deg, frame="galactic").icrs
        # At a pixel centre the bilinear interpolation is that pixel: the random neighbours would show any offset.
        np.testing.assert_allclose(sfd_ebv(icrs.ra.deg, icrs.dec.deg, tmp_path), maps[pole][y, x], rtol=1e-6)


def test_sfd_lookup_without_maps_says_where_it_looked(tmp_path):
    pytest.importorskip("dustmaps")
    from photoz_nb.dust import sfd_ebv
    with pytest.raises(FileNotFoundError, match="SFD_dust_4096_ngp.fits"):
        sfd_ebv([10.0], [20.0], tmp_path)


def test_catalogue_with_ra_dec_gets_sfd_ebv(tmp_path):
    pytest.importorskip("dustmaps")
    maps = write_sfd_maps(tmp_path)
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    l, b = sfd_pixel_to_lb(np.array([20]), np.array([9]), 1, 16)
    c = SkyCoord(l=l * u.deg, b=b * u.deg, frame="galactic").icrs
    Table({"ra": c.ra.deg, "dec": c.dec.deg}).write(tmp_path / "c.fits")
    cat = userdata.image_catalog(tmp_path / "c.fits", 1, sfd_dir=tmp_path)
    np.testing.assert_allclose(cat["ebv"], [maps["ngp"][9, 20]], rtol=1e-6)


# ---------------------------------------------------------------- models and predict

@pytest.fixture(scope="module")
def tiny_ensemble(tmp_path_factory):
    """Two untrained tiny Net_Ps saved the way pipeline.train_cnn lays out an ensemble."""
    from photoz_nb.estimators.cnn.model import build_net_p
    root = tmp_path_factory.mktemp("models")
    for k, name in enumerate(["cnn", "cnn_member1"]):
        (root / name).mkdir()
        build_net_p(0.03, seed=k).save(root / name / "model.keras")
    return root / "cnn"


def test_predict_is_the_mean_of_train_predict_over_members(tmp_path, tiny_ensemble):
    import keras

    from photoz_nb.estimators.cnn import train
    images = userdata.Images(fake_cutouts(6), tmp_path / "x.npy", [])
    ebv = np.linspace(0.01, 0.1, 6)
    pdfs, n = userdata.predict_pdfs(images, ebv, tiny_ensemble, progress=False)
    assert n == 2
    ds = userdata.ArrayDataset(images.pixels, {"ebv": ebv.astype(np.float32)}, images.path)
    each = [train.predict(keras.models.load_model(p), ds, progress=False) for p in userdata.model_members(tiny_ensemble)]
    np.testing.assert_array_equal(pdfs, np.mean(each, axis=0, dtype=np.float64).astype(np.float32))
    assert not np.array_equal(each[0], each[1])  # two distinct members were averaged


def test_a_model_for_other_stamps_or_grid_is_refused(tmp_path):
    import keras

    from photoz_nb.estimators.cnn.model import build_net_p
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    small = keras.Sequential([keras.Input((32, 32, 5)), keras.layers.Flatten(), keras.layers.Dense(180, "softmax")])
    small.save(tmp_path / "a" / "model.keras")
    build_net_p(0.03, n_bins=100, seed=0).save(tmp_path / "b" / "model.keras")
    images = userdata.Images(fake_cutouts(2), tmp_path / "x.npy", [])
    with pytest.raises(userdata.UserDataError, match=r"takes images of shape \(32, 32, 5\), the cutouts are \(64, 64, 5\)"):
        userdata.predict_pdfs(images, [0.02, 0.02], tmp_path / "a", progress=False)
    with pytest.raises(userdata.UserDataError, match="outputs 100 redshift bins, not the 180"):
        userdata.predict_pdfs(images, [0.02, 0.02], tmp_path / "b", progress=False)
    with pytest.raises(FileNotFoundError, match="no trained model"):
        userdata.predict_pdfs(images, None, tmp_path, progress=False)


def test_cli_predict_writes_a_qp_file_with_our_point_estimates(tmp_path, tiny_ensemble, capsys):
    qp = pytest.importorskip("qp")
    x = fake_cutouts(8)
    hdu = fits.PrimaryHDU(np.moveaxis(x, -1, 1))  # channels first, labelled: both handled
    hdu.header["BANDS"], hdu.header["BUNIT"] = "ugriz", "nanomaggies"
    hdu.writeto(tmp_path / "cut.fits")
    Table({"objid": np.arange(100, 108), "ebv": np.full(8, 0.03)}).write(tmp_path / "cat.parquet")
    out = tmp_path / "out" / "pz.hdf5"
    assert cli.main(["predict", "--images", str(tmp_path / "cut.fits"), "--catalog", str(tmp_path / "cat.parquet"),
                     "--model", str(tiny_ensemble), "--out", str(out), "--tta"]) == 0
    assert "channels-first" in capsys.readouterr().out
    ens = qp.read(str(out))
    edges = config.redshift_edges()
    pdfs, _, _ = pdf.from_qp(ens)
    np.testing.assert_array_equal(ens.ancil["id"], np.arange(100, 108))
    for kind in pdf.POINT_KINDS:
        np.testing.assert_allclose(ens.ancil[f"z_{kind}"], pdf.point_estimate(pdfs, edges, kind), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ens.ancil["central68"], pdf.width(pdfs, edges), atol=1e-12)
    images = userdata.read_images(tmp_path / "cut.fits")
    direct, _ = userdata.predict_pdfs(images, np.full(8, 0.03), tiny_ensemble, tta=True, progress=False)
    np.testing.assert_allclose(pdfs, direct, atol=1e-7)  # float32 PDFs through qp's density and back


def test_cli_predict_without_ebv_for_an_ebv_model_is_one_clear_line(tmp_path, tiny_ensemble, capsys):
    np.save(tmp_path / "c.npy", fake_cutouts(3))
    assert cli.main(["predict", "--images", str(tmp_path / "c.npy"), "--model", str(tiny_ensemble),
                     "--out", str(tmp_path / "o.hdf5")]) == 1
    assert "needs E(B-V)" in capsys.readouterr().err
