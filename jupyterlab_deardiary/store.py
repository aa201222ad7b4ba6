"""The SQLite store file: read with a sha256 ETag, replaced atomically under If-Match."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ApiError

try:
    import fcntl
except ImportError:  # Windows: the in-process asyncio lock still serialises writes
    fcntl = None  # type: ignore[assignment]

CHUNK = 1 << 20
#: A temp file this old and not locked by its writer was left by an interrupted write (the
#: age covers the instant between creating a temp file and locking it).
STALE_AFTER = 60.0
_EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

# sha256 of files already hashed, keyed by path and checked against (mtime_ns, size, inode, dev)
_hashes: dict[str, tuple[tuple[int, int, int, int], str]] = {}
# one asyncio.Lock per store path, per event loop
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def etag(sha: str) -> str:
    """The ETag header value (quotes included) of a sha256."""
    return f'"{sha}"'


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def sha256_of(f: BinaryIO, path: str) -> str:
    """sha256 of an open file, from the cache when the file has not changed."""
    key = stat_key(os.fstat(f.fileno()))
    cached = _hashes.get(path)
    if cached and cached[0] == key:
        return cached[1]
    h = hashlib.sha256()
    f.seek(0)
    while chunk := f.read(CHUNK):
        h.update(chunk)
    f.seek(0)
    _hashes[path] = (key, h.hexdigest())
    return h.hexdigest()


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


def remove_stale_temps(folder: str | Path | int, pattern: re.Pattern[str]) -> list[str]:
    """Remove the temp files left in ``folder`` (a path or a folder fd) by interrupted
    writes: files named by ``pattern``, older than STALE_AFTER, that no open fd locks
    (a writer holds its lock until the file is renamed or removed). Return their names."""
    removed: list[str] = []
    dir_fd = folder if isinstance(folder, int) else os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in os.listdir(dir_fd):
            if not pattern.fullmatch(name):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                age = time.time() - st.st_mtime
                if not stat.S_ISREG(st.st_mode) or age < STALE_AFTER:
                    continue
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer lives
                elif age < 86400:
                    continue
                if os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino == st.st_ino:
                    os.unlink(name, dir_fd=dir_fd)
                    removed.append(name)
            except OSError:  # locked (BlockingIOError), or gone meanwhile
                pass
            finally:
                os.close(fd)
    finally:
        if not isinstance(folder, int):
            os.close(dir_fd)
    return removed


class Upload:
    """A PUT body streamed into a temp file next to the store, hashed on the way. The file
    stays open (and locked) until it is moved into place or discarded."""

    def __init__(self, target: Path) -> None:
        self.path = target.parent / temp_name(f".{target.name}.")
        self.file: BinaryIO | None = os.fdopen(open_temp(str(self.path)), "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        assert self.file is not None
        self.file.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)

    def flush(self) -> None:
        """Flush and fsync the temp file (it stays open and locked)."""
        assert self.file is not None
        self.file.flush()
        os.fsync(self.file.fileno())

    def discard(self) -> None:
        """Remove the temp file (if it is still there), then close it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self.file is not None:
            self.file.close()
            self.file = None


class Store:
    """The store file at ``path`` (already resolved inside the server root)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def lock(self) -> asyncio.Lock:
        """The in-process lock serialising writes to this store."""
        per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault(str(self.path), asyncio.Lock())

    def open_file(self) -> BinaryIO | None:
        """The current file, open for reading, or None when there is none."""
        try:
            return open(self.path, "rb")  # the caller closes it
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise ApiError(
                500, "bad_store_path", f"The store path {self.path} is a folder."
            ) from None

    def open(self) -> tuple[BinaryIO, str, int] | None:
        """Open the current file: (file, sha256, size), or None when there is none."""
        f = self.open_file()
        if f is None:
            return None
        try:
            return f, sha256_of(f, str(self.path)), os.fstat(f.fileno()).st_size
        except BaseException:
            f.close()
            raise

    def current(self) -> str | None:
        """sha256 of the current file, or None."""
        opened = self.open()
        if opened is None:
            return None
        opened[0].close()
        return opened[1]

    def begin_upload(self) -> Upload:
        """Create the parent folders and a temp file for a new version (removing the temp
        files that interrupted uploads left)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temps()
        return Upload(self.path)

    def remove_stale_temps(self) -> list[str]:
        """Remove the temp files of interrupted uploads beside the store."""
        if not self.path.parent.is_dir():
            return []
        return remove_stale_temps(self.path.parent, temp_pattern(f".{self.path.name}."))

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Exclusive lock on a sidecar file, shared by every server process."""
        if fcntl is None:
            yield
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def commit(
        self, upload: Upload, if_match: str | None, if_none_match: str | None
    ) -> tuple[str, int, bool]:
        """Replace the store with the upload if the preconditions hold (blocking; run it
        in a thread, under ``self.lock``). Returns (sha256, size, created)."""
        upload.flush()
        with self._file_lock():
            current = self.current()
            _check_preconditions(current, if_match, if_none_match)
            with contextlib.suppress(FileNotFoundError):
                os.chmod(upload.path, stat.S_IMODE(os.stat(self.path).st_mode))
            os.replace(upload.path, self.path)
            upload.discard()  # closes it (its name is the store's now)
            fsync_dir(self.path.parent)
            sha = upload.hash.hexdigest()
            _hashes[str(self.path)] = (stat_key(os.stat(self.path)), sha)
        return sha, upload.size, current is None

    def keep_aside(self, if_match: str | None) -> Path:
        """Copy the current file, which must be the version ``if_match`` names, beside it
        as ``<name>.broken-<UTC time>`` (blocking; run it in a thread, under ``self.lock``).
        The store itself is left as it is: the caller replaces it next, with If-Match."""
        if if_match is None:
            raise ApiError(428, "precondition_required", 'Send If-Match: "<etag>".')
        with self._file_lock():
            _check_preconditions(self.current(), if_match, None)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
            n = 1
            while aside.exists():
                n += 1
                aside = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
            shutil.copyfile(self.path, aside)
            with open(aside, "rb") as f:
                os.fsync(f.fileno())
            fsync_dir(self.path.parent)
            return aside


def parse_tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


_ETAG = re.compile(r'"[0-9a-f]{64}"')
_PRECONDITION_HELP = (
    'Send If-Match: "<etag>" (the exact ETag of the store you read) to replace the store, '
    "or If-None-Match: * to create it."
)


def required_version(if_match: str | None, if_none_match: str | None) -> str | None:
    """What a whole-file replacement requires: the sha256 an exact ``If-Match: "<sha>"``
    names, or None for ``If-None-Match: *`` (create only). Anything else (``If-Match: *``,
    a list, a weak or malformed tag, ``If-None-Match: "<etag>"``, both headers, neither)
    could replace a version the client never read: 428."""
    if if_match is not None and if_none_match is None:
        if _ETAG.fullmatch(if_match.strip()):
            return if_match.strip()[1:-1]
        sent = f"If-Match: {if_match}"
    elif if_none_match is not None and if_match is None:
        if if_none_match.strip() == "*":
            return None
        sent = f"If-None-Match: {if_none_match}"
    elif if_match is None:
        raise ApiError(428, "precondition_required", _PRECONDITION_HELP)
    else:
        sent = "both If-Match and If-None-Match"
    raise ApiError(428, "precondition_required", f"{sent} is not accepted. {_PRECONDITION_HELP}")


def _check_preconditions(
    current: str | None, if_match: str | None, if_none_match: str | None
) -> None:
    """Raise 412 (or 428) unless the request may replace a store whose sha256 is ``current``."""
    if required_version(if_match, if_none_match) != current:
        raise ApiError(
            412,
            "etag_mismatch",
            "The store changed since it was read (or already exists): reload it and retry.",
            headers={"ETag": etag(current)} if current else {},
            current_etag=etag(current) if current else None,
        )
