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
WIDTHS = (0.125, 0.25, 1.0)  # smoke, small (the CPU variants) and the published Net_P
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
            predict: bool = True, mixed_precision: bool = False) -> dict:
    """Training and/or inference img/s of Net_P(width) on the current Keras backend."""
    import keras

    from .model import build_net_p
    from .train import _compile
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
    from .train import gpu_count
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
    import dataclasses
    import tempfile

    from . import catalog, config
    from .train import train
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
    import keras

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
    import dataclasses
    import tempfile

    import keras

    from . import catalog, config
    from .inputs import INPUT_WORKERS
    from .model import build_net_p, forward_flops
    from .train import gpu_count, train
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


class _Sampler:
    """Calls ``self.sample()`` every ``interval_s`` seconds in a thread while the context is open."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s

    def __enter__(self):
        import threading

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
        import psutil
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


def run_in_subprocess(kind: str, kwargs: dict, env: dict | None = None) -> dict:
    """``WORKERS[kind](**kwargs)`` in a fresh Python: Keras fixes its backend per process, and peak
    memory and CPU time are then the measurement's own."""
    proc = subprocess.run([sys.executable, "-m", "photoz_nb.bench", "--worker", kind, json.dumps(kwargs)],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}, capture_output=True, text=True)
    result = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not result:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(result[-1])


def _cutouts(**kwargs) -> dict:
    from .sdss.bench import measure as measure_cutouts
    return measure_cutouts(**kwargs)


WORKERS = {"measure": measure, "memory": peak_memory_of_training, "cutouts": _cutouts}

if __name__ == "__main__":  # the worker of run_in_subprocess
    if len(sys.argv) == 4 and sys.argv[1] == "--worker" and sys.argv[2] in WORKERS:
        import photoz_nb  # noqa: F401  (sets the backend default before keras loads)
        print(json.dumps(WORKERS[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        sys.exit(f"usage: python -m photoz_nb.bench --worker {{{','.join(WORKERS)}}} '{{\"width\": 0.25, ...}}'")


# ---------------------------------------------------------------- photometric baselines vs scikit-learn

def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _step(fn):
    """(result, seconds, peak RSS above the start in MiB) of ``fn()``; Linux resets the peak via clear_refs."""
    import gc
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


def baseline_timings(train, val, test, methods=("knn", "rf"), seed: int = 0) -> list[dict]:
    """Fit and predict time and peak memory of our baselines and of plain scikit-learn on the same features.

    Ours: :class:`photoz_nb.baselines.PhotometricBaseline` (fit includes the kernel-width search on
    ``val``; predict builds the PDFs).  scikit-learn: ``KNeighborsRegressor(k)`` on the same
    standardised features, ``RandomForestRegressor`` with the same trees, leaf size and seed: point
    predictions only.  The ratio column is ours / sklearn.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neighbors import KNeighborsRegressor

    from .baselines import PhotometricBaseline, photometric_features
    x_train, x_test = photometric_features(train), photometric_features(test)
    z_train = np.asarray(train["z_spec"], float)
    rows = []
    for method in methods:
        ours = PhotometricBaseline(method, seed=seed)
        _, fit_s, fit_mib = _step(lambda: ours.fit(train, val))
        _, pred_s, pred_mib = _step(lambda: ours.predict_pdfs(test))
        if method == "knn":
            sk = KNeighborsRegressor(n_neighbors=ours.k)
            xs_train, xs_test = ours._standardise(x_train), ours._standardise(x_test)
        else:
            sk = RandomForestRegressor(n_estimators=ours.n_trees, min_samples_leaf=5, random_state=seed, n_jobs=-1)
            xs_train, xs_test = x_train, x_test
        _, sk_fit_s, sk_fit_mib = _step(lambda: sk.fit(xs_train, z_train))
        _, sk_pred_s, sk_pred_mib = _step(lambda: sk.predict(xs_test))
        rows.append({"method": method, "n_train": len(train), "n_val": len(val), "n_test": len(test),
                     "fit s (ours)": _sig(fit_s), "fit s (sklearn)": _sig(sk_fit_s), "fit ratio": _sig(fit_s / sk_fit_s),
                     "predict s (ours)": _sig(pred_s), "predict s (sklearn)": _sig(sk_pred_s),
                     "predict ratio": _sig(pred_s / sk_pred_s),
                     "fit+predict ratio": _sig((fit_s + pred_s) / (sk_fit_s + sk_pred_s)),
                     "peak MiB fit (ours / sklearn)": f"{fit_mib:.0f} / {sk_fit_mib:.0f}",
                     "peak MiB predict (ours / sklearn)": f"{pred_mib:.0f} / {sk_pred_mib:.0f}"})
    return rows


def bench_baselines(seed: int = 20190101, show: bool = True) -> list[dict]:
    """:func:`baseline_timings` on the real MGS catalogue (the README's split: seed 20190101, 72/8/20)."""
    from .baselines import real_catalog
    cat = real_catalog(seed=seed)
    split = np.asarray(cat["split"]).astype(str)
    rows = baseline_timings(*(cat[split == s] for s in ("train", "val", "test")), seed=seed)
    if show:
        print(f"Photometric baselines vs plain scikit-learn, real MGS catalogue ({_machine()}):\n")
        print(markdown_table(rows))
    return rows
