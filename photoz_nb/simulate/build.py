"""Build the embedded default data set: catalogue first, then images chunk by chunk.

Images are rendered in chunks of rows, in parallel processes, and written through
:class:`photoz_nb.catalog.DatasetWriter` (resumable, published atomically).  Every random
number of a galaxy's image comes from a stream keyed by (seed, row), so the bytes depend
neither on the number of workers nor on the chunk size.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .. import catalog, config, parallel
from . import galaxies, observe, render

GENERATOR = "photoz_nb.simulate"
#: Bump when the simulation changes: ensure_dataset then rebuilds existing data sets.
VERSION = "1.1"  # 1.1: catalogue magnitudes carry the images' photometric noise
CHUNK_SIZE = 128


def build_meta(profile: config.Profile, seed: int, n: int | None) -> dict:
    """What identifies a build: compared by :func:`ensure_dataset` to spot stale data sets."""
    return {"generator": GENERATOR, "version": VERSION, "seed": int(seed), "profile": profile.name,
            "n_requested": None if n is None else int(n)}


# -- rendering rows -------------------------------------------------------------------------
def components_for(params: dict, i: int) -> list[render.Component]:
    """Bulge, disk and neighbours of row ``i`` of the render parameters."""
    pa, dx, dy = params["pa"][i], params["dx"][i], params["dy"][i]
    parts = [render.Component("devaucouleurs", params["bulge_flux"][i], params["hlr_bulge"][i],
                              params["q_bulge"][i], pa, dx, dy),
             render.Component("exponential", params["disk_flux"][i], params["hlr_disk"][i],
                              params["q_disk"][i], pa, dx, dy)]
    for j in np.flatnonzero(params["nb_flux"][i].sum(axis=1) > 0):
        profile = "devaucouleurs" if params["nb_devaucouleurs"][i, j] else "exponential"
        parts.append(render.Component(profile, params["nb_flux"][i, j], params["nb_hlr"][i, j],
                                      params["nb_q"][i, j], params["nb_pa"][i, j],
                                      dx + params["nb_x"][i, j], dy + params["nb_y"][i, j]))
    return parts


def render_rows(params: dict, seed: int, start: int, noise: bool = True) -> np.ndarray:
    """Images (m, 64, 64, 5) float32 of the ``m`` rows in ``params``, global rows start.."""
    m = len(params["pa"])
    out = np.empty(catalog.image_shape(m), dtype=np.float32)
    for i in range(m):
        image = render.render_stamp(components_for(params, i), params["psf"][i])
        if noise:
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(galaxies.STREAM_NOISE, start + i)))
            image += observe.resampled_noise(rng, params["noise_native"][i], params["shifts"][i], image=image,
                                             electrons_per_unit=params["electrons_per_nmgy"][i])
        out[i] = np.moveaxis(image, 0, -1)
    return out


def _slice(params: dict, start: int, stop: int) -> dict:
    return {k: v[start:stop] for k, v in params.items()}


# -- orchestration ------------------------------------------------------------------------------
def build_dataset(profile, out_dir=None, seed=None, n=None, workers=None, progress=True,
                  scheduler: str | None = None) -> Path:
    """Simulate a data set of the contract and write it to ``out_dir``.

    Parameters
    ----------
    profile : Profile or str
        Supplies the defaults and the split fractions.
    out_dir : path, optional
        Default ``profile.dataset_dir``.
    seed : int, optional
        Default ``profile.seed``.
    n : int, optional
        Number of galaxies; default ``profile.n_galaxies`` (None: every real galaxy, 9,811).
    workers : int, optional
        Processes rendering images; default ``os.cpu_count()``; 1 renders in this process.
    scheduler : str, optional
        A dask scheduler address (or "dask-local") to render on instead of local processes.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path of the published data set.  An interrupted build resumes where it stopped.
    """
    profile = config.get_profile(profile)
    out_dir = Path(out_dir) if out_dir is not None else profile.dataset_dir
    seed = profile.seed if seed is None else seed
    n = profile.n_galaxies if n is None else n
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0):
        raise ValueError(f"n (number of galaxies) must be a positive integer or None, got {n!r}")
    workers = parallel.default_workers() if workers is None else parallel.check_workers(workers)

    table, params = galaxies.make_catalog(n, seed, profile.split_fractions, progress=progress)
    with catalog.DatasetWriter(out_dir, table, build_meta(profile, seed, n)) as writer:
        chunks = writer.pending_chunks(CHUNK_SIZE)
        from tqdm.auto import tqdm
        done = len(table) - sum(stop - start for start, stop in chunks)
        with tqdm(total=len(table), initial=done, unit="gal", desc=f"simulate {out_dir.name}",
                  disable=not progress) as bar:
            for start, block in _render_chunks(params, seed, chunks, workers, scheduler):
                writer.write(start, block)
                bar.update(len(block))
    return out_dir


def _render_chunks(params: dict, seed: int, chunks, workers: int, scheduler: str | None):
    """Yield (start, images) for every chunk, in this process, in local processes or on dask."""
    tasks = ((_slice(params, start, stop), seed, start) for start, stop in chunks)
    if len(chunks) <= 1:
        workers = 1
    for index, images in parallel.run_tasks(render_rows, tasks, workers, scheduler):
        yield chunks[index][0], images


def ensure_dataset(profile) -> Path:
    """The profile's data set: the existing one if valid and current, else a fresh build.

    A data set is rebuilt when it breaks the contract (missing or corrupt files) or when its
    manifest's generator, version, seed, profile or requested size differ from what
    :func:`build_dataset` would make now.
    """
    profile = config.get_profile(profile)
    path = profile.dataset_dir
    expected = build_meta(profile, profile.seed, profile.n_galaxies)
    try:
        manifest = catalog.validate_dataset(path, verify_checksums=profile.verify_checksums)
    except catalog.ContractError:
        return build_dataset(profile)
    if any(manifest.get(k) != v for k, v in expected.items()):
        return build_dataset(profile)
    return path


def benchmark(n: int = 1000, workers=None, seed: int = 0) -> dict:
    """Galaxies per second of catalogue making and of rendering (a throw-away build)."""
    import tempfile

    t0 = time.perf_counter()
    table, params = galaxies.make_catalog(n, seed)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        build_dataset("smoke", out_dir=Path(tmp) / "bench", seed=seed, n=n, workers=workers, progress=False)
    t2 = time.perf_counter()
    return {"n": n, "workers": workers or os.cpu_count(), "catalog_s": t1 - t0, "build_s": t2 - t1,
            "galaxies_per_s": n / (t2 - t1)}
