"""Build the embedded default data set: images chunk by chunk, then the catalogue.

Images are rendered in chunks of rows, in parallel processes (or on a dask cluster), and
written through :class:`photoz_nb.catalog.DatasetWriter` (resumable, published
atomically).  The workers also measure each galaxy's photometry on its stamp as SDSS would
(model and Petrosian fluxes, :mod:`photoz_nb.simulate.photometry`); it is kept next to the images in the
``.partial`` directory (a memory-mapped file), and written into the catalogue just before
the data set is published.  Every random number of a galaxy comes from a stream keyed by
(seed, row) and every row is rendered alone, so the bytes depend neither on the number of
workers nor on the chunk size.

Costs, measured on a busy 2-core machine: 1.1-1.5 ms of CPU per galaxy in a worker (40%
of it the noise), 0.3 ms in the main process (writing, checksums); 81,920 bytes of output
per galaxy.  Memory: images never accumulate (chunks in flight only); the render parameters
wait on disk and each task reads its own rows; all the main process keeps for all N while
rendering is the catalogue (67 columns, ~0.5 kB per galaxy).  Drawing the galaxies and
writing the catalogue (astropy's FITS writer) briefly take ~1.5 kB per galaxy: ~1.0 GB at
the peak in the main process for the paper's 516,525.
"""
from __future__ import annotations

import ctypes
import shutil
import tempfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import catalog, config, parallel, safeio
from . import galaxies, photometry

GENERATOR = "photoz_nb.simulate"
#: Bump when the simulation changes: ensure_dataset then rebuilds existing data sets.
#: 1.1: catalogue magnitudes carry the images' photometric noise; 1.2: float32 renderer
#: (same physics, different last bits), photometry measured in the workers; 1.3: Moffat PSF
#: (beta from real stars), cubic-spline noise resampling, re-measured sky noise.
#: 1.4: no added inclination reddening (inclination drawn from each galaxy's colour instead);
#: catalogue photometry adds only the noise beyond SDSS's own (top-up).
#: 1.5: noise-free galaxies drawn from an extreme-deconvolution mixture of the real MGS (no clones),
#: catalogue photometry with the whole model-fit error; observing conditions drawn per simulated field
#: from a survey distribution; morphology fitted to real galaxies in the shared frames.
#: 1.6: catalogue photometry measured on the stamps as SDSS's (deblended child, model flux with the galaxy's
#: own profile in each band, Petrosian flux within 2 R_P with R_P from r); new columns petromag_*, petrorad_r.
#: 1.7: the PSF's shape varies between fields (the wing's share, observe.draw_psf_wing_scale); new column
#: psf_wing_scale.
#: 1.8: a galaxy's bulge fraction follows the Petrosian flux deficit (r_petro - r_model) its real
#: counterparts had, and early types are bulge-dominated (mean B/T 0.80, calibrated on the whole real sample).
#: 1.9: the catalogue's error floors refitted on 1.8 with each galaxy's floor error added (catalogue only:
#: the images are 1.8's, byte for byte).
#: 2.0: the population's colours come from a 6-d mixture without r_model - r_petro, which is drawn from
#: its own mixture's conditional (population.MIXTURES): the re-observed u-g is no longer 7 % too broad.
VERSION = "2.0"
CHUNK_SIZE = 256


def build_meta(profile: config.Profile, seed: int, n: int | None) -> dict:
    """What identifies a build: compared by :func:`ensure_dataset` to spot stale data sets."""
    return {"generator": GENERATOR, "version": VERSION, "seed": int(seed), "profile": profile.name,
            "n_requested": None if n is None else int(n)}


# -- rendering rows -------------------------------------------------------------------------
def render_chunk(params: dict, seed: int, start: int, noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images and measured photometry of the ``m`` rows in ``params`` (global rows start..start+m).

    Returns
    -------
    images : (m, 64, 64, 5) float32
    photometry : (m, len(PHOTOMETRY), 5) float64, measured on the images as SDSS would
        (:func:`photoz_nb.simulate.photometry.render_rows`)
    """
    return photometry.render_rows(params, seed, start, noise)


#: What render_chunk measures, in the order of its photometry's second axis.
PHOTOMETRY = photometry.PHOTOMETRY


def _save_rows(params: dict, directory: Path) -> dict[str, Path]:
    """Save ``params`` in ``directory``, one .npy per key, and return the files by key.

    The render parameters (~0.5 kB per galaxy) then wait on disk (and in the page cache, which
    the system can reclaim) rather than in this process's private memory for the whole build.
    """
    files = {key: directory / f"{key}.npy" for key in params}
    for key, path in files.items():
        np.save(path, params[key])
    return files


def _read_rows(files: dict[str, Path], start: int, stop: int) -> dict:
    """Rows start..stop of the saved render parameters, as plain arrays.

    Each call maps the files anew, so the pages it reads do not stay in this process.
    """
    return {key: np.array(np.load(path, mmap_mode="r")[start:stop]) for key, path in files.items()}


# -- the writer ---------------------------------------------------------------------------------
class _SimulationWriter(catalog.DatasetWriter):
    """A DatasetWriter that also keeps each chunk's measured photometry (for the catalogue).

    The writer is opened with the provisional catalogue (its identity decides whether a
    ``.partial`` directory is resumed); the photometry of every written chunk goes to
    ``photometry.npy`` in the ``.partial`` directory before the chunk counts as done, so a
    resumed build has all of it.  The file is memory-mapped per chunk: its pages do not
    stay in this process.
    """

    PHOTOMETRY = "photometry.npy"
    SCRATCH = (catalog.PROGRESS, PHOTOMETRY)

    def _open(self):
        super()._open()
        path = self.partial / self.PHOTOMETRY
        if not path.exists() or not self.done:
            phot = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                             shape=(self.n, len(PHOTOMETRY), len(config.BANDS)))
            phot[:] = np.nan
            phot.flush()
            del phot
            if self.done:  # no photometry, no finished chunks
                self.done = set()
                self._write_progress({"identity": self.identity, "done": []})
        return self

    def write_chunk(self, start: int, images: np.ndarray, phot: np.ndarray) -> None:
        stored = np.load(self.partial / self.PHOTOMETRY, mmap_mode="r+")
        stored[start:start + len(phot)] = phot
        stored.flush()
        self.write(start, images)

    def photometry(self) -> dict:
        """The measured photometry of every row: dict of (n, n_bands) views of the memory-mapped file."""
        stored = np.load(self.partial / self.PHOTOMETRY, mmap_mode="r")
        missing = np.isnan(stored).any(axis=(1, 2))
        if missing.any():
            raise catalog.ContractError(f"{self.partial / self.PHOTOMETRY}: photometry missing for "
                                        f"{int(missing.sum())} rows, first row {int(np.argmax(missing))}")
        return {k: stored[:, i] for i, k in enumerate(PHOTOMETRY)}


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
    Path of the published data set.  An interrupted build resumes where it stopped; a
    full disk raises an OSError (errno ENOSPC) saying how much space is needed, where.
    """
    profile = config.get_profile(profile)
    out_dir = Path(out_dir) if out_dir is not None else profile.dataset_dir
    seed = profile.seed if seed is None else seed
    n = profile.n_galaxies if n is None else n
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    workers = parallel.default_workers() if workers is None else parallel.check_workers(workers)

    with safeio.FolderLock(out_dir):  # before any work: also checks that the location is writable
        catalog.check_output(out_dir)
        _build(profile, out_dir, seed, n, workers, scheduler, progress)
    return out_dir


def _build(profile, out_dir: Path, seed: int, n, workers: int, scheduler, progress: bool) -> None:
    """build_dataset's work, under the lock of ``out_dir``."""
    draws = galaxies.draw_galaxies(n, seed)
    table = galaxies.catalog_table(draws, seed, profile.split_fractions)  # provisional photometry
    params_prefix = f".{out_dir.name}.params-"
    for stale in out_dir.parent.glob(params_prefix + "*"):  # left by a killed build of ours (~1 kB per galaxy)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=params_prefix) as tmp:
        param_files = _save_rows(draws.params, Path(tmp))
        del draws  # the catalogue and the render parameters on disk are all the rest of the build needs
        _release_freed_memory()  # of the draws, before the provisional catalogue is written
        with _SimulationWriter(out_dir, table, build_meta(profile, seed, n)) as writer:
            _write_images(writer, param_files, seed, workers, scheduler, progress, out_dir.name)
            galaxies.set_photometry(table, writer.photometry())
            writer.replace_catalog(table)


def _write_images(writer: _SimulationWriter, param_files: dict[str, Path], seed: int, workers: int,
                  scheduler: str | None, progress: bool, name: str) -> None:
    _release_freed_memory()  # of writing the provisional catalogue
    chunks = writer.pending_chunks(CHUNK_SIZE)
    done = writer.n - sum(stop - start for start, stop in chunks)
    with tqdm(total=writer.n, initial=done, unit="gal", desc=f"simulate {name}", disable=not progress,
              smoothing=0.05) as bar:
        for start, (images, phot) in _render_chunks(param_files, seed, chunks, workers, scheduler):
            writer.write_chunk(start, images, phot)
            bar.update(len(images))


def _release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps freed memory between live blocks: the temporaries of drawing N galaxies
    (~0.8 kB each) would stay in this process's resident memory for the whole build.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _render_chunks(param_files: dict[str, Path], seed: int, chunks, workers: int, scheduler: str | None):
    """Yield (start, (images, photometry)) for every chunk, in this process, in local processes or on dask.

    ``param_files``: from :func:`_save_rows`; each task gets its own rows, read when it is submitted.
    """
    tasks = ((_read_rows(param_files, start, stop), seed, start) for start, stop in chunks)
    for index, result in parallel.run_tasks(render_chunk, tasks, workers, scheduler):
        yield chunks[index][0], result


def ensure_dataset(profile, rebuild_invalid: bool = False) -> Path:
    """The profile's data set: the existing one if valid and current, else a fresh build.

    A data set is built when there is none, and rebuilt when its manifest's generator,
    version, seed, profile or requested size differ from what :func:`build_dataset` would
    make now; either way one line says why before the build starts.  A data set that breaks
    the contract (missing or corrupt files, non-finite pixels) is rebuilt only with
    ``rebuild_invalid`` (``photoz-nb simulate``); otherwise it raises ContractError saying
    what is wrong and which command rebuilds it: damage is worth a look before hours of
    rendering replace the evidence.
    """
    profile = config.get_profile(profile)
    path = profile.dataset_dir
    expected = build_meta(profile, profile.seed, profile.n_galaxies)
    if not path.exists() and not safeio.aside_path(path).exists():
        safeio.announce(f"building {path}: no data set there yet")
        return build_dataset(profile)
    try:
        manifest = catalog.validate_dataset(path, verify_checksums=profile.verify_checksums)
    except catalog.ContractError as err:
        if not rebuild_invalid:
            raise catalog.ContractError(f"{err} -- the data set is damaged; `photoz-nb simulate --profile "
                                        f"{profile.name} --validate` rebuilds it (replacing it)") from None
        safeio.announce(f"rebuilding {path}: {err}")
        return build_dataset(profile)
    stale = catalog.stale_keys(manifest, expected)
    if stale:
        safeio.announce(f"rebuilding {path}: made by another build ({'; '.join(stale)})")
        return build_dataset(profile)
    return path
