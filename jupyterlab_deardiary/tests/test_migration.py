"""A store written by the browser code of 8e9b051 (schema v2, fixtures/store-v2.sqlite, see
fixtures/README.md) is upgraded in place at its first open by the server: every run reads
back as RunStore.getRun read it, every blob byte-identical; a second start changes
nothing; a newer or damaged file is refused and left as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .. import db as db_module
from ..db import APPLICATION_ID, SCHEMA_VERSION
from ..runs import FIELDS
from .test_db import STORE, rows_of
from .utils import fetch_json

FIXTURE = Path(__file__).parent / "fixtures" / "store-v2.sqlite"

# RunStore's SUMMARY at 8e9b051, read by position as RunStore._toSummary did.
OLD_SUMMARY = """
SELECT i.id, i.snapshot_id, i.number, e.name AS notebook_path, i.trigger, i.status,
  i.notes, i.created_date, i.julia_version, i.git_sha, i.git_dirty, i.is_global_env,
  i.has_manifest, i.parent_iteration_id, m.sha256 AS manifest_sha256,
  m.name AS manifest_name, p.sha256 AS project_sha256, i.project_path,
  i.notebook_unsaved, i.patch_sha256, i.patch_truncated
FROM iteration i
JOIN experiment e ON e.id = i.experiment_id
LEFT JOIN iteration_file m ON m.iteration_id = i.id AND m.role = 'manifest'
LEFT JOIN iteration_file p ON p.iteration_id = i.id AND p.role = 'project'"""


def old_summary(row: tuple) -> dict[str, Any]:
    values = dict(zip(FIELDS, row))
    for name in ("is_global_env", "has_manifest", "notebook_unsaved", "patch_truncated"):
        values[name] = values[name] == 1
    values["git_dirty"] = None if values["git_dirty"] is None else values["git_dirty"] == 1
    values["has_patch"] = values["has_patch"] is not None
    return values


def old_detail(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """RunStore.getRun of 8e9b051, on the v2 file."""
    base = old_summary(db.execute(f"{OLD_SUMMARY} WHERE i.id = ?", (run_id,)).fetchone())
    details, env_sha, nb_sha, nb_size, nb_blob, k_name, k_display = db.execute(
        """SELECT details, environment_sha256, notebook_sha256, notebook_size, notebook_blob,
                  kernel_name, kernel_display_name FROM iteration WHERE id = ?""",
        (run_id,),
    ).fetchone()
    details = json.loads(details)
    blob = lambda sha: bytes(db.execute("SELECT data FROM blob WHERE sha256 = ?", (sha,)).fetchone()[0])  # noqa: E731
    env = json.loads(blob(env_sha))
    files = [
        dict(zip(("role", "name", "path", "size", "sha256"), r))
        for r in db.execute(
            """SELECT role, name, path, size, sha256 FROM iteration_file
               WHERE iteration_id = ? AND substr(role, 1, 4) <> 'env_'
               ORDER BY role DESC, name""",
            (run_id,),
        )
    ]
    git = env["git"]
    if git["state"] == "ok" and env.get("patch_sha256"):
        git = {
            "state": "ok",
            "git": {**git["git"], "patch": blob(env["patch_sha256"]).decode("utf-8", "replace")},
        }
    kernel = {"name": k_name, "display_name": k_display, "language": details["kernel_language"]}
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
        },
        "kernel": kernel,
    }


def read_v2(path: Path) -> tuple[dict[int, dict[str, Any]], dict[str, bytes]]:
    """Every run's detail and every blob of a v2 file, read directly with sqlite3."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        ids = [r[0] for r in db.execute("SELECT id FROM iteration ORDER BY id")]
        details = {i: old_detail(db, i) for i in ids}
        blobs = {sha: bytes(data) for sha, data in db.execute("SELECT sha256, data FROM blob")}
    db.close()
    return details, blobs


@pytest.fixture
def v2_store(jp_root_dir: Path) -> Path:
    path = jp_root_dir.joinpath(*STORE)
    path.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, path)
    return path


async def test_a_v2_store_is_upgraded_in_place(jp_fetch, v2_store, tmp_path):
    before, blobs = read_v2(v2_store)
    assert len(before) == 11 and len(blobs) == 22
    # the fixture holds what the test is about
    roles = {f["role"] for d in before.values() for f in d["capture"]["files"]}
    assert roles == {"project", "manifest", "env_project", "env_manifest", "workspace_project"}
    assert any(d["git"]["state"] == "ok" and d["git"]["git"].get("patch") for d in before.values())
    assert any(d["patch_truncated"] for d in before.values())
    assert any("spec" in d["kernel"] for d in before.values())
    assert any(d["parent_id"] for d in before.values())
    assert any(not d["notebook"]["stored"] for d in before.values())

    code, listed = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    rows = rows_of(listed["columns"])
    assert sorted(r["id"] for r in rows) == sorted(before)
    for row in rows:
        assert row == {k: before[row["id"]][k] for k in FIELDS}
    for run_id, expected in before.items():
        code, detail = await fetch_json(jp_fetch, "deardiary", "runs", str(run_id))
        assert (code, detail) == (200, expected)
    for sha, data in blobs.items():
        assert hashlib.sha256(data).hexdigest() == sha
        response = await jp_fetch("deardiary", "blobs", sha)
        assert response.body == data

    with sqlite3.connect(v2_store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        fk_targets = {r[2] for t in ("iteration", "iteration_file")
                      for r in db.execute(f"PRAGMA foreign_key_list({t})")}
        assert fk_targets == {"blob", "experiment", "iteration"}  # the new blob table
        assert {r[0] for r in db.execute("SELECT sha256 FROM blob")} == set(blobs)
        assert not db.execute(
            "SELECT name FROM sqlite_master WHERE name = 'blob_v2'"
        ).fetchall()
        errors = dict(db.execute("SELECT sha256, error FROM manifest_index").fetchall())
        manifests = {
            f["sha256"] for d in before.values() for f in d["files"] if f["role"] == "manifest"
        }
        assert set(errors) == manifests
        assert sum(e is not None and e.startswith("invalid TOML") for e in errors.values()) == 1
        jump = db.execute(
            "SELECT DISTINCT version FROM package WHERE name = 'JuMP'"
        ).fetchall()
        assert jump == [("1.18.0",)]
        v1_stdlib = db.execute(
            "SELECT count(*) FROM package WHERE name = 'LinearAlgebra' AND version = ''"
        ).fetchone()[0]
        assert v1_stdlib >= 2  # stdlibs of format 2.0 and of the v1 layout: no version
    db.close()

    # the browser's index holds the migrated runs' manifests
    response = await jp_fetch("deardiary", "index")
    image = tmp_path / "index.sqlite"
    image.write_bytes(response.body)
    with sqlite3.connect(image) as index:
        assert {r[0] for r in index.execute("SELECT sha256 FROM manifest")} == manifests
        assert index.execute(
            """SELECT DISTINCT p.version FROM package p JOIN manifest m ON m.id = p.manifest
               WHERE p.name = 'jump' COLLATE NOCASE"""
        ).fetchall() == [("1.18.0",)]
    index.close()

    # runs go on being numbered after the migrated ones
    from .test_db import post_run, record

    added = await post_run(jp_fetch, *record("after-migration", notebook="analysis.ipynb"))
    numbers = [d["number"] for d in before.values() if d["notebook_path"] == "analysis.ipynb"]
    assert added["run"]["number"] == max(numbers) + 1


async def test_a_second_start_changes_nothing(jp_fetch, v2_store):
    assert (await jp_fetch("deardiary", "runs")).code == 200
    with sqlite3.connect(v2_store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        store_id = db.execute("SELECT value FROM meta").fetchone()[0]
    db.close()
    data = v2_store.read_bytes()
    db_module._ready.clear()  # as a new server process: check and migrate again
    code, listed = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert code == 200
    code, listed = await fetch_json(jp_fetch, "deardiary", "runs")
    assert listed["version"] == f"{store_id}.0"
    assert v2_store.read_bytes() == data


async def test_a_newer_schema_is_refused_and_untouched(jp_fetch, v2_store):
    with sqlite3.connect(v2_store) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    data = v2_store.read_bytes()
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, "newer_schema")
    assert body["store_etag"] == hashlib.sha256(data).hexdigest()
    assert v2_store.read_bytes() == data
    assert set(os.listdir(v2_store.parent)) - {".gitignore"} == {v2_store.name}


async def test_a_damaged_blob_stops_the_migration(jp_fetch, v2_store):
    """A blob whose bytes do not hash to its name is never carried over silently: the
    store is refused (corrupt) and the file left as it was."""
    with sqlite3.connect(v2_store) as db:
        sha = db.execute("SELECT sha256 FROM blob ORDER BY sha256 LIMIT 1").fetchone()[0]
        db.execute("UPDATE blob SET data = CAST('damaged' AS BLOB) WHERE sha256 = ?", (sha,))
    db.close()
    data = v2_store.read_bytes()
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, "corrupt")
    assert sha in body["message"]
    assert v2_store.read_bytes() == data
    with sqlite3.connect(f"file:{v2_store}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def as_posted(detail: dict[str, Any], snapshot_id: str) -> dict[str, Any]:
    """The record the browser posts for a run like ``detail`` (src/store/prepare.ts)."""
    git = detail["git"]
    if git["state"] == "ok" and git["git"].get("patch"):
        rest = {k: v for k, v in git["git"].items() if k != "patch"}
        patch = git["git"]["patch"].encode()
        git = {"state": "ok", "git": {**rest, "patch_sha256": hashlib.sha256(patch).hexdigest()}}
    elif git["state"] == "ok":
        git = {"state": "ok", "git": {**git["git"], "patch_sha256": None}}
    return {
        "snapshot_id": snapshot_id,
        "trigger": detail["trigger"],
        "note": detail["note"],
        "created_at": detail["created_at"],
        "ended_at": detail["created_at"],
        "parent_snapshot_id": None,
        "kernel": detail["kernel"],
        "capture": detail["capture"],
        "git": git,
        "notebook": detail["notebook"],
    }


async def test_the_same_environment_posted_again_shares_its_blob(jp_fetch, v2_store):
    """The server writes a run's environment JSON byte for byte as the browser did: a run
    posted now of an environment recorded before the migration shares its blob."""
    before, _ = read_v2(v2_store)
    with sqlite3.connect(f"file:{v2_store}?mode=ro", uri=True) as db:
        old = dict(db.execute("SELECT snapshot_id, environment_sha256 FROM iteration"))
    db.close()
    for run_id, detail in before.items():
        code, body = await fetch_json(
            jp_fetch, "deardiary", "runs", method="POST",
            body=json.dumps(as_posted(detail, f"again-{run_id}")),
        )
        assert code == 201, body
    with sqlite3.connect(v2_store) as db:
        new = dict(db.execute("SELECT snapshot_id, environment_sha256 FROM iteration"))
        blobs = db.execute("SELECT count(*) FROM blob").fetchone()[0]
    db.close()
    for run_id, detail in before.items():
        assert new[f"again-{run_id}"] == old[detail["snapshot_id"]], detail["snapshot_id"]
    assert blobs == len(set(old.values())) + len(
        {f["sha256"] for d in before.values() for f in d["capture"]["files"]}
        | {d["notebook"]["sha256"] for d in before.values() if d["notebook"]["stored"]}
        | {hashlib.sha256(d["git"]["git"]["patch"].encode()).hexdigest()
           for d in before.values() if d["git"]["state"] == "ok" and d["git"]["git"].get("patch")}
    )
