"""What every benchmark shares: the machine line, peak memory, a timed step, a fresh worker process."""
from __future__ import annotations

import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time

from ..stats import markdown_table  # noqa: F401 (bench.markdown_table: the tables the benchmarks print)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def run_in_subprocess(kind: str, kwargs: dict, env: dict | None = None) -> dict:
    """``WORKERS[kind](**kwargs)`` in a fresh Python: Keras fixes its backend per process, and peak
    memory and CPU time are then the measurement's own."""
    proc = subprocess.run([sys.executable, "-m", "photoz_nb.bench", "--worker", kind, json.dumps(kwargs)],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}, capture_output=True, text=True)
    result = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not result:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(result[-1])


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _step(fn):
    """(result, seconds, peak RSS above the start in MiB) of ``fn()``; Linux resets the peak via clear_refs."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set, to the current RSS
    except OSError:
        pass
    start_rss = _rss_mib("VmRSS")
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return result, seconds, max(0.0, _rss_mib("VmHWM") - start_rss)


def _sig(x: float, digits: int = 3) -> float:
    """``x`` to ``digits`` significant digits (sub-millisecond times stay non-zero)."""
    return float(f"{x:.{digits}g}")


