"""Throughput benchmarks of Net_P: backends, widths, inference.

The numbers quoted in the README and notes come from these commands (never from tests)::

    photoz-nb bench backends    # img/s per installed Keras backend, one subprocess each
    photoz-nb bench train       # training img/s per width, current backend
    photoz-nb bench predict     # inference img/s per width, current backend
    photoz-nb bench fit         # model.fit img/s through the input pipeline, GPU utilisation
    photoz-nb bench memory      # peak memory of training at two data-set sizes, 10x apart

``backends``, ``train`` and ``predict`` time a fixed random batch after warm-up steps
(compilation excluded), so they measure the network, not the input pipeline; ``fit`` times
``model.fit`` on a memory-mapped data set, input pipeline included.

Keras and the modules that import it (model, train, inputs) are imported inside the functions:
importing Keras fixes its backend for the process and takes seconds, and the worker processes
of :func:`~photoz_nb.bench.common.run_in_subprocess` choose the backend through their
environment first; the cutout and simulator benchmarks need no Keras at all.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import tempfile
import time

import numpy as np

from .. import catalog, config, fixtures
from .common import _machine, markdown_table, peak_rss_mib, run_in_subprocess
from .memory import GpuUtilisation, PeakMemory

BACKENDS = ("jax", "torch", "tensorflow")
WIDTHS = (0.125, 0.25, 1.0)  # smoke, small (the CPU variants) and the published Net_P
WARMUP_STEPS = 3


def installed_backends(backends=BACKENDS) -> list[str]:
    """The backends among ``backends`` whose package can be imported."""
    return [b for b in backends if importlib.util.find_spec(b) is not None]


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
            predict: bool = True, mixed_precision: bool = False) -> dict:
    """Training and/or inference img/s of Net_P(width) on the current Keras backend."""
    import keras  # lazy: see the module docstring

    from ..estimators.cnn.model import build_net_p
    from ..estimators.cnn.train import _compile
    model = build_net_p(width, seed=0, mixed_precision=mixed_precision)
    _compile(model, 1e-4, 10 ** 6)
    x, y = _random_batch(batch_size)
    row = {"backend": keras.backend.backend(), "width": width, "batch": batch_size,
           "precision": "mixed_bfloat16" if mixed_precision else "float32", "params": model.count_params()}
    if train:
        row["train_img_s"] = round(_rate(lambda: model.train_on_batch(x, y), batch_size, steps), 1)
    if predict:
        row["predict_img_s"] = round(_rate(lambda: model.predict_on_batch(x), batch_size, steps), 1)
    row["peak_rss_mib"] = round(peak_rss_mib())
    return row


def bench_backends(backends=BACKENDS, batch_size: int = 64, width: float = 0.25, steps: int = 20,
                   show: bool = True) -> list[dict]:
    """Train and predict img/s of the same Net_P variant on each installed backend.

    Each backend runs in a fresh subprocess (Keras fixes its backend per process).
    A backend that fails gets a row with its error instead of numbers.
    """
    args = {"width": width, "batch_size": batch_size, "steps": steps}
    rows = [{"backend": b, **run_in_subprocess("measure", args, {"KERAS_BACKEND": b})} for b in installed_backends(backends)]
    if show:
        print(f"Net_P width {width}, batch {batch_size}, {steps} timed steps; {_machine()}\n")
        print(markdown_table(rows))
    return rows


def bench_train(widths=WIDTHS, batch_size: int = 64, steps: int = 10, show: bool = True) -> list[dict]:
    """Training img/s of Net_P at each width on the current backend (also mixed precision on a GPU)."""
    return _bench_widths("training", widths, batch_size, steps, show, predict=False)


def bench_predict(widths=WIDTHS, batch_size: int = 256, steps: int = 5, show: bool = True) -> list[dict]:
    """Inference img/s of Net_P at each width on the current backend (also mixed precision on a GPU)."""
    return _bench_widths("inference", widths, batch_size, steps, show, train=False)


def _bench_widths(title: str, widths, batch_size: int, steps: int, show: bool, **mode) -> list[dict]:
    from ..estimators.cnn.train import gpu_count  # lazy: see the module docstring
    precisions = (False, True) if gpu_count() else (False,)  # bfloat16 is slow emulation on CPUs
    rows = [measure(w, batch_size, steps, mixed_precision=mp, **mode) for w in widths for mp in precisions]
    if show:
        print(f"{title}, batch {batch_size}, {steps} timed steps; {_machine()}\n")
        print(markdown_table(rows))
    return rows


def peak_memory_of_training(n_galaxies: int, width: float = 0.125, batch_size: int = 64, workdir=None) -> dict:
    """Train one epoch on a synthetic data set of ``n_galaxies`` and report this process's memory.

    ``peak_rss_mib`` counts every resident page, including pages of the memory-mapped image
    file, which the kernel may drop at any time; ``peak_anon_mib`` counts only the process's own
    (anonymous) memory: that is the number that must not grow with the data set.
    """
    from ..estimators.cnn.train import train  # lazy: see the module docstring
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, PeakMemory(interval_s=0.05) as memory:
        ds = catalog.open_dataset(fixtures.write_synthetic_dataset(f"{tmp}/data", n_galaxies), verify_checksums=False)
        profile = dataclasses.replace(config.get_profile("smoke"), model_width=width, epochs=1, batch_size=batch_size)
        start = time.perf_counter()
        train(ds, profile, f"{tmp}/run", progress=False)
        seconds = time.perf_counter() - start
    return {"galaxies": n_galaxies, "images_gib": round(n_galaxies * 64 * 64 * 5 * 4 / 2**30, 2),
            "train_s": round(seconds, 1), "peak_rss_mib": round(peak_rss_mib()), "peak_anon_mib": round(memory.peaks()["peak_anon_mib"])}


def _batch_clock():
    """A Keras callback recording when each training batch ends: ``.epochs[e]`` lists the times."""
    import keras  # lazy: see the module docstring

    class BatchClock(keras.callbacks.Callback):
        # Called from Keras's callback threads (in any order: the times are sorted) once the batch's
        # loss is on the host, so a time is when a batch finished; meanwhile training goes on.
        async_safe = True

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append([])

        def on_train_batch_end(self, batch, logs=None):
            self.epochs[-1].append(time.perf_counter())

    return BatchClock()


#: Dense bfloat16 tensor-core peaks [FLOP/s] by GPU name (NVIDIA data sheets; SXM boards).
BF16_PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12}


def gpu_bf16_peak() -> float | None:
    """The bfloat16 peak of GPU 0 from :data:`BF16_PEAK_FLOPS`, None when unknown or absent."""
    try:
        name = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "--id=0"],
                              capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return next((peak for key, peak in BF16_PEAK_FLOPS.items() if key in name), None)


def measure_fit(profile="paper", n_galaxies: int = 30_000, epochs: int = 4, mixed_precision=None,
                input_workers: int | None = None, input_sources=None, warmup_batches: int = 5,
                workdir=None) -> list[dict]:
    """Training img/s of ``profile``'s Net_P through the real input pipeline, with GPU utilisation.

    Unlike :func:`measure`, batches come from a memory-mapped synthetic data set through
    :func:`inputs.training_batches` and ``model.fit``, exactly as in a real run: streamed
    (read, stretch, augmentation in ``input_workers`` threads, default ``inputs.INPUT_WORKERS``)
    or held on the device (``input_sources``; default both where a GPU is visible, else streamed).
    The rate counts each epoch's batches after the first ``warmup_batches`` (compilation, queue
    filling); validation and checkpoints are excluded.  ``paper_schedule_h`` is the time the
    paper profile's full schedule (its epochs over its training split) would take per model
    at that rate; ``peak_pct`` the achieved training FLOP/s (3 x :func:`model.forward_flops`
    per image) as a percentage of the GPU's bfloat16 peak.
    One row per precision and source: float32, plus mixed bfloat16 where a GPU is visible (or as asked).
    """
    import keras  # lazy: see the module docstring

    from ..estimators.cnn.inputs import INPUT_WORKERS
    from ..estimators.cnn.model import build_net_p, forward_flops
    from ..estimators.cnn.train import gpu_count, train
    profile = dataclasses.replace(config.get_profile(profile), epochs=epochs)
    paper = config.get_profile("paper")
    paper_images = paper.epochs * round(paper.n_galaxies * paper.split_fractions[0])
    gpu = gpu_count() > 0
    precisions = (False, True) if mixed_precision is None and gpu else (bool(mixed_precision),)
    sources = input_sources or (("stream", "device") if gpu else ("stream",))
    threads = INPUT_WORKERS if input_workers is None else int(input_workers)
    train_flops, peak = 3 * forward_flops(build_net_p(profile.model_width)), gpu_bf16_peak()
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        ds = catalog.open_dataset(fixtures.write_synthetic_dataset(f"{tmp}/data", n_galaxies), verify_checksums=False)
        if len(ds.split("train")) // profile.batch_size < warmup_batches + 2:
            raise ValueError(f"{n_galaxies} galaxies give under {warmup_batches + 2} training batches of "
                             f"{profile.batch_size} per epoch: nothing to time; use more galaxies")
        for mp in precisions:
            for source in sources:
                clock = _batch_clock()
                with GpuUtilisation() as util:
                    train(ds, profile, f"{tmp}/run-{mp}-{source}", progress=False, callbacks=[clock],
                          mixed_precision=mp, input_workers=threads, input_source=source)
                epochs_ends = [sorted(ends) for ends in clock.epochs]
                windows = [(ends[warmup_batches], ends[-1]) for ends in epochs_ends]
                batches = sum(len(ends) - 1 - warmup_batches for ends in epochs_ends)
                img_s = batches * profile.batch_size / sum(b - a for a, b in windows)
                rows.append({"backend": keras.backend.backend(), "width": profile.model_width,
                             "batch": profile.batch_size, "precision": "mixed_bfloat16" if mp else "float32",
                             "input": source if source == "device" else f"stream, {threads} threads",
                             "fit_img_s": round(img_s, 1), "gpu_util_pct": util.mean_within(windows),
                             "tflop_s": round(img_s * train_flops / 1e12, 1),
                             "peak_pct": round(100 * img_s * train_flops / peak, 1) if peak else None,
                             "paper_schedule_h": round(paper_images / img_s / 3600, 2)})
    return rows


def bench_fit(profile="small", n_galaxies: int = 2000, show: bool = True, **options) -> list[dict]:
    """End-to-end training img/s of ``profile``'s Net_P on the current backend; see :func:`measure_fit`."""
    rows = measure_fit(profile, n_galaxies, **options)
    if show:
        print(f"model.fit through the input pipeline, {n_galaxies} synthetic galaxies; {_machine()}\n")
        print(markdown_table(rows))
    return rows


def bench_memory(sizes=(1500, 15000), width: float = 0.125, show: bool = True) -> list[dict]:
    """Peak memory of one training epoch at each data-set size, each in a fresh process."""
    rows = [run_in_subprocess("memory", {"n_galaxies": n, "width": width}) for n in sizes]
    if show:
        print(f"one training epoch, Net_P width {width}, synthetic data sets; {_machine()}\n")
        print(markdown_table(rows))
    return rows


