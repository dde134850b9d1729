"""Throughput benchmarks of Net_P: backends, widths, inference.

The numbers quoted in the README and notes come from these commands (never from tests)::

    photoz-nb bench backends    # img/s per installed Keras backend, one subprocess each
    photoz-nb bench train       # training img/s per width, current backend
    photoz-nb bench predict     # inference img/s per width, current backend

Each timing runs on a fixed random batch after warm-up steps (compilation excluded), so
it measures the network, not the input pipeline.
"""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("jax", "torch", "tensorflow")
WIDTHS = (0.125, 0.25, 0.5)
WARMUP_STEPS = 3


def installed_backends(backends=BACKENDS) -> list[str]:
    """The backends among ``backends`` whose package can be imported."""
    return [b for b in backends if importlib.util.find_spec(b) is not None]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _random_batch(batch_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = {"image": rng.normal(0, 1, (batch_size, 64, 64, 5)).astype(np.float32),
         "ebv": rng.exponential(0.03, (batch_size, 1)).astype(np.float32)}
    return x, rng.integers(0, 180, batch_size).astype(np.int32)


def _rate(step, batch_size: int, steps: int) -> float:
    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - start)


def measure(width: float = 0.25, batch_size: int = 64, steps: int = 20, train: bool = True,
            predict: bool = True) -> dict:
    """Training and/or inference img/s of Net_P(width) on the current Keras backend."""
    import keras

    from .model import build_net_p
    from .train import _compile
    model = build_net_p(width, seed=0)
    _compile(model, 1e-4, 10 ** 6)
    x, y = _random_batch(batch_size)
    row = {"backend": keras.backend.backend(), "width": width, "batch": batch_size,
           "params": model.count_params()}
    if train:
        row["train_img_s"] = round(_rate(lambda: model.train_on_batch(x, y), batch_size, steps), 1)
    if predict:
        row["predict_img_s"] = round(_rate(lambda: model.predict_on_batch(x), batch_size, steps), 1)
    row["peak_rss_mib"] = round(peak_rss_mib())
    return row


def markdown_table(rows: list[dict]) -> str:
    """Rows of dicts as a Markdown table (columns in order of first appearance)."""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in cols) + " |" for row in rows]
    return "\n".join(lines)


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def bench_backends(backends=BACKENDS, batch_size: int = 64, width: float = 0.25, steps: int = 20,
                   show: bool = True) -> list[dict]:
    """Train and predict img/s of the same Net_P variant on each installed backend.

    Each backend runs in a fresh subprocess (Keras fixes its backend per process).
    A backend that fails gets a row with its error instead of numbers.
    """
    rows = []
    for backend in installed_backends(backends):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        args = json.dumps({"width": width, "batch_size": batch_size, "steps": steps})
        proc = subprocess.run([sys.executable, "-m", "photoz_nb.bench", "--worker", args],
                              env=env, capture_output=True, text=True)
        result = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not result:
            rows.append({"backend": backend, "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]})
        else:
            rows.append(json.loads(result[-1]))
    if show:
        print(f"Net_P width {width}, batch {batch_size}, {steps} timed steps; {_machine()}\n")
        print(markdown_table(rows))
    return rows


def bench_train(widths=WIDTHS, batch_size: int = 64, steps: int = 20, show: bool = True) -> list[dict]:
    """Training img/s of Net_P at each width on the current backend."""
    return _bench_widths("training", widths, batch_size, steps, show, predict=False)


def bench_predict(widths=WIDTHS, batch_size: int = 256, steps: int = 10, show: bool = True) -> list[dict]:
    """Inference img/s of Net_P at each width on the current backend."""
    return _bench_widths("inference", widths, batch_size, steps, show, train=False)


def _bench_widths(title: str, widths, batch_size: int, steps: int, show: bool, **mode) -> list[dict]:
    rows = [measure(w, batch_size, steps, **mode) for w in widths]
    if show:
        print(f"{title}, batch {batch_size}, {steps} timed steps; {_machine()}\n")
        print(markdown_table(rows))
    return rows


if __name__ == "__main__":  # the worker of bench_backends
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        import photoz_nb  # noqa: F401  (sets the backend default before keras loads)
        print(json.dumps(measure(**json.loads(sys.argv[2]))))
    else:
        sys.exit("usage: python -m photoz_nb.bench --worker '{\"width\": 0.25, ...}'")
