"""Private files: creation, checks, atomic replacement and locking.

Everything the workbench writes goes through here, so every file is 0600 in a 0700 directory, is replaced
atomically (temp file + fsync + rename + directory fsync) and is refused when it is a symlink or belongs to
someone else (a `sudo` run, a planted link on a shared host).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import BusyError, UnsafeFileError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create the data directory (0700) if needed and refuse one that others could tamper with."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFileError(path, "is a symbolic link", "Point WORKBENCH_HOME at the real directory")
    if info.st_uid != os.getuid():
        raise UnsafeFileError(
            path,
            f"belongs to uid {info.st_uid}, not you (uid {os.getuid()})",
            "Was it created with sudo? chown it",
        )
    if info.st_mode & 0o077:
        raise UnsafeFileError(
            path,
            f"is accessible by other users (mode {stat.S_IMODE(info.st_mode):o})",
            f"Run: chmod 700 {path}",
        )
    return path


def check_private_file(path: Path) -> bool:
    """True when the file exists and is safe to read; False when it does not exist."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFileError(path, "is a symbolic link", "Replace it with the real file")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(path, "is not a regular file", "Move it away")
    if info.st_uid != os.getuid():
        raise UnsafeFileError(
            path,
            f"belongs to uid {info.st_uid}, not you (uid {os.getuid()})",
            "Was it written with sudo? chown it",
        )
    if info.st_mode & 0o077:
        raise UnsafeFileError(
            path,
            f"is readable by other users (mode {stat.S_IMODE(info.st_mode):o})",
            f"Run: chmod 600 {path}",
        )
    return True


def read_private(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist. Opened with O_NOFOLLOW so a link swapped in after the
    check is still refused."""
    if not check_private_file(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash at any instant leaves either the old or the new file."""
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=directory)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_dir(directory)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create a new private file; False when it already exists (someone else created it first)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(path.parent)
    return True


def remove_orphans(path: Path) -> int:
    """Delete temp files a killed writer left behind. Call with the lock held."""
    removed = 0
    for orphan in path.parent.glob(f"{temp_prefix(path)}*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            orphan.unlink()
            removed += 1
    return removed


LOCK_WAIT = 10.0  # seconds: a save takes milliseconds; longer means a stuck or stopped workbench


@contextlib.contextmanager
def exclusive_lock(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold an exclusive flock on the sidecar `<path>.lock` (the data file itself is never locked, since it is
    replaced by rename). Waits at most `wait` seconds (LOCK_WAIT by default), then raises BusyError."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFileError(lock_path, "is a symbolic link", f"Remove it: rm {lock_path}") from None
        raise
    try:
        limit = LOCK_WAIT if wait is None else wait
        deadline = time.monotonic() + limit
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BusyError(path, limit) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock
