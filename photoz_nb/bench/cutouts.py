"""``photoz-nb bench cutouts``: cutouts/s of :func:`~photoz_nb.sdss.build_cutout_dataset` on real frames.

Positions are drawn (seeded) inside the two real fields of the sample ``data/sdss_sample``; what sits
there does not change the cost of a cutout.  Two layouts are timed:

* ``dense``: ``n`` positions, half per field (each field read once): the cost of cutting;
* ``survey``: 2 positions per task, every task reading its five frames again, as in the
  paper's sample (~55 galaxies per deg2, so about 2 per 0.038 deg2 field): frame
  decompression dominates.

Each configuration (1 worker in-process, 2 local processes, a 2-worker dask-local
cluster) runs in a fresh subprocess, so its peak memory is its own; frames are copied into
a temporary cache first, outside the timing.  ``cpu_s`` sums the CPU time of the build's
process and of its finished children (workers, dask nannies): on a shared machine
``cutouts_per_cpu_s`` stays meaningful when wall-clock rates do not.
"""
from __future__ import annotations

import bz2
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from astropy.table import Table

from .. import config
from ..catalog import assign_splits
from ..sdss.build import build_cutout_dataset, field_tasks, sort_by_field
from ..sdss.frames import KEEP_DECOMPRESSED_ENV, FrameCache, frame_name, local_fetch
from ..sdss.sources import FIELDS
from .common import _machine, markdown_table, run_in_subprocess

CONFIGS = ({"workers": 1, "scheduler": None}, {"workers": 2, "scheduler": None},
           {"workers": 2, "scheduler": "dask-local"})
SURVEY_ROWS_PER_FIELD = 2
#: Every task decompresses its frames (as each field of a survey is read once), whichever fields the
#: process read before: no decompressed frame is kept in memory (the workers inherit it).
NO_FRAME_REUSE = {KEEP_DECOMPRESSED_ENV: "0"}


def frame_header(path) -> fits.Header:
    """HDU0 header of a ``.fits.bz2`` frame, decompressing only the header blocks."""
    with bz2.open(path) as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SDSS headers carry cards astropy calls deprecated
        return fits.Header.fromfile(fh)


def bench_catalog(n: int, frames_dir, seed: int = 0, margin: float = 40.0):
    """``n`` contract rows at random positions inside the real fields (half each), sorted by field.

    ``frames_dir``: a frame cache (``run/camcol/`` layout) or a flat folder of frames.
    """
    rng = np.random.default_rng(seed)
    ra, dec, keys = [], [], []
    for i, key in enumerate(FIELDS):
        m = n // len(FIELDS) + (i < n % len(FIELDS))
        in_cache = FrameCache(frames_dir).path("r", *key)  # a frame cache, or else a flat folder of frames
        header = frame_header(in_cache if in_cache.is_file() else Path(frames_dir) / frame_name("r", *key))
        x = rng.uniform(margin, header["NAXIS1"] - 1 - margin, m)
        y = rng.uniform(margin, header["NAXIS2"] - 1 - margin, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r, d = WCS(header, naxis=2).pixel_to_world_values(x, y)
        ra += list(r)
        dec += list(d)
        keys += [key] * m
    keys = np.array(keys)
    cat = Table({"objid": np.arange(1, n + 1, dtype=np.int64), "ra": ra, "dec": dec,
                 "z_spec": rng.uniform(0.02, 0.3, n), "ebv": np.full(n, 0.02),
                 **{f"mag_{b}": np.full(n, 17.0) for b in config.BANDS}, "petro_r": np.full(n, 17.0),
                 "b_over_a": np.ones(n), "psf_fwhm_r": np.full(n, 1.2), "n_neighbours": np.zeros(n, int),
                 "snr_r": np.full(n, 50.0), "stripe82": np.zeros(n, bool), "split": assign_splits(n, seed=seed),
                 "run": keys[:, 0], "camcol": keys[:, 1], "field": keys[:, 2]})
    return cat


def measure(n: int, frames_dir: str, workers: int, scheduler: str | None, rows_per_task: int) -> dict:
    """One timed build in this process (call in a fresh process for a clean peak memory)."""
    cat = bench_catalog(n, frames_dir)
    cpu_before = sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                                resource.RUSAGE_CHILDREN)))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_cutout_dataset(cat, frames_dir, Path(tmp) / "ds", workers=workers, scheduler=scheduler,
                             rows_per_task=rows_per_task, progress=False)
        wall = time.perf_counter() - start
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    cpu = sum(u.ru_utime + u.ru_stime for u in (own, children)) - cpu_before
    peak, child = own.ru_maxrss / 1024, children.ru_maxrss / 1024
    return {"cutouts": n, "tasks": len(field_tasks(sort_by_field(cat), rows_per_task)),
            "wall_s": round(wall, 1), "cutouts_per_s": round(n / wall, 1),
            "cpu_s": round(cpu, 1), "cutouts_per_cpu_s": round(n / cpu, 1),
            "peak_rss_main_mib": round(peak), "peak_rss_worker_mib": round(child) if child else "-"}


def bench_cutouts(n: int = 1000, n_survey: int = 12, configs=CONFIGS, source_dir=None, show: bool = True) -> list[dict]:
    """cutouts/s for each configuration and layout; prints a Markdown table when ``show``."""
    source_dir = Path(source_dir) if source_dir is not None else config.sample_frames_dir()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        frames_dir = Path(tmp) / "frames"
        cache = FrameCache(frames_dir, fetch=local_fetch(source_dir))
        cache.get_many([(b, *key) for key in FIELDS for b in config.BANDS], progress=False)
        for layout, count, per_task in (("dense", n, 512), ("survey", n_survey, SURVEY_ROWS_PER_FIELD)):
            for cfg in configs:
                args = {"n": count, "frames_dir": str(frames_dir), "rows_per_task": per_task, **cfg}
                rows.append({"layout": layout, "workers": cfg["workers"], "runs on": _where(cfg), **run_in_subprocess("cutouts", args, env=NO_FRAME_REUSE)})
    if show:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"cutouts of the two real fields; {_machine()}; load average before: {load:.1f}\n")
        print(markdown_table(rows))
    return rows


def _where(cfg: dict) -> str:
    if cfg["scheduler"]:
        return cfg["scheduler"]
    return "this process" if cfg["workers"] == 1 else "local processes"
