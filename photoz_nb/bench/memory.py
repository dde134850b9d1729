"""Samplers that run in a thread while a benchmark runs: peak memory of a process tree, GPU utilisation."""
from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import psutil


class _Sampler:
    """Calls ``self.sample()`` every ``interval_s`` seconds in a thread while the context is open."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                return


class PeakMemory(_Sampler):
    """Samples the resident memory of this process and its children in a thread.

    ``peaks()``: peak total RSS (summed over processes; shared libraries count once per
    process), its file-backed and private (anonymous) parts, in MiB.
    """

    def __init__(self, interval_s: float = 0.1):
        super().__init__(interval_s)
        self.peak = {"peak_rss_mib": float("nan"), "peak_file_mib": float("nan"), "peak_anon_mib": float("nan")}

    def peaks(self) -> dict:
        return dict(self.peak)

    def sample(self):
        me = psutil.Process()
        rss = shared = 0
        for proc in [me] + me.children(recursive=True):
            try:
                info = proc.memory_info()
            except psutil.Error:  # a worker that just exited
                continue
            rss, shared = rss + info.rss, shared + getattr(info, "shared", 0)
        for key, value in (("peak_rss_mib", rss), ("peak_file_mib", shared), ("peak_anon_mib", rss - shared)):
            self.peak[key] = np.nanmax([self.peak[key], value / 2 ** 20])


class GpuUtilisation(_Sampler):
    """Samples ``nvidia-smi``'s utilisation of GPU 0 (% of time a kernel ran) in a thread.

    ``mean_within(windows)``: the mean over samples taken inside the ``(start, stop)``
    ``time.perf_counter`` windows; None without nvidia-smi or samples.
    """

    QUERY = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "--id=0"]

    def __init__(self, interval_s: float = 0.1):
        super().__init__(interval_s)
        self.samples: list[tuple[float, float]] = []

    def sample(self):
        try:
            out = subprocess.run(self.QUERY, capture_output=True, text=True, timeout=5).stdout
            self.samples.append((time.perf_counter(), float(out.split()[0])))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass  # no NVIDIA GPU here: the report says None

    def mean_within(self, windows) -> float | None:
        inside = [u for t, u in self.samples if any(a <= t <= b for a, b in windows)]
        return round(float(np.mean(inside)), 1) if inside else None


