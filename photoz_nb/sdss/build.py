"""Catalogue + frames -> data set: one task per SDSS field, in parallel, resumable, never partial.

Rows are sorted by field ``(run, camcol, field)`` (stable, so rows of a field keep their
catalogue order) and each field's rows form one task (split into pieces of at most
``rows_per_task``): a task fetches and decompresses the field's five frames once and cuts
every stamp of its rows.  Tasks run through :func:`photoz_nb.parallel.run_tasks` (this
process, local processes, or a dask cluster); at most two tasks per worker are in flight,
so memory stays bounded whatever the catalogue size.

Stamps and flags land first in a scratch directory ``.<out>.cutouts/`` (memory-mapped,
flushed after every task, so an interrupted build resumes at the first unfinished task).
Then the good rows are copied, in order, through :class:`photoz_nb.catalog.DatasetWriter`,
which publishes the data set only once complete.  The result is the same bytes whatever
the number of workers or the scheduler.

Survey mask.  SDSS corrected frames carry no mask plane (the photo masks live in separate
``fpM`` files, not fetched here); bad pixels reach a frame as non-finite values.  A row is
flagged, never zero-filled, when its stamp leaves the frame (``OUTSIDE``: the position is
off the field or too close to an edge for a full 64x64 stamp), when the resampling would
read a non-finite pixel (``BAD_PIXELS``), or when a frame is missing, corrupt or of the
wrong band (``NO_FRAME``).  Flagged rows are left out of the data set and listed in
``<out>.flagged.ecsv`` with columns ``flag`` (the bits), ``reason`` and ``detail`` (the
error naming the frame); saturated objects are excluded upstream by the sample query's
``clean = 1``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from .. import catalog as contract
from .. import config, parallel
from ..stats import require_columns
from .cutouts import FLAG_NAMES, NO_FRAME, CutoutError, cutout, describe_flags
from . import net
from .frames import FrameCache, FrameError, fetch_for, read_frame

FIELD_COLUMNS = ("run", "camcol", "field")
GENERATOR = "photoz_nb.sdss.build_cutout_dataset"


# -- the task ------------------------------------------------------------------------------------
def cut_field(frames_dir: str, mirror: str | None, key: tuple[int, int, int], ra: np.ndarray, dec: np.ndarray,
              bands=config.BANDS, sas_url: str | None = None) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Stamps of rows of one field: its frames are fetched (if missing, from ``sas_url``) and read once.

    Returns
    -------
    stamps : float32 (n, 64, 64, n_bands), NaN for flagged rows
    flags : int32 (n,), 0 or the flag bits of :mod:`photoz_nb.sdss.cutouts`
    details : {row within the task: error message} for flagged rows
    """
    n = len(ra)
    stamps = np.full(contract.image_shape(n)[:3] + (len(bands),), np.nan, dtype=np.float32)
    flags = np.zeros(n, dtype=np.int32)
    try:
        cache = FrameCache(frames_dir, fetch=fetch_for(mirror), base=sas_url)
        paths = cache.get_field(*key, bands=bands)
        frames = {band: read_frame(path, band, warn_bad=False) for band, path in paths.items()}
    except (FrameError, OSError) as err:
        flags[:] = NO_FRAME
        return stamps, flags, {i: f"field {key}: {err}" for i in range(n)}
    details = {}
    for i in range(n):
        try:
            stamps[i] = cutout(frames, float(ra[i]), float(dec[i]), bands=bands)
        except CutoutError as err:
            flags[i], details[i] = err.flag, str(err)
    return stamps, flags, details


# -- inputs --------------------------------------------------------------------------------------
def check_catalog(cat: Table, where: str = "catalogue") -> None:
    """Raise before any work if ``cat`` lacks the contract columns or ``run``/``camcol``/``field``."""
    require_columns(cat, ("ra", "dec", *FIELD_COLUMNS), where, " needed to find and cut SDSS frames",
                    contract.ContractError)
    contract.validate_catalog(cat, where=where)


def sort_by_field(cat: Table) -> Table:
    """Rows grouped by field (run, camcol, field); catalogue order kept within a field."""
    return cat[np.lexsort([np.asarray(cat[c]) for c in reversed(FIELD_COLUMNS)])]


def field_tasks(cat: Table, rows_per_task: int) -> list[tuple[int, int, tuple[int, int, int]]]:
    """(start, stop, field) of every task over a catalogue sorted by field."""
    keys = np.stack([np.asarray(cat[c], dtype=np.int64) for c in FIELD_COLUMNS], axis=1)
    change = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
    bounds = np.concatenate([[0], change, [len(cat)]])
    tasks = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        for s in range(start, stop, rows_per_task):
            tasks.append((int(s), int(min(s + rows_per_task, stop)), tuple(int(k) for k in keys[start])))
    return tasks


def catalog_digest(cat: Table) -> str:
    """Identity of the rows to cut (ids, positions, fields): a changed catalogue restarts a build."""
    h = hashlib.sha256()
    for c in ("objid", "ra", "dec", *FIELD_COLUMNS):
        if c in cat.colnames:
            h.update(c.encode())
            h.update(np.ascontiguousarray(np.asarray(cat[c])).tobytes())
    return h.hexdigest()


# -- the build -----------------------------------------------------------------------------------
def build_cutout_dataset(catalog, frames_dir, out, mirror=None, workers: int | None = None,
                         scheduler: str | None = None, rows_per_task: int = 512, chunk_rows: int = 256,
                         progress: bool = True, sas_url: str | None = None) -> Path:
    """Cut stamps for a catalogue and write a data set (flagged rows listed beside it, not written).

    Parameters
    ----------
    catalog : Table or path of a catalogue with the contract columns plus ``run``, ``camcol``, ``field``.
    frames_dir : frame cache directory (:class:`~photoz_nb.sdss.frames.FrameCache` layout); missing
        frames are downloaded from the SAS, or copied from ``mirror`` (a local folder) when given.
    out : data set directory to write.  The data set keeps the rows sorted by field.
    workers : processes (default every core; 1 runs in this process).
    scheduler : a dask scheduler address, or "dask-local"; default local processes.  A remote
        cluster must see ``frames_dir`` (and ``mirror``) at the same paths.
    rows_per_task : a field with more rows is split into tasks of this many (each reads the frames).
    sas_url : SAS base URL frames are downloaded from (default ``$PHOTOZ_SAS_URL``, else the public SAS).

    Returns ``out``.  Raises :class:`~photoz_nb.catalog.ContractError` before any work for a
    catalogue missing columns, and when every row is flagged.
    """
    out = Path(out)
    cat = catalog if isinstance(catalog, Table) else Table.read(catalog)
    check_catalog(cat, where=f"catalogue {catalog if not isinstance(catalog, Table) else ''}".strip())
    cat = sort_by_field(cat)
    scratch = ScratchStamps(out.with_name("." + out.name + ".cutouts"), len(cat), catalog_digest(cat))
    tasks = field_tasks(cat, rows_per_task)
    _cut_pending(cat, tasks, scratch, str(frames_dir), None if mirror is None else str(mirror),
                 workers, scheduler, progress, net.sas_url(sas_url))
    flags = np.array(scratch.flags)
    _write_flagged(cat, flags, scratch.details(), out.with_name(out.name + ".flagged.ecsv"))
    good = np.flatnonzero(flags == 0)
    if not len(good):
        raise contract.ContractError(f"{out}: all {len(cat)} rows are flagged ({describe_flags(flags)}); "
                                     f"see {out.name}.flagged.ecsv")
    meta = {"generator": GENERATOR, "input_catalog": catalog_digest(cat), "n_flagged": int(len(cat) - len(good)),
            "flags": describe_flags(flags)}
    with contract.DatasetWriter(out, cat[good], meta) as writer:
        for start, stop in writer.pending_chunks(chunk_rows):
            writer.write(start, scratch.stamps[good[start:stop]])
    scratch.remove()
    return out


def _cut_pending(cat, tasks, scratch, frames_dir, mirror, workers, scheduler, progress, sas_url=None) -> None:
    pending = [t for t in tasks if not scratch.is_done(t[0], t[1])]
    ra, dec = np.asarray(cat["ra"], dtype=float), np.asarray(cat["dec"], dtype=float)
    args = ((frames_dir, mirror, key, ra[start:stop], dec[start:stop], config.BANDS, sas_url)
            for start, stop, key in pending)
    done = len(cat) - sum(stop - start for start, stop, _ in pending)
    with tqdm(total=len(cat), initial=done, desc="cutouts", unit="stamp", disable=not progress) as bar:
        for index, (stamps, flags, details) in parallel.run_tasks(cut_field, args, workers, scheduler):
            start, stop, _ = pending[index]
            scratch.put(start, stamps, flags, details)
            bar.update(stop - start)


class ScratchStamps:
    """Stamps, flags (-1: not cut yet) and flag details of every row, on disk between runs."""

    def __init__(self, directory: Path, n: int, identity: str):
        self.directory = Path(directory)
        files = [self.directory / name for name in ("stamps.npy", "flags.npy", "identity.json")]
        self._details = self.directory / "details.jsonl"
        try:
            fresh = json.loads(files[2].read_text()) != {"identity": identity, "n": n}
        except (FileNotFoundError, json.JSONDecodeError):
            fresh = True
        if fresh:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True)
            np.lib.format.open_memmap(files[0], "w+", np.float32, contract.image_shape(n)).flush()
            np.save(files[1], np.full(n, -1, np.int32))
            self._details.touch()
            files[2].write_text(json.dumps({"identity": identity, "n": n}))
        self.stamps = np.load(files[0], mmap_mode="r+")
        self.flags = np.load(files[1], mmap_mode="r+")

    def is_done(self, start: int, stop: int) -> bool:
        """Rows cut; rows that lacked a frame are tried again (a download may succeed now)."""
        flags = self.flags[start:stop]
        return bool((flags >= 0).all() and not (flags & NO_FRAME).any())

    def put(self, start: int, stamps: np.ndarray, flags: np.ndarray, details: dict) -> None:
        """Stamps, then details, then flags (which mark the rows done): a crash redoes the task."""
        self.stamps[start:start + len(stamps)] = stamps
        self.stamps.flush()
        if details:
            with open(self._details, "a") as fh:
                fh.writelines(json.dumps({"row": start + int(i), "detail": d}) + "\n" for i, d in details.items())
        self.flags[start:start + len(flags)] = flags
        self.flags.flush()

    def details(self) -> dict[int, str]:
        """Row -> message of its flag (the latest entry wins after a redone task)."""
        with open(self._details) as fh:
            entries = [json.loads(line) for line in fh if line.strip()]
        return {e["row"]: e["detail"] for e in entries}

    def remove(self) -> None:
        del self.stamps, self.flags
        shutil.rmtree(self.directory, ignore_errors=True)


def _write_flagged(cat: Table, flags: np.ndarray, details: dict, path: Path) -> None:
    bad = np.flatnonzero(flags != 0)
    reasons = [", ".join(name for bit, name in FLAG_NAMES.items() if f & bit) for f in flags[bad]]
    table = Table({"objid": np.asarray(cat["objid"])[bad], "ra": np.asarray(cat["ra"])[bad],
                   "dec": np.asarray(cat["dec"])[bad],
                   **{c: np.asarray(cat[c])[bad] for c in FIELD_COLUMNS},
                   "flag": flags[bad], "reason": np.array(reasons, dtype=str),
                   "detail": np.array([details.get(int(i), "") for i in bad], dtype=str)})
    table.meta["flag_bits"] = json.dumps({str(k): v for k, v in FLAG_NAMES.items()})
    tmp = path.with_name(path.name + ".tmp")
    table.write(tmp, format="ascii.ecsv", overwrite=True)
    tmp.replace(path)
