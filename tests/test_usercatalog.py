"""`photoz-nb baselines` on a user's catalogue: column options, row-naming errors, qp files, metrics."""
import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import cli, config, pdf, userdata


def fake_catalog(n=240, seed=0):
    """Magnitudes whose colours redden with z (a linear toy), dereddened; E(B-V) beside them."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    r = rng.uniform(14.5, 17.7, n)
    colours = np.column_stack([1.2 + 4 * z, 0.5 + 3 * z, 0.3 + 1.5 * z, 0.2 + z]) + rng.normal(0, 0.03, (n, 4))
    mags = {"mag_r": r, "mag_g": r + colours[:, 1], "mag_i": r - colours[:, 2]}
    mags["mag_u"], mags["mag_z"] = mags["mag_g"] + colours[:, 0], mags["mag_i"] - colours[:, 3]
    return Table({"objid": np.arange(1000, 1000 + n), "z_spec": z, "ebv": rng.uniform(0.01, 0.1, n),
                  **{f"mag_{b}": mags[f"mag_{b}"] for b in config.BANDS}})


def run(tmp_path, cat, *options, name="cat.csv"):
    cat.write(tmp_path / name, overwrite=True)
    return cli.main(["baselines", "--catalog", str(tmp_path / name), "--out", str(tmp_path / "out"),
                     "--n-boot", "0", *options])


@pytest.mark.parametrize("column, value, message", [
    ("mag_g", 99.0, "sentinel"), ("mag_z", -9999.0, "sentinel"), ("mag_u", np.nan, "NaN"),
    ("z_spec", 0.55, "outside the PDF grid"), ("z_spec", 0.0, "outside the PDF grid"),
])
def test_bad_values_are_named_by_row_and_id(tmp_path, capsys, column, value, message):
    cat = fake_catalog()
    cat[column][17] = value
    assert run(tmp_path, cat) == 1
    err = capsys.readouterr().err
    assert message in err and f"column {column!r}" in err and "row 17 (id 1017)" in err, err


def test_missing_column_lists_what_the_file_has(tmp_path, capsys):
    cat = fake_catalog()
    cat.remove_column("mag_i")
    assert run(tmp_path, cat) == 1
    assert "no column 'mag_i'; the table has" in capsys.readouterr().err


def test_qp_files_and_metrics_table(tmp_path):
    qp = pytest.importorskip("qp")
    cat = fake_catalog()
    assert run(tmp_path, cat, "--methods", "knn", name="cat.parquet") == 0
    table = Table.read(tmp_path / "out" / "metrics.ecsv")
    assert list(table["method"]) == ["kNN"] and table["n_test"][0] == 48
    ens = qp.read(str(tmp_path / "out" / "knn.hdf5"))
    pdfs, edges, ancil = pdf.from_qp(ens)
    test = userdata.photometry_table(tmp_path / "cat.parquet")
    test = test[test["split"] == "test"]
    np.testing.assert_array_equal(ancil["id"], test["objid"])
    from photoz_nb.metrics import rail_point_metrics
    zp = pdf.point_estimate(pdfs, edges, "mean")
    np.testing.assert_allclose(ancil["z_mean"], zp, atol=1e-12)
    assert table["sigma_iqr"][0] == pytest.approx(rail_point_metrics(zp, test["z_spec"])["sigma_iqr"], rel=1e-6)


def test_colours_and_dereddening_options_give_the_same_features(tmp_path):
    cat = fake_catalog()
    plain = userdata.photometry_table(_write(tmp_path, cat, "a.csv"))
    colours = Table({"objid": cat["objid"], "z_spec": cat["z_spec"], "r": cat["mag_r"],
                     **{f"{a}_{b}": cat[f"mag_{a}"] - cat[f"mag_{b}"] for a, b in ("ug", "gr", "ri", "iz")}})
    from_colours = userdata.photometry_table(_write(tmp_path, colours, "b.csv"), colours="u_g,g_r,r_i,i_z",
                                             r_column="r")
    reddened = cat.copy()
    for b in config.BANDS:
        reddened[f"mag_{b}"] += config.EXTINCTION_COEFF[b] * cat["ebv"]
    dereddened = userdata.photometry_table(_write(tmp_path, reddened, "c.csv"), ebv_column="ebv")
    from photoz_nb.baselines import photometric_features
    for other in (from_colours, dereddened):
        np.testing.assert_allclose(photometric_features(other), photometric_features(plain), atol=1e-9)
        assert list(other["split"]) == list(plain["split"])  # the same seeded split


def _write(tmp_path, table, name):
    table.write(tmp_path / name, overwrite=True)
    return tmp_path / name
