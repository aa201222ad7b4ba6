"""The run store: one SQLite file, written only by this server extension.

Opened with Python's sqlite3 in WAL mode (``synchronous=FULL``, ``busy_timeout`` so that
several server processes share the file), one connection per thread, every change one
``BEGIN IMMEDIATE`` transaction. The schema is DearDiary's (project -> experiment ->
iteration) and its migrations: v1 and v2 as the browser made them (src/store/schema.ts
at 8e9b051), v3 as docs/store.md states (chunked blobs, packages, change log).

Every call here blocks: run it in a thread (``run_in_executor``), never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import blobs
from .errors import ApiError
from .packages import ManifestError, manifest_packages
from .store import fsync_dir

#: ``PRAGMA application_id`` of a DearDiary store ("DDry").
APPLICATION_ID = 0x44447279
#: The schema this version writes (``PRAGMA user_version``).
SCHEMA_VERSION = 3
#: An uploaded blob no run references is removed after this many seconds.
ORPHAN_AFTER = 24 * 3600
PROJECT_NAME = "Jupyter"
_MAGIC = b"SQLite format 3\x00"

V1 = f"""
PRAGMA application_id = {APPLICATION_ID};
CREATE TABLE project (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  created_date TEXT NOT NULL
);
CREATE TABLE experiment (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES project (id),
  name TEXT NOT NULL,
  created_date TEXT NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE blob (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE iteration (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiment (id),
  snapshot_id TEXT NOT NULL UNIQUE,
  number INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'recorded',
  trigger TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  created_date TEXT NOT NULL,
  end_date TEXT,
  parent_iteration_id INTEGER REFERENCES iteration (id),
  julia_version TEXT NOT NULL DEFAULT '',
  git_sha TEXT,
  git_dirty INTEGER,
  entrypoint TEXT NOT NULL,
  is_global_env INTEGER NOT NULL,
  has_manifest INTEGER NOT NULL,
  kernel_name TEXT NOT NULL,
  kernel_display_name TEXT NOT NULL,
  notebook_sha256 TEXT NOT NULL,
  notebook_size INTEGER NOT NULL,
  notebook_blob TEXT REFERENCES blob (sha256),
  environment_sha256 TEXT NOT NULL REFERENCES blob (sha256),
  details TEXT NOT NULL,
  UNIQUE (experiment_id, number)
);
CREATE INDEX iteration_by_experiment_date ON iteration (experiment_id, created_date);
CREATE INDEX iteration_by_julia_version ON iteration (julia_version);
CREATE INDEX iteration_by_git_sha ON iteration (git_sha);
CREATE TABLE iteration_file (
  iteration_id INTEGER NOT NULL REFERENCES iteration (id),
  role TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL REFERENCES blob (sha256),
  PRIMARY KEY (iteration_id, role, name)
) WITHOUT ROWID;
CREATE INDEX iteration_file_by_sha256 ON iteration_file (sha256);
"""

V2 = """
ALTER TABLE iteration ADD COLUMN project_path TEXT;
ALTER TABLE iteration ADD COLUMN patch_sha256 TEXT REFERENCES blob (sha256);
ALTER TABLE iteration ADD COLUMN patch_truncated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE iteration ADD COLUMN notebook_unsaved INTEGER NOT NULL DEFAULT 0;
UPDATE iteration SET notebook_unsaved =
  coalesce(json_extract(details, '$.notebook.unsaved_changes'), 0) = 1;
"""

# The old blob table is renamed with legacy_alter_table on, so that the foreign keys of
# iteration and iteration_file keep naming "blob" (the new table).
V3 = """
CREATE TABLE blob (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created REAL NOT NULL
);
CREATE TABLE chunk (
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  codec INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE blob_chunk (
  blob TEXT NOT NULL,
  seq INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  PRIMARY KEY (blob, seq)
) WITHOUT ROWID;
CREATE INDEX blob_chunk_by_chunk ON blob_chunk (chunk_id);
CREATE TABLE package (
  manifest_sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  uuid TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (manifest_sha256, name, uuid)
) WITHOUT ROWID;
CREATE TABLE manifest_index (
  sha256 TEXT PRIMARY KEY,
  error TEXT,
  seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX manifest_index_by_seq ON manifest_index (seq);
CREATE TABLE change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  iteration_id INTEGER NOT NULL,
  kind TEXT NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX iteration_by_notebook_blob ON iteration (notebook_blob);
CREATE INDEX iteration_by_environment ON iteration (environment_sha256);
CREATE INDEX iteration_by_patch ON iteration (patch_sha256);
CREATE INDEX iteration_by_parent ON iteration (parent_iteration_id);
CREATE INDEX iteration_by_created ON iteration (created_date, id);
"""

LIST_RUNS = (Path(__file__).parent / "list_runs.sql").read_text(encoding="utf-8")
#: The run list's query without its order (to add a WHERE clause), and its order.
RUNS_SELECT, _, _order = LIST_RUNS.rpartition("ORDER BY")
RUNS_ORDER = "ORDER BY " + _order.strip()


def statements(script: str) -> Iterator[str]:
    """The statements of a script one by one (``executescript`` would commit first)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""
    if buf.strip():
        yield buf


def run_script(db: sqlite3.Connection, script: str) -> None:
    for stmt in statements(script):
        db.execute(stmt)


def path_to_string(value: Any) -> str:
    """A PathValue as text (src/kernel/protocol.ts pathToString)."""
    if isinstance(value, str):
        return value
    return base64.b64decode(value["b64"]).decode("utf-8", "replace")


def migrate_v2(db: sqlite3.Connection) -> None:
    run_script(db, V2)
    # Runs of one environment share its JSON: read each once.
    for sha, data in db.execute(
        "SELECT sha256, data FROM blob WHERE sha256 IN (SELECT environment_sha256 FROM iteration)"
    ).fetchall():
        env = json.loads(bytes(data).decode("utf-8"))
        path = ((env.get("capture") or {}).get("project") or {}).get("path")
        git = env.get("git") or {}
        truncated = git.get("state") == "ok" and (git.get("git") or {}).get("truncated") is True
        db.execute(
            """UPDATE iteration SET project_path = ?, patch_sha256 = ?, patch_truncated = ?
               WHERE environment_sha256 = ?""",
            (
                None if path is None else path_to_string(path),
                env.get("patch_sha256"),
                int(truncated),
                sha,
            ),
        )


def migrate_v3(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        db.execute("ALTER TABLE blob RENAME TO blob_v2")
    finally:
        db.execute("PRAGMA legacy_alter_table = OFF")
    run_script(db, V3)
    shas = [r[0] for r in db.execute("SELECT sha256 FROM blob_v2 ORDER BY rowid")]
    for sha in shas:
        data = bytes(db.execute("SELECT data FROM blob_v2 WHERE sha256 = ?", (sha,)).fetchone()[0])
        blobs.insert_blob(db, sha, len(data), blobs.cut(data))  # reads back and checks
    db.execute("DROP TABLE blob_v2")
    for (sha,) in db.execute(
        "SELECT DISTINCT sha256 FROM iteration_file WHERE role = 'manifest'"
    ).fetchall():
        index_manifest(db, sha, 0)
    db.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (secrets.token_hex(8),))


#: Migration i brings user_version from i to i + 1.
MIGRATIONS = [lambda db: run_script(db, V1), migrate_v2, migrate_v3]
assert len(MIGRATIONS) == SCHEMA_VERSION


def parse_manifest(data: bytes | None) -> tuple[list[tuple[str, str, str]], str | None]:
    """(package rows, error) of a manifest's bytes."""
    try:
        return manifest_packages(data or b""), None
    except ManifestError as e:
        return [], str(e)


def index_manifest(
    db: sqlite3.Connection,
    sha: str,
    seq: int,
    parsed: tuple[list[tuple[str, str, str]], str | None] | None = None,
) -> None:
    """Package rows of a stored manifest blob (``parsed`` ahead, outside the write lock,
    or parsed now), unless it has them already."""
    if db.execute("SELECT 1 FROM manifest_index WHERE sha256 = ?", (sha,)).fetchone():
        return
    rows, error = parsed if parsed is not None else parse_manifest(blobs.read_blob(db, sha))
    db.executemany(
        "INSERT OR IGNORE INTO package (manifest_sha256, name, uuid, version) VALUES (?, ?, ?, ?)",
        [(sha, *row) for row in rows],
    )
    db.execute(
        "INSERT INTO manifest_index (sha256, error, seq) VALUES (?, ?, ?)", (sha, error, seq)
    )


class Unusable(ApiError):
    """The store file cannot be used (409); it is never written."""

    def __init__(self, store: Store, error: str, message: str, store_etag: str | None = None) -> None:
        super().__init__(
            409,
            error,
            message,
            path=store.relpath,
            store_etag=store_etag or store.file_sha256(),
        )


@contextmanager
def transaction(db: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    db.execute(f"BEGIN {mode}")
    try:
        yield db
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    if mode == "IMMEDIATE":
        _Checkpointer.after_commit(db)


class _Checkpointer:
    """Moves the WAL into the database file from a thread of its own, so that no writer
    pays for a checkpoint inside its commit (SQLite's automatic checkpoint runs in the
    committing connection: with ``synchronous=FULL`` that made every ~100th run 10x slower).
    The connections the server writes with turn the automatic checkpoint off
    (``wal_autocheckpoint = 0``); one thread per store file and process checkpoints
    (PASSIVE: it never blocks readers or writers) once the WAL passes ``WAL_BYTES``."""

    WAL_BYTES = 1 << 20
    _threads: dict[str, _Checkpointer] = {}
    _lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self.wake = threading.Event()
        threading.Thread(target=self._run, name=f"deardiary-checkpoint {path}", daemon=True).start()

    @classmethod
    def after_commit(cls, db: sqlite3.Connection) -> None:
        path = getattr(db, "checkpointed_by", None)
        if path is None:
            return  # a connection that keeps SQLite's own automatic checkpoint
        with cls._lock:
            worker = cls._threads.get(path) or cls._threads.setdefault(path, cls(path))
        worker.wake.set()

    def _wal_size(self) -> int:
        try:
            return os.stat(self.path + "-wal").st_size
        except FileNotFoundError:
            return 0

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        while True:
            self.wake.wait()
            self.wake.clear()
            if self._wal_size() < self.WAL_BYTES:
                continue
            try:
                db = db or _connect(Path(self.path))
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                if db is not None:
                    db.close()
                db = None  # the file was replaced or is busy: the next commit tries again


class _Connection(sqlite3.Connection):
    """A connection that can carry ``checkpointed_by`` (the store file whose
    _Checkpointer replaces its automatic checkpoint)."""


def _connect(path: Path, mode: str = "rw") -> sqlite3.Connection:
    db = sqlite3.connect(
        f"file:{quote(str(path))}?mode={mode}",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=30.0,
        factory=_Connection,
    )
    db.execute("PRAGMA busy_timeout = 30000")
    return db


# Process-wide state: the files (path -> (dev, inode)) checked and migrated, and one
# connection per thread and file.
_ready: dict[str, tuple[int, int]] = {}
_ready_lock = threading.RLock()
_local = threading.local()
#: The refusal of an unusable file, per path, with the file's (dev, inode, size, mtime).
_refused: dict[str, tuple[tuple[int, int, int, int], Unusable]] = {}
#: When orphan blobs were last collected, per store path.
_collected: dict[str, float] = {}


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


class Store:
    """The store file at ``path`` (resolved inside the server root ``root``)."""

    def __init__(self, path: Path, root: str | Path = "/") -> None:
        self.path = Path(path)
        self.root = str(root)

    @property
    def relpath(self) -> str:
        try:
            return os.path.relpath(self.path, self.root).replace(os.sep, "/")
        except ValueError:
            return str(self.path)

    def file_sha256(self) -> str | None:
        """sha256 of the file's bytes (what POST store/aside's If-Match names)."""
        h = hashlib.sha256()
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return h.hexdigest()

    # Opening

    def connection(self, create: bool = False) -> sqlite3.Connection | None:
        """This thread's connection to the store, checked and migrated once per file and
        process; None when there is no store and ``create`` is false."""
        key = str(self.path)
        ident = _identity(self.path)
        if ident is None:
            if not create:
                return None
            with _ready_lock:
                self._create()
            ident = _identity(self.path)
            assert ident is not None
        if _ready.get(key) != ident:
            with _ready_lock:
                if _ready.get(key) != ident:
                    # An unusable file is judged once per version of it (quick_check and
                    # its sha256 read all of it).
                    st = os.stat(self.path)
                    version = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                    refused = _refused.get(key)
                    if refused and refused[0] == version:
                        e = refused[1]
                        raise Unusable(self, e.error, e.message, e.extra["store_etag"])
                    try:
                        self._check_and_migrate()
                    except Unusable as e:
                        _refused[key] = (version, e)
                        raise
                    _refused.pop(key, None)
                    _ready[key] = ident
        conns: dict[str, tuple[tuple[int, int], sqlite3.Connection]] = _local.__dict__.setdefault(
            "conns", {}
        )
        cached = conns.get(key)
        if cached and cached[0] == ident:
            return cached[1]
        if cached:
            cached[1].close()
        db = _connect(self.path)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA wal_autocheckpoint = 0")  # _Checkpointer does it off the commit path
        db.checkpointed_by = key  # type: ignore[attr-defined]
        conns[key] = (ident, db)
        return db

    def _create(self) -> None:
        if self.path.is_dir():
            raise ApiError(500, "bad_store_path", f"The store path {self.relpath} is a folder.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(_connect(self.path, "rwc")) as db:
            self._migrate(db, new=True)

    def _check_and_migrate(self) -> None:
        """Refuse a file that is not a usable DearDiary store (never writing to it);
        migrate an older one in place."""
        if self.path.is_dir():
            raise ApiError(500, "bad_store_path", f"The store path {self.relpath} is a folder.")
        with open(self.path, "rb") as f:
            header = f.read(100)
        if not header:
            with closing(_connect(self.path)) as db:
                self._migrate(db, new=True)
            return
        if len(header) < 100 or not header.startswith(_MAGIC):
            raise Unusable(self, "not_sqlite", f"The store file {self.relpath} is not an SQLite database.")
        page_size = int.from_bytes(header[16:18], "big")
        if header[21:24] != b"\x40\x20\x20" or not (
            page_size == 1 or (512 <= page_size <= 32768 and page_size & (page_size - 1) == 0)
        ):
            raise Unusable(self, "corrupt", f"The store file {self.relpath} is damaged: bad header.")
        version = int.from_bytes(header[60:64], "big")
        app_id = int.from_bytes(header[68:72], "big")
        if app_id not in (0, APPLICATION_ID):
            raise self._foreign()
        if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
            raise self._newer(version)
        try:
            with closing(_connect(self.path)) as db:
                result = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
                if result != ["ok"]:
                    raise Unusable(
                        self,
                        "corrupt",
                        f"The store file {self.relpath} is damaged: {'; '.join(result)[:1000]}",
                    )
                self._migrate(db, new=False)
        except (sqlite3.DatabaseError, blobs.BlobCorrupt) as e:
            raise Unusable(
                self, "corrupt", f"The store file {self.relpath} is damaged: {e}"
            ) from None

    def _foreign(self) -> Unusable:
        return Unusable(
            self,
            "foreign",
            f"The store file {self.relpath} is an SQLite database of another application, "
            "not a DearDiary store.",
        )

    def _newer(self, version: int) -> Unusable:
        return Unusable(
            self,
            "newer_schema",
            f"The store {self.relpath} was written by a newer version of jupyterlab-deardiary "
            f"(schema {version}, this version knows up to {SCHEMA_VERSION}). Upgrade the "
            "extension.",
        )

    def _migrate(self, db: sqlite3.Connection, new: bool) -> None:
        """Bring the store to SCHEMA_VERSION, one transaction per step (foreign keys off,
        as the browser migrated)."""
        if new:
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table
        db.execute("PRAGMA foreign_keys = OFF")
        migrated = False
        while True:
            with transaction(db):
                app_id = db.execute("PRAGMA application_id").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
                tables = db.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()[0]
                if app_id != APPLICATION_ID and not (app_id == 0 and version == 0 and tables == 0):
                    raise self._foreign()
                if version > SCHEMA_VERSION:
                    raise self._newer(version)
                if version == SCHEMA_VERSION:
                    break
                MIGRATIONS[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
                migrated = True
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        if migrated and not new:
            # Give back the pages of the old blob table (a store made before
            # INCREMENTAL was the default is switched to it, once).
            if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                db.executescript("PRAGMA incremental_vacuum;")  # stepped to the end: execute frees one page
            else:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                db.execute("VACUUM")
        db.execute("PRAGMA foreign_keys = ON")
        with transaction(db):
            self._collect_orphans(db)

    def set_aside(self, expected_sha256: str) -> Path:
        """Move an unusable store file (and its -wal, -shm) aside as
        ``<name>.broken-<UTC time>``, if it is the version ``expected_sha256`` names (412
        otherwise); the next write creates a new store. A usable store is left alone (409)."""
        with _ready_lock:
            current = self.file_sha256()
            if current is None:
                raise ApiError(404, "no_store", f"There is no store at {self.relpath}.")
            if current != expected_sha256:
                raise ApiError(
                    412,
                    "etag_mismatch",
                    "The store file changed since it was read: read its store_etag again.",
                    current_etag=f'"{current}"',
                )
            try:
                self.connection()
            except Unusable:
                pass
            else:
                raise ApiError(
                    409, "store_usable", f"The store {self.relpath} opens fine: it stays."
                )
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
            n = 1
            while aside.exists():
                n += 1
                aside = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
            os.rename(self.path, aside)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    os.rename(side, f"{aside}{suffix}")
            fsync_dir(self.path.parent)
            _ready.pop(str(self.path), None)
            return aside

    # Versions

    @staticmethod
    def version_of(db: sqlite3.Connection) -> str:
        store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
        return f"{store_id}.{Store.seq_of(db)}"

    @staticmethod
    def seq_of(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'change_log'").fetchone()
        return row[0] if row else 0

    def version(self) -> str | None:
        db = self.connection()
        return None if db is None else self.version_of(db)

    # Blobs

    def missing_blobs(self, shas: list[str]) -> list[str]:
        db = self.connection()
        if db is None:
            return list(dict.fromkeys(shas))
        with transaction(db, "DEFERRED"):
            return [s for s in dict.fromkeys(shas) if not blobs.has_blob(db, s)]

    def put_blob(self, sha: str, data: bytes | memoryview) -> bool:
        """Store the exact bytes named ``sha`` (checked by the caller); False when the
        store had them already."""
        db = self.connection(create=True)
        assert db is not None
        if blobs.has_blob(db, sha):
            return False
        chunks = blobs.cut(data)
        # No fsync of its own: the commit of the run that names the blob (FULL) syncs
        # the WAL up to and with it, and a blob no run names yet is the client's to send
        # again (blobs/missing) if it is lost with the power.
        if db.in_transaction:  # part of a caller's transaction, which commits it
            return blobs.insert_blob(db, sha, len(data), chunks)
        db.execute("PRAGMA synchronous = NORMAL")
        try:
            with transaction(db):
                return blobs.insert_blob(db, sha, len(data), chunks)
        finally:
            db.execute("PRAGMA synchronous = FULL")

    def get_blob(self, sha: str) -> bytes | None:
        db = self.connection()
        if db is None:
            return None
        with transaction(db, "DEFERRED"):
            return blobs.read_blob(db, sha)

    @staticmethod
    def _referenced(db: sqlite3.Connection, sha: str) -> bool:
        return (
            db.execute(
                """SELECT EXISTS (SELECT 1 FROM iteration_file WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM iteration WHERE notebook_blob = ?1)
                     OR EXISTS (SELECT 1 FROM iteration WHERE environment_sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM iteration WHERE patch_sha256 = ?1)""",
                (sha,),
            ).fetchone()[0]
            == 1
        )

    @staticmethod
    def _drop_blob(db: sqlite3.Connection, sha: str) -> None:
        blobs.delete_blob(db, sha)
        db.execute("DELETE FROM package WHERE manifest_sha256 = ?", (sha,))
        db.execute("DELETE FROM manifest_index WHERE sha256 = ?", (sha,))

    def _collect_orphans(self, db: sqlite3.Connection) -> int:
        """Remove the uploaded blobs no run came to reference within ORPHAN_AFTER (when the
        store is first opened by this process, then at most hourly on deletions)."""
        _collected[str(self.path)] = time.time()
        old = [
            r[0]
            for r in db.execute(
                "SELECT sha256 FROM blob WHERE created < ?", (time.time() - ORPHAN_AFTER,)
            )
        ]
        gone = [sha for sha in old if not self._referenced(db, sha)]
        for sha in gone:
            self._drop_blob(db, sha)
        return len(gone)

    # Runs

    def add_run(self, record: dict[str, Any], run_max_bytes: int) -> tuple[dict[str, Any], bool, str]:
        """Store a validated run record (see ``prepare_run``): (summary, created, version).
        Raises ApiError 409 missing_blobs, 400 bad_run, 413 run_too_large."""
        run = prepare_run(record)
        db = self.connection(create=True)
        assert db is not None
        # CPU work before the write lock: other writers wait only for the inserts.
        env_chunks = blobs.cut(run.environment)
        parsed = self._parse_new_manifests(db, run)
        with transaction(db):
            existing = self._find(db, run.snapshot_id)
            if existing is not None:
                return self._summary(db, existing), False, self.version_of(db)
            sizes = {
                sha: row[0]
                for sha in run.blobs
                if (row := db.execute("SELECT size FROM blob WHERE sha256 = ?", (sha,)).fetchone())
            }
            missing = [sha for sha in run.blobs if sha not in sizes]
            if missing:
                raise ApiError(
                    409,
                    "missing_blobs",
                    f"{len(missing)} blob(s) of this run are not stored: upload them, then "
                    "post the run again.",
                    missing=missing,
                )
            for sha, (field, size) in run.blobs.items():
                if size is not None and sizes[sha] != size:
                    raise bad_run(field, f"declares {size} bytes, the blob {sha} has {sizes[sha]}")
            added = sum(size for sha, size in sizes.items() if not self._referenced(db, sha))
            if not blobs.has_blob(db, run.environment_sha256):
                added += len(run.environment)
            if added > run_max_bytes:
                raise ApiError(
                    413,
                    "run_too_large",
                    f"This run would add {added} bytes to the store, more than "
                    f"{run_max_bytes} (DearDiary.run_max_bytes).",
                    size=added,
                    limit=run_max_bytes,
                )
            blobs.insert_blob(db, run.environment_sha256, len(run.environment), env_chunks)
            run_id = self._insert(db, run)
            seq = db.execute(
                "INSERT INTO change_log (iteration_id, kind) VALUES (?, 'add') RETURNING seq",
                (run_id,),
            ).fetchone()[0]
            for f in run.files:
                if f[0] == "manifest":
                    index_manifest(db, f[4], seq, parsed.get(f[4]))
            return self._summary(db, run_id), True, self.version_of(db)

    @staticmethod
    def _parse_new_manifests(
        db: sqlite3.Connection, run: PreparedRun
    ) -> dict[str, tuple[list[tuple[str, str, str]], str | None]]:
        """The package rows of the run's manifests the index lacks, read in a read
        transaction and parsed outside any (index_manifest parses again what this missed)."""
        shas = {f[4] for f in run.files if f[0] == "manifest"}
        with transaction(db, "DEFERRED"):
            data = {
                sha: blobs.read_blob(db, sha)
                for sha in shas
                if not db.execute(
                    "SELECT 1 FROM manifest_index WHERE sha256 = ?", (sha,)
                ).fetchone()
            }
        return {sha: parse_manifest(b) for sha, b in data.items() if b is not None}

    def _insert(self, db: sqlite3.Connection, run: PreparedRun) -> int:
        r = run.record
        row = db.execute("SELECT id FROM project ORDER BY id LIMIT 1").fetchone()
        if row is None:
            row = db.execute(
                "INSERT INTO project (name, created_date) VALUES (?, ?) RETURNING id",
                (PROJECT_NAME, r["created_at"]),
            ).fetchone()
        project_id = row[0]
        path = r["notebook"]["path"]
        db.execute(
            "INSERT OR IGNORE INTO experiment (project_id, name, created_date) VALUES (?, ?, ?)",
            (project_id, path, r["created_at"]),
        )
        experiment_id = db.execute(
            "SELECT id FROM experiment WHERE project_id = ? AND name = ?", (project_id, path)
        ).fetchone()[0]
        capture, git, notebook = r["capture"], r["git"], r["notebook"]
        repo = git["git"] if git["state"] == "ok" and git["git"].get("repo") else None
        parent = r["parent_snapshot_id"]
        run_id = db.execute(
            """INSERT INTO iteration (
                 experiment_id, snapshot_id, number, trigger, notes, created_date, end_date,
                 parent_iteration_id, julia_version, git_sha, git_dirty, entrypoint,
                 is_global_env, has_manifest, kernel_name, kernel_display_name,
                 notebook_sha256, notebook_size, notebook_blob, environment_sha256, details,
                 project_path, patch_sha256, patch_truncated, notebook_unsaved)
               VALUES (?, ?,
                 (SELECT COALESCE(MAX(number), 0) + 1 FROM iteration WHERE experiment_id = ?),
                 ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               RETURNING id""",
            (
                experiment_id,
                r["snapshot_id"],
                experiment_id,
                r["trigger"],
                r["note"],
                r["created_at"],
                r["ended_at"],
                None if parent is None else self._find(db, parent),
                capture["julia_version"],
                repo.get("head_sha") if repo else None,
                None if repo is None or repo.get("dirty") is None else int(repo["dirty"]),
                path,
                int(bool((capture.get("project") or {}).get("is_global", False))),
                int(any(f["role"] == "manifest" for f in capture["files"])),
                r["kernel"]["name"],
                r["kernel"]["display_name"],
                notebook["sha256"],
                notebook["size"],
                notebook["sha256"] if notebook["stored"] else None,
                run.environment_sha256,
                run.details,
                None if capture.get("project") is None else path_to_string(capture["project"]["path"]),
                run.patch_sha256,
                int(git["state"] == "ok" and git["git"].get("truncated") is True),
                int(notebook["unsaved_changes"]),
            ),
        ).fetchone()[0]
        db.executemany(
            """INSERT INTO iteration_file (iteration_id, role, name, path, size, sha256)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [(run_id, *f) for f in run.files],
        )
        return run_id

    @staticmethod
    def _find(db: sqlite3.Connection, snapshot_id: str) -> int | None:
        row = db.execute("SELECT id FROM iteration WHERE snapshot_id = ?", (snapshot_id,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _summary(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
        from .runs import summary_of  # the fields' conversions live with the run list

        cursor = db.execute(f"{RUNS_SELECT} WHERE id = ?", (run_id,))
        return summary_of(cursor, cursor.fetchone())

    def summary(self, run_id: int) -> dict[str, Any]:
        db = self._require()
        with transaction(db, "DEFERRED"):
            if not db.execute("SELECT 1 FROM iteration WHERE id = ?", (run_id,)).fetchone():
                raise no_run(run_id)
            return self._summary(db, run_id)

    def _require(self) -> sqlite3.Connection:
        db = self.connection()
        if db is None:
            raise ApiError(404, "no_run", "There is no store yet, so no run.")
        return db

    def get_run(self, run_id: int) -> dict[str, Any]:
        """Everything stored about one run (IRunDetail, as RunStore.getRun read it)."""
        db = self._require()
        with transaction(db, "DEFERRED"):
            row = db.execute(
                """SELECT details, environment_sha256, notebook_sha256, notebook_size,
                          notebook_blob, kernel_name, kernel_display_name
                   FROM iteration WHERE id = ?""",
                (run_id,),
            ).fetchone()
            if row is None:
                raise no_run(run_id)
            details_text, env_sha, nb_sha, nb_size, nb_blob, k_name, k_display = row
            base = self._summary(db, run_id)
            details = json.loads(details_text)
            env = json.loads(blobs.read_blob(db, env_sha) or b"null")
            files = [
                {"role": r[0], "name": r[1], "path": r[2], "size": r[3], "sha256": r[4]}
                for r in db.execute(
                    """SELECT role, name, path, size, sha256 FROM iteration_file
                       WHERE iteration_id = ? AND substr(role, 1, 4) <> 'env_'
                       ORDER BY role DESC, name""",
                    (run_id,),
                )
            ]
            saved_stored = any(f["role"] == NOTEBOOK_SAVED for f in files)
            files = [f for f in files if f["role"] != NOTEBOOK_SAVED]
            git = env["git"]
            if git["state"] == "ok" and env.get("patch_sha256"):
                patch = blobs.read_blob(db, env["patch_sha256"]) or b""
                git = {"state": "ok", "git": {**git["git"], "patch": patch.decode("utf-8", "replace")}}
        kernel = {
            "name": k_name,
            "display_name": k_display,
            "language": details["kernel_language"],
        }
        if "kernelspec" in details:
            kernel["spec"] = details["kernelspec"]
        return {
            **base,
            "files": files,
            "capture": env["capture"],
            "git": git,
            "notebook": {
                "path": base["notebook_path"],
                "sha256": nb_sha,
                "size": nb_size,
                "unsaved_changes": details["notebook"]["unsaved_changes"],
                "stored": nb_blob is not None,
                # Issue 16's fields, only in runs that have them (origin absent: "file").
                **({"origin": details["notebook"]["origin"]} if "origin" in details["notebook"] else {}),
                **(
                    {"saved": {**details["notebook"]["saved"], "stored": saved_stored}}
                    if "saved" in details["notebook"]
                    else {}
                ),
            },
            "kernel": kernel,
        }

    def update_note(self, run_id: int, note: str) -> tuple[dict[str, Any], str]:
        db = self._require()
        with transaction(db):
            if not db.execute("SELECT 1 FROM iteration WHERE id = ?", (run_id,)).fetchone():
                raise no_run(run_id)
            changed = db.execute(
                "UPDATE iteration SET notes = ? WHERE id = ? AND notes IS NOT ?",
                (note, run_id, note),
            ).rowcount
            if changed:
                db.execute(
                    "INSERT INTO change_log (iteration_id, kind) VALUES (?, 'edit')", (run_id,)
                )
            return self._summary(db, run_id), self.version_of(db)

    def delete_run(self, run_id: int) -> str:
        """Delete a run and, in the same transaction, the blobs (and chunks) no other run
        references; then give the freed pages back."""
        db = self._require()
        with transaction(db):
            if not db.execute("SELECT 1 FROM iteration WHERE id = ?", (run_id,)).fetchone():
                raise no_run(run_id)
            candidates = [
                r[0]
                for r in db.execute(
                    """SELECT sha256 FROM iteration_file WHERE iteration_id = ?1
                       UNION SELECT notebook_blob FROM iteration WHERE id = ?1
                       UNION SELECT environment_sha256 FROM iteration WHERE id = ?1
                       UNION SELECT patch_sha256 FROM iteration WHERE id = ?1""",
                    (run_id,),
                )
                if r[0] is not None
            ]
            db.execute(
                "UPDATE iteration SET parent_iteration_id = NULL WHERE parent_iteration_id = ?",
                (run_id,),
            )
            db.execute("DELETE FROM iteration_file WHERE iteration_id = ?", (run_id,))
            db.execute("DELETE FROM iteration WHERE id = ?", (run_id,))
            for sha in candidates:
                if not self._referenced(db, sha):
                    self._drop_blob(db, sha)
            db.execute("INSERT INTO change_log (iteration_id, kind) VALUES (?, 'delete')", (run_id,))
            if time.time() - _collected.get(str(self.path), 0) > ORPHAN_AFTER / 24:
                self._collect_orphans(db)  # at most hourly: it reads every old blob
            version = self.version_of(db)
        db.executescript("PRAGMA incremental_vacuum;")  # stepped to the end: execute frees one page
        return version

    # Reading many runs

    def read_runs(self, limit: int | None = None) -> tuple[str | None, list[str], list[tuple], int]:
        """(version, column names, rows newest first, total) in one read transaction."""
        db = self.connection()
        if db is None:
            return None, [], [], 0
        with transaction(db, "DEFERRED"):
            sql, params = LIST_RUNS, ()
            if limit is not None:
                sql, params = f"{LIST_RUNS} LIMIT ?", (limit,)
            cursor = db.execute(sql, params)
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description]
            total = db.execute("SELECT count(*) FROM iteration").fetchone()[0]
            return self.version_of(db), names, rows, total

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole store in ``target`` (SQLite's backup API)."""
        db = self.connection()
        if db is None:
            raise ApiError(404, "no_store", f"There is no store yet at {self.relpath}.")
        with closing(sqlite3.connect(target)) as dst:
            db.backup(dst)


class PreparedRun:
    """A run record checked field by field, with what the server derives from it."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.snapshot_id: str = record["snapshot_id"]
        capture, git, notebook, kernel = (
            record["capture"],
            record["git"],
            record["notebook"],
            record["kernel"],
        )
        self.patch_sha256: str | None = None
        env_git = git
        if git["state"] == "ok" and "patch_sha256" in git["git"]:
            self.patch_sha256 = git["git"]["patch_sha256"]
            env_git = {
                "state": "ok",
                "git": {k: v for k, v in git["git"].items() if k != "patch_sha256"},
            }
        # The environment JSON as the browser made it: the capture without bytes, git
        # without its patch, and the patch's sha256.
        self.environment = js_json(
            {"capture": capture, "git": env_git, "patch_sha256": self.patch_sha256}
        )
        self.environment_sha256 = hashlib.sha256(self.environment).hexdigest()
        # Issue 16: where the notebook's bytes come from ("editor": the model at snapshot
        # time) and the saved file when it differed; its bytes are the file row
        # `notebook_saved` (so that they are referenced like any run file).
        saved = notebook.get("saved")
        details: dict[str, Any] = {
            "notebook": {
                "unsaved_changes": notebook["unsaved_changes"],
                **({"origin": notebook["origin"]} if notebook.get("origin") else {}),
                **({"saved": {"sha256": saved["sha256"], "size": saved["size"]}} if saved else {}),
            },
            "kernel_language": kernel["language"],
            "parent_snapshot_id": record["parent_snapshot_id"],
        }
        if "spec" in kernel:
            details["kernelspec"] = kernel["spec"]
        self.details = js_json(details).decode("utf-8")
        # (role, name, path, size, sha256) per captured file; the role of a stacked
        # environment's file carries its index: (iteration, role, name) is the key.
        self.files = [
            (
                f["role"] if f.get("env") is None else f"{f['role']}:{f['env']}",
                f["name"],
                path_to_string(f["path"]),
                f["size"],
                f["sha256"],
            )
            for f in capture["files"]
        ]
        if saved and saved["stored"]:
            name = notebook["path"].rsplit("/", 1)[-1]
            self.files.append((NOTEBOOK_SAVED, name, notebook["path"], saved["size"], saved["sha256"]))
        # The blobs the run references: sha256 -> (field, declared size or None).
        self.blobs: dict[str, tuple[str, int | None]] = {}
        for i, f in enumerate(capture["files"]):
            self.blobs.setdefault(f["sha256"], (f"capture.files[{i}].size", f["size"]))
        if notebook["stored"]:
            self.blobs.setdefault(notebook["sha256"], ("notebook.size", notebook["size"]))
        if saved and saved["stored"]:
            self.blobs.setdefault(saved["sha256"], ("notebook.saved.size", saved["size"]))
        if self.patch_sha256 is not None:
            self.blobs.setdefault(self.patch_sha256, ("git.git.patch_sha256", None))


def js_json(value: Any) -> bytes:
    """JSON as JavaScript's JSON.stringify writes it (no spaces, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def bad_run(field: str, message: str) -> ApiError:
    return ApiError(400, "bad_run", f"{field}: {message}", field=field)


def no_run(run_id: int) -> ApiError:
    return ApiError(404, "no_run", f"There is no run with id {run_id}.")


_HEX = set("0123456789abcdef")
TRIGGERS = ("button", "kernel-start", "environment-change", "code")
ROLES = ("project", "manifest", "env_project", "env_manifest", "workspace_project")
#: The iteration_file role of a run's saved notebook when the editor's differed (issue 16).
NOTEBOOK_SAVED = "notebook_saved"


def prepare_run(record: Any) -> PreparedRun:
    """Check every field of an IRunRecord the columns, details and environment need
    (400 bad_run naming the first bad field)."""

    def obj(value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise bad_run(field, "must be an object")
        return value

    def get(o: dict[str, Any], key: str, field: str, kinds: tuple[type, ...], nullable=False) -> Any:
        if key not in o:
            raise bad_run(field, "is missing")
        value = o[key]
        if value is None and nullable:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds) + (" or null" if nullable else "")
            raise bad_run(field, f"must be {names}")
        return value

    def sha(o: dict[str, Any], key: str, field: str, nullable=False) -> str | None:
        value = get(o, key, field, (str,), nullable)
        if value is not None and (len(value) != 64 or not set(value) <= _HEX):
            raise bad_run(field, "must be a sha256 (64 lowercase hex digits)")
        return value

    def size(o: dict[str, Any], key: str, field: str) -> int:
        value = get(o, key, field, (int,))
        if value < 0:
            raise bad_run(field, "must not be negative")
        return value

    def path_value(value: Any, field: str) -> None:
        if isinstance(value, str):
            return
        if isinstance(value, dict) and isinstance(value.get("b64"), str):
            try:
                base64.b64decode(value["b64"], validate=True)
                return
            except ValueError:
                pass
        raise bad_run(field, "must be a path (a string or {b64})")

    r = obj(record, "run")
    try:
        json.dumps(r, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise bad_run("run", "a string holds a lone surrogate (not valid Unicode)") from None
    for key in ("snapshot_id", "note", "created_at", "ended_at"):
        get(r, key, key, (str,))
    if not r["snapshot_id"]:
        raise bad_run("snapshot_id", "must not be empty")
    if get(r, "trigger", "trigger", (str,)) not in TRIGGERS:
        raise bad_run("trigger", f"must be one of {', '.join(TRIGGERS)}")
    get(r, "parent_snapshot_id", "parent_snapshot_id", (str,), nullable=True)

    kernel = obj(r.get("kernel"), "kernel")
    for key in ("name", "display_name", "language"):
        get(kernel, key, f"kernel.{key}", (str,))
    if "spec" in kernel and kernel["spec"] is not None:
        obj(kernel["spec"], "kernel.spec")

    capture = obj(r.get("capture"), "capture")
    get(capture, "julia_version", "capture.julia_version", (str,))
    project = get(capture, "project", "capture.project", (dict,), nullable=True)
    if project is not None:
        path_value(project.get("path"), "capture.project.path")
        get(project, "is_global", "capture.project.is_global", (bool,))
    for i, f in enumerate(get(capture, "files", "capture.files", (list,))):
        field = f"capture.files[{i}]"
        obj(f, field)
        if get(f, "role", f"{field}.role", (str,)) not in ROLES:
            raise bad_run(f"{field}.role", f"must be one of {', '.join(ROLES)}")
        get(f, "name", f"{field}.name", (str,))
        path_value(f.get("path"), f"{field}.path")
        size(f, "size", f"{field}.size")
        sha(f, "sha256", f"{field}.sha256")
        if "base64" in f:
            raise bad_run(f"{field}.base64", "upload the bytes as a blob; send no base64")
        if f.get("env") is not None:
            get(f, "env", f"{field}.env", (int,))

    git = obj(r.get("git"), "git")
    state = get(git, "state", "git.state", (str,))
    if state == "ok":
        g = obj(git.get("git"), "git.git")
        get(g, "repo", "git.git.repo", (bool,))
        if "head_sha" in g:
            get(g, "head_sha", "git.git.head_sha", (str,))
        if g.get("dirty") is not None:
            get(g, "dirty", "git.git.dirty", (bool,))
        if g.get("patch"):
            raise bad_run("git.git.patch", "upload the patch as a blob and send patch_sha256")
        if "patch_sha256" in g:
            sha(g, "patch_sha256", "git.git.patch_sha256", nullable=True)
    elif state == "unknown":
        get(git, "error_code", "git.error_code", (str,))
        get(git, "message", "git.message", (str,))
    else:
        raise bad_run("git.state", "must be 'ok' or 'unknown'")

    notebook = obj(r.get("notebook"), "notebook")
    get(notebook, "path", "notebook.path", (str,))
    sha(notebook, "sha256", "notebook.sha256")
    size(notebook, "size", "notebook.size")
    get(notebook, "unsaved_changes", "notebook.unsaved_changes", (bool,))
    get(notebook, "stored", "notebook.stored", (bool,))
    if notebook.get("origin") is not None and notebook["origin"] not in ("editor", "file"):
        raise bad_run("notebook.origin", "must be 'editor' or 'file'")
    if notebook.get("saved") is not None:
        saved = obj(notebook["saved"], "notebook.saved")
        sha(saved, "sha256", "notebook.saved.sha256")
        size(saved, "size", "notebook.saved.size")
        get(saved, "stored", "notebook.saved.stored", (bool,))
    return PreparedRun(r)
