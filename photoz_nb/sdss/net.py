"""Where the real SDSS path connects, and the one HTTP client it uses (SAS frames and SkyServer SQL).

Two settings, each a base URL with the public service as default:

* the Science Archive Server (frames): ``--sas-url`` of ``photoz-nb sdss frames|cutouts``, else the
  environment variable ``PHOTOZ_SAS_URL``, else ``https://data.sdss.org/sas``;
* the SkyServer SQL service (the sample query): ``--skyserver-url`` of ``photoz-nb sdss query``, else
  ``PHOTOZ_SKYSERVER_URL``, else ``https://skyserver.sdss.org``.

A mirror of either is a server with the same URL layout below its base (``{sas}/dr17/eboss/photoObj/
frames/301/...`` and ``{skyserver}/dr12/en/tools/search/x_results.aspx``), such as the local stand-in
:mod:`photoz_nb.sdss.standin`.  (``--mirror`` is something else: a local *folder* of frame files.)

:func:`open_url` opens one request and turns every failure into an exception whose message is one
line naming the URL: :class:`TransientError` (worth retrying: refused, reset, timed out, 5xx, 429,
an HTML page where data was expected, a truncated body), with ``retry_after`` when the server sent a
``Retry-After``; :class:`PermanentError` (404, 403, other 4xx: retrying will not help).
"""
from __future__ import annotations

import email.utils
import http.client
import os
import socket
import time
import urllib.error
import urllib.request

SAS_URL = "https://data.sdss.org/sas"
SKYSERVER_URL = "https://skyserver.sdss.org"
SAS_URL_ENV = "PHOTOZ_SAS_URL"
SKYSERVER_URL_ENV = "PHOTOZ_SKYSERVER_URL"
#: The longest ``Retry-After`` honoured (s); a longer one is waited this long (and the attempt counts).
MAX_RETRY_AFTER_S = 120.0
USER_AGENT = "photoz-nb (https://github.com/; SDSS frames for photometric redshifts)"


def sas_url(value: str | None = None) -> str:
    """The SAS base URL: ``value``, else ``$PHOTOZ_SAS_URL``, else the public SAS."""
    return _base(value, SAS_URL_ENV, SAS_URL)


def skyserver_url(value: str | None = None) -> str:
    """The SkyServer base URL: ``value``, else ``$PHOTOZ_SKYSERVER_URL``, else the public SkyServer."""
    return _base(value, SKYSERVER_URL_ENV, SKYSERVER_URL)


def _base(value, env: str, default: str) -> str:
    url = (value or os.environ.get(env) or default).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        source = "the value given" if value else f"${env}"
        raise ValueError(f"{source} = {url!r}: expected an http:// or https:// base URL")
    return url


class NetError(OSError):
    """A request failed: ``str()`` is one line, ``"<url>: <detail>"``; ``status`` the HTTP status if any."""

    def __init__(self, url: str, detail: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(f"{url}: {detail}")
        self.url, self.detail, self.retry_after, self.status = url, detail, retry_after, status

    def __str__(self) -> str:
        return self.args[0]


class TransientError(NetError):
    """Worth retrying: the server or the network may do better next time."""


class PermanentError(NetError):
    """Retrying will not help (404, 403, other 4xx, a response over the size limit)."""


def _one_line(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    inner = reason if isinstance(reason, BaseException) else err
    text = " ".join(str(inner).split()) or type(inner).__name__
    return text if type(inner).__name__ in text else f"{type(inner).__name__}: {text}"


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds, capped at MAX_RETRY_AFTER_S."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def open_url(url: str, timeout: float, headers: dict | None = None) -> http.client.HTTPResponse:
    """``urlopen`` with one-line errors naming ``url`` (see the module docstring for the classes)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        wait = retry_after_seconds(err.headers.get("Retry-After") if err.headers else None)
        err.close()
        after = f" (Retry-After {wait:g} s)" if wait is not None else ""
        detail = f"HTTP {err.code} {err.reason}{after}"
        if err.code in (408, 429) or err.code >= 500:
            raise TransientError(url, detail, wait, err.code) from None
        raise PermanentError(url, detail, status=err.code) from None
    except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError) as err:
        raise TransientError(url, _one_line(err)) from None


def transient(url: str, err: BaseException) -> TransientError:
    """A network failure while reading a body, as a one-line :class:`TransientError` naming ``url``."""
    return TransientError(url, f"{_one_line(err)} while reading the body")


def looks_like_html(first_bytes: bytes, content_type: str | None) -> bool:
    """True for an HTML page (an error or maintenance page served with status 200)."""
    if content_type and "html" in content_type.lower():
        return True
    head = first_bytes.lstrip()[:15].lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def html_title(text: bytes) -> str:
    """The ``<title>`` (or first line) of an HTML page, for an error message."""
    lower = text.lower()
    start, stop = lower.find(b"<title>"), lower.find(b"</title>")
    snippet = text[start + 7:stop] if 0 <= start < stop else text[:80]
    return " ".join(snippet.decode("utf-8", "replace").split())[:80]
