"""Files written beside others: locked temp files (removed when a killed writer left them),
the server's private temporary folders (the same), fsync of folders, and the strict
If-Match rule of issue 11."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ApiError

try:
    import fcntl
except ImportError:  # Windows: no locks (stale temp files are judged by age alone)
    fcntl = None  # type: ignore[assignment]

CHUNK = 1 << 20
#: A temp file this old and not locked by its writer was left by an interrupted write (the
#: age covers the instant between creating a temp file and locking it).
STALE_AFTER = 60.0
_EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

def etag(value: str) -> str:
    """The ETag header value (quotes included) of a version or sha256."""
    return f'"{value}"'


def fsync_dir(folder: str | Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(prefix: str) -> str:
    """A new temp file name: ``<prefix><16 hex digits>.tmp`` (see ``temp_pattern``)."""
    return f"{prefix}{secrets.token_hex(8)}.tmp"


def temp_pattern(prefix: str) -> re.Pattern[str]:
    """The names ``temp_name(prefix)`` gives, and only those."""
    return re.compile(re.escape(prefix) + r"[0-9a-f]{16}\.tmp")


def open_temp(name: str, dir_fd: int | None = None, mode: int = 0o600) -> int:
    """Create the temp file ``name`` (never an existing one, never through a symlink) and
    lock it: as long as this fd is open, ``remove_stale_temps`` leaves the file alone."""
    fd = os.open(name, _EXCL, mode, dir_fd=dir_fd)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _remove_stale(
    dir_fd: int,
    pattern: re.Pattern[str],
    flags: int,
    ours: Callable[[os.stat_result], bool],
    remove: Callable[[str, os.stat_result], bool],
) -> list[str]:
    """Remove the entries of the folder ``dir_fd`` named by ``pattern`` (opened with
    ``flags``, never through a symlink) that are ``ours``, older than STALE_AFTER and
    locked by no open fd; ``remove`` says whether it removed one. Return their names."""
    removed: list[str] = []
    for name in os.listdir(dir_fd):
        if not pattern.fullmatch(name):
            continue
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            age = time.time() - st.st_mtime
            if not ours(st) or age < STALE_AFTER:
                continue
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its owner lives
            elif age < 86400:
                continue
            if remove(name, st):
                removed.append(name)
        except OSError:  # locked (BlockingIOError), or gone meanwhile
            pass
        finally:
            os.close(fd)
    return removed


def remove_stale_temps(folder: str | Path | int, pattern: re.Pattern[str]) -> list[str]:
    """Remove the temp files left in ``folder`` (a path or a folder fd) by interrupted
    writes: files named by ``pattern``, older than STALE_AFTER, that no open fd locks
    (a writer holds its lock until the file is renamed or removed). Return their names."""
    dir_fd = folder if isinstance(folder, int) else os.open(folder, os.O_RDONLY | os.O_DIRECTORY)

    def unlink(name: str, st: os.stat_result) -> bool:
        if os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino != st.st_ino:
            return False
        os.unlink(name, dir_fd=dir_fd)
        return True

    try:
        return _remove_stale(
            dir_fd,
            pattern,
            os.O_RDONLY | os.O_NONBLOCK,
            lambda st: stat.S_ISREG(st.st_mode),
            unlink,
        )
    finally:
        if not isinstance(folder, int):
            os.close(dir_fd)


#: The server's private folders in the system's temporary folder (``private_folder``).
_PRIVATE = re.compile(r"deardiary-(?:git|backup)-[A-Za-z0-9_]{8}")


def private_folder(kind: str) -> tuple[str, int]:
    """A new 0700 folder ``deardiary-<kind>-*`` in the system's temporary folder, and an fd
    that locks it: while that fd is open, ``remove_stale_folders`` leaves it alone. The
    folders killed servers left are removed first."""
    with contextlib.suppress(OSError):
        remove_stale_folders()
    path = tempfile.mkdtemp(prefix=f"deardiary-{kind}-")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return path, fd


@contextlib.contextmanager
def temporary_folder(kind: str) -> Iterator[str]:
    """A private folder for one request, removed after it (or, after a kill, by the next
    server start or private folder made)."""
    path, fd = private_folder(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def remove_stale_folders(parent: str | None = None) -> list[str]:
    """Remove the private folders of killed servers from ``parent`` (the system's temporary
    folder): ours by name and owner, older than STALE_AFTER and locked by no open fd.
    Return their names."""
    parent_fd = os.open(parent or tempfile.gettempdir(), os.O_RDONLY | os.O_DIRECTORY)

    def rmtree(name: str, _: os.stat_result) -> bool:
        shutil.rmtree(name, dir_fd=parent_fd)
        return True

    try:
        return _remove_stale(
            parent_fd,
            _PRIVATE,
            os.O_RDONLY | os.O_DIRECTORY,
            lambda st: st.st_uid == getattr(os, "getuid", lambda: st.st_uid)(),
            rmtree,
        )
    finally:
        os.close(parent_fd)


def parse_tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


_ETAG = re.compile(r'"[0-9a-f]{64}"')


def required_sha256(if_match: str | None) -> str:
    """The sha256 an exact ``If-Match: "<sha256>"`` names. Anything else (no header,
    ``*``, a list, a weak or malformed tag) could act on a version the client never
    read: 428."""
    if if_match is None:
        raise ApiError(428, "precondition_required", 'Send If-Match: "<store_etag>".')
    if not _ETAG.fullmatch(if_match.strip()):
        raise ApiError(
            428,
            "precondition_required",
            f'If-Match: {if_match} is not accepted. Send If-Match: "<store_etag>" (the exact '
            "store_etag of the unusable store).",
        )
    return if_match.strip()[1:-1]
