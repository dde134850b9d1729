"""SDSS corrected frames: names, URLs, a verified reader and a download cache.

A corrected frame (SDSS datamodel ``frame``) is a bzip2-compressed FITS file whose HDU0
is a 2048x1489 float32 image in nanomaggies with a TAN WCS.  :func:`read_frame`
decompresses the whole file before parsing it, so a truncated or corrupt download is
caught at once and reported with its file name, never half-read.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from tqdm.auto import tqdm

from .. import config

#: Root of the Science Archive Server; the DR17 tree serves the final ("301") frames.
SAS_BASE = "https://data.sdss.org/sas"
RELEASE = "dr17"
RERUN = 301
FRAME_PATTERN = re.compile(r"frame-([ugriz])-(\d{6})-(\d)-(\d{4})\.fits(\.bz2)?$")

Fetch = Callable[[str, Path], None]


class FrameError(ValueError):
    """A frame file is unreadable, corrupt, or not what its name says."""


class FrameWarning(UserWarning):
    """A frame is readable but has defects (e.g. non-finite pixels)."""


class FrameKey(NamedTuple):
    band: str
    run: int
    camcol: int
    field: int


class Frame(NamedTuple):
    """What :func:`read_frame` returns; unpacks as ``image, wcs, header``."""

    image: np.ndarray  # float32 (1489, 2048), nanomaggies; NaN where the pixel is bad
    wcs: WCS
    header: fits.Header

    @property
    def band(self) -> str:
        return str(self.header.get("FILTER", "")).strip()

    @property
    def path(self) -> str:
        return str(self.header.get("PZ_PATH", ""))

    @property
    def bad_mask(self) -> np.ndarray:
        """True where a pixel is not finite."""
        return ~np.isfinite(self.image)


# -- names ----------------------------------------------------------------
def _check_key(band: str, run: int, camcol: int, field: int) -> FrameKey:
    if band not in config.BANDS:
        raise ValueError(f"band {band!r} is not one of the SDSS bands {config.BANDS}")
    if not (0 < int(run) < 10**6 and 1 <= int(camcol) <= 6 and 0 <= int(field) < 10**4):
        raise ValueError(f"invalid SDSS field run={run} camcol={camcol} field={field} "
                         "(expected run < 1e6, camcol 1-6, field < 1e4)")
    return FrameKey(band, int(run), int(camcol), int(field))


def frame_name(band: str, run: int, camcol: int, field: int) -> str:
    """File name of a corrected frame, e.g. ``frame-r-004510-4-0030.fits.bz2``."""
    k = _check_key(band, run, camcol, field)
    return f"frame-{k.band}-{k.run:06d}-{k.camcol}-{k.field:04d}.fits.bz2"


def frame_url(band: str, run: int, camcol: int, field: int, *, release: str = RELEASE,
              rerun: int = RERUN, base: str = SAS_BASE) -> str:
    """URL of a frame on the SAS (``{base}/{release}/eboss/photoObj/frames/{rerun}/{run}/{camcol}/...``)."""
    k = _check_key(band, run, camcol, field)
    return f"{base}/{release}/eboss/photoObj/frames/{rerun}/{k.run}/{k.camcol}/{frame_name(*k)}"


def parse_frame_name(name: str | os.PathLike) -> FrameKey:
    """Inverse of :func:`frame_name`; raises ``ValueError`` for other names."""
    m = FRAME_PATTERN.search(Path(name).name)
    if not m:
        raise ValueError(f"{name}: not an SDSS frame name (expected frame-<band>-RRRRRR-C-FFFF.fits.bz2)")
    return FrameKey(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))


# -- reading --------------------------------------------------------------
#: Environment variable: how many decompressed frames :func:`read_frame` keeps in memory, per process
#: (default 10, two fields, about 12 MB each; 0 keeps none; worker processes inherit it).  They are
#: keyed by the sha256 of the compressed file, so a changed file is never served from memory.  bzip2
#: is most of the cost of reading a frame (~0.4 s of ~0.45 s): a frame verified on download and then
#: read, a field split into several tasks, or the same fields read again in one process are
#: decompressed once.
KEEP_DECOMPRESSED_ENV = "PHOTOZ_KEEP_DECOMPRESSED_FRAMES"
_decompressed: OrderedDict[bytes, bytes] = OrderedDict()  # least recently used first
_decompressed_lock = threading.Lock()
_WARNING_FILTERS = threading.Lock()  # held while read_frame changes the process-wide warning filters


def _frames_to_keep() -> int:
    value = os.environ.get(KEEP_DECOMPRESSED_ENV, "10")
    if not value.strip().isdigit():
        raise ValueError(f"{KEEP_DECOMPRESSED_ENV}={value!r}: expected a whole number of frames (0 keeps none)")
    return int(value)


def _decompressed_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".bz2":
        return raw
    keep = _frames_to_keep()
    key = hashlib.sha256(raw).digest() if keep else None
    with _decompressed_lock:
        if key in _decompressed:
            _decompressed.move_to_end(key)
            return _decompressed[key]
    try:
        data = bz2.decompress(raw)
    except (OSError, EOFError, ValueError) as err:
        raise FrameError(f"{path}: corrupt or truncated bzip2 file ({err}); delete it and download again") from None
    with _decompressed_lock:
        if keep:
            _decompressed[key] = data
        while len(_decompressed) > keep:
            _decompressed.popitem(last=False)
    return data


def read_frame(path, band: str | None = None, warn_bad: bool = True) -> Frame:
    """Read a corrected frame: float32 image in nanomaggies, its WCS and HDU0 header.

    Parameters
    ----------
    path : path of a ``.fits.bz2`` (or ``.fits``) frame.
    band : expected band; by default taken from an SDSS file name, if the name is one.
    warn_bad : emit a :class:`FrameWarning` when pixels are not finite.

    The header gains ``PZ_NBAD`` (number of non-finite pixels) and ``PZ_PATH``.
    Raises :class:`FrameError` naming the file for a corrupt or truncated file, a
    missing image or WCS, or a ``FILTER`` header that disagrees with the expected band.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: frame file not found")
    if band is None and FRAME_PATTERN.search(path.name):
        band = parse_frame_name(path).band
    data = _decompressed_bytes(path)
    try:
        with fits.open(io.BytesIO(data), memmap=False) as hdul:
            hdu = hdul[0]
            header = hdu.header.copy()
            image = None if hdu.data is None else np.asarray(hdu.data, dtype=np.float32)
    except (OSError, ValueError, IndexError, TypeError) as err:
        raise FrameError(f"{path}: not a readable FITS frame ({err})") from None
    if image is None or image.ndim != 2:
        raise FrameError(f"{path}: HDU0 holds no 2-D image (shape {None if image is None else image.shape})")
    filt = str(header.get("FILTER", "")).strip()
    if band is not None and filt != band:
        raise FrameError(f"{path}: header FILTER={filt!r} but the frame should be band {band!r}")
    unit = str(header.get("BUNIT", "nanomaggy")).strip().lower()
    if not unit.startswith("nanomagg"):
        raise FrameError(f"{path}: BUNIT={unit!r}, expected nanomaggy (a corrected frame)")
    # SDSS headers carry non-standard cards astropy warns about.  catch_warnings swaps the process-wide
    # filters and frames are read in download threads: the lock keeps one thread's restore from
    # undoing another's (which left every warning ignored, or this one shown).
    with _WARNING_FILTERS, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(header, naxis=2)
    if not wcs.has_celestial:
        raise FrameError(f"{path}: header has no celestial WCS (CTYPE1/2)")
    n_bad = int((~np.isfinite(image)).sum())
    header["PZ_NBAD"] = (n_bad, "photoz-nb: non-finite pixels")
    header["PZ_PATH"] = str(path)  # long values become CONTINUE cards
    if n_bad and warn_bad:
        warnings.warn(f"{path}: {n_bad} non-finite pixel(s); cutouts touching them are flagged",
                      FrameWarning, stacklevel=2)
    return Frame(image, wcs, header)


def verify_frame(path) -> None:
    """Raise :class:`FrameError` unless ``path`` decompresses and parses as a frame."""
    read_frame(path, warn_bad=False)  # runs in download threads: no process-wide filter changes


# -- fetching -------------------------------------------------------------
def urllib_fetch(url: str, dest: Path, timeout: float = 120.0) -> None:
    """Download ``url`` to ``dest`` with urllib (the default fetch of :class:`FrameCache`)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def local_fetch(directory) -> Fetch:
    """A fetch function that copies frames from a local mirror directory (offline use, tests)."""
    directory = Path(directory)

    def fetch(url: str, dest: Path) -> None:
        source = directory / url.rsplit("/", 1)[-1]
        if not source.is_file():
            raise FileNotFoundError(f"{source}: not in the local frame mirror {directory}")
        shutil.copyfile(source, dest)

    return fetch


def fetch_for(mirror) -> Fetch | None:
    """Copy from the local ``mirror`` folder when given, else None (download from the SAS)."""
    return None if mirror is None else local_fetch(mirror)


class FrameCache:
    """Local cache of frames, laid out as ``root/{run}/{camcol}/frame-....fits.bz2``.

    Parameters
    ----------
    root : cache directory (created on demand).
    fetch : ``fetch(url, dest_path)`` writing the file; default :func:`urllib_fetch`.
    retries : attempts per frame before giving up; waits ``backoff * 2**attempt`` s between.

    A download goes to a temporary name in the same directory, is verified by
    decompressing and parsing it, then renamed.  A verified file gets a ``.ok`` sidecar
    with its size; a cached file whose size disagrees is verified again and, if corrupt,
    fetched again.
    """

    def __init__(self, root, fetch: Fetch | None = None, retries: int = 3, backoff: float = 2.0,
                 release: str = RELEASE, rerun: int = RERUN, base: str = SAS_BASE):
        self.root = Path(root)
        self.fetch = fetch or urllib_fetch
        self.retries, self.backoff = retries, backoff
        self.release, self.rerun, self.base = release, rerun, base

    def path(self, band: str, run: int, camcol: int, field: int) -> Path:
        k = _check_key(band, run, camcol, field)
        return self.root / str(k.run) / str(k.camcol) / frame_name(*k)

    def url(self, band: str, run: int, camcol: int, field: int) -> str:
        return frame_url(band, run, camcol, field, release=self.release, rerun=self.rerun, base=self.base)

    def get(self, band: str, run: int, camcol: int, field: int) -> Path:
        """Local path of a verified frame, downloading it if missing or corrupt."""
        path = self.path(band, run, camcol, field)
        if path.is_file() and self._is_verified(path):
            return path
        unusable = None
        if path.is_file():
            try:
                verify_frame(path)
                self._mark_verified(path)
                return path
            except FrameError as err:
                unusable = err
                path.unlink()  # corrupt or mislabelled cached copy: fetch it again below
        try:
            self._download(self.url(band, run, camcol, field), path)
        except (OSError, FrameError) as err:
            if unusable is None:
                raise
            raise FrameError(f"cached copy was unusable ({unusable}) and fetching it again failed: {err}") from err
        return path

    def get_many(self, keys: Iterable, max_workers: int = 4, progress: bool = True) -> list[Path]:
        """:meth:`get` for many ``(band, run, camcol, field)`` keys, concurrently, in order."""
        keys = [FrameKey(*k) for k in keys]
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            results = pool.map(lambda k: self.get(*k), keys)
            return list(tqdm(results, total=len(keys), desc="SDSS frames", unit="frame", disable=not progress))

    def get_field(self, run: int, camcol: int, field: int, bands=config.BANDS) -> dict[str, Path]:
        """Paths of the frames of one field, by band."""
        return dict(zip(bands, self.get_many([(b, run, camcol, field) for b in bands], progress=False)))

    # -- internals ---------------------------------------------------------
    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(path.name + ".ok")

    def _is_verified(self, path: Path) -> bool:
        try:
            return int(self._sidecar(path).read_text()) == path.stat().st_size
        except (FileNotFoundError, ValueError):
            return False

    def _mark_verified(self, path: Path) -> None:
        self._sidecar(path).write_text(str(path.stat().st_size))

    def _download(self, url: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        last_error = None
        for attempt in range(self.retries):
            # The temporary name ends with the frame name, so read_frame still checks the band.
            fd, tmp = tempfile.mkstemp(prefix=".part-", suffix="-" + path.name, dir=path.parent)
            os.close(fd)
            tmp = Path(tmp)
            try:
                self.fetch(url, tmp)
                verify_frame(tmp)
                os.replace(tmp, path)
                self._mark_verified(path)
                return
            except FileNotFoundError:
                raise  # not in the mirror: retrying will not make it appear
            except urllib.error.HTTPError as err:
                if err.code == 404:  # a missing frame will not appear by retrying
                    raise FileNotFoundError(f"{url}: not on the server (HTTP 404)") from None
                last_error = err
                if attempt + 1 < self.retries:
                    time.sleep(self.backoff * 2**attempt)
            except (OSError, FrameError) as err:  # URLError is an OSError
                last_error = err
                if attempt + 1 < self.retries:
                    time.sleep(self.backoff * 2**attempt)
            finally:
                tmp.unlink(missing_ok=True)
        raise FrameError(f"{url}: download to {path} failed after {self.retries} attempt(s): {last_error}")
