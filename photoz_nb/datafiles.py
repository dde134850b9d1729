"""Pinned input files: the real SDSS sample committed in ``data/sdss_sample``, and their checksums.

The sample (two SDSS fields in ugriz, a calibObj star list and a photoField table) is what the
tests and notebook 01 read.  Its files are the SDSS Science Archive Server's own, byte for byte;
``data/sdss_sample/registry.txt`` (pooch's registry format: ``name sha256:<hex> <SAS URL>``) pins
each one.  :func:`fetch` returns the local path of a file after checking its sha256, and downloads
a missing file from the archive (or from a ``mirror``: a folder or a ``file://`` / ``https://``
URL holding the files side by side), keeping it only if its sha256 is the pinned one.  A local
file whose sha256 differs is an error, never silently replaced: it is a corrupt or edited copy of
a committed file.

:func:`verify` is the one checksum check of pinned inputs (also kcorrect's catalogue, see
``photoz_nb.mgs.mgs_path``).
"""
from __future__ import annotations

import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from . import safeio

#: The sample lives in the checkout (it is committed), whatever ``PHOTOZ_HOME`` says.
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sdss_sample"
REGISTRY = "registry.txt"
#: Attempts after a failed download or a checksum mismatch (a truncated transfer).
RETRIES = 2

# (path, size, mtime_ns) -> sha256 already checked in this process: the sample is read at import
# time by three test modules and by notebook 01; hashing its 35 MB once per process is enough.
_VERIFIED: dict[tuple[str, int, int], str] = {}


class ChecksumError(ValueError):
    """A file's sha256 is not the one pinned for it."""


def verify(path, expected: str, what: str = "", fix: str = "") -> Path:
    """``path`` if its sha256 is ``expected`` (hex, optionally ``sha256:``-prefixed), else ChecksumError.

    The message names the file, ``what`` it is, both checksums and ``fix`` (what to do about it).
    """
    path = Path(path)
    expected = expected.removeprefix("sha256:").lower()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found{f' ({what})' if what else ''}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key) or safeio.sha256(path)
    if actual != expected:
        raise ChecksumError(f"{path}{f' ({what})' if what else ''}: sha256 is {actual}, but the pinned sha256 is "
                            f"{expected}{f'. {fix}' if fix else ''}")
    _VERIFIED[key] = actual
    return path


def registry() -> dict[str, tuple[str, str]]:
    """name -> (sha256 hex, archive URL), read from the committed ``data/sdss_sample/registry.txt``."""
    path = SAMPLE_DIR / REGISTRY
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the SDSS sample's checksum registry is missing "
                                "(it is committed in the repository's data/sdss_sample)")
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3 or not fields[1].startswith("sha256:") or len(fields[1]) != 7 + 64:
            raise ValueError(f"{path}:{number}: expected 'name sha256:<64 hex> URL', got {line!r}")
        entries[fields[0]] = (fields[1].removeprefix("sha256:"), fields[2])
    return entries


def fetch(name: str, directory=None, mirror=None) -> Path:
    """Local path of the sample file ``name``, its sha256 checked; downloaded first if missing.

    ``directory``: the sample folder (default ``data/sdss_sample``; its ``registry.txt`` is always
    the committed one).  ``mirror``: a folder, or a ``file://`` or ``https://`` URL, holding the
    files side by side, used instead of the archive's URLs.
    """
    pins = registry()
    if name not in pins:
        raise KeyError(f"{name!r} is not in {SAMPLE_DIR / REGISTRY}; it lists {sorted(pins)}")
    sha, url = pins[name]
    directory = Path(directory or SAMPLE_DIR)
    path = directory / name
    if path.exists():
        return verify(path, sha, "a file of the SDSS sample",
                      fix=f"The file is corrupt or was edited: restore it (git checkout -- {path}) or delete it, "
                          "and photoz_nb.datafiles.fetch downloads it again from the SDSS archive")
    if mirror is not None:
        url = _mirror_url(mirror) + name
    return _download(url, path, sha)


def verified_sample_dir(directory=None, mirror=None) -> Path:
    """The sample folder, after :func:`fetch` of every file its registry lists."""
    for name in registry():
        fetch(name, directory, mirror)
    return Path(directory or SAMPLE_DIR)


def _mirror_url(mirror) -> str:
    text = str(mirror)
    if "://" not in text:
        text = Path(text).resolve().as_uri()
    return text.rstrip("/") + "/"


def _download(url: str, path: Path, sha: str) -> Path:
    """``url`` to ``path`` through pooch, kept only if its sha256 is ``sha``."""
    # lazy (pooch, requests): network code, needed only to fetch a missing file, and every process imports
    # this module through photoz_nb.config
    import pooch
    import requests

    try:
        # pooch writes to a temporary name beside ``path``, checks the hash, then renames; a local
        # copy cannot be a truncated transfer, so only network downloads are retried.
        fetcher = pooch.create(path=path.parent, base_url="", registry={path.name: f"sha256:{sha}"},
                               urls={path.name: url}, retry_if_failed=0 if url.startswith("file://") else RETRIES)
        return Path(fetcher.fetch(path.name, downloader=_downloader(url)))
    except ValueError as err:  # pooch's hash mismatch names the file and both hashes
        raise ChecksumError(f"{url}: the downloaded file is not the pinned one, nothing was written to {path}: "
                            f"{err}") from None
    except (OSError, requests.RequestException) as err:
        raise OSError(f"{path.name} is missing from {path.parent} and could not be fetched from {url}: {err}. "
                      "Restore it with git (it is committed), or pass mirror=<folder holding it>") from err


def _downloader(url: str):
    if url.startswith("file://"):
        return _copy_file_url
    import pooch  # lazy: see _download

    return pooch.HTTPDownloader(progressbar=False, timeout=120)


def _copy_file_url(url: str, output_file, pooch_instance=None) -> None:
    """A pooch downloader for ``file://`` URLs (a local mirror, e.g. for offline tests)."""
    source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not in the local mirror {source.parent}")
    if hasattr(output_file, "write"):
        with open(source, "rb") as f:
            shutil.copyfileobj(f, output_file)
    else:
        shutil.copyfile(source, os.fspath(output_file))
