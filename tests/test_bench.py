"""Benchmarks: they measure what they say and print Markdown tables (no timing is asserted)."""
import dataclasses
import shutil

import keras
import pytest

from photoz_nb import bench, config
from photoz_nb.estimators.cnn.model import build_net_p, forward_flops

# Keras converts variables with np.array(x, copy=False): numpy 2 notes it once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TINY = dataclasses.replace(config.PROFILES["smoke"], model_width=0.03, batch_size=16)


def test_bench_measures_the_current_backend_and_prints_markdown(capsys):
    rows = bench.bench_train(widths=(0.03,), batch_size=4, steps=1)
    assert rows[0]["backend"] == keras.backend.backend() and rows[0]["train_img_s"] > 0
    assert rows[0]["params"] == build_net_p(0.03, seed=0).count_params()
    out = capsys.readouterr().out.splitlines()
    assert out[-3].startswith("| backend | width | batch | precision | params | train_img_s")
    assert out[-2].startswith("|---|") and out[-1].count("|") == out[-3].count("|")
    assert set(bench.installed_backends(("jax", "no_such_backend"))) <= {"jax"}


def test_memory_bench_trains_in_a_fresh_process_and_reports_both_peaks(capsys):
    (row,) = bench.bench_memory(sizes=(64,), width=0.03)
    assert "error" not in row, row
    assert row["galaxies"] == 64 and 0 < row["peak_anon_mib"] <= row["peak_rss_mib"]
    assert "| galaxies |" in capsys.readouterr().out


def test_fit_bench_times_model_fit_through_both_input_sources(capsys):
    # 100 galaxies: 3 training batches of 16 per epoch, the least that times one batch after a warm-up one
    rows = bench.bench_fit(TINY, 100, epochs=1, warmup_batches=1, input_workers=2, mixed_precision=False,
                           input_sources=("stream", "device"))
    assert [row["input"] for row in rows] == ["stream, 2 threads", "device"]
    paper = config.PROFILES["paper"]
    images = paper.epochs * round(paper.n_galaxies * paper.split_fractions[0])  # 60 epochs of 371,898
    flops = 3 * forward_flops(build_net_p(0.03))
    for row in rows:
        assert row["backend"] == keras.backend.backend() and row["precision"] == "float32"
        assert row["width"] == 0.03 and row["batch"] == 16 and row["fit_img_s"] > 0
        assert row["paper_schedule_h"] == pytest.approx(images / row["fit_img_s"] / 3600, rel=0.01, abs=0.01)
        assert row["tflop_s"] == pytest.approx(row["fit_img_s"] * flops / 1e12, abs=0.06)
        if not shutil.which("nvidia-smi"):
            assert row["gpu_util_pct"] is None and row["peak_pct"] is None
    assert "| backend | width | batch | precision | input | fit_img_s |" in capsys.readouterr().out


def test_forward_flops_count_net_p_at_4p6_gflop_per_training_image():
    # Hand count of the first convolution (5x5, 5 -> 64 maps on 64x64) and the dense layers at width 1.
    model = build_net_p(1.0)
    first = 2 * 64 * 64 * 25 * 5 * 64
    dense = 2 * (22273 * 1096 + 1096 * 1096 + 1096 * 180)
    assert forward_flops(model) > first + dense
    assert 3 * forward_flops(model) == pytest.approx(4.56e9, rel=0.01)


def test_fit_bench_refuses_a_data_set_too_small_to_time():
    with pytest.raises(ValueError, match="40 galaxies give under 7 training batches of 16"):
        bench.measure_fit(TINY, 40, epochs=1, mixed_precision=False)


def test_gpu_utilisation_averages_only_inside_the_timed_windows():
    gpu = bench.GpuUtilisation()
    gpu.samples = [(1.0, 10.0), (2.0, 50.0), (3.0, 90.0), (10.0, 0.0)]
    assert gpu.mean_within([(1.5, 3.5)]) == 70.0
    assert gpu.mean_within([(0.0, 1.0), (9.0, 11.0)]) == 5.0
    assert gpu.mean_within([(20.0, 30.0)]) is None


def test_baseline_timings_compare_ours_with_sklearn_on_the_same_rows():
    from conftest import make_catalog
    cat = make_catalog(300, seed=4)
    rows = bench.baseline_timings(cat[:200], cat[200:240], cat[240:], seed=0)
    assert [r["method"] for r in rows] == ["knn", "rf"]
    for r in rows:
        assert (r["n_train"], r["n_val"], r["n_test"]) == (200, 40, 60)
        assert r["fit s (ours)"] > 0 and r["predict s (sklearn)"] > 0 and r["fit+predict ratio"] > 0
    assert bench.markdown_table(rows).splitlines()[0].startswith("| method | n_train | n_val | n_test | fit s (ours)")


def test_library_bench_agrees_with_galsim_and_properscoring_on_the_same_inputs():
    """The own renderer and CRPS give the library's numbers (speeds are printed, never asserted)."""
    pytest.importorskip("galsim")
    pytest.importorskip("properscoring")
    from photoz_nb.bench import libraries
    rows = libraries.bench_libraries(n=3, n_crps=40, n_quadrature=4, show=False)
    assert [r["evaluations"] for r in rows] == [3, 4, 40]
    assert list(rows[0]) == ["task", "ours", "library", "evaluations", "per s (ours)", "per s (library)",
                             "speed ratio", "max abs diff", "diff relative to"]
    assert all(r["per s (ours)"] > 0 and r["per s (library)"] > 0 for r in rows)
    # the renderer: as tests/test_simulate.py's GalSim comparison, within 1% of each galaxy's peak
    assert rows[0]["max abs diff"] < 0.01
    # exact CRPS: properscoring's quadrature is accepted only with an error estimate below its tol
    assert rows[1]["max abs diff"] < libraries.QUADRATURE_TOL
    # bin centres as point masses move each draw by at most w/2 (mean w/4): |change| <= w/2
    w = float(config.redshift_edges()[1] - config.redshift_edges()[0])
    assert 0 < rows[2]["max abs diff"] < w / 2
    assert libraries.markdown_table(rows).count("\n") == 4
