"""GET /deardiary/runs: the run list read from the store file.

The stores here are built by hand with the tables the query reads. That the rows equal
RunStore.listRuns' on a store written by the real schema is proven by
src/__tests__/runs.server.ts.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import sqlite3

import pytest
from jupyter_server.utils import url_path_join

from .. import runs as runs_module
from ..runs import APPLICATION_ID, FIELDS, SCHEMA_VERSION
from .test_security import ReadOnlyAuthorizer
from .utils import fetch_json

STORE = (".deardiary", "deardiary.sqlite")

TABLES = """
CREATE TABLE experiment (id INTEGER PRIMARY KEY, project_id INTEGER, name TEXT,
  created_date TEXT);
CREATE TABLE iteration (id INTEGER PRIMARY KEY, experiment_id INTEGER, snapshot_id TEXT,
  number INTEGER, status TEXT, trigger TEXT, notes TEXT, created_date TEXT,
  parent_iteration_id INTEGER, julia_version TEXT, git_sha TEXT, git_dirty INTEGER,
  is_global_env INTEGER, has_manifest INTEGER, project_path TEXT, patch_sha256 TEXT,
  patch_truncated INTEGER, notebook_unsaved INTEGER);
CREATE TABLE iteration_file (iteration_id INTEGER, role TEXT, name TEXT, path TEXT,
  size INTEGER, sha256 TEXT, PRIMARY KEY (iteration_id, role, name));
"""


def make_store(root, runs=(), *, app_id=APPLICATION_ID, version=SCHEMA_VERSION):
    """A store file with the tables the query reads; ``runs``: iteration rows (dicts)."""
    path = root.joinpath(*STORE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(TABLES)
        db.execute(f"PRAGMA application_id = {app_id}")
        db.execute(f"PRAGMA user_version = {version}")
        db.execute("INSERT INTO experiment VALUES (1, 1, 'a.ipynb', '2024')")
        db.execute("INSERT INTO experiment VALUES (2, 1, 'b/c.ipynb', '2024')")
        for run in runs:
            files = run.pop("files", {})
            db.execute(
                f"INSERT INTO iteration ({', '.join(run)}) VALUES ({', '.join('?' * len(run))})",
                list(run.values()),
            )
            for role, (name, sha) in files.items():
                db.execute(
                    "INSERT INTO iteration_file VALUES (?, ?, ?, '/p', 1, ?)",
                    (run["id"], role, name, sha),
                )
    db.close()
    return path


def run(id, created, **extra):
    return {
        "id": id,
        "experiment_id": 1,
        "snapshot_id": f"snap-{id}",
        "number": id,
        "status": "recorded",
        "trigger": "button",
        "notes": "",
        "created_date": created,
        "parent_iteration_id": None,
        "julia_version": "1.10.4",
        "git_sha": None,
        "git_dirty": None,
        "is_global_env": 0,
        "has_manifest": 0,
        "project_path": None,
        "patch_sha256": None,
        "patch_truncated": 0,
        "notebook_unsaved": 0,
        **extra,
    }


def expand(column):
    """A column as one value per run (``{values, index}``: values repeated a lot)."""
    if isinstance(column, dict):
        return [column["values"][i] for i in column["index"]]
    return column


def rows_of(body):
    """The answer's columns as one dict per run, in their order."""
    columns = body["columns"]
    assert list(columns) == list(FIELDS)
    return [dict(zip(FIELDS, values)) for values in zip(*map(expand, columns.values()))]


def tag(path) -> str:
    return f'"{hashlib.sha256(path.read_bytes()).hexdigest()}"'


async def test_no_store(jp_fetch, jp_root_dir):
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    assert body == {
        "etag": None,
        "schema_version": SCHEMA_VERSION,
        "columns": {name: [] for name in FIELDS},
    }
    assert not (jp_root_dir / ".deardiary").exists()


async def test_runs_with_the_store_etag(jp_fetch, jp_root_dir):
    manifest, project, patch = "m" * 64, "p" * 64, "d" * 64
    path = make_store(
        jp_root_dir,
        [
            run(1, "2024-01-01T10:00:00.000Z"),
            run(
                2,
                "2024-01-02T10:00:00.000Z",
                experiment_id=2,
                trigger="code",
                status="recorded",
                notes="tuned é ✓",
                git_sha="a" * 40,
                git_dirty=1,
                is_global_env=1,
                has_manifest=1,
                parent_iteration_id=1,
                project_path="/home/u/Project.toml",
                patch_sha256=patch,
                patch_truncated=1,
                notebook_unsaved=1,
                files={
                    "manifest": ("Manifest-v1.11.toml", manifest),
                    "project": ("Project.toml", project),
                },
            ),
            run(3, "2024-01-01T10:00:00.000Z", git_sha="b" * 40, git_dirty=0),
        ],
    )
    response = await jp_fetch("deardiary", "runs")
    assert response.headers["ETag"] == tag(path)
    body = json.loads(response.body)
    assert body["etag"] == tag(path)
    assert body["schema_version"] == SCHEMA_VERSION
    rows = rows_of(body)
    assert [r["id"] for r in rows] == [2, 3, 1]  # newest first, then the higher id
    second, third, first = rows
    assert second == {
        "id": 2,
        "snapshot_id": "snap-2",
        "number": 2,
        "notebook_path": "b/c.ipynb",
        "trigger": "code",
        "status": "recorded",
        "note": "tuned é ✓",
        "created_at": "2024-01-02T10:00:00.000Z",
        "julia_version": "1.10.4",
        "git_sha": "a" * 40,
        "git_dirty": True,
        "is_global_env": True,
        "has_manifest": True,
        "parent_id": 1,
        "manifest_sha256": manifest,
        "project_sha256": project,
        "manifest_name": "Manifest-v1.11.toml",
        "project_path": "/home/u/Project.toml",
        "notebook_unsaved": True,
        "has_patch": True,
        "patch_truncated": True,
    }
    assert (first["git_dirty"], third["git_dirty"]) == (None, False)
    assert first == {
        "id": 1,
        "snapshot_id": "snap-1",
        "number": 1,
        "notebook_path": "a.ipynb",
        "trigger": "button",
        "status": "recorded",
        "note": "",
        "created_at": "2024-01-01T10:00:00.000Z",
        "julia_version": "1.10.4",
        "git_sha": None,
        "git_dirty": None,
        "is_global_env": False,
        "has_manifest": False,
        "parent_id": None,
        "manifest_sha256": None,
        "project_sha256": None,
        "manifest_name": None,
        "project_path": None,
        "notebook_unsaved": False,
        "has_patch": False,
        "patch_truncated": False,
    }


async def test_a_current_list_is_not_sent_again(jp_fetch, jp_root_dir):
    path = make_store(jp_root_dir, [run(1, "2024")])
    first = await jp_fetch("deardiary", "runs")
    same = await jp_fetch(
        "deardiary", "runs", headers={"If-None-Match": first.headers["ETag"]}, raise_error=False
    )
    assert (same.code, same.body) == (304, b"")
    assert same.headers["ETag"] == tag(path)
    other = await jp_fetch("deardiary", "runs", headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert other.code == 200
    assert other.body == first.body


async def test_each_version_of_the_store_is_read(jp_fetch, jp_root_dir, tmp_path):
    path = make_store(jp_root_dir, [run(1, "2024")])
    # Read once per version, also by requests at the same time.
    answers = await asyncio.gather(*(jp_fetch("deardiary", "runs") for _ in range(3)))
    assert len({a.body for a in answers}) == 1
    assert json.loads(answers[0].body)["etag"] == tag(path)

    # Replaced as the store endpoint replaces it.
    newer = make_store(tmp_path, [run(1, "2024"), run(2, "2025")])
    os.replace(newer, path)
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    assert body["etag"] == tag(path)
    assert [r["id"] for r in rows_of(body)] == [2, 1]

    path.unlink()
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["etag"], body["columns"]["id"]) == (200, None, [])


async def test_repeated_values_are_sent_once(jp_fetch, jp_root_dir):
    ids = range(12, 0, -1)  # newest first
    make_store(
        jp_root_dir,
        [run(i, f"2024-{i:03}", experiment_id=1 + i % 2, git_dirty=i % 3 or None) for i in ids],
    )
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    columns = body["columns"]
    assert columns["id"] == list(ids)
    assert columns["notebook_path"] == {
        "values": ["a.ipynb", "b/c.ipynb"],
        "index": [i % 2 for i in ids],
    }
    assert columns["git_dirty"]["values"] == [None, False, True]
    assert expand(columns["git_dirty"]) == [(None, True, False)[i % 3] for i in ids]
    assert columns["status"] == {"values": ["recorded"], "index": [0] * 12}


async def test_gzipped_for_browsers_that_accept_it(jp_fetch, jp_root_dir):
    make_store(jp_root_dir, [run(i, f"2024-{i}") for i in range(1, 100)])
    plain, packed = [
        await jp_fetch(
            "deardiary",
            "runs",
            headers={"Accept-Encoding": encoding},
            decompress_response=False,
        )
        for encoding in ("identity", "gzip, deflate, br")
    ]
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body) / 4
    assert len(rows_of(json.loads(plain.body))) == 99


async def read_ahead_answer(path):
    """The answer the server read ahead for the store at ``path`` (waits up to 5 s)."""
    key = str(path.resolve())
    for _ in range(250):
        if key in runs_module._answers:
            break
        await asyncio.sleep(0.02)
    return runs_module._answers[key][1]


async def test_a_starting_frontend_has_the_run_list_read_ahead(jp_fetch, jp_root_dir):
    path = make_store(jp_root_dir, [run(1, "2024")])
    assert (await jp_fetch("deardiary", "version")).code == 200
    ready = await read_ahead_answer(path)
    assert (await jp_fetch("deardiary", "runs")).body == ready.body


async def test_a_written_store_has_its_run_list_read_ahead(jp_fetch, jp_root_dir):
    path = make_store(jp_root_dir, [run(1, "2024"), run(2, "2025")])
    data = path.read_bytes()
    path.unlink()
    written = await jp_fetch(
        "deardiary", "store", method="PUT", body=data, headers={"If-None-Match": "*"}
    )
    assert written.code == 201
    ready = await read_ahead_answer(path)
    assert ready.etag == written.headers["ETag"]
    assert len(rows_of(json.loads(ready.body))) == 2


async def test_a_broken_store_does_not_disturb_the_version_check(jp_fetch, jp_root_dir):
    make_store(jp_root_dir).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    assert (await jp_fetch("deardiary", "version")).code == 200
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, "corrupt")


@pytest.mark.parametrize("version", [0, 1, SCHEMA_VERSION + 1])
async def test_schema_mismatch(jp_fetch, jp_root_dir, version):
    make_store(jp_root_dir, [run(1, "2024")], version=version)
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 409
    assert body["error"] == "schema_mismatch"
    assert (body["schema_version"], body["expected"]) == (version, SCHEMA_VERSION)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "not_sqlite"),
        (b"not a database at all" * 10, "not_sqlite"),
        # an SQLite header on garbage, and a real database cut short
        (b"SQLite format 3\x00" + bytes(range(256)) * 16, "corrupt"),
        (None, "corrupt"),
    ],
)
async def test_unreadable_store(jp_fetch, jp_root_dir, content, error):
    path = make_store(jp_root_dir, [run(i, f"2024-{i}") for i in range(1, 200)])
    path.write_bytes(path.read_bytes()[:3000] if content is None else content)
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, error), body
    assert "store file" in body["message"]


async def test_another_application(jp_fetch, jp_root_dir):
    make_store(jp_root_dir, [run(1, "2024")], app_id=1234)
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, "foreign")


async def test_read_only(jp_fetch, jp_root_dir):
    """The file is opened read-only: nothing is written beside it, not a byte changes."""
    path = make_store(jp_root_dir, [run(1, "2024")])
    before = path.read_bytes()
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    finally:
        path.parent.chmod(0o755)
    assert code == 200
    assert [r["id"] for r in rows_of(body)] == [1]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["deardiary.sqlite"]


async def test_path_with_uri_characters(jp_fetch, jp_root_dir):
    """The store path goes into an SQLite URI: ?, # and % are escaped."""
    folder = jp_root_dir / "a ?b#c%20"
    make_store(folder, [run(1, "2024")])
    # the server's store_path is fixed per test: point it at the folder through a symlink
    (jp_root_dir / ".deardiary").symlink_to(folder / ".deardiary")
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200, body
    assert [r["id"] for r in rows_of(body)] == [1]


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_unauthenticated(http_server_client, jp_base_url, jp_root_dir, token):
    make_store(jp_root_dir, [run(1, "2024")])
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "deardiary", "runs"),
        headers=headers,
        raise_error=False,
        follow_redirects=False,
    )
    assert response.code in (401, 403)
    assert b"snap-1" not in response.body


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyterlab_deardiary": True},
                "authorizer_class": ReadOnlyAuthorizer,
            }
        }
    ],
)
async def test_reading_is_allowed_to_read_only_users(jp_fetch, jp_root_dir):
    make_store(jp_root_dir, [run(1, "2024")])
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    assert [r["snapshot_id"] for r in rows_of(body)] == ["snap-1"]
