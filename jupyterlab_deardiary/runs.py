"""GET /deardiary/runs: the run list, read on the server from the store file.

The sidebar shows these runs before the browser has downloaded the store (which it then
does in the background). They are the rows of ``RunStore.listRuns`` (src/store/store.ts):
its query (list_runs.sql, a copy of SUMMARY kept equal by src/__tests__/runs.spec.ts),
its fields (``IRunSummary``, src/store/types.ts), values and order (runs.server.ts
compares the rows). Runs still pending in a tab are not in the file, so they are not
here either.

The answer is compact, as a browser takes ~15 ms per MB to receive and parse JSON:
one array per field rather than one object per run (10,000 runs: 4.1 MB instead of
6.9), and a field with few distinct values (notebooks, environments, flags) as those
values and an index into them per run (1.4 MB). Each version of the file is read once:
its answer is kept until the file changes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sqlite3
from contextlib import closing
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from .errors import ApiError
from .store import Store, etag, sha256_of, stat_key

#: ``SCHEMA_VERSION`` of src/store/schema.ts: the only layout this module can read.
SCHEMA_VERSION = 2
#: ``APPLICATION_ID`` of src/store/schema.ts ("DDry").
APPLICATION_ID = 0x44447279

QUERY = (Path(__file__).parent / "list_runs.sql").read_text(encoding="utf-8")


def _flag(value: Any) -> bool:
    return value == 1


def _flag_or_none(value: Any) -> bool | None:
    return None if value is None else value == 1


def _present(value: Any) -> bool:
    return value is not None


#: ``IRunSummary``'s fields, in the query's column order, and how a column value becomes
#: the field's (as RunStore._toSummary reads them; None: as it is).
FIELDS: dict[str, Callable[[Any], Any] | None] = {
    "id": None,
    "snapshot_id": None,
    "number": None,
    "notebook_path": None,
    "trigger": None,
    "status": None,
    "note": None,
    "created_at": None,
    "julia_version": None,
    "git_sha": None,
    "git_dirty": _flag_or_none,
    "is_global_env": _flag,
    "has_manifest": _flag,
    "parent_id": None,
    "manifest_sha256": None,
    "manifest_name": None,
    "project_sha256": None,
    "project_path": None,
    "notebook_unsaved": _flag,
    "has_patch": _present,
    "patch_truncated": _flag,
}
_NEWEST_FIRST = itemgetter(list(FIELDS).index("created_at"), list(FIELDS).index("id"))

_MAGIC = b"SQLite format 3\x00"


def _refuse(error: str, message: str, **extra: object) -> ApiError:
    """409: the file cannot be listed here; the browser loads the whole store instead."""
    return ApiError(409, error, message, **extra)


def read_columns(path: Path) -> dict[str, Any]:
    """The runs of the store file, newest first, field by field (blocking).

    Opened read-only (``mode=ro``): SQLite never writes, creates no journal and takes
    only a shared lock. ``immutable=1`` would skip even that; it is safe against our own
    writer, which never changes a file in place (it replaces it with os.replace, and an
    open file keeps its old version), but not against another SQLite client writing the
    file in place (the sqlite3 shell, DearDiary.jl): the lock costs nothing measurable.
    """
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise _refuse("not_sqlite", f"The store file {path} is not an SQLite database.")
    try:
        with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as db:
            app_id, version = (
                db.execute(f"PRAGMA {pragma}").fetchone()[0]
                for pragma in ("application_id", "user_version")
            )
            if app_id != APPLICATION_ID:
                raise _refuse(
                    "foreign",
                    f"The store file {path} is an SQLite database of another application, "
                    "not a DearDiary store.",
                )
            if version != SCHEMA_VERSION:
                raise _refuse(
                    "schema_mismatch",
                    f"The store file has schema version {version}; this server extension "
                    f"reads version {SCHEMA_VERSION} only.",
                    schema_version=version,
                    expected=SCHEMA_VERSION,
                )
            rows = db.execute(QUERY).fetchall()
    except sqlite3.Error as e:
        raise _refuse("corrupt", f"The store file {path} cannot be read: {e}") from None
    rows.sort(key=_NEWEST_FIRST, reverse=True)
    columns = list(zip(*rows)) or [()] * len(FIELDS)
    return {
        name: _compact(list(map(convert, values)) if convert else list(values))
        for (name, convert), values in zip(FIELDS.items(), columns)
    }


def _compact(values: list[Any]) -> list[Any] | dict[str, list[Any]]:
    """The values, or, when they repeat a lot, ``{values, index}``: the distinct values
    and the position of each value among them."""
    distinct = dict.fromkeys(values)
    if not values or len(distinct) * 4 > len(values):
        return values
    position = {value: i for i, value in enumerate(distinct)}
    return {"values": list(distinct), "index": [position[v] for v in values]}


class RunList:
    """The answer for one version of the store file: its ETag (None: no store), its body
    and the body gzipped (sent to browsers that accept it)."""

    def __init__(self, tag: str | None, columns: dict[str, Any]) -> None:
        self.etag = tag
        self.body = json.dumps(
            {"etag": tag, "schema_version": SCHEMA_VERSION, "columns": columns},
            separators=(",", ":"),
        ).encode()
        self.gzipped = gzip.compress(self.body, compresslevel=1, mtime=0)


#: The last answer per store file, with the identity of the file it was read from.
_answers: dict[str, tuple[tuple[int, int, int, int], RunList]] = {}
#: The answer being read per store file: requests meanwhile wait for it.
_reading: dict[str, asyncio.Future[RunList]] = {}


async def list_runs(store: Store) -> RunList:
    """The runs of the store and the version of the file they were read from (read once
    per version; requests arriving meanwhile share the reading)."""
    return await _reading_of(store)


def read_ahead(store: Store) -> None:
    """Read the run list now if the store changed since it was last read (a frontend
    starts: its sidebar may soon ask for it). Errors are left to that request."""
    _reading_of(store).add_done_callback(lambda f: f.cancelled() or f.exception())


def _reading_of(store: Store) -> asyncio.Future[RunList]:
    path = str(store.path)
    reading = _reading.get(path)
    if reading is None or reading.done() or reading.get_loop() is not asyncio.get_running_loop():
        reading = _reading[path] = asyncio.ensure_future(_read(store))
    return reading


async def _read(store: Store) -> RunList:
    """The file is hashed (for its ETag) while SQLite reads it (in two threads: hashing
    and SQLite run outside the GIL). Holding the file open keeps its inode from being
    reused, so the path still naming that inode afterwards proves that SQLite read the
    version that was hashed."""
    loop = asyncio.get_running_loop()
    path = str(store.path)
    for _attempt in range(3):
        f = store.open_file()
        if f is None:
            return RunList(None, {name: [] for name in FIELDS})
        with f:
            key = stat_key(os.fstat(f.fileno()))
            cached = _answers.get(path)
            if cached and cached[0] == key:
                return cached[1]
            sha, columns = await asyncio.gather(
                loop.run_in_executor(None, sha256_of, f, path),
                loop.run_in_executor(None, read_columns, store.path),
            )
        try:
            now = os.stat(path)
        except FileNotFoundError:
            continue
        if (now.st_ino, now.st_dev) == key[2:]:
            answer = await loop.run_in_executor(None, RunList, etag(sha), columns)
            _answers[path] = (key, answer)
            return answer
    raise ApiError(503, "busy", "The store kept changing while it was read: try again.")
