"""``photoz-nb bench simulate``: galaxies/s and peak memory of a throw-away simulator build."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .. import parallel
from ..simulate import galaxies
from ..simulate.build import build_dataset
from .memory import PeakMemory


def benchmark(n: int = 1000, workers=None, seed: int = 0, out_dir=None) -> dict:
    """Throughput and peak memory of a throw-away build of ``n`` galaxies, end to end.

    Returns n, workers, ``catalog_s`` (drawing the galaxies and the provisional catalogue,
    part of the build), ``build_s`` (the whole build: catalogue, rendering, writing,
    publishing), ``galaxies_per_s`` = n / build_s, and the peak resident memory summed over
    this process and its workers (``peak_rss_mib``), of which ``peak_file_mib`` is
    file-backed (pages of the memory-mapped output and shared libraries, which the kernel
    can drop) and ``peak_anon_mib`` private.  ``out_dir``: where to put the temporary data
    set (default: the system's temporary directory; it needs n x 80 kB).
    """
    workers = parallel.default_workers() if workers is None else parallel.check_workers(workers)
    t0 = time.perf_counter()
    galaxies.catalog_table(galaxies.draw_galaxies(n, seed), seed)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp, PeakMemory() as memory:
        t2 = time.perf_counter()
        build_dataset("smoke", out_dir=Path(tmp) / "bench", seed=seed, n=n, workers=workers, progress=False)
        t3 = time.perf_counter()
    return {"n": n, "workers": workers, "catalog_s": t1 - t0, "build_s": t3 - t2,
            "galaxies_per_s": n / (t3 - t2), **memory.peaks()}
