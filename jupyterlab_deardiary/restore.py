"""POST /deardiary/restore: write named files into a folder inside the root, byte-exact."""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, bad_request, json_object
from .paths import relative_to_root, resolve_inside
from .store import open_temp, remove_stale_temps, temp_name, temp_pattern

PROJECT_FILES = ("JuliaProject.toml", "Project.toml")  # JuliaProject.toml wins
METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "project_path": (str,),
    "julia_version": (str,),
    "git_sha": (str,),
    "git_dirty": (bool,),
    "entrypoint": (str,),
}
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class File:
    name: str
    data: bytes
    sha256: str


# C0, DEL and C1 controls; bidi marks, embeddings, overrides and isolates; surrogates
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def unsafe_char(text: str) -> str | None:
    """What makes ``text`` unfit for a file or folder name shown to a user: a control
    character (C0, DEL, C1), a bidirectional-text control (which can make a name read as
    another) or a lone surrogate (no file name has one); None when there is none."""
    m = _UNSAFE.search(text)
    if m is None:
        return None
    c = m.group()
    if "\ud800" <= c <= "\udfff":
        kind = "a lone surrogate"
    elif c <= "\x9f":
        kind = "a control character"
    else:
        kind = "a bidirectional-text control character"
    return f"{kind} (U+{ord(c):04X})"


def check_name(name: object, allow_hidden: bool) -> str:
    """A plain file name, or a 400 ``bad_name``."""
    if isinstance(name, str) and (unsafe := unsafe_char(name)):
        raise bad_request(
            f"The file name {name!r} contains {unsafe}, which file names may not hold.",
            "bad_name",
            name=name,
        )
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or name.startswith("..")
        or any(c in name for c in "/\\")
        or len(name.encode("utf-8")) > 255
    ):
        raise bad_request(f"{name!r} is not a plain file name.", "bad_name", name=name)
    if name.startswith(".") and not allow_hidden:
        raise bad_request(
            f"{name!r} is a hidden file, and the server does not allow hidden files "
            "(ContentsManager.allow_hidden).",
            "bad_name",
            name=name,
        )
    return name


def parse_request(body: bytes, allow_hidden: bool) -> tuple[str, list[File], bool, dict[str, Any]]:
    """Validate the whole request and decode every file; nothing is written here."""
    req = json_object(body)
    target = req.get("target")
    if not isinstance(target, str):
        raise bad_request("'target' must be a folder path relative to the server root.")
    if unsafe := unsafe_char(target):
        raise bad_request(
            f"The folder {target!r} contains {unsafe}, which folder names may not hold.",
            "bad_path",
        )
    if not allow_hidden and any(
        p.startswith(".") and p not in (".", "..") for p in target.split("/")
    ):
        raise bad_request(
            f"The folder {target!r} is hidden, and the server does not allow hidden files.",
            "bad_path",
        )
    overwrite = req.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise bad_request("'overwrite' must be true or false.")
    metadata = req.get("metadata") or {}
    # (echoed in the answer: a nested value could be too deep to encode after the write)
    if not isinstance(metadata, dict) or any(
        isinstance(v, (dict, list)) for v in metadata.values()
    ):
        raise bad_request("'metadata' must be an object of strings, numbers, booleans or null.")
    for key, types in METADATA_TYPES.items():
        if metadata.get(key) is not None and not isinstance(metadata[key], types):
            raise bad_request(f"metadata.{key} has the wrong type.")
    items = req.get("files")
    if not isinstance(items, list) or not items:
        raise bad_request("'files' must be a non-empty list of {name, base64, sha256}.")

    files: list[File] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("Each file must be an object {name, base64, sha256}.")
        name = check_name(item.get("name"), allow_hidden)
        if name in seen:
            raise bad_request(f"{name!r} appears twice.", "bad_name", name=name)
        seen.add(name)
        declared = item.get("sha256")
        if not isinstance(declared, str) or not _SHA256.match(declared):
            raise bad_request(f"{name!r}: 'sha256' must be 64 hexadecimal digits.", name=name)
        encoded = item.get("base64")
        if not isinstance(encoded, str):
            raise bad_request(f"{name!r}: 'base64' must be a string.", "bad_base64", name=name)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(
                f"{name!r}: 'base64' is not valid base64.", "bad_base64", name=name
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != declared.lower():
            raise bad_request(
                f"{name!r}: the bytes received do not match the declared sha256 "
                f"(got {actual}); nothing was written.",
                "sha256_mismatch",
                name=name,
            )
        files.append(File(name, data, actual))
    return target, files, overwrite, metadata


def restore(root: str, body: bytes, allow_hidden: bool) -> dict[str, Any]:
    """Validate, write and verify; return the RestoreResult (blocking: run in a thread).

    The target folder is opened once, component by component from the root without
    following a symlink, and every file is created relative to that handle: a folder
    swapped for a symlink meanwhile cannot redirect a write out of the root."""
    target_rel, files, overwrite, metadata = parse_request(body, allow_hidden)
    real_root = os.path.realpath(root)
    # the real path (symlinks inside the root resolved; none out of it), walked below
    target = resolve_inside(real_root, target_rel, allow_empty=True, must_exist=False)
    parts = [] if str(target) == real_root else os.path.relpath(target, real_root).split(os.sep)

    made: list[tuple[int, str]] = []  # folders created: (parent's fd, name)
    created: list[str] = []  # files created in the target
    folder = -1  # the target's fd
    with contextlib.ExitStack() as fds:
        try:
            folder = _open_folder(real_root, parts, target_rel, fds, made)
            with contextlib.suppress(OSError):
                remove_stale_temps(folder, _TEMPS)
            _check_existing(folder, files, overwrite, target_rel)
            if overwrite:
                _write_replacing(folder, files, created)
            else:
                _write_exclusive(folder, files, created)
            os.fsync(folder)
            for f in files:
                if _sha256_file(f.name, folder) != f.sha256:
                    raise ApiError(
                        500,
                        "verify_failed",
                        f"{f.name!r} reads back different from what was written.",
                    )
        except BaseException as exc:
            for name in created:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=folder)
            for parent, name in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=parent)
            if isinstance(exc, FileExistsError):
                name = os.path.basename(exc.filename or "")
                raise ApiError(
                    409,
                    "exists",
                    f"{name!r} appeared in {target_rel!r} while restoring; nothing was kept.",
                    existing=[name],
                ) from None
            if isinstance(exc, OSError):
                raise ApiError(
                    500, "write_failed", f"Could not write into {target_rel!r}: {exc.strerror}."
                ) from None
            raise

    names = {f.name for f in files}
    project_file = next((target / n for n in PROJECT_FILES if n in names), None)
    rel = relative_to_root(target, root) or ""
    return {
        "target": rel,
        "target_abs": str(target),
        "project_path": str(target) if project_file else None,
        "project_file": str(project_file) if project_file else None,
        "julia_version": metadata.get("julia_version"),
        "git_sha": metadata.get("git_sha"),
        "git_dirty": metadata.get("git_dirty"),
        "entrypoint": metadata.get("entrypoint"),
        "metadata": metadata,
        "files": [
            {
                "name": f.name,
                "path": str(target / f.name),
                "relpath": f"{rel}/{f.name}" if rel else f.name,
                "size": len(f.data),
                "sha256": f.sha256,
                "verified": True,
            }
            for f in files
        ],
    }


_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def _open_folder(
    root: str,
    parts: list[str],
    target_rel: str,
    fds: contextlib.ExitStack,
    made: list[tuple[int, str]],
) -> int:
    """Open the folder ``root/parts...``, creating the missing ones (listed in ``made``),
    each relative to its parent's fd and never through a symlink. ``fds`` closes them."""
    fd = os.open(root, _DIR)
    fds.callback(os.close, fd)
    for i, part in enumerate(parts):
        parent = fd
        try:
            try:
                fd = os.open(part, _DIR | os.O_NOFOLLOW, dir_fd=parent)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):  # or made meanwhile
                    os.mkdir(part, dir_fd=parent)
                    made.append((parent, part))
                fd = os.open(part, _DIR | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):  # a file, or a symlink
                raise
            shown = "/".join(parts[: i + 1])
            if stat.S_ISLNK(os.lstat(part, dir_fd=parent).st_mode):
                raise ApiError(
                    409,
                    "changed",
                    f"The folder {shown!r} was replaced by a symbolic link while restoring; "
                    "nothing was written.",
                ) from None
            below = f", so {target_rel!r} cannot be made" if shown != target_rel else ""
            raise ApiError(
                409, "not_a_folder", f"{shown!r} exists and is not a folder{below}."
            ) from None
        fds.callback(os.close, fd)
    return fd


def _exists(name: str, folder: int) -> bool:
    try:
        os.lstat(name, dir_fd=folder)
    except FileNotFoundError:
        return False
    return True


def _check_existing(folder: int, files: list[File], overwrite: bool, target_rel: str) -> None:
    """409 when a file exists and overwriting was not confirmed, or when a name is a folder."""
    existing = [f.name for f in files if _exists(f.name, folder)]
    if existing and not overwrite:
        raise ApiError(
            409,
            "exists",
            f"These files already exist in {target_rel!r}: {', '.join(existing)}. "
            "Nothing was written; confirm to overwrite them.",
            existing=existing,
        )
    folders = [n for n in existing if stat.S_ISDIR(os.lstat(n, dir_fd=folder).st_mode)]
    if folders:
        raise ApiError(
            409,
            "exists",
            f"These names are folders in {target_rel!r}: {', '.join(folders)}.",
            existing=folders,
        )


def makedirs(target: Path) -> list[Path]:
    """mkdir -p; return the folders it created, outermost first."""
    missing = []
    p = target
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    made = []
    try:
        for d in reversed(missing):
            os.mkdir(d)
            made.append(d)
    except OSError as exc:
        for d in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise ApiError(
            500, "write_failed", f"Could not create the folder: {exc.strerror}."
        ) from None
    return made


_EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_TEMPS = temp_pattern(".deardiary-")


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _write_exclusive(folder: int, files: list[File], created: list[str]) -> None:
    """Create each file; fail (FileExistsError) rather than touch an existing one."""
    for f in files:
        fd = os.open(f.name, _EXCL, 0o666, dir_fd=folder)
        created.append(f.name)
        try:
            _write_fd(fd, f.data)
        finally:
            os.close(fd)


def _write_replacing(folder: int, files: list[File], created: list[str]) -> None:
    """Write every file to a temp file first (kept open: locked), then move them all into
    place."""
    temps: list[tuple[str, str, int]] = []  # (temp name, final name, its fd)
    try:
        for f in files:
            tmp = temp_name(".deardiary-")
            fd = open_temp(tmp, folder, 0o666)
            temps.append((tmp, f.name, fd))
            _write_fd(fd, f.data)
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(f.name, dir_fd=folder)
                if stat.S_ISREG(st.st_mode):
                    os.fchmod(fd, stat.S_IMODE(st.st_mode))
        while temps:
            tmp, final, fd = temps[0]
            new = not _exists(final, folder)
            os.replace(tmp, final, src_dir_fd=folder, dst_dir_fd=folder)
            temps.pop(0)
            os.close(fd)
            if new:
                created.append(final)
    finally:
        for tmp, _, fd in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            os.close(fd)


def _sha256_file(name: str, folder: int) -> str:
    h = hashlib.sha256()
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
