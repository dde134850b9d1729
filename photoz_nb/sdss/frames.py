"""SDSS corrected frames: names, URLs, a verified reader and a download cache.

A corrected frame (SDSS datamodel ``frame``) is a bzip2-compressed FITS file whose HDU0
is a 2048x1489 float32 image in nanomaggies with a TAN WCS.  :func:`read_frame`
decompresses the whole file before parsing it, so a truncated or corrupt download is
caught at once and reported with its file name, never half-read.  It refuses a file that
decompresses to more than :data:`MAX_FRAME_BYTES` (a bzip2 "bomb") while decompressing, so memory
stays bounded, and a header that declares more data than the file holds.

:class:`FrameCache` downloads over HTTP from the SAS (or the base URL of :mod:`.net`: a mirror, the
local stand-in of :mod:`.standin`), at most :data:`DEFAULT_MAX_DOWNLOADS` at once.  Its guarantees:

* a file appears under its final name only once complete and verified (written as
  ``.part-<name>``, decompressed and parsed, then renamed with :func:`photoz_nb.safeio.replace_file`);
* each frame is fetched by one thread or process at a time (an ``flock`` on ``.lock-<name>``), so
  processes sharing a cache neither corrupt it nor download a frame twice;
* a partial download left by a failure or a ``kill -9`` is resumed from where it stopped (HTTP
  ``Range``) and verified as a whole; a verification failure starts it again from zero;
* failures are retried a bounded number of times (``Retry-After`` honoured, else exponential
  backoff), then end in one line naming the URL and the file; a 404 is not retried.
"""
from __future__ import annotations

import bz2
import contextlib
import fcntl
import hashlib
import http.client
import io
import os
import re
import shutil
import threading
import time
import warnings
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from tqdm.auto import tqdm

from .. import config, safeio
from . import net

#: Root of the public Science Archive Server; the DR17 tree serves the final ("301") frames.
#: (:func:`photoz_nb.sdss.net.sas_url` gives the one in use: ``--sas-url``, ``$PHOTOZ_SAS_URL``, this.)
SAS_BASE = net.SAS_URL
RELEASE = "dr17"
RERUN = 301
FRAME_PATTERN = re.compile(r"frame-([ugriz])-(\d{6})-(\d)-(\d{4})\.fits(\.bz2)?$")

Fetch = Callable[[str, Path], None]


class FrameError(ValueError):
    """A frame file is unreadable, corrupt, or not what its name says."""


class FrameTooLarge(FrameError):
    """A download or a decompressed frame over its size limit (refused before memory grows)."""


#: Largest decompressed frame accepted, bytes (a real frame decompresses to 12.4 MB).  A file that
#: expands beyond it (a bzip2 bomb) is refused while decompressing: memory stays under this plus a chunk.
MAX_FRAME_BYTES = 32 * 2**20
#: Largest download accepted, bytes (a real compressed frame is 3.0-3.4 MB).
MAX_DOWNLOAD_BYTES = 32 * 2**20
#: Downloads in flight at once per :class:`FrameCache` (per process); the SAS is shared, be polite.
DEFAULT_MAX_DOWNLOADS = 4
#: Seconds a connection may wait for the server (connect, headers, each read) before the attempt fails.
DEFAULT_TIMEOUT_S = 60.0
#: A download slower than this (bytes/s, averaged) after ``timeout`` seconds is abandoned and resumed.
MIN_BYTES_PER_S = 10_000


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
    data = _decompress_capped(raw, MAX_FRAME_BYTES, path)
    with _decompressed_lock:
        if keep:
            _decompressed[key] = data
        while len(_decompressed) > keep:
            _decompressed.popitem(last=False)
    return data


def _decompress_capped(raw: bytes, limit: int, path) -> bytes:
    """bzip2 (every stream of a multi-stream file) decompressed, refused as soon as it exceeds ``limit``."""
    out, size, step = [], 0, 1 << 20  # 1 MiB pieces: refusing holds at most limit + 1 MiB
    data, first = raw, True
    while data:
        d = bz2.BZ2Decompressor()
        try:
            piece = d.decompress(data, max_length=step)
            while True:
                out.append(piece)
                size += len(piece)
                if d.eof or d.needs_input or size > limit:
                    break
                piece = d.decompress(b"", max_length=step)
        except (OSError, EOFError, ValueError) as err:
            if not first:
                break  # trailing bytes that are not a bzip2 stream are ignored, as bz2.decompress does
            raise FrameError(f"{path}: corrupt or truncated bzip2 file ({err}); delete it and download again") from None
        if size > limit:
            raise FrameTooLarge(f"{path}: decompresses to more than {limit / 2**20:.0f} MiB (MAX_FRAME_BYTES; a real "
                                "frame is 12 MB): refused, not a frame")
        if not d.eof:
            raise FrameError(f"{path}: corrupt or truncated bzip2 file (compressed data ended before the "
                             "end-of-stream marker); delete it and download again")
        data, first = d.unused_data, False
    return b"".join(out)


def _check_declared_size(data: bytes, path) -> None:
    """FrameError unless the HDU0 header's image (BITPIX x NAXISn) fits in the bytes after the header."""
    end = next((i for i in range(0, min(len(data), 2880 * 100), 80) if data[i:i + 8] == b"END     "), None)
    if end is None:
        return  # no END card in the first blocks: astropy reports the malformed header
    try:
        header = fits.Header.fromstring(data[:end + 80].decode("ascii", "replace"))
        n_axes = int(header.get("NAXIS", 0))
        shape = [int(header[f"NAXIS{k}"]) for k in range(1, n_axes + 1)]
        declared = abs(int(header.get("BITPIX", 8))) // 8 * int(np.prod(shape, dtype=np.int64)) if shape else 0
    except (KeyError, ValueError, TypeError):
        return  # astropy reports it
    available = len(data) - (end // 2880 + 1) * 2880
    if declared > available:
        raise FrameError(f"{path}: FITS header declares a {'x'.join(map(str, shape))} image ({declared:,} bytes) but "
                         f"the file holds {max(available, 0):,} bytes of data (a header that lies about its shape, or "
                         "a truncated file)")


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
    _check_declared_size(data, path)
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
def urllib_fetch(url: str, dest: Path, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Download ``url`` to ``dest`` (from zero) with the checks of :class:`FrameCache`'s own download."""
    Path(dest).unlink(missing_ok=True)
    _http_download(url, Path(dest), timeout)


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


class _Discard(net.TransientError):
    """A transient failure whose bytes are not a prefix of the frame (an HTML page): start from zero."""


def _http_download(url: str, dest: Path, timeout: float, on_bytes: Callable[[int], None] = lambda n: None) -> bool:
    """Download ``url`` into ``dest``, resuming after the bytes already there (HTTP Range); True if resumed.

    Raises :class:`~.net.TransientError` (the bytes written so far are a valid prefix, kept for the next
    attempt, except :class:`_Discard`), :class:`~.net.PermanentError`, or :class:`FrameTooLarge`.
    """
    offset = dest.stat().st_size if dest.exists() else 0
    try:
        response = net.open_url(url, timeout, {"Range": f"bytes={offset}-"} if offset else None)
    except net.PermanentError as err:
        if offset and err.status == 416:  # the partial file is not a prefix of this one: from zero
            dest.unlink()
            raise _Discard(url, f"{err.detail} for the resumed range") from None
        raise
    with response:
        resumed = bool(offset) and response.status == 206 and \
            (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-")
        if not resumed:
            offset = 0  # a full answer (a server without Range support): rewrite the file
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        if length is not None and offset + length > MAX_DOWNLOAD_BYTES:
            raise FrameTooLarge(f"{url}: Content-Length {offset + length:,} bytes is over the download limit "
                                f"{MAX_DOWNLOAD_BYTES / 2**20:.0f} MiB (MAX_DOWNLOAD_BYTES); refused")
        received, start = 0, time.monotonic()
        with open(dest, "ab" if resumed else "wb") as out:
            while True:
                try:
                    chunk = response.read(1 << 18)
                except (OSError, http.client.HTTPException, ValueError) as err:
                    raise net.transient(url, err) from None
                if not chunk:
                    break
                if not received and not resumed:
                    if net.looks_like_html(chunk, response.headers.get("Content-Type")):
                        raise _Discard(url, f"answered with an HTML page (status {response.status}), not a "
                                            f"frame: {net.html_title(chunk)!r}")
                    if url.endswith(".bz2") and not chunk.startswith(b"BZh"):
                        raise _Discard(url, f"answered with something that is not bzip2 (starts {chunk[:16]!r})")
                out.write(chunk)
                received += len(chunk)
                on_bytes(len(chunk))
                if offset + received > MAX_DOWNLOAD_BYTES:
                    raise FrameTooLarge(f"{url}: more than {MAX_DOWNLOAD_BYTES / 2**20:.0f} MiB "
                                        "(MAX_DOWNLOAD_BYTES); refused")
                elapsed = time.monotonic() - start
                if elapsed > timeout and received / elapsed < MIN_BYTES_PER_S:
                    raise net.TransientError(url, f"too slow ({received / elapsed:,.0f} bytes/s after {elapsed:.0f} s, "
                                                  f"under MIN_BYTES_PER_S = {MIN_BYTES_PER_S:,}); will resume")
    if length is not None and received != length:
        raise net.TransientError(url, f"body ended after {received:,} of {length:,} bytes (Content-Length)")
    return resumed


@contextlib.contextmanager
def _exclusive(lock: Path):
    """Hold an ``flock`` on ``lock`` (blocking): one thread or process at a time, dropped by the kernel
    when its holder dies.  The holder removes the file; a waiter that locked a removed file tries again."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # while still holding it: nobody else holds this file
        os.close(fd)


class FrameCache:
    """Local cache of frames, laid out as ``root/{run}/{camcol}/frame-....fits.bz2``.

    Parameters
    ----------
    root : cache directory (created on demand).
    fetch : ``fetch(url, dest_path)`` writing the file; default: HTTP from ``base``, resumable.
    retries : attempts per frame before giving up; waits ``Retry-After`` when the server sent one,
        else ``backoff * 2**attempt`` s, between attempts.
    base : SAS base URL (default :func:`~.net.sas_url`: ``$PHOTOZ_SAS_URL``, else the public SAS).
    timeout : seconds to wait for a connection, for headers and for each read.
    max_downloads : frames fetched at once by :meth:`get_many` (default :data:`DEFAULT_MAX_DOWNLOADS`).

    See the module docstring for the guarantees.  A verified file gets a ``.ok`` sidecar with its
    size; a cached file whose size disagrees is verified again and, if corrupt, fetched again.
    ``stats`` counts bytes, downloads, attempts, retries and resumed downloads; ``events`` lists
    ``(url, reason)`` of every failed attempt.
    """

    def __init__(self, root, fetch: Fetch | None = None, retries: int = 5, backoff: float = 2.0,
                 release: str = RELEASE, rerun: int = RERUN, base: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, max_downloads: int = DEFAULT_MAX_DOWNLOADS):
        if retries < 1 or max_downloads < 1:
            raise ValueError(f"retries and max_downloads must be >= 1, got {retries} and {max_downloads}")
        self.root = Path(root)
        self._http = fetch is None
        self.fetch = fetch or (lambda url, dest: _http_download(url, dest, self.timeout, self._count_bytes))
        self.retries, self.backoff, self.timeout, self.max_downloads = retries, backoff, timeout, max_downloads
        self.release, self.rerun, self.base = release, rerun, net.sas_url(base)
        self.stats: Counter = Counter()
        self.events: list[tuple[str, str]] = []
        self._stats_lock = threading.Lock()

    def path(self, band: str, run: int, camcol: int, field: int) -> Path:
        k = _check_key(band, run, camcol, field)
        return self.root / str(k.run) / str(k.camcol) / frame_name(*k)

    def url(self, band: str, run: int, camcol: int, field: int) -> str:
        return frame_url(band, run, camcol, field, release=self.release, rerun=self.rerun, base=self.base)

    def get(self, band: str, run: int, camcol: int, field: int) -> Path:
        """Local path of a verified frame, downloading it if missing or corrupt."""
        path = self.path(band, run, camcol, field)
        if self._is_verified(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_name(".lock-" + path.name)):
            if self._is_verified(path):  # another thread or process finished it while we waited
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

    def get_many(self, keys: Iterable, max_workers: int | None = None, progress: bool = True) -> list[Path]:
        """:meth:`get` for many ``(band, run, camcol, field)`` keys, at most ``max_workers`` (default
        ``max_downloads``) at once; paths in the order of ``keys``.  A progress bar counts files and bytes.

        Every key is tried; then a failure is raised (one line: how many failed, the first error).
        """
        keys = [FrameKey(*k) for k in keys]
        paths: list[Path | None] = [None] * len(keys)
        errors: dict[int, BaseException] = {}
        bytes_before = self.stats["bytes"]
        with ThreadPoolExecutor(max_workers=max_workers or self.max_downloads) as pool, \
                tqdm(total=len(keys), desc="SDSS frames", unit="file", disable=not progress) as bar:
            futures = {pool.submit(self.get, *k): i for i, k in enumerate(keys)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    paths[i] = future.result()
                except (OSError, FrameError) as err:
                    errors[i] = err
                bar.set_postfix_str(f"{(self.stats['bytes'] - bytes_before) / 1e6:,.1f} MB downloaded"
                                    + (f", {len(errors)} failed" if errors else ""), refresh=False)
                bar.update(1)
        if errors:
            first = errors[min(errors)]
            if len(errors) == 1:
                raise first
            raise FrameError(f"{len(errors)} of {len(keys)} frames failed (the others are verified in {self.root}; "
                             f"the same command retries the failed ones); first: {first}") from first
        return paths

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
        safeio.write_atomic(self._sidecar(path), str(path.stat().st_size))  # under the frame's lock

    def _count_bytes(self, n: int) -> None:
        with self._stats_lock:
            self.stats["bytes"] += n

    def _note(self, **counts) -> None:
        with self._stats_lock:
            self.stats.update(counts)

    def _download(self, url: str, path: Path) -> None:
        """Fetch into ``.part-<name>`` (kept between attempts and runs while it is a valid prefix), verify,
        rename; the caller holds the frame's lock."""
        # The temporary name ends with the frame name, so read_frame still checks the band.
        part = path.with_name(".part-" + path.name)
        last_error = None
        for attempt in range(self.retries):
            self._note(attempts=1)
            try:
                if not self._http:
                    part.unlink(missing_ok=True)  # a fetch function writes from zero
                    self.fetch(url, part)
                    self._count_bytes(part.stat().st_size)
                elif self.fetch(url, part):
                    self._note(resumed=1)
                verify_frame(part)
                safeio.replace_file(part, path)
                self._mark_verified(path)
                self._note(downloaded=1)
                return
            except FileNotFoundError:
                part.unlink(missing_ok=True)
                raise  # not in the mirror: retrying will not make it appear
            except net.PermanentError as err:
                part.unlink(missing_ok=True)
                if err.status == 404:  # a missing frame will not appear by retrying
                    raise FileNotFoundError(f"{url}: not on the server (HTTP 404); {path} not written") from None
                raise FrameError(f"{url}: download to {path} refused by the server: {err.detail}") from None
            except net.TransientError as err:
                last_error, wait = err.detail, err.retry_after
                if isinstance(err, _Discard):
                    part.unlink(missing_ok=True)
            except (OSError, FrameError) as err:  # a verification failure or a fetch function's error
                part.unlink(missing_ok=True)  # the bytes are wrong: the next attempt starts from zero
                last_error, wait = " ".join(str(err).replace(str(part), "the download").split()), None
            with self._stats_lock:
                self.events.append((url, last_error))
            if attempt + 1 < self.retries:
                self._note(retries=1)
                time.sleep(self.backoff * 2**attempt if wait is None else wait)
        raise FrameError(f"{url}: download to {path} failed after {self.retries} attempt(s); last: {last_error}")
