"""A local stand-in for the SDSS Science Archive Server and SkyServer's SQL search, with faults on a seed.

A real HTTP server (a thread of this process) that answers what the real path asks:

* ``GET {sas_url}/dr17/eboss/photoObj/frames/301/{run}/{camcol}/frame-{b}-{run:06d}-{camcol}-{field:04d}.fits.bz2``:
  the committed real frames of ``data/sdss_sample`` (byte for byte, HTTP ``Range`` supported).  With
  ``any_field=True`` every field name is served, by the real frame of its band of one of the two
  committed fields (so a benchmark can ask for thousands of distinct frames);
* ``GET {skyserver_url}/dr{N}/en/tools/search/x_results.aspx?cmd=<SQL>&format=csv``: pages of a local
  catalogue (SkyServer's columns) in SkyServer's CSV format (``#Table1``, header, rows), answering the
  sample query's ``TOP n`` and ``objID > after``.

Faults (:data:`FAULTS`), injected on a seed: each request of a file is faulted or not by a hash of
``(seed, file name, how many times it was asked for)``, so the same seed faults the same requests
whatever the order threads ask in; at most ``max_in_a_row`` requests of one file in a row are faulted
(transient faults: a client that retries enough gets the file).  :meth:`StandIn.force` makes the next
requests of one file fail in a given way (or always, ``times=None``), for tests.  ``counts`` tallies
what was served, ``bytes_sent`` the body bytes.

The project's client code talks to it over sockets: point ``--sas-url`` / ``--skyserver-url`` (or
``PHOTOZ_SAS_URL`` / ``PHOTOZ_SKYSERVER_URL``) at it.  ``python -m photoz_nb.sdss.standin`` serves until
interrupted (no faults unless ``--fault-rate``).
"""
from __future__ import annotations

import bz2
import hashlib
import http.server
import io
import re
import socket
import struct
import threading
import time
import urllib.parse
import warnings
from collections import Counter, defaultdict
from pathlib import Path

from astropy.table import Table

from .. import config
from .frames import FRAME_PATTERN, RELEASE, RERUN

#: Every fault the stand-in injects, and what the client sees.
FAULTS = {
    "refused": "the connection is reset before any answer (an overloaded server); a true ECONNREFUSED "
               "is a port with nothing listening",
    "hang": "no headers within the client's timeout (the server waits hang_s, then closes)",
    "reset": "the connection is reset in the middle of the body",
    "truncated": "half the body, with a Content-Length that matches it (only verification can tell)",
    "short": "half the body, with the full file's Content-Length (the server closes early)",
    "html": "status 200 with an HTML error page instead of the file",
    "500": "HTTP 500 Internal Server Error",
    "503": "HTTP 503 with Retry-After (retry_after seconds)",
    "slow": "the file, rate-limited to slow_bytes_per_s (succeeds, slowly)",
    "bomb": "a valid bzip2 file that expands to bomb_gib GiB of zeros",
    "lying": "a frame whose FITS header declares the full 2048x1489 image but holds a fraction of it",
}
FRAME_FAULTS = tuple(FAULTS)
#: Faults that make sense for a SkyServer page (a CSV page has no bzip2 or FITS header to lie).
SQL_FAULTS = ("refused", "hang", "reset", "short", "html", "500", "503", "slow")

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>SDSS - Service temporarily unavailable</title></head>\n"
             b"<body><h1>Service temporarily unavailable</h1><p>The server is down for maintenance. "
             b"Please try again later.</p></body></html>\n")
_SQL_PATH = re.compile(r"^/dr(\d+)/en/tools/search/x_results\.aspx$")
_zeros_stream: bytes | None = None
_zeros_lock = threading.Lock()


def bomb_bytes(gib: float = 4.0) -> bytes:
    """A valid multi-stream bzip2 file that decompresses to ``gib`` GiB of zeros (a few kB)."""
    global _zeros_stream
    with _zeros_lock:
        if _zeros_stream is None:
            _zeros_stream = bz2.compress(bytes(64 * 2**20), compresslevel=9)  # 64 MiB -> 79 bytes
    return _zeros_stream * max(1, int(round(gib * 16)))


def lying_frame(frame_bz2: bytes, keep_blocks: int = 400) -> bytes:
    """A real frame's header (declaring 2048x1489 float32) followed by only ``keep_blocks`` FITS blocks of
    data, re-compressed: a valid bzip2 file and a valid-looking header that lies about what follows."""
    raw = bz2.BZ2Decompressor().decompress(frame_bz2, max_length=(keep_blocks + 40) * 2880)  # the start only
    end = next(i for i in range(0, len(raw), 80) if raw[i:i + 8] == b"END     ")
    data_start = (end // 2880 + 1) * 2880
    return bz2.compress(raw[:data_start + keep_blocks * 2880], compresslevel=1)


def skyserver_csv(rows: Table) -> bytes:
    """``rows`` in SkyServer's CSV format: ``#Table1``, a header line, one line per row."""
    out = io.StringIO()
    rows.write(out, format="ascii.csv", overwrite=True)
    return ("#Table1\n" + out.getvalue()).encode()


class StandIn:
    """The stand-in server; a context manager (``with StandIn(...) as s: s.sas_url``).

    Parameters
    ----------
    frames_dir : folder of real ``frame-*.fits.bz2`` files (default: the committed sample).
    catalog : Table (or CSV path) of SkyServer columns (``objid`` ...) answered by the SQL page; optional.
    seed, fault_rate, faults, max_in_a_row : the random faults (see the module docstring).
    hang_s, slow_bytes_per_s, retry_after, bomb_gib : parameters of the faults.
    any_field : serve every frame name (by a committed frame of the same band), not only the committed ones.
    """

    def __init__(self, frames_dir=None, catalog=None, *, seed: int = 0, fault_rate: float = 0.0,
                 faults=FRAME_FAULTS, sql_faults=SQL_FAULTS, max_in_a_row: int = 2, hang_s: float = 5.0,
                 slow_bytes_per_s: float = 4e6, retry_after: int = 1, bomb_gib: float = 4.0,
                 any_field: bool = False, host: str = "127.0.0.1", port: int = 0):
        unknown = set(faults) - set(FAULTS) | set(sql_faults) - set(SQL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; expected some of {list(FAULTS)}")
        if not 0 <= fault_rate <= 1:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        self.frames_dir = Path(frames_dir) if frames_dir is not None else config.sample_frames_dir()
        if catalog is not None and not isinstance(catalog, Table):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # specobjid > 2**63 is read as a string, as by the client
                catalog = Table.read(catalog, format="ascii.csv", comment="#")
        self.catalog = catalog
        self.seed, self.fault_rate, self.faults, self.sql_faults = seed, fault_rate, tuple(faults), tuple(sql_faults)
        self.max_in_a_row, self.hang_s, self.slow_bytes_per_s = max_in_a_row, hang_s, slow_bytes_per_s
        self.retry_after, self.bomb_gib, self.any_field = retry_after, bomb_gib, any_field
        self.counts: Counter = Counter()
        self.bytes_sent = 0
        self.log: list[tuple[str, str]] = []
        self._asked: Counter = Counter()
        self._in_a_row: Counter = Counter()
        self._forced: dict[str, list] = defaultdict(list)
        self._lock = threading.Lock()
        self._content: dict[str, bytes] = {}
        self._derived: dict[tuple, bytes] = {}
        self._stopping = threading.Event()
        self._server = http.server.ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def sas_url(self) -> str:
        """The SAS base URL to give the client (``--sas-url``)."""
        return self.address + "/sas"

    @property
    def skyserver_url(self) -> str:
        """The SkyServer base URL to give the client (``--skyserver-url``)."""
        return self.address

    def start(self) -> "StandIn":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="sdss-standin")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------------------------
    def force(self, name: str, fault: str | None, times: int | None = 1) -> None:
        """The next ``times`` requests of ``name`` (a frame file name, or ``"sql"`` for SkyServer pages)
        get ``fault`` (None: served correctly); ``times=None``: every request from now on."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {list(FAULTS)}")
        with self._lock:
            self._forced[name].append([fault, times])

    def _decide(self, name: str, kinds: tuple) -> str | None:
        with self._lock:
            k = self._asked[name]
            self._asked[name] += 1
            forced = self._forced.get(name)
            if forced:
                fault, times = forced[0]
                if times is not None:
                    forced[0][1] -= 1
                    if forced[0][1] <= 0:
                        forced.pop(0)
                chosen = fault
            else:
                digest = hashlib.sha256(f"{self.seed}:{name}:{k}".encode()).digest()
                u = int.from_bytes(digest[:8], "big") / 2**64
                chosen = None
                if kinds and u < self.fault_rate and self._in_a_row[name] < self.max_in_a_row:
                    chosen = kinds[int.from_bytes(digest[8:12], "big") % len(kinds)]
            self._in_a_row[name] = self._in_a_row[name] + 1 if chosen else 0
            self.counts[chosen or "ok"] += 1
            self.log.append((name, chosen or "ok"))
            return chosen

    # -- content ----------------------------------------------------------------------------------
    def frame_bytes(self, name: str) -> bytes | None:
        """The bytes served for a frame file name (None: 404)."""
        m = FRAME_PATTERN.search(name)
        if not m or not name.endswith(".bz2"):
            return None
        source = self.frames_dir / name
        if not source.is_file():
            if not self.any_field:
                return None
            band, key = m.group(1), int(m.group(2)) + int(m.group(3)) + int(m.group(4))
            candidates = sorted(self.frames_dir.glob(f"frame-{band}-*.fits.bz2"))
            if not candidates:
                return None
            source = candidates[key % len(candidates)]
        with self._lock:
            if source.name not in self._content:
                self._content[source.name] = source.read_bytes()
            return self._content[source.name]

    def _derived_bytes(self, kind: str, source: bytes) -> bytes:
        key = (kind, hashlib.sha256(source).hexdigest())
        with self._lock:
            cached = self._derived.get(key)
        if cached is None:
            cached = bomb_bytes(self.bomb_gib) if kind == "bomb" else lying_frame(source)
            with self._lock:
                self._derived[key] = cached
        return cached

    def sql_page(self, query: dict) -> bytes:
        sql = (query.get("cmd") or [""])[0]
        top = re.search(r"SELECT\s+TOP\s+(\d+)", sql, re.I)
        after = re.search(r"objID\s*>\s*(\d+)", sql, re.I)
        if self.catalog is None or not top:
            return HTML_PAGE.replace(b"Service temporarily unavailable", b"SQL error")
        rows = self.catalog
        if after:
            import numpy as np  # noqa: PLC0415 (only the SQL page needs it)
            rows = rows[np.asarray(rows["objid"], dtype=np.uint64) > np.uint64(int(after.group(1)))]
        return skyserver_csv(rows[:int(top.group(1))])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "photoz-nb-standin/1"

    def log_message(self, *args):  # quiet
        pass

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the fault closed the socket already

    def do_GET(self):
        standin: StandIn = self.server.standin
        url = urllib.parse.urlsplit(self.path)
        prefix = f"/sas/{RELEASE}/eboss/photoObj/frames/{RERUN}/"
        if url.path.startswith(prefix):
            name = url.path.rsplit("/", 1)[-1]
            body = standin.frame_bytes(name)
            if body is None or url.path != f"{prefix}{_frame_dir(name)}/{name}":
                return self._plain(404, b"Not Found")
            fault = standin._decide(name, standin.faults if standin.fault_rate else ())
            ctype = "application/x-bzip2"
        elif _SQL_PATH.match(url.path):
            fault = standin._decide("sql", standin.sql_faults if standin.fault_rate else ())
            body, ctype = standin.sql_page(urllib.parse.parse_qs(url.query)), "text/plain; charset=utf-8"
            if fault in ("truncated", "bomb", "lying"):
                fault = "short"
        else:
            return self._plain(404, b"Not Found")
        self._serve(standin, body, ctype, fault)

    # -- answers ----------------------------------------------------------------------------------
    def _serve(self, standin: StandIn, body: bytes, ctype: str, fault: str | None) -> None:
        if fault == "refused":
            return self._reset()
        if fault == "hang":
            standin._stopping.wait(standin.hang_s)
            return self._reset()
        if fault == "html":
            return self._plain(200, HTML_PAGE, "text/html; charset=utf-8")
        if fault == "500":
            return self._plain(500, b"Internal Server Error")
        if fault == "503":
            return self._plain(503, b"Service Unavailable", extra={"Retry-After": str(standin.retry_after)})
        if fault in ("bomb", "lying"):
            body = standin._derived_bytes(fault, body)
        start, total = 0, len(body)
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
        if ranged and fault not in ("bomb", "lying"):
            start = int(ranged.group(1))
            if start >= total:
                return self._plain(416, b"Range Not Satisfiable", extra={"Content-Range": f"bytes */{total}"})
        part = body[start:]
        send = part[:len(part) // 2] if fault in ("reset", "truncated", "short") else part
        length = len(send) if fault == "truncated" else len(part)
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            if fault == "slow":
                step = 64 * 1024
                for i in range(0, len(send), step):
                    self._write(standin, send[i:i + step])
                    if standin._stopping.wait(step / standin.slow_bytes_per_s):
                        return
            else:
                self._write(standin, send)
            if fault == "reset":
                self.wfile.flush()
                self._reset()
        except OSError:
            pass  # the client went away (its own timeout): nothing to answer

    def _write(self, standin: StandIn, data: bytes) -> None:
        self.wfile.write(data)
        with standin._lock:
            standin.bytes_sent += len(data)

    def _plain(self, status: int, body: bytes, ctype: str = "text/plain", extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def _reset(self) -> None:
        """Close with an RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def _frame_dir(name: str) -> str:
    m = FRAME_PATTERN.search(name)
    return f"{int(m.group(2))}/{int(m.group(3))}"


def main(argv=None) -> None:
    import argparse  # noqa: PLC0415
    p = argparse.ArgumentParser(prog="python -m photoz_nb.sdss.standin", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8017)
    p.add_argument("--catalog", type=Path, default=None, help="SkyServer CSV of the sample to answer SQL with")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--any-field", action="store_true", help="serve every field name (by a committed frame)")
    a = p.parse_args(argv)
    with StandIn(catalog=a.catalog, seed=a.seed, fault_rate=a.fault_rate, any_field=a.any_field, port=a.port) as s:
        print(f"SAS stand-in: --sas-url {s.sas_url}\nSkyServer stand-in: --skyserver-url {s.skyserver_url}\n"
              "Ctrl-C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
