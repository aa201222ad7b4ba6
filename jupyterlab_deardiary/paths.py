"""Resolve a client-given path inside the server root, refusing every way out."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ApiError


def is_inside(path: str, root: str) -> bool:
    """Whether the (already real) ``path`` is ``root`` or below it."""
    return os.path.commonpath([path, root]) == root


def resolve_inside(
    root: str, rel: object, *, allow_empty: bool = False, must_exist: bool = True
) -> Path:
    """Return the real path of ``rel`` (relative to ``root``), or raise an ApiError.

    ``rel`` uses "/" as separator (a backslash is an ordinary character); it may not be
    absolute, contain NUL or a ".." component, nor lead through a symlink out of the root.
    The nearest existing ancestor decides containment, so a missing path behind a symlink
    out of the root is refused (403) rather than reported missing (404).
    """
    if not isinstance(rel, str):
        raise ApiError(400, "bad_path", "The path must be a string.")
    if "\0" in rel:
        raise ApiError(400, "bad_path", "The path contains a NUL character.")
    if not rel.isascii() and any("\ud800" <= c <= "\udfff" for c in rel):
        raise ApiError(
            400, "bad_path", f"The path {rel!r} contains a lone surrogate: no file name holds one."
        )
    if rel.startswith("/") or os.path.isabs(rel):
        raise ApiError(
            400, "bad_path", f"The path {rel!r} is absolute; give it relative to the server root."
        )
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in rel.split("/"):
        raise ApiError(400, "bad_path", f"The path {rel!r} contains '..'.")
    if not parts and not allow_empty:
        raise ApiError(400, "bad_path", "The path is empty.")

    real_root = os.path.realpath(root)
    candidate = os.path.join(real_root, *parts)
    # Walk up to the nearest existing entry; what is below it does not exist (yet).
    missing: list[str] = []
    head = candidate
    while not os.path.lexists(head):
        head, tail = os.path.split(head)
        missing.insert(0, tail)
    real = os.path.realpath(head)
    if not is_inside(real, real_root):
        raise ApiError(403, "outside_root", f"The path {rel!r} leads outside the server root.")
    if missing and must_exist:
        raise ApiError(404, "not_found", f"The path {rel!r} does not exist.")
    return Path(real, *missing)


def relative_to_root(path: str | Path, root: str) -> str | None:
    """``path`` relative to the root ("" for the root itself), or None when outside it."""
    real_root = os.path.realpath(root)
    path = os.path.realpath(path)
    if not is_inside(path, real_root):
        return None
    rel = os.path.relpath(path, real_root)
    return "" if rel == "." else rel.replace(os.sep, "/")
