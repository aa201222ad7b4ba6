"""Runs of the store into a DearDiary.jl store file (DuckDB), so that DearDiary's
``restore(iteration_id)``, its web UI and its Julia API see notebook runs (issue 17).

The schema is DearDiary's own at a pinned tag, written here as this module's own DDL; the
test fixture ``tests/fixtures/deardiary_schema.json`` records the facts it was read from
(tags, files, lines) and the tests check every exported file against them. Two flavours:

- ``v0.9.1`` (tag v0.9.1): BIGINT ids drawn from the ``seq_<table>`` sequences;
- ``dev`` (its development branch): VARCHAR ids, ``uuid()``.

The mapping: one project (the store's, "Jupyter"); one experiment per notebook path; one
iteration per run with ``julia_version``, ``git_sha``, ``git_dirty``, ``entrypoint`` (the
notebook path), ``project_toml`` / ``manifest_toml`` verbatim; parameters
``jupyter.snapshot_id``, ``jupyter.run_id``, ``jupyter.kernel``, ``jupyter.trigger``; the notebook and the
patch as inline resources of the experiment (``content_hash`` their sha256). Timestamps as
DearDiary writes and parses them (UTC, no zone, at most 3 fractional digits). A run whose
snapshot id the file already holds is not added again. A run DearDiary cannot hold (no
manifest, a TOML file that is not UTF-8) is reported, never dropped silently.

Python's ``duckdb`` is an optional dependency (``pip install 'jupyterlab-deardiary[deardiary]'``).
The file is written in DuckDB's v1.0 storage format so every DuckDB 1.x opens it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import blobs as blob_rows
from .db import PROJECT_NAME, Store, transaction
from .errors import ApiError

FLAVOURS = ("v0.9.1", "dev")
#: The storage format DuckDB 1.0 and later read.
STORAGE_VERSION = "v1.0.0"
SNAPSHOT_KEY = "jupyter.snapshot_id"
MAGIC = b"DUCK"

_TABLES = [
    "user", "project", "user_permission", "experiment", "iteration", "parameter", "metric",
    "resource", "tag", "project_tag", "experiment_tag", "iteration_tag", "model",
    "model_version",
]

# Each table: its columns after ``id`` ({ID}: the id type of a reference), and its table
# constraints. The id column is added per flavour.
_SCHEMA: dict[str, tuple[list[str], list[str]]] = {
    "user": ([
        "first_name TEXT", "last_name TEXT",
        "username TEXT NOT NULL UNIQUE CHECK (username <> '')",
        "password TEXT NOT NULL CHECK (password <> '')",
        "created_date TEXT NOT NULL CHECK (created_date <> '')",
        "is_admin BIGINT DEFAULT 0",
    ], []),
    "project": ([
        "name TEXT NOT NULL CHECK (name <> '')", "description TEXT DEFAULT ''",
        "created_date TEXT NOT NULL CHECK (created_date <> '')",
    ], []),
    "user_permission": ([
        "user_id {ID} NOT NULL", "project_id {ID} NOT NULL",
        "create_permission BIGINT DEFAULT 0", "read_permission BIGINT DEFAULT 1",
        "update_permission BIGINT DEFAULT 0", "delete_permission BIGINT DEFAULT 0",
    ], ["FOREIGN KEY(user_id) REFERENCES user(id)", "FOREIGN KEY(project_id) REFERENCES project(id)",
        "UNIQUE(user_id, project_id)"]),
    "experiment": ([
        "project_id {ID} NOT NULL", "status_id BIGINT NOT NULL CHECK (status_id IN (1, 2, 3))",
        "name TEXT NOT NULL CHECK (name <> '')", "description TEXT DEFAULT ''",
        "created_date TEXT NOT NULL CHECK (created_date <> '')", "end_date TEXT DEFAULT ''",
    ], ["FOREIGN KEY(project_id) REFERENCES project(id)"]),
    "iteration": ([
        "experiment_id {ID} NOT NULL", "notes TEXT DEFAULT ''",
        "created_date TEXT NOT NULL CHECK (created_date <> '')", "end_date TEXT DEFAULT ''",
        "parent_iteration_id {ID} REFERENCES iteration(id)",
        "status_id BIGINT NOT NULL DEFAULT 1 CHECK (status_id IN (1, 2, 3, 4))",
        "error_message TEXT DEFAULT ''", "julia_version TEXT DEFAULT ''",
        "git_sha TEXT DEFAULT ''", "git_dirty BIGINT NOT NULL DEFAULT 0",
        "entrypoint TEXT DEFAULT ''", "project_toml TEXT DEFAULT ''",
        "manifest_toml TEXT DEFAULT ''",
    ], ["FOREIGN KEY(experiment_id) REFERENCES experiment(id)"]),
    "parameter": ([
        "iteration_id {ID} NOT NULL", "key TEXT NOT NULL CHECK (key <> '')",
        "value TEXT NOT NULL CHECK (value <> '')",
    ], ["FOREIGN KEY(iteration_id) REFERENCES iteration(id)"]),
    "metric": ([
        "iteration_id {ID} NOT NULL", "key TEXT NOT NULL CHECK (key <> '')",
        "value DOUBLE NOT NULL", "step BIGINT NOT NULL DEFAULT 0",
        "recorded_at TEXT NOT NULL CHECK (recorded_at <> '')",
    ], ["FOREIGN KEY(iteration_id) REFERENCES iteration(id)"]),
    "resource": ([
        "experiment_id {ID} NOT NULL", "name TEXT NOT NULL CHECK (name <> '')",
        "description TEXT DEFAULT ''", "data BLOB",
        "created_date TEXT NOT NULL CHECK (created_date <> '')", "updated_date TEXT DEFAULT ''",
        "backend TEXT NOT NULL DEFAULT 'inline'", "uri TEXT DEFAULT ''",
        "size_bytes BIGINT NOT NULL DEFAULT 0", "content_hash TEXT DEFAULT ''",
    ], ["FOREIGN KEY(experiment_id) REFERENCES experiment(id)"]),
    "tag": (["value TEXT NOT NULL UNIQUE CHECK (value <> '')"], []),
    "project_tag": (["project_id {ID} NOT NULL", "tag_id {ID} NOT NULL"],
                    ["FOREIGN KEY(project_id) REFERENCES project(id)",
                     "FOREIGN KEY(tag_id) REFERENCES tag(id)", "UNIQUE(project_id, tag_id)"]),
    "experiment_tag": (["experiment_id {ID} NOT NULL", "tag_id {ID} NOT NULL"],
                       ["FOREIGN KEY(experiment_id) REFERENCES experiment(id)",
                        "FOREIGN KEY(tag_id) REFERENCES tag(id)", "UNIQUE(experiment_id, tag_id)"]),
    "iteration_tag": (["iteration_id {ID} NOT NULL", "tag_id {ID} NOT NULL"],
                      ["FOREIGN KEY(iteration_id) REFERENCES iteration(id)",
                       "FOREIGN KEY(tag_id) REFERENCES tag(id)", "UNIQUE(iteration_id, tag_id)"]),
    "model": ([
        "project_id {ID} NOT NULL", "name TEXT NOT NULL CHECK (name <> '')",
        "description TEXT DEFAULT ''", "created_date TEXT NOT NULL CHECK (created_date <> '')",
        "updated_date TEXT DEFAULT ''",
    ], ["FOREIGN KEY(project_id) REFERENCES project(id)", "UNIQUE(project_id, name)"]),
    "model_version": ([
        "model_id {ID} NOT NULL", "version BIGINT NOT NULL CHECK (version > 0)",
        "iteration_id {ID} NOT NULL", "resource_id {ID}",
        "stage_id BIGINT NOT NULL CHECK (stage_id IN (1, 2, 3, 4))",
        "description TEXT DEFAULT ''", "created_date TEXT NOT NULL CHECK (created_date <> '')",
        "updated_date TEXT DEFAULT ''",
    ], ["FOREIGN KEY(model_id) REFERENCES model(id)", "FOREIGN KEY(iteration_id) REFERENCES iteration(id)",
        "FOREIGN KEY(resource_id) REFERENCES resource(id)", "UNIQUE(model_id, version)"]),
}


def schema_statements(flavour: str) -> list[str]:
    """The DDL of a new DearDiary store of ``flavour`` (and its migration stamp)."""
    if flavour not in FLAVOURS:
        raise ApiError(400, "bad_flavour", f"'flavour' must be one of {', '.join(FLAVOURS)}.")
    integer = flavour == "v0.9.1"
    ref = "BIGINT" if integer else "VARCHAR"
    out = [f"CREATE SEQUENCE IF NOT EXISTS seq_{t} START 1" for t in _TABLES] if integer else []
    for table in _TABLES:
        columns, constraints = _SCHEMA[table]
        id_col = f"id BIGINT PRIMARY KEY DEFAULT nextval('seq_{table}')" if integer else (
            "id VARCHAR PRIMARY KEY DEFAULT uuid()")
        body = ",\n  ".join([id_col, *(c.replace("{ID}", ref) for c in columns), *constraints])
        out.append(f"CREATE TABLE IF NOT EXISTS {table} (\n  {body}\n)")
    out.append("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
               "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    return out


def deardiary_time(value: str | None) -> str:
    """An ISO time as DearDiary writes it (``string(now())``): no zone, milliseconds only
    when not zero (Julia's ``DateTime(s)`` reads it); a zoned time is turned to UTC."""
    if not value:
        return ""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    ms = t.microsecond // 1000
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "")


def _now() -> str:
    return deardiary_time(datetime.now(timezone.utc).isoformat())


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ApiError(
            501,
            "duckdb_missing",
            "Exporting to DearDiary needs Python's duckdb on the server: pip install "
            "'jupyterlab-deardiary[deardiary]' (or pip install 'duckdb>=1.1'), then restart "
            "the server.",
        ) from None
    return duckdb


def open_target(path: Path, flavour: str) -> Any:
    """A DuckDB connection to the DearDiary file at ``path``, made (schema and migration
    stamp) when new; a file that is not a DearDiary DuckDB store is refused, never
    written."""
    duckdb = _duckdb()
    if path.exists():
        if path.is_dir():
            raise ApiError(400, "bad_target", f"{path.name} is a folder: name a file.")
        with open(path, "rb") as f:
            head = f.read(16)
        if head[8:12] != MAGIC:
            raise ApiError(409, "not_duckdb", f"{path.name} exists and is not a DuckDB file: "
                           "it was left as it is. Name a new file or a DearDiary store.")
        con = duckdb.connect(str(path))
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()}
        if not {"iteration", "parameter", "experiment", "project", "resource"} <= tables:
            con.close()
            raise ApiError(409, "not_deardiary", f"{path.name} is a DuckDB file but not a "
                           "DearDiary store: it was left as it is.")
        id_type = con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'iteration' "
            "AND column_name = 'id' AND database_name = current_database()").fetchone()[0]
        found = "v0.9.1" if id_type == "BIGINT" else "dev"
        if found != flavour:
            con.close()
            raise ApiError(409, "other_flavour", f"{path.name} is a DearDiary store of the "
                           f"{found} schema, not {flavour}: choose that flavour.")
        return con
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    con.execute("BEGIN")
    for stmt in schema_statements(flavour):
        con.execute(stmt)
    con.execute("INSERT INTO schema_migrations VALUES (1, 'baseline', ?)", [_now()])
    con.execute("COMMIT")
    return con


class _Run:
    """What one run of the store gives DearDiary."""

    def __init__(self, db: Any, run_id: int) -> None:
        row = db.execute(
            """SELECT snapshot_id, notes, created_date, end_date, julia_version, git_sha,
                      git_dirty, entrypoint, kernel_name, trigger, notebook_blob,
                      patch_sha256, details
               FROM iteration WHERE id = ?""", (run_id,)).fetchone()
        if row is None:
            raise ApiError(404, "no_run", f"There is no run with id {run_id}.")
        (self.snapshot_id, self.notes, self.created, self.ended, self.julia_version,
         self.git_sha, self.git_dirty, self.notebook_path, self.kernel, self.trigger,
         notebook_blob, patch_sha, details) = row
        self.id = run_id
        self.parent_snapshot_id = json.loads(details).get("parent_snapshot_id")
        files = {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT role, name, sha256 FROM iteration_file WHERE iteration_id = ? "
            "AND role IN ('project', 'manifest')", (run_id,))}
        self.problem: str | None = None
        self.project_toml = self.manifest_toml = ""
        if "manifest" not in files:
            self.problem = "no Manifest.toml was recorded: DearDiary's restore needs one"
        for role, (name, sha) in files.items():
            data = blob_rows.read_blob(db, sha) or b""
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.problem = f"its {name} is not UTF-8 text: DearDiary keeps TOML as text"
                continue
            setattr(self, f"{role}_toml", text)
        self.resources: list[tuple[str, bytes, str]] = []
        if notebook_blob:
            name = self.notebook_path.rsplit("/", 1)[-1] or "notebook.ipynb"
            self.resources.append((name, blob_rows.read_blob(db, notebook_blob) or b"", notebook_blob))
        if patch_sha:
            self.resources.append(("git.patch", blob_rows.read_blob(db, patch_sha) or b"", patch_sha))


def export_runs(store: Store, run_ids: list[int] | None, target: Path, flavour: str = "v0.9.1",
                relpath: str = "") -> dict[str, Any]:
    """Add the runs ``run_ids`` (None: all) to the DearDiary store file ``target``: the
    report ``{path, flavour, added, already, refused}``."""
    db = store.connection()
    runs: list[_Run] = []
    if db is not None:
        with transaction(db, "DEFERRED"):
            ids = run_ids if run_ids is not None else [
                r[0] for r in db.execute("SELECT id FROM iteration ORDER BY created_date, id")]
            runs = [_Run(db, i) for i in dict.fromkeys(ids)]
    elif run_ids:
        raise ApiError(404, "no_run", "There is no store yet, so no run.")
    runs.sort(key=lambda r: (r.created, r.id))
    added: list[dict[str, Any]] = []
    already: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    con = open_target(target, flavour)
    try:
        con.execute("BEGIN")  # one transaction: all these runs or none
        try:
            known = dict(con.execute("SELECT value, iteration_id FROM parameter WHERE key = ?",
                                     [SNAPSHOT_KEY]).fetchall())
            ids_of: dict[Any, Any] = {}
            for run in runs:
                if run.problem:
                    refused.append({"snapshot_id": run.snapshot_id, "run_id": run.id,
                                    "message": run.problem})
                    continue
                found = known.get(run.snapshot_id)
                if found is not None:
                    already.append({"snapshot_id": run.snapshot_id, "run_id": run.id,
                                    "iteration_id": found})
                    continue
                iteration_id = _insert(con, run, known, ids_of)
                known[run.snapshot_id] = iteration_id
                added.append({"snapshot_id": run.snapshot_id, "run_id": run.id,
                              "iteration_id": iteration_id})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"path": relpath, "flavour": flavour, "added": added, "already": already,
            "refused": refused}


def _one(con: Any, sql: str, params: list[Any]) -> Any:
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _insert(con: Any, run: _Run, known: dict[str, Any], ids_of: dict[Any, Any]) -> Any:
    """Add one run (its project and experiment when new); ``known``: iteration id per
    snapshot id, ``ids_of``: the project's and experiments' ids found so far."""
    created = deardiary_time(run.created)
    if "project" not in ids_of:
        ids_of["project"] = _one(
            con, "SELECT id FROM project WHERE name = ? ORDER BY created_date LIMIT 1",
            [PROJECT_NAME]) or _one(
            con, "INSERT INTO project (name, description, created_date) VALUES (?, ?, ?) "
            "RETURNING id", [PROJECT_NAME, "Notebook runs recorded by jupyterlab-deardiary", created])
    project = ids_of["project"]
    key = ("experiment", run.notebook_path)
    if key not in ids_of:
        ids_of[key] = _one(
            con, "SELECT id FROM experiment WHERE project_id = ? AND name = ? "
            "ORDER BY created_date LIMIT 1", [project, run.notebook_path]) or _one(
            con, "INSERT INTO experiment (project_id, status_id, name, description, created_date) "
            "VALUES (?, 1, ?, ?, ?) RETURNING id",
            [project, run.notebook_path, "Runs of the notebook " + run.notebook_path, created])
    experiment = ids_of[key]
    parent = known.get(run.parent_snapshot_id) if run.parent_snapshot_id else None
    iteration = _one(
        con,
        """INSERT INTO iteration (experiment_id, notes, created_date, end_date,
             parent_iteration_id, status_id, error_message, julia_version, git_sha, git_dirty,
             entrypoint, project_toml, manifest_toml)
           VALUES (?, ?, ?, ?, ?, 2, '', ?, ?, ?, ?, ?, ?) RETURNING id""",
        [experiment, run.notes, created, deardiary_time(run.ended), parent, run.julia_version,
         run.git_sha or "", int(bool(run.git_dirty)), run.notebook_path, run.project_toml,
         run.manifest_toml],
    )
    # One statement per table (DuckDB pays per statement, not per row).
    params = [[iteration, k, v] for k, v in (
        (SNAPSHOT_KEY, run.snapshot_id), ("jupyter.run_id", str(run.id)),
        ("jupyter.kernel", run.kernel), ("jupyter.trigger", run.trigger)) if v]
    con.execute("INSERT INTO parameter (iteration_id, key, value) VALUES "
                + ", ".join(["(?, ?, ?)"] * len(params)), [x for row in params for x in row])
    if run.resources:
        rows = [[experiment, f"{run.snapshot_id}/{name}",
                 f"{name} of iteration {iteration} (run {run.snapshot_id})", data, created,
                 len(data), sha] for name, data, sha in run.resources]
        con.execute(
            "INSERT INTO resource (experiment_id, name, description, data, created_date, "
            "backend, uri, size_bytes, content_hash) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, 'inline', '', ?, ?)"] * len(rows)),
            [x for row in rows for x in row])
    return iteration


