"""Import the authors' public cube (``sdss.npz``: ``cube`` (N, 64, 64, 5) float32 + labels).

The upstream file is ~54 GB, so nothing here loads it whole: an uncompressed (stored)
``.npz`` member is memory-mapped straight from the zip file (its data starts at a known
offset), a compressed one is decompressed as a stream, a block of rows at a time.
Labels come either from a structured ``labels`` member (the upstream layout, one field
per column) or from 1-D members of length N (``z``, ``ebv``, ...).  The result is a data
set in the project's contract, written chunk by chunk through
:class:`photoz_nb.catalog.DatasetWriter` (resumable, published atomically).
"""
from __future__ import annotations

import dataclasses
import struct
import zipfile
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from .. import catalog as contract
from .. import config

#: Contract column <- candidate label names (first present wins, case-insensitive).
DEFAULT_COLUMN_MAP = {
    "objid": ["objid", "objID", "bestobjid", "specobjid"],
    "ra": ["ra"], "dec": ["dec"],
    "z_spec": ["z_spec", "z", "zspec", "redshift"],
    "ebv": ["ebv", "e_bv", "EBV"],
    **{f"mag_{b}": [f"mag_{b}", f"dered_{b}", f"dered_model_{b}", f"dered_cmodel_{b}"] for b in config.BANDS},
    "petro_r": ["petro_r", "dered_petro_r"],
    "b_over_a": ["b_over_a", "expab_r", "ab_exp_r", "devab_r"],
    "psf_fwhm_r": ["psf_fwhm_r", "psffwhm_r", "seeing_r"],
    "n_neighbours": ["n_neighbours", "n_neighbors", "nneighbors"],
    "snr_r": ["snr_r"],
    "stripe82": ["stripe82"],
    "split": ["split"],
}
IMAGE_KEY = "cube"


@dataclasses.dataclass(frozen=True)
class NpzMember:
    """Where one array of an ``.npz`` lives: shape, dtype, order and (if stored) the data offset."""

    name: str
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    compressed: bool
    data_offset: int | None  # byte offset of the array data in the .npz (stored members only)


def _read_npy_header(fh, where: str):
    try:
        version = np.lib.format.read_magic(fh)
        return {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}[version](fh)
    except (ValueError, KeyError) as err:
        raise ValueError(f"{where}: not a .npy member ({err})") from None


def npz_members(path) -> dict[str, NpzMember]:
    """The arrays of an ``.npz`` (keys without ``.npy``) with their layout, read from headers only."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path}: not a readable .npz/zip file ({err})") from None
    members = {}
    with zf, open(path, "rb") as raw:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            where = f"{path}:{info.filename}"
            stored = info.compress_type == zipfile.ZIP_STORED
            if stored:
                raw.seek(info.header_offset)
                local = raw.read(30)
                if local[:4] != b"PK\x03\x04":
                    raise ValueError(f"{where}: bad local zip header")
                name_len, extra_len = struct.unpack("<HH", local[26:30])
                raw.seek(info.header_offset + 30 + name_len + extra_len)
                shape, fortran, dtype = _read_npy_header(raw, where)
                offset = raw.tell()
            else:
                with zf.open(info) as fh:
                    shape, fortran, dtype = _read_npy_header(fh, where)
                offset = None
            members[name] = NpzMember(name, tuple(shape), np.dtype(dtype), fortran, not stored, offset)
    return members


def open_member(path, member: NpzMember) -> np.ndarray:
    """A read-only memory map of a stored (uncompressed) member."""
    if member.compressed:
        raise ValueError(f"{path}:{member.name}.npy is compressed and cannot be memory-mapped; "
                         "use iter_member_rows to stream it")
    if member.dtype.hasobject:
        raise ValueError(f"{path}:{member.name}.npy holds Python objects (pickled); refusing to load it")
    return np.memmap(path, dtype=member.dtype, mode="r", offset=member.data_offset, shape=member.shape,
                     order="F" if member.fortran_order else "C")


def iter_member_rows(path, member: NpzMember, chunk_rows: int = 1024):
    """Yield ``(start, block)`` of consecutive rows of a member, decompressing as a stream."""
    if member.fortran_order and len(member.shape) > 1:
        raise ValueError(f"{path}:{member.name}.npy is Fortran-ordered; rows cannot be streamed")
    if member.dtype.hasobject:
        raise ValueError(f"{path}:{member.name}.npy holds Python objects (pickled); refusing to load it")
    row_shape, n = member.shape[1:], member.shape[0]
    row_bytes = int(np.prod(row_shape, dtype=np.int64)) * member.dtype.itemsize
    with zipfile.ZipFile(path) as zf, zf.open(member.name + ".npy") as fh:
        _read_npy_header(fh, f"{path}:{member.name}.npy")
        for start in range(0, n, chunk_rows):
            rows = min(chunk_rows, n - start)
            buf = fh.read(rows * row_bytes)
            if len(buf) != rows * row_bytes:
                raise ValueError(f"{path}:{member.name}.npy ends at row {start + len(buf) // row_bytes} "
                                 f"of {n} (truncated file)")
            yield start, np.frombuffer(buf, dtype=member.dtype).reshape((rows, *row_shape))


def _load_member(path, member: NpzMember) -> np.ndarray:
    if not member.compressed:
        return np.array(open_member(path, member))
    return np.concatenate([block for _, block in iter_member_rows(path, member, 1 << 16)]) \
        if member.shape[0] else np.empty(member.shape, member.dtype)


def read_labels(path, image_key: str = IMAGE_KEY) -> Table:
    """Every label of the cube as a Table: fields of a structured member and 1-D members of length N."""
    members = npz_members(path)
    if image_key not in members:
        raise ValueError(f"{path}: no image member {image_key!r}; members are {sorted(members)}")
    n = members[image_key].shape[0]
    labels = Table()
    for name, m in members.items():
        if name == image_key or not m.shape or m.shape[0] != n:
            continue
        values = _load_member(path, m)
        if m.dtype.names:
            for field in m.dtype.names:
                labels[field] = values[field]
        elif values.ndim == 1:
            labels[name] = values
    return labels


def _find(labels: Table, candidates) -> str | None:
    lower = {c.lower(): c for c in labels.colnames}
    return next((lower[c.lower()] for c in candidates if c.lower() in lower), None)


def is_stripe82(ra, dec) -> np.ndarray:
    """The Stripe 82 footprint: |dec| < 1.266 deg and RA in [300, 360) or [0, 60) deg."""
    ra, dec = np.asarray(ra, float) % 360, np.asarray(dec, float)
    return (np.abs(dec) < 1.266) & ((ra >= 300) | (ra < 60))


def cube_catalog(labels: Table, column_map=None, fill: dict | None = None, paper_cuts: bool = True,
                 fractions=(0.72, 0.08, 0.2), seed: int = 0, where: str = "cube") -> tuple[Table, np.ndarray]:
    """Contract catalogue from the cube's labels, and the cube rows it keeps.

    Parameters
    ----------
    column_map : contract column -> candidate label names (default :data:`DEFAULT_COLUMN_MAP`).
    fill : values for contract columns the labels lack (e.g. ``{"psf_fwhm_r": -1.0}``);
        any other missing column raises :class:`~photoz_nb.catalog.ContractError`.
        ``stripe82`` is derived from (ra, dec) and ``split`` drawn with ``seed`` if absent.
    paper_cuts : keep only the paper's sample where labels allow (``primtarget`` MGS bit,
        dereddened Petrosian r <= 17.8); rows outside 0 < z <= 0.4 or with non-finite
        values are always dropped.
    """
    column_map = {**DEFAULT_COLUMN_MAP, **(column_map or {})}
    fill = dict(fill or {})
    n = len(labels)
    cat, missing = Table(), []
    for col in contract.COLUMNS:
        source = _find(labels, column_map.get(col, [col]))
        if source is not None:
            cat[col] = np.asarray(labels[source])
        elif col in fill:
            cat[col] = np.full(n, fill[col])
        elif col == "stripe82" and "ra" in cat.colnames and "dec" in cat.colnames:
            cat[col] = is_stripe82(cat["ra"], cat["dec"])
        elif col == "objid":
            cat[col] = np.arange(n, dtype=np.int64)  # the row number identifies a cube galaxy
        elif col != "split":
            missing.append(col)
    if missing:
        raise contract.ContractError(f"{where}: labels lack contract column(s) {missing} (looked for "
                                     f"{[column_map.get(c, [c]) for c in missing]}); labels are {labels.colnames}; "
                                     "pass column_map= or fill= (recorded in the manifest)")
    keep = _valid_rows(cat, labels, paper_cuts)
    cat = cat[keep]
    if "split" not in cat.colnames:
        cat["split"] = contract.assign_splits(len(cat), fractions, seed)
    for col, unit in contract.COLUMNS.items():
        if unit:
            cat[col].unit = unit
    return cat, np.flatnonzero(keep)


def _valid_rows(cat: Table, labels: Table, paper_cuts: bool) -> np.ndarray:
    z = np.asarray(cat["z_spec"], float)
    keep = (z > config.Z_MIN) & (z <= config.Z_MAX)
    for col in contract.NUMERIC:
        keep &= np.isfinite(np.asarray(cat[col], float))
    if paper_cuts:
        keep &= np.asarray(cat["petro_r"], float) <= config.R_PETRO_MAX
        prim = _find(labels, ["primtarget", "prim_target"])
        if prim is not None:  # MGS target bits: GALAXY (64), GALAXY_BIG (128), GALAXY_BRIGHT_CORE (256)
            keep &= (np.asarray(labels[prim]).astype(np.int64) & (64 | 128 | 256)) != 0
    return keep


def import_cube(npz_path, out, image_key: str = IMAGE_KEY, column_map=None, fill=None, paper_cuts: bool = True,
                fractions=(0.72, 0.08, 0.2), seed: int = 0, chunk_rows: int = 1024, progress: bool = True) -> Path:
    """Convert the public cube to a data set directory ``out`` without loading it into memory.

    Returns ``out``.  An interrupted import is resumed by calling it again with the same
    arguments.  See :func:`cube_catalog` for the label handling.
    """
    npz_path = Path(npz_path)
    members = npz_members(npz_path)
    if image_key not in members:
        raise ValueError(f"{npz_path}: no image member {image_key!r}; members are {sorted(members)}")
    images = members[image_key]
    if images.shape[1:] != contract.image_shape(0)[1:] or images.dtype.kind != "f":
        raise contract.ContractError(f"{npz_path}:{image_key}.npy has shape {images.shape} dtype {images.dtype}; "
                                     "expected (N, 64, 64, 5) float, bands u,g,r,i,z channels last")
    cat, rows = cube_catalog(read_labels(npz_path, image_key), column_map, fill, paper_cuts, fractions, seed,
                             where=str(npz_path))
    meta = {"generator": "photoz_nb.sdss.cube.import_cube", "source": str(npz_path.resolve()),
            "source_rows": int(images.shape[0]), "seed": seed, "paper_cuts": paper_cuts,
            "filled_columns": sorted(fill or {})}
    with contract.DatasetWriter(out, cat, meta) as writer:
        pending = set(writer.pending_chunks(chunk_rows))
        bar = tqdm(total=len(cat), desc="import cube", unit="galaxy", disable=not progress)
        for start, block in _kept_blocks(npz_path, images, rows, chunk_rows):
            if (start, start + len(block)) in pending:
                writer.write(start, block)
            bar.update(len(block))
        bar.close()
    return Path(out)


def _kept_blocks(path, member: NpzMember, rows: np.ndarray, chunk_rows: int):
    """Yield (output start, images) for output chunks ``[k*chunk_rows, ...)`` of the kept rows."""
    if not member.compressed:
        cube = open_member(path, member)
        for start in range(0, len(rows), chunk_rows):
            yield start, np.asarray(cube[rows[start:start + chunk_rows]], dtype=np.float32)
        return
    buffer, out_start = [], 0
    for start, block in iter_member_rows(path, member, chunk_rows):
        lo, hi = np.searchsorted(rows, [start, start + len(block)])
        buffer.append(block[rows[lo:hi] - start])
        held = sum(len(b) for b in buffer)
        while held >= chunk_rows or (held and hi == len(rows)):
            merged = np.concatenate(buffer)
            size = min(chunk_rows, held)
            yield out_start, merged[:size].astype(np.float32)
            out_start += size
            buffer, held = [merged[size:]], held - size
