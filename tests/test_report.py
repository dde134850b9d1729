"""The README's numbers are generated (photoz_nb.report): they equal what the committed record of the `small` run
gives, and a run is compared with the recorded one on the same galaxies with paired errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from photoz_nb import cli, config, report, tutorial


@pytest.fixture(scope="module")
def record():
    return report.load_record()


@pytest.fixture(scope="module")
def blocks(record):
    return report.render_blocks(record)


def test_readme_and_docs_numbers_are_those_of_the_committed_record(blocks):
    """Fails when a number between `report` markers of README.md or docs/results.md differs from the record
    (photoz_nb/expected_small.json): fix with `photoz-nb report --from-record --update`."""
    files = {p.relative_to(config.project_root()).as_posix(): p.read_text() for p in report.quoting_files()}
    assert set(files) == set(report.QUOTING_FILES)
    assert {"headline", "results"} <= set(report.blocks_in(files["README.md"]))
    assert {"summary", "slopes", "ebv", "ebv_val", "ensemble", "calibration", "paired"} <= set(
        report.blocks_in(files["docs/results.md"]))
    for name, text in files.items():
        stale = report.stale_blocks(text, blocks)
        assert not stale, (f"{name}: block(s) {stale} differ from photoz_nb/expected_small.json; "
                           "run `photoz-nb report --from-record --update`")


def test_a_changed_number_in_the_readme_is_caught(blocks):
    text = (config.project_root() / "README.md").read_text()
    quoted = f"{report.load_record()['rows']['CNN: full test sample']['sigma_mad']:.5f}"
    assert quoted in report.blocks_in(text)["headline"]
    changed = text.replace(quoted, "0.01234", 1)
    assert report.stale_blocks(changed, blocks) == ["headline"]
    assert report.stale_blocks(report.update_text(changed, blocks), blocks) == []


def test_the_headline_quotes_the_record_and_the_paper(record, blocks):
    rows = record["rows"]
    text = blocks["headline"]
    for method in ("CNN", "RF", "kNN", "constant n(z)"):
        assert f"{rows[f'{method}: full test sample']['sigma_mad']:.5f}" in text
    ratio = rows["CNN: full test sample"]["sigma_mad"] / rows["RF: full test sample"]["sigma_mad"]
    assert f"CNN/RF = {ratio:.2f}" in text
    assert "393,219 training galaxies" in text and "516" not in text  # the paper's CNN trained on 393,219
    assert f"simulator {record['simulator']}" in text


def test_the_record_reproduces_the_runs_saved_summary_table(record):
    """The summary block is metrics.to_markdown of the record's rows: the run's own file, byte for byte."""
    saved = (config.project_root() / "figures" / "readme" / "summary_table.md").read_text()
    assert report.render_blocks(record)["summary"] == saved


def test_the_record_keeps_what_notebooks_and_tutorial_read(record):
    assert record["profile"] == "small" and record["simulator"] == tutorial.expected_simulator()
    assert tutorial.expected_summary() == record["rows"]
    d = record["dataset"]
    assert d["n_train"] + d["n_val"] + d["n_test"] == d["n_galaxies"]


def test_update_text_rewrites_only_marked_blocks_and_refuses_unknown_ones(blocks):
    text = "intro\n<!-- report:paired -->\nold\n<!-- /report:paired -->\noutro\n"
    new = report.update_text(text, blocks)
    assert new.startswith("intro\n<!-- report:paired -->\n") and new.endswith("<!-- /report:paired -->\noutro\n")
    assert report.blocks_in(new)["paired"] == blocks["paired"]
    with pytest.raises(ValueError, match="nosuch"):
        report.update_text("<!-- report:nosuch -->\nx\n<!-- /report:nosuch -->\n", blocks)


def test_report_command_checks_and_updates(tmp_path, monkeypatch, capsys):
    assert cli.main(["report", "--from-record", "--check"]) == 0
    # on a copy of the quoting files with one number changed: --check fails, --update repairs
    for name in report.QUOTING_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((config.project_root() / name).read_text())
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("(4.0σ over", "(4.1σ over", 1))
    monkeypatch.setattr(config, "project_root", lambda: tmp_path)
    assert cli.main(["report", "--from-record", "--check"]) == 1
    assert "headline" in capsys.readouterr().out
    assert cli.main(["report", "--from-record", "--update"]) == 0
    assert cli.main(["report", "--from-record", "--check"]) == 0
    assert cli.main(["report", "--from-record", "--write-record"]) == 1  # the record is written from a run only


def test_readme_is_a_first_page():
    text = (config.project_root() / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 260
    first = "\n".join(lines[:20])
    assert "make reproduce" in first and "make test" in first and "figures/readme/" in first
    section = text.index("## What limits the simulation's redshift information")
    assert text.index("<!-- /report:results -->") < section
    assert "(docs/information.md)" in text[section:text.index("\n## ", section + 1)]


# --------------------------------------------------------------------------- a run against the recorded one
def _runs(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    error = 0.015 * (1 + z) * rng.standard_normal(n)  # what both runs share: the galaxies' own scatter
    recorded = {"CNN": z + error}
    rerun = {"CNN": z + error + 0.002 * (1 + z) * rng.standard_normal(n)}  # another training: small changes
    return z, recorded, rerun


def test_paired_regression_passes_a_rerun_and_catches_a_shift_quadrature_misses():
    z, recorded, rerun = _runs()
    same = report.paired_regression(rerun, recorded, z, seed=0)
    assert set(same["stat"]) == {"bias", "sigma_mad", "outliers_pct"}
    assert np.all(np.abs(same["pull"]) < tutorial.family_threshold(len(same)))
    shifted = {"CNN": rerun["CNN"] + 0.0008 * (1 + z)}  # a bias of 0.0008: about two bootstrap errors each
    moved = report.paired_regression(shifted, recorded, z, seed=0)
    row = moved[moved["stat"] == "bias"][0]
    assert abs(row["pull"]) > 10
    # the old comparison (two bootstrap errors in quadrature) would not see it
    from photoz_nb import metrics
    boot = [metrics.bootstrap(lambda a, b: metrics.point_metrics(a, b)["bias"], v["CNN"], z, seed=0)
            for v in (shifted, recorded)]
    assert abs(row["difference"]) / np.hypot(*boot) < 3
    with pytest.raises(ValueError, match="same test split"):
        report.paired_regression({"CNN": rerun["CNN"][:-1]}, recorded, z)


def test_written_points_come_back(tmp_path, record):
    z, recorded, _ = _runs(50)
    path = report.write_record(record, tmp_path / "expected_small.json", points=recorded)
    assert json.loads(path.read_text()) == record
    back = report.load_points(tmp_path / report.POINTS_PATH.name)
    np.testing.assert_allclose(back["CNN"], recorded["CNN"].astype(np.float32))
    assert report.load_points(tmp_path / "none.npz") is None


def test_a_small_run_matches_the_recorded_one_on_the_same_galaxies(record):
    """The regression check notebook 05 used to make, now paired: needs a finished `small` run on the record's
    simulator and the recorded run's point estimates (written by `photoz-nb report --write-record`)."""
    points = report.load_points()
    profile = config.get_profile("small")
    if points is None or not (profile.dataset_dir / "manifest.json").is_file():
        pytest.skip("needs a finished `small` run and photoz_nb/expected_small_points.npz "
                    "(`photoz-nb report --profile small --write-record`)")
    from photoz_nb import pipeline
    ds = pipeline.dataset(profile)
    if ds.manifest.get("version") != record["simulator"]:
        pytest.skip(f"the small data set is simulator {ds.manifest.get('version')}, the record {record['simulator']}")
    pdfs = pipeline.all_pdfs(profile, ds)
    new = pipeline.point_estimates({k: v[ds.split("test")] for k, v in pdfs.items() if k in points})
    table = report.paired_regression(new, points, ds.column("z_spec", "test"), seed=profile.seed)
    threshold = tutorial.family_threshold(len(table))
    assert np.all(np.abs(table["pull"]) < threshold), table[np.abs(table["pull"]) >= threshold]
