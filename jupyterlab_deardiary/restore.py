"""POST /deardiary/restore: write named files into a folder inside the root, byte-exact."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, bad_request, json_object
from .paths import is_inside, relative_to_root, resolve_inside
from .store import fsync_dir

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


def check_name(name: object, allow_hidden: bool) -> str:
    """A plain file name, or a 400 ``bad_name``."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or name.startswith("..")
        or any(c in name for c in "/\\\0")
        or any(ord(c) < 32 for c in name)
        or len(name.encode("utf-8", "surrogatepass")) > 255
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
    if not isinstance(metadata, dict):
        raise bad_request("'metadata' must be an object.")
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
    """Validate, write and verify; return the RestoreResult (blocking: run in a thread)."""
    target_rel, files, overwrite, metadata = parse_request(body, allow_hidden)
    target = resolve_inside(root, target_rel, allow_empty=True, must_exist=False)
    if os.path.lexists(target) and not target.is_dir():
        raise ApiError(409, "not_a_folder", f"{target_rel!r} exists and is not a folder.")

    existing = [f.name for f in files if os.path.lexists(target / f.name)]
    if existing and not overwrite:
        raise ApiError(
            409,
            "exists",
            f"These files already exist in {target_rel!r}: {', '.join(existing)}. "
            "Nothing was written; confirm to overwrite them.",
            existing=existing,
        )
    folders = [n for n in existing if os.path.isdir(target / n) and not os.path.islink(target / n)]
    if folders:
        raise ApiError(
            409,
            "exists",
            f"These names are folders in {target_rel!r}: {', '.join(folders)}.",
            existing=folders,
        )

    made_dirs = makedirs(target)
    created: list[Path] = []
    try:
        if not is_inside(os.path.realpath(target), os.path.realpath(root)):
            raise ApiError(
                403, "outside_root", f"The path {target_rel!r} leads outside the server root."
            )
        if overwrite:
            _write_replacing(target, files, created)
        else:
            _write_exclusive(target, files, created)
        fsync_dir(target)
        for f in files:
            if _sha256_file(target / f.name) != f.sha256:
                raise ApiError(
                    500, "verify_failed", f"{f.name!r} reads back different from what was written."
                )
    except BaseException as exc:
        for path in created:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for d in reversed(made_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
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


def _write_fd(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_exclusive(target: Path, files: list[File], created: list[Path]) -> None:
    """Create each file; fail (FileExistsError) rather than touch an existing one."""
    for f in files:
        path = target / f.name
        fd = os.open(path, _EXCL, 0o666)
        created.append(path)
        _write_fd(fd, f.data)


def _write_replacing(target: Path, files: list[File], created: list[Path]) -> None:
    """Write every file to a temp file first, then move them all into place."""
    temps: list[tuple[Path, Path]] = []
    try:
        for f in files:
            tmp = target / f".deardiary-{secrets.token_hex(8)}.tmp"
            fd = os.open(tmp, _EXCL, 0o666)
            temps.append((tmp, target / f.name))
            _write_fd(fd, f.data)
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(target / f.name)
                if stat.S_ISREG(st.st_mode):
                    os.chmod(tmp, stat.S_IMODE(st.st_mode))
        while temps:
            tmp, final = temps[0]
            new = not os.path.lexists(final)
            os.replace(tmp, final)
            temps.pop(0)
            if new:
                created.append(final)
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
