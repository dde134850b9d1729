"""The bottom-layer helpers: the one Markdown writer, the nanomaggy magnitude, sky matching, the current-check."""
import json

import numpy as np
import pytest

from photoz_nb import catalog, fixtures, stats
from photoz_nb.measure.sky import nearest_arcsec


def test_markdown_table_from_dicts_and_from_cells():
    rows = [{"a": 1, "b": "x"}, {"b": "y", "c": 2.5}]
    assert stats.markdown_table(rows) == "| a | b | c |\n|---|---|---|\n| 1 | x |  |\n|  | y | 2.5 |"
    text = stats.markdown_table([["k", "1"]], headers=["name", "n"], align=["---", "---:"])
    assert text.splitlines()[1] == "|---|---:|"
    with pytest.raises(ValueError, match="1 alignments for 2 columns"):
        stats.markdown_table([["k", "1"]], headers=["name", "n"], align=["---"])


def test_nanomaggies_to_mag_is_the_sdss_zero_point():
    np.testing.assert_allclose(stats.nanomaggies_to_mag([1.0, 10.0, 1e9]), [22.5, 20.0, 0.0])


def test_finite_vector_names_the_first_bad_value():
    with pytest.raises(ValueError, match=r"z has 2 NaN/inf value.*index 1"):
        stats.finite_vector([0.1, np.nan, np.inf], "z")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        stats.finite_vector([], "z")


def test_nearest_arcsec_is_the_great_circle_distance():
    # 1 arcsec in declination is 1 arcsec anywhere; in RA it shrinks by cos(dec): at dec 60 deg, by half
    d = nearest_arcsec([10.0, 10.0], [0.0, 60.0], [10.0, 10.0 + 2 / 3600], [1 / 3600, 60.0])
    np.testing.assert_allclose(d, [1.0, 1.0], rtol=1e-6)
    # exclude_self: each point's nearest *other* point
    np.testing.assert_allclose(nearest_arcsec([0.0, 0.0], [0.0, 3 / 3600], [0.0, 0.0], [0.0, 3 / 3600],
                                              exclude_self=True), [3.0, 3.0], rtol=1e-6)
    assert np.isinf(nearest_arcsec([0.0], [0.0], [], [])).all()


def test_is_current_checks_validity_and_every_expected_key(tmp_path):
    path = fixtures.write_synthetic_dataset(tmp_path / "ds", n=8, seed=1, chunk=8)
    meta = json.loads((path / "manifest.json").read_text())
    assert catalog.is_current(path, {"generator": meta["generator"], "seed": 1})
    assert not catalog.is_current(path, {"generator": meta["generator"], "seed": 2})
    assert catalog.stale_keys(meta, {"seed": 2}) == ["seed 1 -> 2"]
    assert not catalog.is_current(tmp_path / "missing", {"seed": 1})


def test_require_columns_names_what_is_missing_why_and_what_there_is():
    from astropy.table import Table
    table = Table({"ra": [1.0], "dec": [2.0]})
    stats.require_columns(table, ("ra", "dec"), "catalogue")
    with pytest.raises(LookupError, match=r"^cat: missing column\(s\) \['run', 'field'\] to cut; it has \['ra', 'dec'\]$"):
        stats.require_columns(table, ("ra", "run", "field"), "cat", " to cut", error=LookupError)


def test_finite_vector_may_allow_empty_and_check_finite_keeps_the_array():
    assert stats.finite_vector([], "z", allow_empty=True).shape == (0,)
    with pytest.raises(ValueError, match=r"z must be a 1-D array, got shape \(1, 1\)"):
        stats.finite_vector([[0.1]], "z", allow_empty=True)
    values = np.array([0.1, 0.2])
    assert stats.check_finite(values, "z") is values
