"""The run list (GET /deardiary/runs) and the browser's index (GET /deardiary/index).

The run list (and the runs of the index's deltas) is read with list_runs.sql, whose
columns carry IRunSummary's names (src/store/types.ts), newest first; the index image
holds only the manifests' packages (docs/store.md). The run list is compact, as a browser takes ~15 ms
per MB to receive and parse JSON: one array per field rather than one object per run,
and a field with few distinct values (notebooks, environments, flags) as those values
and an index into them per run. Each answer is made once per store version.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import threading
from operator import itemgetter
from typing import Any, Callable

from .db import LIST_RUNS, RUNS_ORDER, RUNS_SELECT, SCHEMA_VERSION, Store, transaction
from .errors import ApiError


def _flag(value: Any) -> bool:
    return value == 1


def _flag_or_none(value: Any) -> bool | None:
    return None if value is None else value == 1


#: ``IRunSummary``'s fields, in the query's column order, and how a column value becomes
#: the field's (None: as it is).
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
    "has_patch": _flag,
    "patch_truncated": _flag,
}


def _check_names(names: list[str]) -> None:
    if names != list(FIELDS):
        raise AssertionError(f"list_runs.sql's columns {names} are not IRunSummary's fields")


def summary_of(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    """One row of list_runs.sql as an IRunSummary."""
    names = [d[0] for d in cursor.description]
    _check_names(names)
    return {
        name: convert(value) if convert else value
        for (name, convert), value in zip(FIELDS.items(), row)
    }


def columns_of(names: list[str], rows: list[tuple]) -> dict[str, Any]:
    """Rows of list_runs.sql as IRunColumns' columns (field by field, compact)."""
    if rows:
        _check_names(names)
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


class Answer:
    """A JSON answer for one store version, plain and gzipped."""

    def __init__(self, version: str | None, payload: dict[str, Any]) -> None:
        self.version = version
        self.body = json.dumps(payload, separators=(",", ":")).encode()
        self.gzipped = gzip.compress(self.body, compresslevel=1, mtime=0)


def list_answer(
    version: str | None, names: list[str], rows: list[tuple], total: int | None = None
) -> Answer:
    """GET /deardiary/runs' answer for rows of list_runs.sql (``total``: of a limited list)."""
    payload: dict[str, Any] = {
        "version": version,
        "schema_version": SCHEMA_VERSION,
        "columns": columns_of(names, rows),
    }
    if total is not None:
        payload["total"] = total
    return Answer(version, payload)


def read_run_list(store: Store, limit: int | None = None) -> Answer:
    """The run list of the store (blocking)."""
    version, names, rows, total = store.read_runs(limit)
    return list_answer(version, names, rows, total if limit is not None else None)


class RunRows:
    """The run list's rows of one store, kept in memory and brought up to date with the
    change log (a new store id reads them again), and the answer for their version."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store_id = ""
        self.seq = -1
        self.rows: dict[int, tuple] = {}
        self.answer: Answer | None = None


_lists: dict[str, RunRows] = {}
_lists_lock = threading.Lock()
_NEWEST_FIRST = itemgetter(list(FIELDS).index("created_at"), list(FIELDS).index("id"))


def run_list(store: Store, limit: int | None = None) -> Answer:
    """The run list (blocking). The whole list is made once per version, from the rows of
    the last version and the changes since (one indexed query when nothing changed)."""
    if limit is not None:
        return read_run_list(store, limit)
    db = store.connection()
    if db is None:
        return read_run_list(store)
    with _lists_lock:
        entry = _lists.setdefault(str(store.path), RunRows())
    with transaction(db, "DEFERRED"), entry.lock:
        version = Store.version_of(db)
        if entry.answer is not None and entry.answer.version == version:
            return entry.answer
        store_id, seq = _split(version)
        if entry.store_id != store_id or entry.seq < 0 or entry.seq > seq:
            cursor = db.execute(LIST_RUNS)
            _check_names([d[0] for d in cursor.description])
            entry.rows = {row[0]: row for row in cursor}
        else:
            changes = Changes(db, entry.seq)
            for run_id in changes.deleted:
                entry.rows.pop(run_id, None)
            entry.rows.update((row[0], row) for row in changes.rows)
        entry.store_id, entry.seq = store_id, seq
        rows = sorted(entry.rows.values(), key=_NEWEST_FIRST, reverse=True)
        entry.answer = list_answer(version, list(FIELDS), rows)
        return entry.answer


def read_ahead(store: Store) -> None:
    """Make the run list and the index image now, in a thread, if the store changed since
    they were last made (a frontend starts: it may soon ask for them). Errors are left to
    those requests."""

    def both() -> None:
        run_list(store)
        read_index(store, None)

    future = asyncio.get_running_loop().run_in_executor(None, both)
    future.add_done_callback(lambda f: f.cancelled() or f.exception())


# The browser's index: an SQLite image of each manifest's packages (the runs are in the
# run list the browser holds already). A manifest is there while some run names it.

INDEX_SCHEMA = """
CREATE TABLE manifest (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, error TEXT);
CREATE TABLE package (manifest INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL);
CREATE INDEX package_by_name ON package (name COLLATE NOCASE);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
"""

#: The package query of the browser's index (src/store/runindex.ts runs the same one).
PACKAGE_QUERY = """SELECT m.sha256, p.version FROM package p JOIN manifest m ON m.id = p.manifest
  WHERE p.name = ? COLLATE NOCASE"""


#: The manifests some run names (as its `manifest` file), with their parse error.
_REFERENCED_MANIFESTS = """SELECT m.sha256, m.error FROM manifest_index m
  WHERE {where} EXISTS (
    SELECT 1 FROM iteration_file f WHERE f.sha256 = m.sha256 AND f.role = 'manifest')
  ORDER BY m.sha256"""


def parse_version(text: str) -> tuple[str, int] | None:
    """(store id, seq) of a version a client sent (quoted or not), None when it is not one."""
    store_id, _, seq = text.strip().strip('"').partition(".")
    if not store_id or not seq.isdigit():
        return None
    return store_id, int(seq)


def _split(version: str) -> tuple[str, int]:
    """(store id, seq) of a version the store made."""
    parsed = parse_version(version)
    assert parsed is not None, version
    return parsed


class Changes:
    """What changed since a seq: runs added or edited (rows), ids deleted, and the
    package/manifest rows of the manifests first indexed since (that a run names)."""

    def __init__(self, db: sqlite3.Connection, since: int, with_runs: bool = True) -> None:
        last: dict[int, str] = {}
        for run_id, kind in db.execute(
            "SELECT iteration_id, kind FROM change_log WHERE seq > ? ORDER BY seq", (since,)
        ):
            last[run_id] = kind
        ids = list(last) if with_runs else [i for i, kind in last.items() if kind == "delete"]
        self.names: list[str] = list(FIELDS)
        self.rows: list[tuple] = []
        present: set[int] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cursor = db.execute(
                f"{RUNS_SELECT} WHERE id IN ({','.join('?' * len(part))}) {RUNS_ORDER}", part
            )
            self.names = [d[0] for d in cursor.description]
            batch = cursor.fetchall()
            self.rows += batch
            present.update(r[0] for r in batch)
        self.deleted = [i for i in ids if i not in present]
        self.manifests: list[tuple[str, str | None]] = db.execute(
            _REFERENCED_MANIFESTS.format(where="m.seq > ? AND"), (since,)
        ).fetchall()
        self.packages = [
            (sha, name, version)
            for sha, _ in self.manifests
            for name, version in _packages_of(db, sha)
        ]

    def delta(self, version: str) -> dict[str, Any]:
        return {
            "version": version,
            "runs": columns_of(self.names, self.rows),
            "deleted": self.deleted,
            "packages": {
                "manifest_sha256": [p[0] for p in self.packages],
                "name": [p[1] for p in self.packages],
                "version": [p[2] for p in self.packages],
            },
            "manifests": {
                "sha256": [m[0] for m in self.manifests],
                "error": [m[1] for m in self.manifests],
            },
        }


def _packages_of(db: sqlite3.Connection, sha: str) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT name, version FROM package WHERE manifest_sha256 = ? ORDER BY name", (sha,)
    ).fetchall()


class Index:
    """The index image of one store, kept in memory and brought up to date with the
    change log (a new store id starts it again)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.db: sqlite3.Connection | None = None
        self.store_id = ""
        self.seq = -1
        self.image: bytes | None = None
        self.gzipped: bytes | None = None

    def current(
        self, db: sqlite3.Connection, store_id: str, seq: int, gzipped: bool = False
    ) -> bytes:
        with self.lock:
            self._bring_to(db, store_id, seq)
            assert self.db is not None
            if self.image is None:
                self.image = self.db.serialize()
            if not gzipped:
                return self.image
            if self.gzipped is None:  # a third to a quarter of the bytes to send
                self.gzipped = gzip.compress(self.image, compresslevel=1, mtime=0)
            return self.gzipped

    def packages(
        self, db: sqlite3.Connection, store_id: str, seq: int, names: list[str]
    ) -> dict[str, dict[str, list]]:
        """The package query on the index itself (no image made): manifest sha256 ->
        lower-cased name -> versions (None where the manifest records none)."""
        answer: dict[str, dict[str, list]] = {}
        with self.lock:
            self._bring_to(db, store_id, seq)
            assert self.db is not None
            for name in dict.fromkeys(n.lower() for n in names):
                for sha, version in self.db.execute(PACKAGE_QUERY, (name,)):
                    answer.setdefault(sha, {}).setdefault(name, []).append(version or None)
        return answer

    def _bring_to(self, db: sqlite3.Connection, store_id: str, seq: int) -> None:
        """The index at the store's (store_id, seq), its image dropped when that moved it
        (made again when asked). The caller holds ``self.lock``."""
        if self.db is None or self.store_id != store_id or self.seq > seq:
            if self.db is not None:
                self.db.close()
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self.db.executescript(INDEX_SCHEMA)
            self.store_id, self.seq = store_id, -1
        if self.seq < 0:
            self._fill(db, f"{store_id}.{seq}")
        elif self.seq != seq:
            self._update(db, Changes(db, self.seq, with_runs=False), f"{store_id}.{seq}")
        else:
            return
        self.seq, self.image, self.gzipped = seq, None, None

    def _add(self, manifests: list[tuple[str, str | None]], packages: Callable[[str], list]) -> None:
        """Manifests (sha256, error) and their packages, replacing what the index had."""
        assert self.db is not None
        for sha, error in manifests:
            known = self.db.execute("SELECT id FROM manifest WHERE sha256 = ?", (sha,)).fetchone()
            if known:  # indexed again (dropped with its runs, then stored again)
                self.db.execute("DELETE FROM package WHERE manifest = ?", known)
                self.db.execute("UPDATE manifest SET error = ? WHERE id = ?", (error, known[0]))
                manifest_id = known[0]
            else:
                manifest_id = self.db.execute(
                    "INSERT INTO manifest (sha256, error) VALUES (?, ?)", (sha, error)
                ).lastrowid
            self.db.executemany(
                "INSERT INTO package (manifest, name, version) VALUES (?, ?, ?)",
                [(manifest_id, name, version) for name, version in packages(sha)],
            )

    def _fill(self, db: sqlite3.Connection, version: str) -> None:
        """The whole index, from the store's tables (runs migrated from an older schema
        have no change log entries)."""
        assert self.db is not None
        with transaction(self.db, "DEFERRED"):
            manifests = db.execute(_REFERENCED_MANIFESTS.format(where="")).fetchall()
            self._add(manifests, lambda sha: _packages_of(db, sha))
            self.db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))

    def _update(self, db: sqlite3.Connection, changes: Changes, version: str) -> None:
        """Bring the index up to date: new manifests in, those no run names any more out."""
        assert self.db is not None
        by_sha: dict[str, list[tuple[str, str]]] = {}
        for sha, name, package_version in changes.packages:
            by_sha.setdefault(sha, []).append((name, package_version))
        with transaction(self.db, "DEFERRED"):
            self._add(changes.manifests, lambda sha: by_sha.get(sha, []))
            if changes.deleted:
                for manifest_id, sha in self.db.execute("SELECT id, sha256 FROM manifest").fetchall():
                    if not db.execute(
                        "SELECT 1 FROM iteration_file WHERE sha256 = ? AND role = 'manifest'",
                        (sha,),
                    ).fetchone():
                        self.db.execute("DELETE FROM package WHERE manifest = ?", (manifest_id,))
                        self.db.execute("DELETE FROM manifest WHERE id = ?", (manifest_id,))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))


_indexes: dict[str, Index] = {}
_indexes_lock = threading.Lock()


def _index_of(store: Store) -> Index:
    with _indexes_lock:
        return _indexes.setdefault(str(store.path), Index())


def read_index(
    store: Store, since: str | None, gzipped: bool = False
) -> tuple[str | None, bytes | dict[str, Any] | None]:
    """(version, the whole index image (gzipped if asked) or the delta since ``since`` as
    JSON, or None when ``since`` is the current version). Blocking."""
    db = store.connection()
    if db is None:
        return None, None
    with transaction(db, "DEFERRED"):
        version = Store.version_of(db)
        store_id, seq = _split(version)
        wanted = parse_version(since) if since else None
        if wanted is not None and wanted[0] == store_id and wanted[1] <= seq:
            if wanted[1] == seq:
                return version, None
            oldest = db.execute("SELECT min(seq) FROM change_log").fetchone()[0]
            if oldest is not None and oldest <= wanted[1] + 1:
                return version, Changes(db, wanted[1]).delta(version)
        return version, _index_of(store).current(db, store_id, seq, gzipped)


def read_packages(store: Store, names: list[str]) -> tuple[str | None, dict[str, dict[str, list]]]:
    """(version, manifest sha256 -> lower-cased name -> the versions of that package in it,
    null where the manifest records none): the answer of the index, asked of the server
    while the browser has not loaded its own. Blocking."""
    db = store.connection()
    if db is None:
        return None, {}
    with transaction(db, "DEFERRED"):
        version = Store.version_of(db)
        store_id, seq = _split(version)
        return version, _index_of(store).packages(db, store_id, seq, names)


def bad_limit(value: str) -> ApiError:
    return ApiError(400, "bad_limit", f"limit must be a positive integer, not {value!r}.")
