"""Benchmarks: the numbers quoted in the README and notes come from these (never from tests).

One module per subject; this package only re-exports them, so ``photoz_nb.bench.X`` keeps working:

* :mod:`~photoz_nb.bench.training`: Net_P throughput per backend and width, ``model.fit`` through the
  input pipeline, peak memory of training;
* :mod:`~photoz_nb.bench.baselines`: the photometric baselines against plain scikit-learn;
* :mod:`~photoz_nb.bench.cutouts`: cutouts/s on the real SDSS frames;
* :mod:`~photoz_nb.bench.simulate`: galaxies/s of the simulator;
* :mod:`~photoz_nb.bench.libraries`: the renderer against GalSim, the exact CRPS against properscoring;
* :mod:`~photoz_nb.bench.sdss_faults`: frame downloads from the local SAS stand-in at scale, under faults;
* :mod:`~photoz_nb.bench.common`, :mod:`~photoz_nb.bench.memory`: what they share.

``python -m photoz_nb.bench --worker ...`` (:mod:`photoz_nb.bench.__main__`) runs one measurement in a
fresh process, which reports its own peak memory: so that the package it imports first (this one)
does not load scikit-learn, the SDSS path and the simulator into every worker, the names of
:mod:`.baselines`, :mod:`.cutouts`, :mod:`.libraries` and :mod:`.simulate` are imported when first used
(``__getattr__``).
"""
import importlib

from .common import _machine, markdown_table, peak_rss_mib, run_in_subprocess
from .memory import GpuUtilisation, PeakMemory
from .training import (BACKENDS, BF16_PEAK_FLOPS, WIDTHS, bench_backends, bench_fit, bench_memory, bench_predict,
                       bench_train, gpu_bf16_peak, installed_backends, measure, measure_fit, peak_memory_of_training)

__all__ = ["BACKENDS", "BF16_PEAK_FLOPS", "WIDTHS", "GpuUtilisation", "PeakMemory", "_machine", "baseline_timings",
           "bench_backends", "bench_baselines", "bench_catalog", "bench_cutouts", "bench_fit", "bench_libraries",
           "bench_memory", "bench_predict", "bench_sdss_faults", "bench_simulate", "bench_train", "frame_header", "gpu_bf16_peak", "installed_backends",
           "markdown_table", "measure", "measure_fit", "peak_memory_of_training", "peak_rss_mib", "run_in_subprocess"]

_LAZY = {"baseline_timings": "baselines", "bench_baselines": "baselines", "bench_catalog": "cutouts",
         "bench_cutouts": "cutouts", "frame_header": "cutouts", "bench_simulate": "simulate",
         "bench_libraries": "libraries", "bench_sdss_faults": "sdss_faults"}


def __getattr__(name):
    """The names of the heavy benchmark modules, imported on first use (see the module docstring)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name]}", __name__)
    return getattr(module, "benchmark" if name == "bench_simulate" else name)
