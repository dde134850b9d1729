"""The data contract: a data set is a directory with catalog.fits, images.npy, manifest.json.

Every reader goes through :func:`open_dataset`, which calls :func:`validate_dataset`;
every writer goes through :class:`DatasetWriter`, which builds the data set in a
``<name>.partial`` directory (resumable chunk by chunk) and renames it only when the
manifest and checksums are complete, so an interrupted build never looks finished.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from . import config

CATALOG, IMAGES, MANIFEST = "catalog.fits", "images.npy", "manifest.json"
PROGRESS = "progress.json"
SPLITS = ("train", "val", "test")
_IMAGE_BYTES = config.STAMP ** 2 * len(config.BANDS) * 4  # one float32 stamp

#: Required columns and their units (written to the FITS header via astropy).
COLUMNS = {
    "objid": "", "ra": "deg", "dec": "deg", "z_spec": "",
    "ebv": "mag",
    **{f"mag_{b}": "mag" for b in config.BANDS},
    "petro_r": "mag", "b_over_a": "", "psf_fwhm_r": "arcsec",
    "n_neighbours": "", "snr_r": "", "stripe82": "", "split": "",
}
#: Columns that must be finite numbers (split and stripe82 are checked separately).
NUMERIC = [c for c in COLUMNS if c not in ("split", "stripe82", "objid")]


class ContractError(ValueError):
    """A data set directory does not satisfy the data contract."""


def image_shape(n: int) -> tuple[int, int, int, int]:
    return (n, config.STAMP, config.STAMP, len(config.BANDS))


def sha256(path: Path, chunk: int = 1 << 24) -> str:
    """Hex sha256 of a file, with a progress bar from 1 GiB (the paper set's images are 42 GB)."""
    h = hashlib.sha256()
    size = Path(path).stat().st_size
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, desc=f"sha256 {Path(path).name}",
                                     disable=size < 2 ** 30) as bar:
        while block := f.read(chunk):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


def assign_splits(n: int, fractions=(0.72, 0.08, 0.2), seed: int = 0) -> np.ndarray:
    """Random train/val/test labels with the given fractions (exact counts, seeded)."""
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    counts = np.floor(np.asarray(fractions) * n).astype(int)
    counts[0] += n - counts.sum()
    labels = np.repeat(np.array(SPLITS), counts)
    return np.random.default_rng(seed).permutation(labels)


def validate_catalog(cat: Table, where: str = "catalog") -> None:
    """Raise :class:`ContractError` naming the first column that breaks the contract."""
    missing = [c for c in COLUMNS if c not in cat.colnames]
    if missing:
        raise ContractError(f"{where}: missing column(s) {missing}; required: {list(COLUMNS)}")
    for c in NUMERIC:
        values = np.asarray(cat[c], dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ContractError(f"{where}: column {c!r} has {bad.sum()} non-finite value(s), "
                                f"first at row {int(np.argmax(bad))}")
    z = np.asarray(cat["z_spec"], dtype=float)
    out = (z <= config.Z_MIN) | (z > config.Z_MAX)
    if out.any():
        raise ContractError(f"{where}: column 'z_spec' has {out.sum()} value(s) outside "
                            f"({config.Z_MIN}, {config.Z_MAX}], first {z[out][0]:.4f} at row {int(np.argmax(out))}")
    bad_split = ~np.isin(np.asarray(cat["split"]).astype(str), SPLITS)
    if bad_split.any():
        raise ContractError(f"{where}: column 'split' must hold {SPLITS}; row {int(np.argmax(bad_split))} "
                            f"holds {cat['split'][np.argmax(bad_split)]!r}")


@dataclasses.dataclass
class Dataset:
    """An opened data set: the catalogue in memory, the images memory-mapped read-only."""

    path: Path
    catalog: Table
    images: np.ndarray
    manifest: dict

    def __len__(self) -> int:
        return len(self.catalog)

    def column(self, name: str, split: str | None = None, dtype=float) -> np.ndarray:
        """One catalogue column as a plain array, for every row or for one split's rows."""
        values = np.asarray(self.catalog[name], dtype=dtype)
        return values if split is None else values[self.split(split)]

    def split(self, name: str) -> np.ndarray:
        """Row indices of one split (``train``, ``val`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return np.flatnonzero(np.asarray(self.catalog["split"]).astype(str) == name)


def validate_dataset(path, verify_checksums: bool = True) -> dict:
    """Check a data set directory against the contract; return its manifest.

    Errors name the file and the field: a missing file, a manifest checksum mismatch,
    the wrong dtype or shape of the images, a missing or non-finite catalogue column,
    or a catalogue whose length differs from the number of images.
    """
    path = Path(path)
    if not path.is_dir():
        hint = " (an interrupted build is left as .partial)" if path.with_name(path.name + ".partial").exists() else ""
        raise ContractError(f"{path}: no data set directory here{hint}")
    for name in (MANIFEST, CATALOG, IMAGES):
        if not (path / name).is_file():
            raise ContractError(f"{path / name}: missing file of the data contract")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except json.JSONDecodeError as err:
        raise ContractError(f"{path / MANIFEST}: not valid JSON ({err})") from None
    for name in (CATALOG, IMAGES):
        entry = manifest.get("files", {}).get(name)
        if entry is None:
            raise ContractError(f"{path / MANIFEST}: no entry for {name} under 'files'")
        size = (path / name).stat().st_size
        if size != entry["bytes"]:
            raise ContractError(f"{path / name}: size {size} bytes, manifest says {entry['bytes']}")
        if verify_checksums and sha256(path / name) != entry["sha256"]:
            raise ContractError(f"{path / name}: sha256 does not match manifest.json (file changed or corrupt)")
    try:
        images = np.load(path / IMAGES, mmap_mode="r")
    except ValueError as err:
        raise ContractError(f"{path / IMAGES}: not a readable .npy array ({err})") from None
    if images.dtype != np.float32:
        raise ContractError(f"{path / IMAGES}: dtype {images.dtype}, expected float32")
    if images.ndim != 4 or images.shape[1:] != image_shape(0)[1:]:
        raise ContractError(f"{path / IMAGES}: shape {images.shape}, expected (N, 64, 64, 5) "
                            "channels last in bands u,g,r,i,z")
    cat = Table.read(path / CATALOG)
    validate_catalog(cat, where=str(path / CATALOG))
    if len(cat) != len(images):
        raise ContractError(f"{path}: {CATALOG} has {len(cat)} rows but {IMAGES} has {len(images)} images")
    return manifest


def open_dataset(path, verify_checksums: bool = True) -> Dataset:
    """Validate and open a data set; images stay on disk (memory-mapped, read-only)."""
    path = Path(path)
    manifest = validate_dataset(path, verify_checksums=verify_checksums)
    return Dataset(path, Table.read(path / CATALOG), np.load(path / IMAGES, mmap_mode="r"), manifest)


class DatasetWriter:
    """Write a data set chunk by chunk, resumably, and publish it atomically.

    >>> with DatasetWriter(out, catalog, meta) as w:           # doctest: +SKIP
    ...     for start, stop in w.pending_chunks(512):
    ...         w.write(start, render(catalog[start:stop]))

    The catalogue is written first; ``meta`` (generator, seed, profile, ...) goes into the
    manifest and identifies the build: a ``.partial`` directory left by an interrupted build
    with the same catalogue and meta is resumed, any other is discarded.

    Memory and time do not grow with N: the identity is hashed once, each chunk goes to disk
    with ``pwrite`` + ``fdatasync`` (writing through a memmap would keep every written page in
    this process), and the image file's disk space is reserved up front, so that a full disk
    is reported (``OSError`` ENOSPC, saying how much space is needed) before any work is done.
    """

    def __init__(self, path, catalog: Table, meta: dict):
        validate_catalog(catalog, where=f"catalog for {path}")
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.catalog = catalog
        self.meta = meta
        self.n = len(catalog)

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "DatasetWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.identity = self._identity()
        progress = self._read_progress()
        with self._disk_full_is_explained():
            if progress.get("identity") != self.identity:
                shutil.rmtree(self.partial, ignore_errors=True)
                self.partial.mkdir(parents=True)
                self.catalog.write(self.partial / CATALOG, overwrite=True)
                np.lib.format.open_memmap(self.partial / IMAGES, mode="w+", dtype=np.float32,
                                          shape=image_shape(self.n)).flush()
                progress = {"identity": self.identity, "done": []}
                self._write_progress(progress)
            _reserve_disk_space(self.partial / IMAGES)
        self.done = {tuple(c) for c in progress["done"]}
        self._images_offset = np.load(self.partial / IMAGES, mmap_mode="r").offset  # .npy header length
        self._images_fd = os.open(self.partial / IMAGES, os.O_RDWR)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        os.close(self._images_fd)
        if exc_type is None:
            self._publish()

    # -- writing -------------------------------------------------------------
    def pending_chunks(self, size: int):
        """(start, stop) of every chunk of ``size`` rows not yet written."""
        return [(s, min(s + size, self.n)) for s in range(0, self.n, size)
                if (s, min(s + size, self.n)) not in self.done]

    def write(self, start: int, block: np.ndarray) -> None:
        """Write the images of rows ``start..`` to disk, then record them as done."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        stop = start + len(block)
        if block.shape[1:] != image_shape(0)[1:] or start < 0 or stop > self.n:
            raise ContractError(f"{self.partial / IMAGES}: block of shape {block.shape} at row {start} "
                                f"does not fit (N={self.n}, 64, 64, 5)")
        if not np.isfinite(block).all():
            raise ContractError(f"{self.partial / IMAGES}: non-finite pixels in rows {start}..{stop - 1}")
        data, offset = memoryview(block).cast("B"), self._images_offset + start * block[:1].nbytes
        with self._disk_full_is_explained():
            while data:
                written = os.pwrite(self._images_fd, data, offset)
                data, offset = data[written:], offset + written
            os.fdatasync(self._images_fd)  # on disk before progress.json says so
        self.done.add((start, stop))
        self._write_progress({"identity": self.identity, "done": sorted(self.done)})

    def replace_catalog(self, table: Table) -> None:
        """Publish ``table`` (same rows, e.g. with photometry measured on the images) as the catalogue.

        The build's identity (what a resumed build must match) stays the catalogue it was opened with.
        """
        validate_catalog(table, where=f"final catalogue of {self.path}")
        if len(table) != self.n:
            raise ValueError(f"{self.path}: final catalogue has {len(table)} rows, expected {self.n}")
        table.write(self.partial / CATALOG, overwrite=True)
        self.catalog = table

    @contextlib.contextmanager
    def _disk_full_is_explained(self):
        """Turn ENOSPC/EDQUOT into an error that says where, how much, and that a rerun resumes."""
        try:
            yield
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            free = shutil.disk_usage(self.path.parent).free
            written = sum(stop - start for start, stop in getattr(self, "done", ()))
            raise OSError(err.errno, f"disk full while writing the data set {self.path} (in {self.partial}): "
                                     f"{self.n:,} images need {self.n * _IMAGE_BYTES / 1e9:.1f} GB "
                                     f"plus the catalogue, {free / 1e9:.1f} GB are free on that file system ({err}). "
                                     "Free some space (or choose another directory) and run the same build again: "
                                     f"it resumes from the {written:,} images already written.") from err

    # -- internals -----------------------------------------------------------
    def _identity(self) -> str:
        h = hashlib.sha256(json.dumps(self.meta, sort_keys=True, default=str).encode())
        for c in self.catalog.colnames:
            h.update(c.encode())
            h.update(np.ascontiguousarray(self.catalog[c]).tobytes())
        return h.hexdigest()

    def _read_progress(self) -> dict:
        try:
            return json.loads((self.partial / PROGRESS).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _write_progress(self, progress: dict) -> None:
        tmp = self.partial / (PROGRESS + ".tmp")
        tmp.write_text(json.dumps(progress))
        os.replace(tmp, self.partial / PROGRESS)

    def _publish(self) -> None:
        written = sum(stop - start for start, stop in self.done)
        if written != self.n:
            raise ContractError(f"{self.partial}: only {written} of {self.n} images written; "
                                "run the build again to resume")
        files = {name: {"sha256": sha256(self.partial / name), "bytes": (self.partial / name).stat().st_size}
                 for name in (CATALOG, IMAGES)}
        manifest = {
            "format": "photoz-nb dataset v1",
            "n_galaxies": self.n,
            "images": {"shape": list(image_shape(self.n)), "dtype": "float32", "bands": list(config.BANDS),
                       "units": "nanomaggies", "pixel_scale_arcsec": config.PIXEL_SCALE, "layout": "NHWC"},
            "columns": {c: str(self.catalog[c].unit or COLUMNS.get(c, "")) for c in self.catalog.colnames},
            "files": files,
            **self.meta,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        (self.partial / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        (self.partial / PROGRESS).unlink()
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.partial, self.path)


def _reserve_disk_space(path: Path) -> None:
    """Allocate the whole (sparse) file now, so that a full disk raises ENOSPC here, not mid-build."""
    size = path.stat().st_size
    try:
        with open(path, "r+b") as f:
            os.posix_fallocate(f.fileno(), 0, size)
        return
    except (AttributeError, OSError) as err:  # no posix_fallocate here, or not on this file system
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
    missing = size - getattr(path.stat(), "st_blocks", 0) * 512
    if shutil.disk_usage(path.parent).free < missing:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


# --------------------------------------------------------------------------- synthetic data sets
def synthetic_catalog(n: int, seed: int = 0, split_fractions=(0.6, 0.2, 0.2)) -> Table:
    """A contract-valid catalogue of ``n`` made-up galaxies with plausible values (tests, benchmarks)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    mags = {f"mag_{b}": 17.0 + rng.normal(0, 0.5, n) + i * -0.3 for i, b in enumerate(config.BANDS)}
    return Table({
        "objid": np.arange(1, n + 1, dtype=np.int64),
        "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-10, 60, n),
        "z_spec": z, "ebv": rng.exponential(0.03, n),
        **mags,
        "petro_r": mags["mag_r"] + 0.1, "b_over_a": rng.uniform(0.2, 1, n),
        "psf_fwhm_r": rng.uniform(0.9, 1.8, n), "n_neighbours": rng.poisson(0.3, n),
        "snr_r": rng.uniform(20, 200, n), "stripe82": rng.random(n) < 0.05,
        "split": assign_splits(n, split_fractions, seed),
    })


def write_synthetic_dataset(path, n: int = 64, seed: int = 0, chunk: int = 256) -> Path:
    """A contract-valid data set of round blobs whose colours grow redder with redshift.

    A network can learn redshift from these images, so they make quick end-to-end tests and
    memory benchmarks; they are not galaxies (use :mod:`photoz_nb.simulate` for those).
    """
    cat = synthetic_catalog(n, seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:config.STAMP, :config.STAMP] - (config.STAMP - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    colour = np.linspace(1, 2, len(config.BANDS))
    with DatasetWriter(path, cat, {"generator": "photoz_nb.catalog.synthetic", "seed": seed}) as writer:
        for start, stop in writer.pending_chunks(chunk):
            z = np.asarray(cat["z_spec"][start:stop])[:, None, None, None]
            images = blob[None, :, :, None] * (colour ** (1 + 10 * z)) * 5
            images = images + rng.normal(0, 0.05, images.shape)
            writer.write(start, images.astype(np.float32))
    return Path(path)
