"""Benchmarks: the numbers quoted in the README and notes come from these (never from tests).

One module per subject; this package only re-exports them, so ``photoz_nb.bench.X`` keeps working:

* :mod:`~photoz_nb.bench.training`: Net_P throughput per backend and width, ``model.fit`` through the
  input pipeline, peak memory of training;
* :mod:`~photoz_nb.bench.baselines`: the photometric baselines against plain scikit-learn;
* :mod:`~photoz_nb.bench.cutouts`: cutouts/s on the real SDSS frames;
* :mod:`~photoz_nb.bench.simulate`: galaxies/s of the simulator;
* :mod:`~photoz_nb.bench.common`, :mod:`~photoz_nb.bench.memory`: what they share.

``python -m photoz_nb.bench --worker ...`` (:mod:`photoz_nb.bench.__main__`) runs one measurement in a
fresh process.
"""
from .baselines import baseline_timings, bench_baselines
from .common import _machine, markdown_table, peak_rss_mib, run_in_subprocess
from .cutouts import bench_catalog, bench_cutouts, frame_header
from .memory import GpuUtilisation, PeakMemory
from .simulate import benchmark as bench_simulate
from .training import (BACKENDS, BF16_PEAK_FLOPS, WIDTHS, bench_backends, bench_fit, bench_memory, bench_predict,
                       bench_train, gpu_bf16_peak, installed_backends, measure, measure_fit, peak_memory_of_training)

__all__ = ["BACKENDS", "BF16_PEAK_FLOPS", "WIDTHS", "GpuUtilisation", "PeakMemory", "_machine", "baseline_timings",
           "bench_backends", "bench_baselines", "bench_catalog", "bench_cutouts", "bench_fit", "bench_memory",
           "bench_predict", "bench_simulate", "bench_train", "frame_header", "gpu_bf16_peak", "installed_backends",
           "markdown_table", "measure", "measure_fit", "peak_memory_of_training", "peak_rss_mib", "run_in_subprocess"]
