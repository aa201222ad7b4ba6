"""Sharing runs (issue 17): bundles out and back in, restore.jl under the test Julia, and
the export into DearDiary.jl's own store (DuckDB), checked against DearDiary's schema as
recorded from its source (fixtures/deardiary_schema.json).

A real jupyter_server (pytest-jupyter), real SQLite and DuckDB files, a real Julia.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from jupyter_server.utils import url_path_join

from .. import bundle, deardiary_export, share_routes
from ..db import Store
from .test_db import STORE, manifest_bytes, post_run, record, sha
from .test_security import ReadOnlyAuthorizer
from .utils import fetch_json

FACTS = json.loads((Path(__file__).parent / "fixtures" / "deardiary_schema.json").read_text())
#: A Manifest.toml every Julia from 1.0 reads: no dependencies.
EMPTY_MANIFEST = b"# This file is machine-generated - editing it directly is not advised\n\n"
JULIA = os.environ.get("DEARDIARY_TEST_JULIA") or shutil.which("julia")


async def make_runs(jp_fetch: Any) -> list[dict[str, Any]]:
    """Four runs: one with a patch and a parent, one without a manifest, one whose notebook
    was not stored, one with a manifest of no dependencies."""
    made = []
    for rec, blobs in (
        record("snap-a", manifest=manifest_bytes("small"), note="first"),
        record("snap-b", manifest=manifest_bytes("medium"), patch=b"diff --git a/x b/x\n+1\n",
               parent="snap-a", created_at="2024-05-01T11:00:00.123Z", notebook="dir/b.ipynb"),
        record("snap-c", manifest=None, notebook_bytes=None, created_at="2024-05-01T12:00:00.000Z"),
        record("snap-d", manifest=EMPTY_MANIFEST, project=b"[deps]\n",
               created_at="2024-05-02T09:30:00.000Z", notebook="plain.ipynb"),
    ):
        made.append({**(await post_run(jp_fetch, rec, blobs))["run"], "_blobs": blobs})
    return made


async def export(jp_fetch: Any, ids: list[int]) -> bytes:
    response = await jp_fetch("deardiary", "bundles", method="POST", body=json.dumps({"ids": ids}))
    assert response.headers["Content-Type"] == "application/zip"
    assert 'attachment; filename="deardiary-runs-' in response.headers["Content-Disposition"]
    return response.body


async def import_(jp_fetch: Any, data: bytes) -> tuple[int, dict[str, Any]]:
    return await fetch_json(jp_fetch, "deardiary", "bundles", "import", method="POST", body=data)


def store_counts(root: Path) -> tuple[int, int]:
    with sqlite3.connect(root.joinpath(*STORE)) as db:
        return (db.execute("SELECT count(*) FROM iteration").fetchone()[0],
                db.execute("SELECT count(*) FROM blob").fetchone()[0])


async def detail(jp_fetch: Any, run_id: int) -> dict[str, Any]:
    code, body = await fetch_json(jp_fetch, "deardiary", "runs", str(run_id))
    assert code == 200, body
    return body


def comparable(d: dict[str, Any]) -> dict[str, Any]:
    """A run's detail without what a store assigns (its ids, its number)."""
    return {k: v for k, v in d.items() if k not in ("id", "number", "parent_id", "experiment_id")}


# Bundles


async def test_bundle_round_trip_restores_every_byte(jp_fetch, jp_root_dir, tmp_path):
    runs = await make_runs(jp_fetch)
    ids = [r["id"] for r in runs]
    before = {r["id"]: await detail(jp_fetch, r["id"]) for r in runs}
    data = await export(jp_fetch, ids)
    z = zipfile.ZipFile(io.BytesIO(data))
    index = json.loads(z.read("deardiary-bundle/index.json"))
    assert [r["snapshot_id"] for r in index["runs"]] == ["snap-a", "snap-b", "snap-c", "snap-d"]
    every_blob = {s: b for r in runs for s, b in r["_blobs"].items()}
    for digest, b in every_blob.items():
        assert z.read(f"deardiary-bundle/blobs/{digest}") == b
        assert index["blobs"][digest] == len(b)
    assert set(z.read("deardiary-bundle/restore.jl").splitlines()[:1]) == {b"# restore.jl: restore one run of a jupyterlab-deardiary bundle without JupyterLab."}
    # every field as the store holds it
    with sqlite3.connect(jp_root_dir.joinpath(*STORE)) as db:
        db.row_factory = sqlite3.Row
        for entry in index["runs"]:
            row = db.execute("SELECT * FROM iteration WHERE snapshot_id = ?", (entry["snapshot_id"],)).fetchone()
            assert entry["iteration"] == dict(row)

    # A fresh store (the pure function over another file) gets the same runs.
    fresh = Store(tmp_path / "fresh.sqlite", tmp_path)
    report = bundle.import_bundle(fresh, io.BytesIO(data), 1 << 30, bundle.Limits())
    assert [a["snapshot_id"] for a in report["added"]] == ["snap-a", "snap-b", "snap-c", "snap-d"]
    assert report["already"] == [] and report["refused"] == []
    for entry, run in zip(index["runs"], runs):
        new_id = next(a["id"] for a in report["added"] if a["snapshot_id"] == entry["snapshot_id"])
        assert comparable(fresh.get_run(new_id)) == comparable(before[run["id"]])
        for digest, b in run["_blobs"].items():
            assert fresh.get_blob(digest) == b

    # The same server, its runs deleted (their blobs go with them), imports them back.
    for run_id in ids:
        assert (await jp_fetch("deardiary", "runs", str(run_id), method="DELETE")).code == 200
    assert store_counts(jp_root_dir) == (0, 0)
    code, report = await import_(jp_fetch, data)
    assert code == 200, report
    assert [a["snapshot_id"] for a in report["added"]] == ["snap-a", "snap-b", "snap-c", "snap-d"]
    by_snapshot = {a["snapshot_id"]: a["id"] for a in report["added"]}
    for run in runs:
        restored = await detail(jp_fetch, by_snapshot[run["snapshot_id"]])
        assert comparable(restored) == comparable(before[run["id"]])
        for f in restored["files"]:
            got = (await jp_fetch("deardiary", "blobs", f["sha256"])).body
            assert sha(got) == f["sha256"] and got == run["_blobs"][f["sha256"]]
    b = await detail(jp_fetch, by_snapshot["snap-b"])
    assert b["parent_id"] == by_snapshot["snap-a"]  # the parent found again by snapshot id
    assert b["git"]["git"]["patch"] == "diff --git a/x b/x\n+1\n"

    # Duplicates: a second import adds nothing.
    counts = store_counts(jp_root_dir)
    code, again = await import_(jp_fetch, data)
    assert code == 200
    assert again["added"] == [] and again["refused"] == []
    assert sorted(a["snapshot_id"] for a in again["already"]) == ["snap-a", "snap-b", "snap-c", "snap-d"]
    assert store_counts(jp_root_dir) == counts


def rewrite(data: bytes, change) -> bytes:
    """The zip ``data`` with each entry's bytes passed through ``change(name, bytes)``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = change(info.filename, src.read(info))
            if new is not None:
                dst.writestr(info.filename, new)
    return out.getvalue()


async def test_a_tampered_bundle_stores_nothing(jp_fetch, jp_root_dir, tmp_path):
    runs = await make_runs(jp_fetch)
    data = await export(jp_fetch, [r["id"] for r in runs])
    target = runs[-1]["_blobs"]
    victim = next(iter(target))

    def flip(name: str, b: bytes) -> bytes:
        return b + b"#" if name.endswith(victim) else b

    def drop(name: str, b: bytes) -> bytes | None:
        return None if name.endswith(victim) else b

    def misnamed(name: str, b: bytes) -> bytes:
        if name.endswith("index.json"):
            index = json.loads(b)
            index["runs"][0]["record"]["capture"]["julia_version"] = "9.9.9"
            return json.dumps(index).encode()
        return b

    fresh = Store(tmp_path / "fresh.sqlite", tmp_path)
    for bad, words in ((rewrite(data, flip), "hashes to"), (rewrite(data, drop), "not in the bundle")):
        with pytest.raises(Exception) as e:
            bundle.import_bundle(fresh, io.BytesIO(bad), 1 << 30, bundle.Limits())
        assert words in e.value.message and "Nothing was stored" in e.value.message
        assert not fresh.path.exists() or fresh.read_runs()[3] == 0
        # and through the endpoint, into a store that holds other runs
        counts = store_counts(jp_root_dir)
        code, body = await import_(jp_fetch, bad)
        assert code == 400 and body["error"] == "bad_bundle" and words in body["message"]
        assert store_counts(jp_root_dir) == counts
    # A record that does not give the environment its index names: that run is refused.
    report = bundle.import_bundle(fresh, io.BytesIO(rewrite(data, misnamed)), 1 << 30, bundle.Limits())
    assert [r["snapshot_id"] for r in report["refused"]] == ["snap-a"]
    assert "environment" in report["refused"][0]["message"]
    assert len(report["added"]) == 3
    code, body = await import_(jp_fetch, b"PK\x03\x04 not really a zip")
    assert code == 400 and body["error"] == "bad_bundle"
    code, body = await import_(jp_fetch, rewrite(data, lambda n, b: None if n.endswith("index.json") else b))
    assert code == 400 and "no index.json" in body["message"]


async def test_zip_bombs_and_oversize_bundles_are_refused(jp_fetch, jp_root_dir, monkeypatch):
    runs = await make_runs(jp_fetch)
    data = await export(jp_fetch, [runs[0]["id"]])
    counts = store_counts(jp_root_dir)
    # one entry of 50 MB of zeros (a few KB compressed)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deardiary-bundle/blobs/extra", b"\0" * (50 << 20))
    bomb = buffer.getvalue()
    assert len(bomb) < len(data) + 100_000
    code, body = await import_(jp_fetch, bomb)
    assert code == 400 and "zip bomb" in body["message"], body
    # more unpacked bytes than allowed
    monkeypatch.setattr(share_routes, "LIMITS", bundle.Limits(max_bytes=1000))
    code, body = await import_(jp_fetch, data)
    assert code == 413 and body["error"] == "bundle_too_large"
    monkeypatch.setattr(share_routes, "LIMITS", bundle.Limits(max_entries=2))
    code, body = await import_(jp_fetch, data)
    assert code == 400 and "entries" in body["message"]
    # an upload larger than the limit is refused before it is read
    monkeypatch.setattr(share_routes, "MAX_UPLOAD", 100)
    code, body = await import_(jp_fetch, data)
    assert code == 413 and body["error"] == "bundle_too_large"
    assert store_counts(jp_root_dir) == counts


async def test_export_asks_for_real_runs(jp_fetch, jp_root_dir):
    await make_runs(jp_fetch)
    for body, words in (({"ids": []}, "empty"), ({"ids": ["1"]}, "positive integers"),
                        ({}, "'ids'"), ({"ids": [999]}, "no run")):
        code, reply = await fetch_json(jp_fetch, "deardiary", "bundles", method="POST", body=json.dumps(body))
        assert code in (400, 404) and words in reply["message"], reply


SHARE_REQUESTS = [
    ("bundles", json.dumps({"ids": [1]}).encode()),
    ("bundles/import", b"PK\x05\x06" + b"\0" * 18),
    ("deardiary-export", json.dumps({"path": "dd.db", "all": True}).encode()),
]


@pytest.mark.parametrize(("endpoint", "body"), SHARE_REQUESTS)
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_share_endpoints_need_a_user(http_server_client, jp_base_url, jp_root_dir, endpoint, body, token):
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "deardiary", endpoint), method="POST", body=body,
        headers=headers, raise_error=False, follow_redirects=False,
    )
    assert response.code in (401, 403)
    assert not (jp_root_dir / ".deardiary").exists() and not (jp_root_dir / "dd.db").exists()


@pytest.mark.parametrize(
    "jp_server_config",
    [{"ServerApp": {"jpserver_extensions": {"jupyterlab_deardiary": True},
                    "authorizer_class": ReadOnlyAuthorizer}}],
)
async def test_share_endpoints_need_write_permission(jp_fetch, jp_root_dir):
    for endpoint, body in SHARE_REQUESTS:
        response = await jp_fetch("deardiary", *endpoint.split("/"), method="POST", body=body,
                                  raise_error=False)
        assert response.code == 403, endpoint
    assert not (jp_root_dir / ".deardiary").exists() and not (jp_root_dir / "dd.db").exists()


# restore.jl


def julia(*args: str, cwd: Path, depot: Path) -> subprocess.CompletedProcess:
    assert JULIA, "set DEARDIARY_TEST_JULIA"
    return subprocess.run([JULIA, "--startup-file=no", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "JULIA_DEPOT_PATH": str(depot)})


async def test_restore_jl_writes_checks_and_instantiates(jp_fetch, jp_root_dir, tmp_path):
    runs = await make_runs(jp_fetch)
    data = await export(jp_fetch, [r["id"] for r in runs])
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    folder = tmp_path / "deardiary-bundle"
    depot = tmp_path / "depot"
    listing = julia(str(folder / "restore.jl"), cwd=tmp_path, depot=depot)
    assert listing.returncode == 0, listing.stderr
    assert [line.split("\t")[:2] for line in listing.stdout.splitlines()[:4]] == [
        ["1", "snap-a"], ["2", "snap-b"], ["3", "snap-c"], ["4", "snap-d"]]
    # the run with a manifest of no dependencies: written, checked, activated, instantiated
    done = julia(str(folder / "restore.jl"), "snap-d", "out-d", cwd=tmp_path, depot=depot)
    assert done.returncode == 0, done.stdout + done.stderr
    d = runs[3]["_blobs"]
    out = tmp_path / "out-d"
    assert sorted(p.name for p in out.iterdir()) == ["Manifest.toml", "Project.toml", "plain.ipynb"]
    for p in out.iterdir():
        assert sha(p.read_bytes()) in d and d[sha(p.read_bytes())] == p.read_bytes()
    assert (out / "Manifest.toml").read_bytes() == EMPTY_MANIFEST
    # a run with a patch, files only
    done = julia(str(folder / "restore.jl"), "--no-instantiate", "2", "out-b", cwd=tmp_path, depot=depot)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out-b" / "git.patch").read_bytes() == b"diff --git a/x b/x\n+1\n"
    assert (tmp_path / "out-b" / "b.ipynb").exists()
    assert sha((tmp_path / "out-b" / "Manifest.toml").read_bytes()) == sha(manifest_bytes("medium"))
    # a damaged blob is caught, a used target is refused
    victim = folder / "blobs" / sha(EMPTY_MANIFEST)
    victim.write_bytes(EMPTY_MANIFEST + b"x")
    bad = julia(str(folder / "restore.jl"), "--no-instantiate", "4", "out-x", cwd=tmp_path, depot=depot)
    assert bad.returncode != 0 and "damaged" in bad.stderr
    used = julia(str(folder / "restore.jl"), "--no-instantiate", "1", "out-b", cwd=tmp_path, depot=depot)
    assert used.returncode != 0 and "not an empty folder" in used.stderr


# DearDiary.jl's store


def _norm(text: str) -> str:
    return re.sub(r'[\s()"]', "", text.replace("<>", "!=").replace("CHECK", ""))


def _default(constraints: str) -> str | None:
    m = re.search(r"DEFAULT ((?:\w+\([^)]*\))|'[^']*'|\S+)", constraints)
    return m.group(1) if m else None


def check_schema(path: Path, flavour: str) -> None:
    """The file's tables, columns, types, defaults and constraints are DearDiary's."""
    facts = FACTS["flavours"][flavour]
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {*facts["tables"], "schema_migrations"}
        seqs = {r[0] for r in con.execute("SELECT sequence_name FROM duckdb_sequences()").fetchall()}
        assert seqs == set(facts["sequences"])
        for table, spec in facts["tables"].items():
            cols = con.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
                "WHERE table_name = ? ORDER BY column_index", [table]).fetchall()
            assert [c[0] for c in cols] == [c["name"] for c in spec["columns"]], table
            for got, want in zip(cols, spec["columns"]):
                wanted_type = {"TEXT": "VARCHAR"}.get(want["type"], want["type"])
                assert got[1] == wanted_type, (table, want)
                not_null = "NOT NULL" in want["constraints"] or "PRIMARY KEY" in want["constraints"]
                assert got[2] is (not not_null), (table, want)
                assert got[3] == _default(want["constraints"]), (table, want, got)
            cons = con.execute(
                "SELECT constraint_type, constraint_column_names, constraint_text, referenced_table "
                "FROM duckdb_constraints() WHERE table_name = ?", [table]).fetchall()
            got_keys = {(t, tuple(c), ref) for t, c, _, ref in cons if t in ("PRIMARY KEY", "UNIQUE", "FOREIGN KEY")}
            want_keys = set()
            for c in spec["columns"]:
                if "PRIMARY KEY" in c["constraints"]:
                    want_keys.add(("PRIMARY KEY", (c["name"],), None))
                if re.search(r"\bUNIQUE\b", c["constraints"]):
                    want_keys.add(("UNIQUE", (c["name"],), None))
                if m := re.search(r"REFERENCES (\w+)\(", c["constraints"]):
                    want_keys.add(("FOREIGN KEY", (c["name"],), m.group(1)))
            for tc in spec["table_constraints"]:
                if m := re.fullmatch(r"FOREIGN KEY\((\w+)\) REFERENCES (\w+)\(id\)", tc):
                    want_keys.add(("FOREIGN KEY", (m.group(1),), m.group(2)))
                elif m := re.fullmatch(r"UNIQUE\((.*)\)", tc):
                    want_keys.add(("UNIQUE", tuple(s.strip() for s in m.group(1).split(",")), None))
            assert got_keys == want_keys, table
            got_checks = sorted(_norm(text) for t, _, text, _ in cons if t == "CHECK")
            want_checks = sorted(_norm(m.group(0)) for c in spec["columns"]
                                 if (m := re.search(r"CHECK \(.*\)", c["constraints"])))
            assert got_checks == want_checks, table
        assert con.execute("SELECT version, name FROM schema_migrations").fetchall() == [
            tuple(facts["schema_migrations"]["baseline"])]
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
        assert tags["storage_version"].startswith("v1.0.0")
    finally:
        con.close()
    # DuckDB's storage version number of the 1.0 format is in the header
    assert path.read_bytes()[8:13] == b"DUCK\x40"


def restore_like_deardiary(con: Any, facts: dict[str, Any], iteration_id: Any, depot: Path) -> tuple[Path, dict[str, Any]]:
    """What DearDiary's restore(iteration_id) does, from its select-by-id columns."""
    cols = facts["select_iteration_by_id"]["columns"]
    row = con.execute(f"SELECT {', '.join('i.' + c for c in cols)} FROM iteration i WHERE i.id = ?",
                      [iteration_id]).fetchone()
    assert row is not None
    it = dict(zip(cols, row))
    assert it["manifest_toml"] != ""  # restore refuses an empty one
    folder = depot / f"iteration_{iteration_id}"
    folder.mkdir(parents=True)
    for name, column in facts["restore"]["files"].items():
        (folder / name).write_bytes(it[column].encode("utf-8"))
    return folder, it


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?")


@pytest.mark.parametrize("flavour", ["v0.9.1", "dev"])
async def test_deardiary_export_is_readable_by_deardiary(jp_fetch, jp_root_dir, tmp_path, flavour):
    runs = await make_runs(jp_fetch)
    # a run DearDiary cannot hold: its Manifest.toml is not UTF-8
    latin = b'# Manifest \xe9\n[deps]\n'
    rec, blobs = record("snap-e", manifest=latin, created_at="2024-05-03T09:00:00.000Z")
    await post_run(jp_fetch, rec, blobs)
    by_snapshot = {r["snapshot_id"]: r for r in runs}
    code, report = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                    body=json.dumps({"path": "share/dd.db", "all": True, "flavour": flavour}))
    assert code == 200, report
    assert [a["snapshot_id"] for a in report["added"]] == ["snap-a", "snap-b", "snap-d"]
    refused = {r["snapshot_id"]: r["message"] for r in report["refused"]}
    assert set(refused) == {"snap-c", "snap-e"}
    assert "no Manifest.toml" in refused["snap-c"] and "not UTF-8" in refused["snap-e"]
    path = jp_root_dir / "share" / "dd.db"
    check_schema(path, flavour)
    facts = FACTS["flavours"][flavour]
    con = duckdb.connect(str(path), read_only=True)
    try:
        for added in report["added"]:
            run = by_snapshot[added["snapshot_id"]]
            d = await detail(jp_fetch, run["id"])
            folder, it = restore_like_deardiary(con, facts, added["iteration_id"], tmp_path / "depot")
            files = {f["role"]: f for f in d["files"]}
            for name, role in (("Project.toml", "project"), ("Manifest.toml", "manifest")):
                assert (folder / name).read_bytes() == run["_blobs"][files[role]["sha256"]]
            assert it["julia_version"] == "1.10.4" and it["git_sha"] == "a" * 40
            assert it["git_dirty"] == (1 if added["snapshot_id"] == "snap-b" else 0)
            assert it["entrypoint"] == d["notebook"]["path"]
            assert it["status_id"] in facts["iteration_status"].values()
            for t in (it["created_date"], it["end_date"]):
                assert TIME.fullmatch(t), t
            params = dict(con.execute("SELECT key, value FROM parameter WHERE iteration_id = ?",
                                      [added["iteration_id"]]).fetchall())
            assert params["jupyter.snapshot_id"] == added["snapshot_id"]
            assert params["jupyter.kernel"] == "julia-1.10" and params["jupyter.trigger"] == "button"
            experiment = con.execute("SELECT name FROM experiment WHERE id = ?", [it["experiment_id"]]).fetchone()[0]
            assert experiment == d["notebook"]["path"]
            resources = con.execute(
                "SELECT name, data, size_bytes, content_hash FROM resource WHERE name LIKE ? || '/%'",
                [added["snapshot_id"]]).fetchall()
            for name, data, size, digest in resources:
                assert hashlib.sha256(data).hexdigest() == digest and len(data) == size
            assert {r[3] for r in resources} == (
                {d["notebook"]["sha256"]} | ({sha(b"diff --git a/x b/x\n+1\n")} if it["git_dirty"] else set()))
        b = con.execute("SELECT parent_iteration_id, created_date FROM iteration WHERE id = ?",
                        [report["added"][1]["iteration_id"]]).fetchone()
        assert b == (report["added"][0]["iteration_id"], "2024-05-01T11:00:00.123")
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("iteration", "parameter", "resource", "experiment")]
    finally:
        con.close()
    # idempotent: a second export adds nothing
    code, again = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                   body=json.dumps({"path": "share/dd.db", "ids": [r["id"] for r in runs], "flavour": flavour}))
    assert code == 200 and again["added"] == []
    assert sorted(a["snapshot_id"] for a in again["already"]) == ["snap-a", "snap-b", "snap-d"]
    con = duckdb.connect(str(path), read_only=True)
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("iteration", "parameter", "resource", "experiment")] == counts
    con.close()
    # the other flavour's file is not written to
    other = "dev" if flavour == "v0.9.1" else "v0.9.1"
    code, body = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                  body=json.dumps({"path": "share/dd.db", "all": True, "flavour": other}))
    assert code == 409 and body["error"] == "other_flavour"


async def test_deardiary_export_never_overwrites_another_file(jp_fetch, jp_root_dir):
    await make_runs(jp_fetch)
    (jp_root_dir / "notes.db").write_bytes(b"my own data")
    code, body = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                  body=json.dumps({"path": "notes.db", "all": True}))
    assert code == 409 and body["error"] == "not_duckdb"
    assert (jp_root_dir / "notes.db").read_bytes() == b"my own data"
    other = jp_root_dir / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (a INT)")
    con.close()
    code, body = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                  body=json.dumps({"path": "other.duckdb", "all": True}))
    assert code == 409 and body["error"] == "not_deardiary"
    for path, status in (("../out.db", 400), (STORE[0] + "/" + STORE[1], 400), ("", 400)):
        code, body = await fetch_json(jp_fetch, "deardiary", "deardiary-export", method="POST",
                                      body=json.dumps({"path": path, "all": True}))
        assert code == status, (path, body)
    assert not (jp_root_dir.parent / "out.db").exists()


def test_deardiary_times():
    assert deardiary_export.deardiary_time("2024-05-01T10:00:00.000Z") == "2024-05-01T10:00:00"
    assert deardiary_export.deardiary_time("2024-05-01T10:00:00.5Z") == "2024-05-01T10:00:00.500"
    assert deardiary_export.deardiary_time("2024-05-01T12:00:00.123456+02:00") == "2024-05-01T10:00:00.123"


def test_runs_of_a_migrated_store_round_trip(tmp_path):
    """The 11 runs the browser wrote (fixtures/store-v2.sqlite, every kind of run) leave
    in a bundle and come back field for field."""
    source_file = tmp_path / "old.sqlite"
    source_file.write_bytes((Path(__file__).parent / "fixtures" / "store-v2.sqlite").read_bytes())
    source = Store(source_file, tmp_path)
    ids = bundle.all_run_ids(source)
    assert len(ids) == 11
    data = io.BytesIO()
    bundle.export_bundle(source, ids, data)
    target = Store(tmp_path / "new.sqlite", tmp_path)
    data.seek(0)
    report = bundle.import_bundle(target, data, 1 << 30, bundle.Limits())
    assert len(report["added"]) == 11 and report["refused"] == []
    old = {source.get_run(i)["snapshot_id"]: source.get_run(i) for i in ids}
    for added in report["added"]:
        assert comparable(target.get_run(added["id"])) == comparable(old[added["snapshot_id"]])
