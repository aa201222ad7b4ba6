"""The store's endpoints: blobs, runs (add, list, detail, note, delete), the index.

A real jupyter_server (pytest-jupyter) and a real SQLite file; the helpers here build run
records as the browser posts them (IRunRecord, docs/store.md).
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from .. import db as db_module
from ..blobs import AVG_CHUNK
from ..db import Store
from ..runs import FIELDS
from .utils import fetch_json

STORE = (".deardiary", "deardiary.sqlite")
MANIFESTS = Path("/work/shared/fixtures/manifests")
FIXTURES = Path(__file__).parent / "fixtures"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(name: str = "medium") -> bytes:
    return (FIXTURES / "manifests" / f"{name}.toml").read_bytes()


def record(
    snapshot_id: str = "snap-1",
    *,
    notebook: str = "a.ipynb",
    notebook_bytes: bytes | None = b'{"cells": []}\n',
    manifest: bytes | None = None,
    project: bytes = b'[deps]\nExample = "7876af07-990d-54b4-ab0e-23690620f79a"\n',
    patch: bytes | None = None,
    created_at: str = "2024-05-01T10:00:00.000Z",
    parent: str | None = None,
    note: str = "",
    env_manifest: bytes | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """An IRunRecord and the blobs it references (sha256 -> bytes)."""
    blobs: dict[str, bytes] = {}
    files = []

    def add(role: str, name: str, path: str, data: bytes, env: int | None = None) -> None:
        blobs[sha(data)] = data
        file = {"role": role, "name": name, "path": path, "size": len(data), "sha256": sha(data)}
        if env is not None:
            file["env"] = env
        files.append(file)

    add("project", "Project.toml", "/home/u/p/Project.toml", project)
    if manifest is not None:
        add("manifest", "Manifest.toml", "/home/u/p/Manifest.toml", manifest)
    if env_manifest is not None:
        add("env_manifest", "Manifest.toml", "/home/u/.julia/environments/v1.10/Manifest.toml",
            env_manifest, env=2)
    nb = notebook_bytes if notebook_bytes is not None else b"unsaved bytes not kept"
    if notebook_bytes is not None:
        blobs[sha(nb)] = nb
    git: dict[str, Any] = {
        "path": notebook,
        "repo": True,
        "head_sha": "a" * 40,
        "branch": "main",
        "dirty": patch is not None,
        "patch_bytes": len(patch or b""),
        "truncated": False,
        "toplevel": "",
    }
    if patch is not None:
        blobs[sha(patch)] = patch
        git["patch_sha256"] = sha(patch)
    rec = {
        "snapshot_id": snapshot_id,
        "trigger": "button",
        "note": note,
        "created_at": created_at,
        "ended_at": created_at.replace("00.000Z", "01.000Z"),
        "parent_snapshot_id": parent,
        "kernel": {
            "name": "julia-1.10",
            "display_name": "Julia 1.10.4",
            "language": "julia",
            "spec": {
                "name": "julia-1.10",
                "display_name": "Julia 1.10.4",
                "language": "julia",
                "argv": ["julia", "-i", "{connection_file}"],
                "env": {"TOKEN": "REDACTED"},
            },
        },
        "capture": {
            "julia_version": "1.10.4",
            "project": {"path": "/home/u/p/Project.toml", "exists": True, "is_global": False},
            "manifest": None,
            "workspace_root": None,
            "files": files,
            "sys": {
                "kernel": "Linux",
                "arch": "x86_64",
                "machine": "x86_64-linux-gnu",
                "cpu_threads": 2,
                "nthreads": 1,
                "bindir": "/opt/julia/bin",
                "depot_path": ["/home/u/.julia"],
                "load_path": ["@", "@v#.#", "@stdlib"],
                "pwd": {"b64": "L2hvbWUvdS_/cA=="},
            },
        },
        "git": {"state": "ok", "git": git},
        "notebook": {
            "path": notebook,
            "sha256": sha(nb),
            "size": len(nb),
            "unsaved_changes": False,
            "stored": notebook_bytes is not None,
        },
    }
    return rec, blobs


async def upload(jp_fetch: Any, blobs: dict[str, bytes]) -> None:
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": list(blobs)}),
    )
    assert code == 200, body
    for digest in body["missing"]:
        response = await jp_fetch(
            "deardiary", "blobs", digest, method="PUT", body=blobs[digest], raise_error=False
        )
        assert response.code in (200, 201), response.body


async def post_run(jp_fetch: Any, rec: dict[str, Any], blobs: dict[str, bytes]) -> dict[str, Any]:
    await upload(jp_fetch, blobs)
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert code in (200, 201), body
    return body


def expand(column: Any) -> list[Any]:
    if isinstance(column, dict):
        return [column["values"][i] for i in column["index"]]
    return column


def rows_of(columns: dict[str, Any]) -> list[dict[str, Any]]:
    assert list(columns) == list(FIELDS)
    return [dict(zip(FIELDS, values)) for values in zip(*map(expand, columns.values()))]


def open_db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root.joinpath(*STORE))


# Blobs


async def test_blob_round_trip_chunked_and_deduplicated(jp_fetch, jp_root_dir):
    big = manifest_bytes("large")
    bumped = big.replace(b'version = "1.5.0"', b'version = "1.5.1"', 1)
    assert bumped != big
    for data in (big, bumped):
        response = await jp_fetch("deardiary", "blobs", sha(data), method="PUT", body=data)
        assert response.code == 201
        assert json.loads(response.body) == {"sha256": sha(data), "size": len(data)}
    again = await jp_fetch("deardiary", "blobs", sha(big), method="PUT", body=big)
    assert again.code == 200
    for data in (big, bumped):
        response = await jp_fetch("deardiary", "blobs", sha(data))
        assert response.body == data
        assert response.headers["ETag"] == f'"{sha(data)}"'
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert "immutable" in response.headers["Cache-Control"]
    with open_db(jp_root_dir) as db:
        stored = db.execute("SELECT sum(length(data)) FROM chunk").fetchone()[0]
        chunks = db.execute("SELECT count(*) FROM chunk").fetchone()[0]
        shared = db.execute(
            "SELECT count(*) FROM (SELECT chunk_id FROM blob_chunk GROUP BY chunk_id "
            "HAVING count(*) = 2)"
        ).fetchone()[0]
    # compressed, and the bumped manifest shares all but a chunk or two with the first
    assert stored < len(big) / 2
    assert chunks > len(big) // AVG_CHUNK // 2
    assert shared >= chunks // 2 - 2


async def test_an_empty_blob(jp_fetch, jp_root_dir):
    response = await jp_fetch("deardiary", "blobs", sha(b""), method="PUT", body=b"")
    assert (response.code, json.loads(response.body)["size"]) == (201, 0)
    response = await jp_fetch("deardiary", "blobs", sha(b""))
    assert (response.code, response.body) == (200, b"")


async def test_blob_errors(jp_fetch, jp_root_dir):
    data = b"some bytes"
    wrong = await jp_fetch(
        "deardiary", "blobs", sha(b"other"), method="PUT", body=data, raise_error=False
    )
    assert wrong.code == 400
    assert json.loads(wrong.body)["error"] == "sha256_mismatch"
    missing = await jp_fetch("deardiary", "blobs", sha(data), raise_error=False)
    assert (missing.code, json.loads(missing.body)["error"]) == (404, "no_blob")
    bad = await jp_fetch("deardiary", "blobs", "ABC", raise_error=False)
    assert (bad.code, json.loads(bad.body)["error"]) == (400, "bad_sha256")
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": [sha(data), "x"]}),
    )
    assert code == 400
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": [sha(data)] * 10_001}),
    )
    assert code == 400 and "10000" in body["message"]


async def test_missing_lists_only_what_the_store_lacks(jp_fetch, jp_root_dir):
    a, b = b"first", b"second"
    await jp_fetch("deardiary", "blobs", sha(a), method="PUT", body=a)
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": [sha(a), sha(b), sha(b)]}),
    )
    assert (code, body) == (200, {"missing": [sha(b)]})


@pytest.mark.parametrize("deardiary_config", [{"run_max_bytes": 1000}])
async def test_blob_over_the_run_limit(jp_fetch, jp_root_dir):
    data = b"x" * 1001
    response = await jp_fetch(
        "deardiary", "blobs", sha(data), method="PUT", body=data, raise_error=False
    )
    assert response.code == 413
    body = json.loads(response.body)
    assert body["error"] == "run_too_large"
    assert "DearDiary.run_max_bytes" in body["message"]

    async def producer(write):
        for _ in range(5):
            await write(b"x" * 300)

    streamed = await jp_fetch(
        "deardiary", "blobs", sha(b"x" * 1500), method="PUT", body_producer=producer,
        raise_error=False,
    )
    assert streamed.code == 413
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": [sha(data), sha(b"x" * 1500)]}),
    )
    assert len(body["missing"]) == 2


async def test_a_corrupt_blob_is_an_error(jp_fetch, jp_root_dir):
    data = manifest_bytes("medium")
    await jp_fetch("deardiary", "blobs", sha(data), method="PUT", body=data)
    with open_db(jp_root_dir) as db:
        chunk_id, raw = db.execute(
            "SELECT id, data FROM chunk WHERE codec = 0 ORDER BY id LIMIT 1"
        ).fetchone() or db.execute("SELECT id, data FROM chunk LIMIT 1").fetchone()
        db.execute("UPDATE chunk SET data = ? WHERE id = ?", (b"\x00" * len(raw), chunk_id))
    response = await jp_fetch("deardiary", "blobs", sha(data), raise_error=False)
    assert response.code == 500
    assert json.loads(response.body)["error"] == "blob_corrupt"


# Runs


async def test_add_run_then_read_it_back(jp_fetch, jp_root_dir):
    patch = b"diff --git a/x.jl b/x.jl\n+println(\"\xc3\xa9\")\n"
    rec, blobs = record(manifest=manifest_bytes("medium"), patch=patch, note="first é")
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert code == 409
    assert body["error"] == "missing_blobs"
    assert sorted(body["missing"]) == sorted(blobs)
    assert not open_db(jp_root_dir).execute("SELECT count(*) FROM iteration").fetchone()[0]

    answer = await post_run(jp_fetch, rec, blobs)
    assert answer["created"] is True
    run = answer["run"]
    store_id, seq = answer["version"].split(".")
    assert len(store_id) == 16 and seq == "1"
    assert run["id"] == 1 and run["number"] == 1 and run["note"] == "first é"
    assert run["has_patch"] is True and run["has_manifest"] is True

    again = await post_run(jp_fetch, rec, {})
    assert again == {"run": run, "created": False, "version": answer["version"]}

    code, detail = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert code == 200
    assert {k: detail[k] for k in FIELDS} == run
    assert detail["git"]["git"]["patch"] == patch.decode()
    assert "patch_sha256" not in detail["git"]["git"]
    assert detail["kernel"] == rec["kernel"]
    assert detail["notebook"] == {**rec["notebook"]}
    assert detail["capture"] == rec["capture"]
    assert [f["role"] for f in detail["files"]] == ["project", "manifest"]
    for f in detail["files"]:
        assert (await jp_fetch("deardiary", "blobs", f["sha256"])).body == blobs[f["sha256"]]

    with open_db(jp_root_dir) as db:
        env_sha, details = db.execute(
            "SELECT environment_sha256, details FROM iteration"
        ).fetchone()
    assert json.loads(details) == {
        "notebook": {"unsaved_changes": False},
        "kernel_language": "julia",
        "parent_snapshot_id": None,
        "kernelspec": rec["kernel"]["spec"],
    }
    env = (await jp_fetch("deardiary", "blobs", env_sha)).body
    git = {k: v for k, v in rec["git"]["git"].items() if k != "patch_sha256"}
    assert json.loads(env) == {
        "capture": rec["capture"],
        "git": {"state": "ok", "git": git},
        "patch_sha256": sha(patch),
    }


async def test_numbers_parents_and_stacked_environments(jp_fetch, jp_root_dir):
    man = manifest_bytes("medium")
    runs = [
        record("s1", created_at="2024-05-01T10:00:00.000Z"),
        record("s2", created_at="2024-05-01T11:00:00.000Z", parent="s1", env_manifest=man),
        record("s3", notebook="b/c.ipynb", created_at="2024-05-01T12:00:00.000Z",
               notebook_bytes=None),
        record("s4", created_at="2024-05-01T12:00:00.000Z", parent="unknown"),
    ]
    for rec, blobs in runs:
        assert (await post_run(jp_fetch, rec, blobs))["created"]
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    rows = rows_of(body["columns"])
    assert [(r["snapshot_id"], r["number"], r["parent_id"]) for r in rows] == [
        ("s4", 3, None), ("s3", 1, None), ("s2", 2, 1), ("s1", 1, None)
    ]
    code, detail = await fetch_json(jp_fetch, "deardiary", "runs", "2")
    assert [f["role"] for f in detail["files"]] == ["project"]
    assert detail["capture"]["files"][1]["env"] == 2
    with open_db(jp_root_dir) as db:
        roles = [r[0] for r in db.execute(
            "SELECT role FROM iteration_file WHERE iteration_id = 2 ORDER BY role")]
    assert roles == ["env_manifest:2", "project"]
    code, third = await fetch_json(jp_fetch, "deardiary", "runs", "3")
    assert third["notebook"]["stored"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.pop("snapshot_id"), "snapshot_id"),
        (lambda r: r.update(trigger="click"), "trigger"),
        (lambda r: r.update(note=None), "note"),
        (lambda r: r["kernel"].update(name=3), "kernel.name"),
        (lambda r: r["capture"]["files"][0].update(size="12"), "capture.files[0].size"),
        (lambda r: r["capture"]["files"][0].update(sha256="XYZ"), "capture.files[0].sha256"),
        (lambda r: r["capture"]["files"][0].update(base64=""), "capture.files[0].base64"),
        (lambda r: r["capture"].update(project={"path": 1}), "capture.project.path"),
        (lambda r: r["git"]["git"].update(patch="diff"), "git.git.patch"),
        (lambda r: r["git"].update(state="maybe"), "git.state"),
        (lambda r: r["notebook"].update(stored=1), "notebook.stored"),
        (lambda r: r.update(notebook=[]), "notebook"),
    ],
)
async def test_bad_run(jp_fetch, jp_root_dir, change, field):
    rec, blobs = record()
    await upload(jp_fetch, blobs)
    change(rec)
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert (code, body["error"], body["field"]) == (400, "bad_run", field), body
    assert body["message"].startswith(field)


async def test_lone_surrogates_are_refused(jp_fetch, jp_root_dir):
    rec, blobs = record()
    await upload(jp_fetch, blobs)
    rec["capture"]["sys"]["pwd"] = "/home/\ud800"
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert (code, body["error"]) == (400, "bad_run")
    assert "lone surrogate" in body["message"]
    await post_run(jp_fetch, *record())
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", "1", method="PATCH", body=json.dumps({"note": "a\udfff"})
    )
    assert code == 400 and "lone surrogate" in body["message"]


async def test_bad_run_json_and_sizes(jp_fetch, jp_root_dir):
    code, body = await fetch_json(jp_fetch, "deardiary", "runs", method="POST", body="{")
    assert (code, body["error"]) == (400, "bad_run")
    rec, blobs = record()
    await upload(jp_fetch, blobs)
    rec["capture"]["files"][0]["size"] += 1
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert (code, body["field"]) == (400, "capture.files[0].size")


@pytest.mark.parametrize("deardiary_config", [{"run_max_bytes": 20_000}])
async def test_run_over_the_limit(jp_fetch, jp_root_dir):
    small, blobs = record("s1")
    await post_run(jp_fetch, small, blobs)
    first = record("s2", notebook_bytes=b"n" * 13_000, project=b"p" * 7_000)
    await upload(jp_fetch, first[1])
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(first[0])
    )
    assert (code, body["error"]) == (413, "run_too_large"), body
    assert "DearDiary.run_max_bytes" in body["message"]
    # what the store already holds does not count again
    half = record("s3", notebook_bytes=b"n" * 13_000)
    assert (await post_run(jp_fetch, *half))["created"]
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(first[0])
    )
    assert code == 201, body


async def test_note_and_delete(jp_fetch, jp_root_dir):
    man = manifest_bytes("medium")
    shared_nb = b'{"shared": true}'
    a = record("s1", manifest=man, notebook_bytes=shared_nb, patch=b"diff a\n")
    b = record("s2", parent="s1", notebook_bytes=shared_nb, manifest=manifest_bytes("small"))
    await post_run(jp_fetch, *a)
    await post_run(jp_fetch, *b)
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", "1", method="PATCH", body=json.dumps({"note": "kept"})
    )
    assert code == 200 and body["run"]["note"] == "kept" and body["version"].endswith(".3")
    same = await fetch_json(
        jp_fetch, "deardiary", "runs", "1", method="PATCH", body=json.dumps({"note": "kept"})
    )
    assert same[1]["version"].endswith(".3")  # nothing changed
    db_file = jp_root_dir.joinpath(*STORE)
    size_before = checkpointed_size(db_file)

    code, body = await fetch_json(jp_fetch, "deardiary", "runs", "1", method="DELETE")
    assert code == 200 and body["version"].endswith(".4")
    for shaval in (sha(man), sha(b"diff a\n")):  # only run 1 had them
        assert (await jp_fetch("deardiary", "blobs", shaval, raise_error=False)).code == 404
    assert (await jp_fetch("deardiary", "blobs", sha(shared_nb))).body == shared_nb
    code, second = await fetch_json(jp_fetch, "deardiary", "runs", "2")
    assert second["parent_id"] is None
    with open_db(jp_root_dir) as db:
        orphans = db.execute(
            "SELECT count(*) FROM chunk WHERE id NOT IN (SELECT chunk_id FROM blob_chunk)"
        ).fetchone()[0]
        packages = db.execute(
            "SELECT count(*) FROM package WHERE manifest_sha256 = ?", (sha(man),)
        ).fetchone()[0]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert orphans == 0 and packages == 0
    assert checkpointed_size(db_file) < size_before  # the freed pages were given back
    for method, body in (("GET", None), ("PATCH", json.dumps({"note": "x"})), ("DELETE", None)):
        code, answer = await fetch_json(jp_fetch, "deardiary", "runs", "1", method=method, body=body)
        assert (code, answer["error"]) == (404, "no_run")


def checkpointed_size(path: Path) -> int:
    """The size of the store file once its WAL is copied into it."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        db.close()
    return path.stat().st_size


async def test_deleting_a_run_gives_its_pages_back(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record("kept"))
    big = os.urandom(300_000)  # random: stored raw
    gone = await post_run(jp_fetch, *record("big", notebook_bytes=big))
    db_file = jp_root_dir.joinpath(*STORE)
    before = checkpointed_size(db_file)
    await fetch_json(jp_fetch, "deardiary", "runs", str(gone["run"]["id"]), method="DELETE")
    assert before - checkpointed_size(db_file) > 280_000


async def test_orphan_uploads_go_after_a_day(jp_fetch, jp_root_dir):
    old, fresh = b"uploaded, never used", b"uploaded just now"
    for data in (old, fresh):
        await jp_fetch("deardiary", "blobs", sha(data), method="PUT", body=data)
    with open_db(jp_root_dir) as db:
        db.execute("UPDATE blob SET created = ? WHERE sha256 = ?", (time.time() - 90_000, sha(old)))
    rec, blobs = record()
    await post_run(jp_fetch, rec, blobs)
    await fetch_json(jp_fetch, "deardiary", "runs", "1", method="DELETE")
    # collected when the store was opened, then at most hourly on deletions
    assert (await jp_fetch("deardiary", "blobs", sha(old))).body == old
    db_module._collected.clear()  # an hour later
    second = (await post_run(jp_fetch, *record("s2")))["run"]["id"]
    code, _ = await fetch_json(jp_fetch, "deardiary", "runs", str(second), method="DELETE")
    assert code == 200
    assert (await jp_fetch("deardiary", "blobs", sha(old), raise_error=False)).code == 404
    assert (await jp_fetch("deardiary", "blobs", sha(fresh))).body == fresh

    # and by a server process that opens the store
    with open_db(jp_root_dir) as db:
        db.execute("UPDATE blob SET created = ? WHERE sha256 = ?", (time.time() - 90_000, sha(fresh)))
    db_module._ready.clear()
    assert (await jp_fetch("deardiary", "blobs", sha(fresh), raise_error=False)).code == 404


# The index


async def test_index_image_and_delta(jp_fetch, jp_root_dir, tmp_path):
    assert (await jp_fetch("deardiary", "index", raise_error=False)).code == 404
    medium, small = manifest_bytes("medium"), manifest_bytes("small")
    first = await post_run(jp_fetch, *record("s1", manifest=medium))
    response = await jp_fetch("deardiary", "index")
    assert response.headers["Content-Type"] == "application/vnd.sqlite3"
    version = first["version"]
    assert response.headers["ETag"] == f'"{version}"'
    image = tmp_path / "index.sqlite"
    image.write_bytes(response.body)
    with sqlite3.connect(image) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == version
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"manifest", "package", "meta"}  # no runs: the run list has them
        assert db.execute("SELECT id, sha256, error FROM manifest").fetchall() == [
            (1, sha(medium), None)
        ]
        names = db.execute(
            """SELECT m.sha256, p.name, p.version FROM package p JOIN manifest m ON m.id = p.manifest
               WHERE p.name = 'jump' COLLATE NOCASE"""
        ).fetchall()
        assert names == [(sha(medium), "JuMP", "1.18.0")]
        plan = " ".join(
            r[3] for r in db.execute(
                "EXPLAIN QUERY PLAN SELECT version FROM package WHERE name = 'jump' COLLATE NOCASE"
            )
        )
        assert "package_by_name" in plan
    packed = await jp_fetch(
        "deardiary", "index", headers={"Accept-Encoding": "gzip"}, decompress_response=False
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.body) == response.body
    assert len(packed.body) < len(response.body) / 2
    same = await jp_fetch(
        "deardiary", "index", params={"since": version}, raise_error=False
    )
    assert same.code == 304

    await post_run(jp_fetch, *record("s2", manifest=small, created_at="2024-06-01T00:00:00.000Z"))
    await fetch_json(jp_fetch, "deardiary", "runs", "1", method="PATCH",
                     body=json.dumps({"note": "edited"}))
    await post_run(jp_fetch, *record("s3", manifest=medium))
    await fetch_json(jp_fetch, "deardiary", "runs", "3", method="DELETE")
    code, delta = await fetch_json(jp_fetch, "deardiary", "index", params={"since": version})
    assert code == 200
    assert delta["version"].endswith(".5")
    assert [r["id"] for r in rows_of(delta["runs"])] == [2, 1]
    assert rows_of(delta["runs"])[1]["note"] == "edited"
    assert delta["deleted"] == [3]
    assert delta["manifests"] == {"sha256": [sha(small)], "error": [None]}
    assert set(delta["packages"]["manifest_sha256"]) == {sha(small)}
    assert len(delta["packages"]["name"]) == len(delta["packages"]["version"]) > 5

    # another store's version, or nonsense: the whole image
    for since in ("0123456789abcdef.1", "junk"):
        response = await jp_fetch("deardiary", "index", params={"since": since})
        assert response.headers["Content-Type"] == "application/vnd.sqlite3"
    image.write_bytes(response.body)
    with sqlite3.connect(image) as db:
        assert {r[0] for r in db.execute("SELECT sha256 FROM manifest")} == {sha(medium), sha(small)}
        assert db.execute(
            "SELECT count(*) FROM package WHERE manifest NOT IN (SELECT id FROM manifest)"
        ).fetchone()[0] == 0


async def test_packages_answered_by_the_server_as_by_the_index(jp_fetch, jp_root_dir, tmp_path):
    """GET /deardiary/packages answers a package filter before the tab has its index:
    the same query on the same index, so the same answer (names in any case; a version
    the manifest does not record is null)."""
    code, body = await fetch_json(jp_fetch, "deardiary", "packages", params={"name": "JuMP"})
    assert (code, body["error"]) == (404, "no_store")
    medium, small = manifest_bytes("medium"), manifest_bytes("small")
    await post_run(jp_fetch, *record("p1", manifest=medium))
    last = await post_run(jp_fetch, *record("p2", manifest=small, notebook="b.ipynb"))
    response = await jp_fetch(
        "deardiary", "packages", params=[("name", n) for n in ("jump", "LinearAlgebra", "BASE64", "Nope")]
    )
    body = json.loads(response.body)
    assert body["version"] == last["version"]
    image = tmp_path / "index.sqlite"
    image.write_bytes((await jp_fetch("deardiary", "index")).body)
    expected: dict[str, dict[str, list]] = {}
    with sqlite3.connect(image) as db:
        for name in ("jump", "linearalgebra", "base64"):
            for digest, version in db.execute(
                """SELECT m.sha256, p.version FROM package p JOIN manifest m ON m.id = p.manifest
                   WHERE p.name = ? COLLATE NOCASE""", (name,)
            ):
                expected.setdefault(digest, {}).setdefault(name, []).append(version or None)
    db.close()
    assert body["manifests"] == expected
    assert body["manifests"][sha(medium)]["jump"] == ["1.18.0"]
    assert body["manifests"][sha(medium)]["linearalgebra"] == [None]  # a standard library
    assert set(body["manifests"]) == {sha(medium), sha(small)}
    for params in ([], [("name", "")], [("name", "x")] * 101):
        code, body = await fetch_json(jp_fetch, "deardiary", "packages", params=params)
        assert (code, body["error"]) == (400, "bad_names")


async def test_index_of_an_invalid_manifest(jp_fetch, jp_root_dir):
    bad = b"[[deps.X]\nthis is not toml"
    await post_run(jp_fetch, *record("s1", manifest=bad))
    code, delta = await fetch_json(
        jp_fetch, "deardiary", "index", params={"since": (await store_version(jp_fetch)).split(".")[0] + ".0"}
    )
    assert delta["manifests"]["sha256"] == [sha(bad)]
    assert delta["manifests"]["error"][0].startswith("invalid TOML")
    assert delta["packages"]["name"] == []


def generated_manifest(env: int, packages: int) -> bytes:
    """A manifest_format 2.0 Manifest of `packages` packages, versions of `env`."""
    lines = ['julia_version = "1.10.4"', 'manifest_format = "2.0"', ""]
    for k in range(packages):
        lines += [
            f"[[deps.Package{k}]]",
            f'uuid = "{hashlib.md5(f"{k}".encode()).hexdigest()[:8]}-0000-0000-0000-000000000000"',
            f'version = "{(k + env) % 4}.{(k * 7 + env) % 13}.{env % 7}"',
            "",
        ]
    return "\n".join(lines).encode()


def image_tables(image: bytes, tmp_path: Path) -> dict[str, list[tuple]]:
    path = tmp_path / f"image-{sha(image)[:8]}.sqlite"
    path.write_bytes(image)
    with sqlite3.connect(path) as db:
        return {
            "manifest": db.execute("SELECT sha256, error FROM manifest ORDER BY sha256").fetchall(),
            "package": db.execute(
                """SELECT m.sha256, p.name, p.version FROM package p
                   JOIN manifest m ON m.id = p.manifest ORDER BY 1, 2, 3"""
            ).fetchall(),
        }


async def test_the_index_holds_the_manifests_some_run_names(jp_fetch, jp_root_dir, tmp_path):
    from .. import runs as runs_module

    a, b = generated_manifest(1, 20), generated_manifest(2, 20)
    await post_run(jp_fetch, *record("s1", manifest=a))
    await post_run(jp_fetch, *record("s2", manifest=b))
    await post_run(jp_fetch, *record("s3", manifest=b))
    # only as another environment's manifest: not a manifest of a run
    await post_run(jp_fetch, *record("s4", env_manifest=generated_manifest(3, 20)))
    first = image_tables((await jp_fetch("deardiary", "index")).body, tmp_path)
    assert [m[0] for m in first["manifest"]] == sorted([sha(a), sha(b)])
    assert len(first["package"]) == 40

    # the image kept in memory follows deletions: a manifest goes with its last run
    await fetch_json(jp_fetch, "deardiary", "runs", "2", method="DELETE")
    assert image_tables((await jp_fetch("deardiary", "index")).body, tmp_path) == first
    await fetch_json(jp_fetch, "deardiary", "runs", "3", method="DELETE")
    kept = image_tables((await jp_fetch("deardiary", "index")).body, tmp_path)
    assert kept["manifest"] == [(sha(a), None)]
    assert {p[0] for p in kept["package"]} == {sha(a)}
    # and a manifest stored again comes back, the same as in an image made afresh
    await post_run(jp_fetch, *record("s5", manifest=b))
    followed = image_tables((await jp_fetch("deardiary", "index")).body, tmp_path)
    runs_module._indexes.clear()
    assert image_tables((await jp_fetch("deardiary", "index")).body, tmp_path) == followed == first


async def test_the_index_image_does_not_grow_with_the_runs(jp_root_dir, tmp_path):
    """Its size is that of the manifests' packages: a few hundred manifests, any runs."""
    from ..runs import read_index

    store = Store(jp_root_dir.resolve() / ".deardiary" / "deardiary.sqlite", jp_root_dir)
    manifests = [generated_manifest(env, 40) for env in range(300)]

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            rec, blobs = record(f"r{i}", manifest=manifests[i % 300], notebook_bytes=None)
            for digest, data in blobs.items():
                store.put_blob(digest, data)
            store.add_run(rec, 1 << 30)

    add(300, 0)
    _, image = read_index(store, None)
    _, packed = read_index(store, None, gzipped=True)
    assert isinstance(image, bytes) and isinstance(packed, bytes)
    rows = 300 * 40
    # ~50 bytes per package row and its entry in the name index, the sha256 once
    assert len(image) < rows * 60 + 300 * 100 + 16 * 4096, len(image)
    assert len(packed) < len(image) / 2
    add(600, 300)
    _, again = read_index(store, None)
    assert isinstance(again, bytes)
    assert abs(len(again) - len(image)) <= 4096  # 3 times the runs, the same manifests


async def store_version(jp_fetch) -> str:
    return json.loads((await jp_fetch("deardiary", "runs")).body)["version"]


# Many writers


async def test_four_writers_lose_nothing(jp_fetch, jp_root_dir):
    man = manifest_bytes("small")

    async def writer(w: int) -> None:
        for i in range(50):
            rec, blobs = record(
                f"w{w}-{i}", notebook=f"n{w}.ipynb", manifest=man,
                notebook_bytes=f"notebook {w} {i}".encode(),
            )
            await post_run(jp_fetch, rec, blobs)

    await asyncio.gather(*(writer(w) for w in range(4)))
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    rows = rows_of(body["columns"])
    assert len(rows) == 200
    assert {r["snapshot_id"] for r in rows} == {f"w{w}-{i}" for w in range(4) for i in range(50)}
    for w in range(4):
        numbers = sorted(r["number"] for r in rows if r["notebook_path"] == f"n{w}.ipynb")
        assert numbers == list(range(1, 51))
    with open_db(jp_root_dir) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM change_log").fetchone()[0] == 200


def test_writers_in_threads_share_the_file(tmp_path):
    """Threads of one process (each with its connection), as the server's executor."""
    from concurrent.futures import ThreadPoolExecutor

    store = Store(tmp_path / "s.sqlite", tmp_path)

    def writer(w: int) -> None:
        for i in range(50):
            rec, blobs = record(f"t{w}-{i}", notebook=f"n{w}.ipynb",
                                notebook_bytes=f"nb {w} {i}".encode())
            for digest, data in blobs.items():
                store.put_blob(digest, data)
            store.add_run(copy.deepcopy(rec), 1 << 30)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    version, names, rows, total = store.read_runs()
    assert total == len(rows) == 200
    assert version.endswith(".200")


# Manifests


def test_manifest_packages_both_formats():
    from ..packages import ManifestError, manifest_packages

    v2 = manifest_packages(manifest_bytes("medium"))
    assert len(v2) == 82
    assert ("JuMP", "4076af6c-e467-56ae-b986-b466b2749572", "1.18.0") in v2
    assert any(version == "" for _, _, version in v2)  # stdlibs have no version
    v1 = manifest_packages(manifest_bytes("small"))
    assert len(v1) == 18
    names = {name for name, _, _ in v1}
    assert "Base64" in names and "julia_version" not in names
    assert manifest_packages(b'julia_version = "1.11.5"\nmanifest_format = "2.0"\n[deps]\n') == []
    for bad, message in (
        (b"[[deps.X]\n", "invalid TOML"),
        (b'manifest_format = "3.0"\n', "unknown manifest_format"),
        (b"\xff\xfe", "not UTF-8"),
        (b'manifest_format = "2.0"\ndeps = 3\n', "'deps' is not a table"),
    ):
        with pytest.raises(ManifestError, match=message):
            manifest_packages(bad)


def test_the_wal_is_checkpointed_off_the_commit_path(tmp_path):
    """The server's connections do not checkpoint in their commits (wal_autocheckpoint 0);
    a thread of the store's does, so the WAL stays near its threshold however much is
    written (without that thread it would hold every byte written: 12 MB here)."""
    store = Store(tmp_path / "s.sqlite", tmp_path)
    rng = __import__("random").Random(7)
    for i in range(60):
        rec, blobs = record(f"c{i}", notebook_bytes=rng.randbytes(200_000))
        for digest, data in blobs.items():
            store.put_blob(digest, data)
        store.add_run(copy.deepcopy(rec), 1 << 30)
        db = store.connection()
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        # a blob commits without an fsync of its own; every other change with one
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        time.sleep(0.01)  # the checkpoint thread runs beside the writers, as in the server
    wal = tmp_path / "s.sqlite-wal"
    assert wal.stat().st_size < 4 * db_module._Checkpointer.WAL_BYTES
    assert store.read_runs()[3] == 60


def test_a_blob_put_within_a_callers_transaction_is_part_of_it(tmp_path):
    store = Store(tmp_path / "s.sqlite", tmp_path)
    db = store.connection(create=True)
    db.execute("BEGIN IMMEDIATE")
    assert store.put_blob(sha(b"kept"), b"kept")
    assert store.put_blob(sha(b"dropped"), b"dropped")
    db.execute("ROLLBACK")
    assert store.get_blob(sha(b"dropped")) is None
    db.execute("BEGIN IMMEDIATE")
    store.put_blob(sha(b"kept"), b"kept")
    db.execute("COMMIT")
    assert store.get_blob(sha(b"kept")) == b"kept"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
