"""The packages of a Julia Manifest.toml: (name, uuid, version) rows, for the index."""

from __future__ import annotations

import tomllib
from typing import Any


class ManifestError(ValueError):
    """The bytes are not a manifest this module can read (the message says why)."""


def manifest_packages(data: bytes) -> list[tuple[str, str, str]]:
    """The (name, uuid, version) of every entry of a manifest, in file order; version is ''
    when the entry has none (stdlibs, some dev'ed packages). Both layouts: format 2.0
    (``manifest_format = "2.0"``, entries under ``[[deps.Name]]``) and the older one
    (no ``manifest_format``, entries as top-level ``[[Name]]``). Raises ManifestError."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"invalid TOML: {e}") from None
    fmt = doc.get("manifest_format")
    if fmt is None:
        entries: Any = doc
    elif isinstance(fmt, str) and fmt.split(".")[0] == "2":
        entries = doc.get("deps", {})
    else:
        raise ManifestError(f"unknown manifest_format {fmt!r}")
    if not isinstance(entries, dict):
        raise ManifestError("'deps' is not a table")
    rows: list[tuple[str, str, str]] = []
    for name, value in entries.items():
        if not isinstance(value, list):
            continue  # a top-level key of the old layout that is not an entry
        for entry in value:
            if not isinstance(entry, dict):
                raise ManifestError(f"entry {name!r} is not a table")
            uuid, version = entry.get("uuid", ""), entry.get("version", "")
            if not isinstance(uuid, str) or not isinstance(version, str):
                raise ManifestError(f"entry {name!r}: uuid and version must be strings")
            rows.append((name, uuid, version))
    return rows
