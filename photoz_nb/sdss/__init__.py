"""The real SDSS data path: sample query, frame cache, cutouts and the authors' public cube.

One function per ``photoz-nb sdss`` command:

* ``query``       :func:`query_catalog`  SkyServer sample -> catalogue FITS (contract columns + run/camcol/field)
* ``frames``      :func:`fetch_frames`   download (or copy from a mirror) every frame a catalogue needs
* ``cutouts``     :func:`build_cutout_dataset`  catalogue + frames -> data set (flagged rows listed, not written)
* ``import-cube`` :func:`import_cube`    the public ``sdss.npz`` cube -> data set directory

(The submodules ``frames``, ``cutouts``, ``query`` and ``cube`` keep their names.)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from .. import catalog as contract
from .. import config
from .cube import import_cube
from .cutouts import FLAG_NAMES, FieldFrames, cutout, describe_flags, make_cutouts
from .frames import FrameCache, FrameError, frame_name, frame_url, local_fetch, read_frame
from .query import query_sample, to_contract

__all__ = ["query_catalog", "fetch_frames", "build_cutout_dataset", "import_cube", "cutout", "make_cutouts", "read_frame", "frame_name",
           "frame_url", "FrameCache", "FrameError", "FieldFrames", "local_fetch"]


def _fetch_for(mirror):
    return None if mirror is None else local_fetch(mirror)


def _read_catalog(catalog) -> Table:
    return catalog if isinstance(catalog, Table) else Table.read(catalog)


def query_catalog(out, cache_dir=None, page_size: int = 50_000, data_release: int = 12, max_pages: int | None = None,
          fractions=(0.72, 0.08, 0.2), seed: int = 0, query_fn=None, progress: bool = True) -> Path:
    """Run the paper's sample query (paged, cached in ``cache_dir``, resumable) and write the
    contract catalogue to ``out`` (FITS).  Default cache: ``<out>.pages/`` beside ``out``."""
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir else out.with_name(out.name + ".pages")
    rows = query_sample(cache_dir, query_fn, page_size=page_size, max_pages=max_pages,
                        data_release=data_release, progress=progress)
    cat = to_contract(rows, fractions, seed, where=f"SkyServer sample cached in {cache_dir}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.fits")
    cat.write(tmp, overwrite=True)
    tmp.replace(out)
    return out


def _fields(cat: Table) -> list[tuple[int, int, int]]:
    missing = [c for c in ("run", "camcol", "field") if c not in cat.colnames]
    if missing:
        raise ValueError(f"catalogue lacks column(s) {missing} needed to find its SDSS frames")
    keys = {(int(r), int(c), int(f)) for r, c, f in zip(cat["run"], cat["camcol"], cat["field"])}
    return sorted(keys)


def fetch_frames(catalog, frames_dir, bands=config.BANDS, max_workers: int = 4, mirror=None,
           progress: bool = True) -> list[Path]:
    """Fetch and verify every frame the catalogue's (run, camcol, field) rows need.

    ``mirror``: a local directory of frames to copy from instead of downloading.
    """
    cache = FrameCache(frames_dir, fetch=_fetch_for(mirror))
    keys = [(b, *field) for field in _fields(_read_catalog(catalog)) for b in bands]
    return cache.get_many(keys, max_workers=max_workers, progress=progress)


def build_cutout_dataset(catalog, frames_dir, out, mirror=None, chunk_rows: int = 256, max_fields: int = 4,
            progress: bool = True) -> Path:
    """Cut stamps for a catalogue (contract columns + run/camcol/field) and write a data set.

    Rows are processed sorted by field (each frame decompressed once) and the data set
    keeps that order.  Stamps go first to ``.<out>.stamps.npy`` (resumable chunk by
    chunk); flagged rows (outside the frames, bad pixels, missing frames) are left out
    of the data set and listed with their reason in ``<out>.flagged.ecsv``.
    """
    out = Path(out)
    cat = _read_catalog(catalog)
    _fields(cat)
    cat = cat[np.lexsort((cat["field"], cat["camcol"], cat["run"]))]
    stamps, flags = _stamp_pass(cat, FieldFrames(FrameCache(frames_dir, fetch=_fetch_for(mirror)),
                                                 max_fields=max_fields), out, chunk_rows, progress)
    good = np.flatnonzero(flags == 0)
    _write_flagged(cat, flags, out.with_name(out.name + ".flagged.ecsv"))
    meta = {"generator": "photoz_nb.sdss.cutouts", "frames_dir": str(frames_dir), "n_flagged": int(len(cat) - len(good)),
            "flags": describe_flags(flags)}
    with contract.DatasetWriter(out, cat[good], meta) as writer:
        for start, stop in writer.pending_chunks(chunk_rows):
            writer.write(start, stamps[good[start:stop]])
    del stamps
    for suffix in (".stamps.npy", ".flags.npy"):
        out.with_name("." + out.name + suffix).unlink(missing_ok=True)
    return out


def _stamp_pass(cat: Table, lookup, out: Path, chunk_rows: int, progress: bool):
    """Stamps and flags of every row in scratch memmaps; flags -1 mark chunks not yet done."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stamps_path, flags_path = (out.with_name("." + out.name + s) for s in (".stamps.npy", ".flags.npy"))
    n = len(cat)
    if not (flags_path.exists() and np.load(flags_path, mmap_mode="r").shape == (n,)):
        np.lib.format.open_memmap(stamps_path, "w+", np.float32, contract.image_shape(n)).flush()
        np.save(flags_path, np.full(n, -1, np.int32))
    stamps = np.load(stamps_path, mmap_mode="r+")
    flags = np.load(flags_path, mmap_mode="r+")
    for start in tqdm(range(0, n, chunk_rows), desc="cutouts", unit="chunk", disable=not progress):
        stop = min(start + chunk_rows, n)
        if (flags[start:stop] >= 0).all():
            continue  # done by an earlier, interrupted run
        stamps[start:stop], flags[start:stop] = make_cutouts(cat[start:stop], lookup, progress=False)
        stamps.flush()
        flags.flush()
    return stamps, np.array(flags)


def _write_flagged(cat: Table, flags: np.ndarray, path: Path) -> None:
    bad = np.flatnonzero(flags != 0)
    reasons = [", ".join(name for bit, name in FLAG_NAMES.items() if f & bit) for f in flags[bad]]
    table = Table({"objid": np.asarray(cat["objid"])[bad], "ra": np.asarray(cat["ra"])[bad],
                   "dec": np.asarray(cat["dec"])[bad], "flag": flags[bad], "reason": reasons})
    table.meta["flag_bits"] = json.dumps({str(k): v for k, v in FLAG_NAMES.items()})
    table.write(path, format="ascii.ecsv", overwrite=True)
