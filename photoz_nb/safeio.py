"""Safe outputs in one place: folder locks, durable atomic writes, atomic replacement of folders.

Every writer of the project (data set builds, training runs) goes through these helpers, so
that nothing a user owns is lost:

* :class:`FolderLock` guards an output folder: a second writer gets :class:`FolderInUse`
  ("in use by PID ..."); the lock of a killed process is taken over.
* :func:`write_atomic` / :func:`write_table` / :func:`replace_file` publish a file under its final name only once its
  bytes are on disk (temporary file, ``fsync``, rename, ``fsync`` of the folder).
* :func:`replace_folder` puts a finished folder in place of an old one without a moment where
  neither exists under its name (Linux ``renameat2(RENAME_EXCHANGE)``), and removes the old one
  only afterwards.  Where the exchange is not available the old folder is renamed aside first;
  :func:`recover_folder` puts it back (or finishes the job) after a kill between the two renames.

Each step of a publication calls :func:`_fault_hook` with its name; tests replace the hook to
kill the process at that step (``tests/test_faults.py``).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import io
import os
import shutil
import sys
import threading
from pathlib import Path

from tqdm.auto import tqdm

#: Suffix of a folder set aside while its replacement is renamed into place (fallback path only).
ASIDE = ".replaced"


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


def _fault_hook(step: str) -> None:
    """Called at every step of a publication; a no-op (tests make it kill the process)."""


def announce(message: str) -> None:
    """One line to the user (stderr, beside the progress bars): what a command does and why."""
    print(message, file=sys.stderr, flush=True)


class FolderInUse(OSError):
    """Another live process holds the lock of an output folder."""


# --------------------------------------------------------------------------- locks
_held: dict[Path, int] = {}  # lock file -> depth, for nested use in one process
_held_guard = threading.Lock()


def lock_path(folder) -> Path:
    """The lock file of ``folder``: ``.<name>.lock`` beside it (the folder itself may be replaced)."""
    folder = Path(folder).absolute()
    return folder.with_name(f".{folder.name}.lock")


class FolderLock:
    """Exclusive use of an output folder by this process, for the length of a ``with`` block.

    The lock is a ``flock`` on ``.<name>.lock`` beside the folder, holding the owner's PID.
    The kernel drops a ``flock`` when its process dies (SIGKILL included), so the lock file of
    a killed process is stale and the next writer takes it over.  Nested locks of the same
    folder in one process are allowed (a build that writes through a DatasetWriter).

    Creating the lock file is also the first write into the folder's parent, so an unwritable
    location is reported here, naming the folder, before any work is done.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = lock_path(folder)
        self._fd = None

    def __enter__(self) -> "FolderLock":
        with _held_guard:
            if self.path in _held:
                _held[self.path] += 1
                return self
            self._fd = self._acquire()
            _held[self.path] = 1
        return self

    def __exit__(self, *exc) -> None:
        with _held_guard:
            _held[self.path] -= 1
            if _held[self.path] or self._fd is None:
                return
            del _held[self.path]
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still holding the lock: nobody can have taken it
            os.close(self._fd)
            self._fd = None

    def _acquire(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise type(err)(err.errno, f"cannot create the folder {self.path.parent} for {self.folder} "
                                       f"({err.strerror})") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise type(err)(err.errno, f"cannot write in {self.path.parent} (output {self.folder}): "
                                           f"{err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise FolderInUse(errno.EBUSY, f"{self.folder} is in use by PID {owner} (lock file {self.path}); "
                                               "wait for it to finish, or stop it") from None
            # The file may have been unlinked (released) between our open and flock: retry on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            stale = os.pread(fd, 64, 0).decode(errors="replace").strip()
            if stale:
                announce(f"{self.folder}: taking over the lock of PID {stale}, which has ended")
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd


# --------------------------------------------------------------------------- durable files
def fsync_folder(folder) -> None:
    """Make a rename or a new name in ``folder`` durable."""
    with contextlib.suppress(OSError):  # some file systems do not open folders; nothing to do there
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(tmp, path) -> None:
    """Rename the finished file ``tmp`` to ``path`` once its bytes are on disk, durably."""
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_folder(Path(path).parent)


def write_atomic(path, data: str | bytes) -> None:
    """Write ``data`` to ``path``: a reader sees the old content or the new one, never a torn file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)


def write_table(path, table, format: str = "ascii.ecsv") -> None:
    """Write an astropy ``table`` to ``path`` in ``format`` through :func:`write_atomic`."""
    buffer = io.StringIO()
    table.write(buffer, format=format)
    write_atomic(path, buffer.getvalue())


def set_aside(path, why: str) -> Path:
    """Rename a damaged file to ``<name>.corrupt`` (never delete it) and say so."""
    path = Path(path)
    target = path.with_name(path.name + ".corrupt")
    n = 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.corrupt{n}"), n + 1
    os.replace(path, target)
    announce(f"{path}: {why}; set aside as {target.name}")
    return target


# --------------------------------------------------------------------------- replacing folders
def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, f"cannot put {a} in place of {b}: {os.strerror(err)}")


def aside_path(folder) -> Path:
    folder = Path(folder)
    return folder.with_name(folder.name + ASIDE)


def replace_folder(new, dest, exchange: bool = True) -> None:
    """Publish the finished folder ``new`` as ``dest``; then remove the old ``dest``, if any.

    The caller has checked that an existing ``dest`` may be replaced (it holds what this
    project wrote there).  Steps (each one calls :func:`_fault_hook`): with an old folder,
    ``exchanged`` (new and old swapped in one step; the old now under ``new``'s name), else
    ``set-aside`` (old renamed to ``<dest>.replaced``) then ``renamed`` (new in place);
    then ``old-removed``.  A kill at any step leaves a valid folder at ``dest``, or (fallback
    path, between the two renames) the old one aside, which :func:`recover_folder` restores.
    """
    new, dest = Path(new), Path(dest)
    if not dest.exists():
        os.rename(new, dest)
        fsync_folder(dest.parent)
        _fault_hook("renamed")
        return
    if exchange and _exchange(new, dest):
        fsync_folder(dest.parent)
        _fault_hook("exchanged")
        old = new
    else:
        old = aside_path(dest)
        os.rename(dest, old)
        fsync_folder(dest.parent)
        _fault_hook("set-aside")
        os.rename(new, dest)
        fsync_folder(dest.parent)
        _fault_hook("renamed")
    shutil.rmtree(old)
    _fault_hook("old-removed")


def recover_folder(dest) -> None:
    """Finish or undo a :func:`replace_folder` (fallback path) that a kill interrupted.

    Only ``<dest>.replaced`` (which replace_folder made) is acted on: with ``dest`` in place it
    is removed (the kill came after the new folder was published); with ``dest`` missing it is
    renamed back (the kill came between the two renames; the rerun publishes the new one again).
    """
    dest = Path(dest)
    old = aside_path(dest)
    if old.is_dir() and dest.is_dir():  # killed after the new one was in place: finish the removal
        shutil.rmtree(old)
    elif old.is_dir() and not dest.exists():
        os.rename(old, dest)
        fsync_folder(dest.parent)
        announce(f"{dest}: restored the previous version (its replacement was interrupted)")
