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
import weakref
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from . import config, safeio
from .safeio import sha256  # noqa: F401 (catalog.sha256 still works)
from .stats import require_columns

CATALOG, IMAGES, MANIFEST = "catalog.fits", "images.npy", "manifest.json"
PROGRESS = "progress.json"
FORMAT = "photoz-nb dataset v1"
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
    require_columns(cat, COLUMNS, where, f"; required: {list(COLUMNS)}", ContractError)
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


def input_checksums(dataset, reads=None) -> dict:
    """sha256 of what a step reads of ``dataset``: the images file (:data:`IMAGES`) and each named
    catalogue column; every file of the manifest when ``reads`` is None.

    Models and predictions are keyed by these, so a change to columns a method never reads (a new
    catalogue photometry leaves the CNN's images, E(B-V) and labels alone) does not refit it.
    """
    files = dataset.manifest["files"]
    if reads is None:
        return {name: entry["sha256"] for name, entry in sorted(files.items())}
    require_columns(dataset.catalog, [r for r in reads if r != IMAGES], f"{dataset.path}/{CATALOG}",
                    error=ContractError)
    return {name: files[IMAGES]["sha256"] if name == IMAGES
            else hashlib.sha256(np.ascontiguousarray(dataset.catalog[name]).tobytes()).hexdigest()
            for name in reads}


def validate_dataset(path, verify_checksums: bool = True, check_pixels: bool | None = None) -> dict:
    """Check a data set directory against the contract; return its manifest.

    Errors name the file and the field: a missing file, a manifest of the wrong shape or a
    checksum mismatch, the wrong dtype or shape of the images, non-finite pixels, an
    unreadable catalogue, a missing or non-finite catalogue column, or a catalogue whose
    length differs from the number of images.  ``check_pixels`` (default: as
    ``verify_checksums``; both read every byte) checks that every pixel is finite.
    """
    return _validate(Path(path), verify_checksums, check_pixels)[0]


def open_dataset(path, verify_checksums: bool = True, check_pixels: bool | None = None) -> Dataset:
    """Validate and open a data set; images stay on disk (memory-mapped, read-only)."""
    path = Path(path)
    manifest, cat, images = _validate(path, verify_checksums, check_pixels)
    return Dataset(path, cat, images, manifest)


def _validate(path: Path, verify_checksums: bool, check_pixels: bool | None):
    """validate_dataset's work; also returns the catalogue and the memory-mapped images it opened."""
    if not path.is_dir():
        raise ContractError(f"{path}: no data set directory here{_why_missing(path)}")
    for name in (MANIFEST, CATALOG, IMAGES):
        if not (path / name).is_file():
            raise ContractError(f"{path / name}: missing file of the data contract")
    manifest = read_manifest(path)
    for name in (CATALOG, IMAGES):
        entry = manifest["files"][name]
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
    cat = read_catalog(path / CATALOG)
    validate_catalog(cat, where=str(path / CATALOG))
    if len(cat) != len(images):
        raise ContractError(f"{path}: {CATALOG} has {len(cat)} rows but {IMAGES} has {len(images)} images")
    if verify_checksums if check_pixels is None else check_pixels:
        check_finite_pixels(images, path / IMAGES)
    return manifest, cat, images


def _why_missing(path: Path) -> str:
    if safeio.aside_path(path).is_dir():
        return (f" (a replacement was interrupted: the previous data set is in {safeio.aside_path(path)}; "
                "rerun the build, which restores or finishes it)")
    if path.with_name(path.name + ".partial").exists():
        return " (an interrupted build is left as .partial)"
    return ""


def stale_keys(manifest: dict, expected: dict) -> list[str]:
    """``"key old -> new"`` for each key whose value in ``manifest`` is not the ``expected`` one (empty: current)."""
    return [f"{k} {manifest.get(k)!r} -> {v!r}" for k, v in expected.items() if manifest.get(k) != v]


def is_current(path, expected: dict, verify_checksums: bool = True) -> bool:
    """True when ``path`` is a valid data set whose manifest holds every ``expected`` key and value."""
    try:
        manifest = validate_dataset(path, verify_checksums=verify_checksums)
    except ContractError:
        return False
    return not stale_keys(manifest, expected)


def read_manifest(path) -> dict:
    """The manifest of the data set folder ``path``, checked for shape: errors name the field."""
    where = Path(path) / MANIFEST
    try:
        manifest = json.loads(where.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ContractError(f"{where}: not valid JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise ContractError(f"{where}: must hold a JSON object, got {type(manifest).__name__}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ContractError(f"{where}: field 'files' must be an object of {{file name: {{sha256, bytes}}}}, "
                            f"got {json.dumps(files)[:40]}")
    for name in (CATALOG, IMAGES):
        entry = files.get(name)
        if entry is None:
            raise ContractError(f"{where}: no entry for {name} under 'files'")
        if not isinstance(entry, dict):
            raise ContractError(f"{where}: field 'files.{name}' must be an object {{sha256, bytes}}, "
                                f"got {json.dumps(entry)[:40]}")
        size = entry.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ContractError(f"{where}: field 'files.{name}.bytes' must be an integer, got {size!r}")
        if not isinstance(entry.get("sha256"), str):
            raise ContractError(f"{where}: field 'files.{name}.sha256' must be a hex string, "
                                f"got {entry.get('sha256')!r}")
    return manifest


def read_catalog(path) -> Table:
    """A catalogue FITS file; an unreadable one raises ContractError naming it."""
    try:
        return Table.read(path)
    except Exception as err:  # astropy raises OSError, ValueError, TypeError... for a damaged file
        raise ContractError(f"{path}: not a readable FITS table ({type(err).__name__}: {err})") from None


#: Image arrays found finite in every pixel, by id (weak: they are not kept alive).
_finite_checked: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()


def raise_nonfinite_rows(where, rows, more: bool = False) -> None:
    """Raise ContractError naming ``where`` and the first 10 image ``rows`` holding a NaN or inf pixel (if any);
    ``more``: the list is not complete."""
    if len(rows):
        raise ContractError(f"{where}: non-finite (NaN/inf) pixels in image row(s) {[int(r) for r in rows[:10]]}"
                            f"{' ...' if more or len(rows) > 10 else ''}")


def check_finite_pixels(images: np.ndarray, where, rows=None, chunk: int = 1024,
                        progress: bool | None = None) -> None:
    """Raise ContractError naming the rows of ``images`` (all, or ``rows``) that hold a NaN or inf pixel.

    Reads ``chunk`` images at a time (memory ~chunk x 80 kB), with a progress bar from 1 GiB
    (``progress`` forces it on or off).  An array found clean in full is not read again
    (training checks what validation has checked).
    """
    if _finite_checked.get(id(images)) is images:
        return
    index = np.arange(len(images)) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    nbytes = len(index) * int(np.prod(images.shape[1:])) * images.itemsize
    bad: list[int] = []
    with tqdm(total=len(index), unit="img", desc=f"finite pixels {Path(str(where)).name}",
              disable=nbytes < 2 ** 30 if progress is None else not progress) as bar:
        for start in range(0, len(index), chunk):
            part = index[start:start + chunk]
            contiguous = part[-1] - part[0] + 1 == len(part)
            block = images[part[0]:part[-1] + 1] if contiguous else images[part]
            # one float64 sum per image: NaN/inf anywhere makes it non-finite, and finite float32
            # values cannot overflow it
            sums = np.asarray(block).sum(axis=(1, 2, 3), dtype=np.float64)
            bad += part[~np.isfinite(sums)].tolist()
            bar.update(len(part))
            if len(bad) >= 10:
                break
    raise_nonfinite_rows(where, bad, more=len(bad) >= 10)  # the scan stops after 10
    if rows is None:
        _finite_checked[id(images)] = images


def is_dataset_folder(path) -> bool:
    """True when ``path`` holds a data set this project wrote (its manifest says so)."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and (manifest.get("format") == FORMAT
                                           or str(manifest.get("generator", "")).startswith("photoz_nb"))


def check_output(path) -> None:
    """Refuse, before any work, an output path that a data set build must not replace.

    A build may replace a data set this project wrote, or an empty folder; nothing else.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(errno.EEXIST, f"{path} exists and is not a folder; choose another output path")
    if path.is_dir() and any(path.iterdir()) and not is_dataset_folder(path):
        raise FileExistsError(errno.EEXIST, f"{path} is a folder that does not hold a photoz-nb data set "
                                            f"(no {MANIFEST} written by photoz-nb); refusing to replace it: "
                                            "choose another output path, or move that folder away yourself")


class DatasetWriter:
    """Write a data set chunk by chunk, resumably, and publish it atomically.

    >>> with DatasetWriter(out, catalog, meta) as w:           # doctest: +SKIP
    ...     for start, stop in w.pending_chunks(512):
    ...         w.write(start, render(catalog[start:stop]))

    The catalogue is written first; ``meta`` (generator, seed, profile, ...) goes into the
    manifest and identifies the build: a ``.partial`` directory left by an interrupted build
    with the same catalogue and meta is resumed, any other is discarded.

    Nothing the writer did not make is deleted: an existing ``path`` must hold a photoz-nb data
    set (or be an empty folder), checked before any work; it is replaced only when the new set
    is complete, by :func:`safeio.replace_folder` (the new set is in place before the old one is
    removed).  A :class:`safeio.FolderLock` keeps a second writer of ``path`` out.

    Memory and time do not grow with N: the identity is hashed once, each chunk goes to disk
    with ``pwrite`` + ``fdatasync`` (writing through a memmap would keep every written page in
    this process) and into the images' running sha256 (a resumed build hashes the file at the end
    instead), and the image file's disk space is reserved up front, so that a full disk
    is reported (``OSError`` ENOSPC, saying how much space is needed) before any work is done.
    """

    #: Files of the build in the ``.partial`` folder that the published data set does not keep.
    SCRATCH = (PROGRESS,)

    def __init__(self, path, catalog: Table, meta: dict):
        validate_catalog(catalog, where=f"catalog for {path}")
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.catalog = catalog
        self.meta = meta
        self.n = len(catalog)

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "DatasetWriter":
        self._lock = safeio.FolderLock(self.path)
        self._lock.__enter__()
        try:
            return self._open()
        except BaseException:
            self._close()
            self._lock.__exit__(None, None, None)
            raise

    def _open(self) -> "DatasetWriter":
        safeio.recover_folder(self.path)
        check_output(self.path)
        if is_dataset_folder(self.path):
            safeio.announce(f"{self.path}: holds a data set; the new build replaces it once complete")
        self.identity = self._identity()
        progress = self._read_progress()
        with self._disk_full_is_explained():
            if progress.get("identity") != self.identity:
                self._discard_partial()
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
        # the images' sha256, advanced while the build runs instead of read back at the end on one core;
        # a resumed build hashes the whole file when it publishes
        self._images_hash = None if self.done else hashlib.sha256(os.pread(self._images_fd, self._images_offset, 0))
        self._hashed_rows = 0
        return self

    def _close(self) -> None:
        if getattr(self, "_images_fd", None) is not None:
            os.close(self._images_fd)
            self._images_fd = None

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._close()
            if exc_type is None:
                self._publish()
        finally:
            self._lock.__exit__(exc_type, exc, tb)

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
        self._hash_forward(start, block)

    def _hash_forward(self, start: int, block: np.ndarray) -> None:
        """Extend the images' running sha256 over the rows written right after those hashed so far.

        Chunks finish out of order: ``block`` (rows ``start..``, just written) is hashed from memory when it
        is next in line; a chunk that came early waits on disk and is read back (from the page cache it
        was written to) when the rows before it arrive.
        """
        if self._images_hash is None:
            return
        stops = dict(self.done)  # start -> stop of each written chunk
        while self._hashed_rows in stops:
            first, stop = self._hashed_rows, stops[self._hashed_rows]
            self._images_hash.update(block if first == start else os.pread(
                self._images_fd, (stop - first) * _IMAGE_BYTES, self._images_offset + first * _IMAGE_BYTES))
            self._hashed_rows = stop

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
            progress = json.loads((self.partial / PROGRESS).read_text())
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return progress if isinstance(progress, dict) else {}

    def _write_progress(self, progress: dict) -> None:
        safeio.write_atomic(self.partial / PROGRESS, json.dumps(progress))

    def _discard_partial(self) -> None:
        """Remove a ``.partial`` folder of another build: only one this project made."""
        if not self.partial.exists():
            return
        ours = self.partial.is_dir() and ((self.partial / PROGRESS).exists() or is_dataset_folder(self.partial)
                                          or not any(self.partial.iterdir()))
        if not ours:
            raise FileExistsError(errno.EEXIST, f"{self.partial} exists but was not left by a photoz-nb build "
                                                "(no progress.json); move it away to build here")
        shutil.rmtree(self.partial)

    def _publish(self) -> None:
        written = sum(stop - start for start, stop in self.done)
        if written != self.n:
            raise ContractError(f"{self.partial}: only {written} of {self.n} images written; "
                                "run the build again to resume")
        hashed = self._images_hash is not None and self._hashed_rows == self.n
        digests = {CATALOG: sha256(self.partial / CATALOG),
                   IMAGES: self._images_hash.hexdigest() if hashed else sha256(self.partial / IMAGES)}
        files = {name: {"sha256": digest, "bytes": (self.partial / name).stat().st_size}
                 for name, digest in digests.items()}
        manifest = {
            "format": FORMAT,
            "n_galaxies": self.n,
            "images": {"shape": list(image_shape(self.n)), "dtype": "float32", "bands": list(config.BANDS),
                       "units": "nanomaggies", "pixel_scale_arcsec": config.PIXEL_SCALE, "layout": "NHWC"},
            "columns": {c: str(self.catalog[c].unit or COLUMNS.get(c, "")) for c in self.catalog.colnames},
            "files": files,
            **self.meta,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        for name in (CATALOG, IMAGES):
            safeio.fsync_file(self.partial / name)
        safeio.write_atomic(self.partial / MANIFEST, json.dumps(manifest, indent=2, default=str))
        safeio._fault_hook("manifest-written")
        check_output(self.path)  # still ours to replace (checked again: the build may have taken hours)
        safeio.replace_folder(self.partial, self.path)
        # the build's own files go only now: a kill before the new set is in place resumes from them
        for name in self.SCRATCH:
            (self.path / name).unlink(missing_ok=True)


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
