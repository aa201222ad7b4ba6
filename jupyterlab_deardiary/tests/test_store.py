"""The store file: backup copy, no whole-file replacement, unusable files refused and never
written, moved aside only with the exact If-Match, where the file lives."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import pytest

from ..db import APPLICATION_ID, SCHEMA_VERSION
from .test_db import STORE, post_run, record, sha
from .utils import fetch_json


def tag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


async def aside(jp_fetch, headers: dict[str, str]):
    return await jp_fetch(
        "deardiary", "store", "aside", method="POST", body=b"", headers=headers, raise_error=False
    )


async def test_no_store_yet(jp_fetch, jp_root_dir):
    response = await jp_fetch("deardiary", "store", raise_error=False)
    assert (response.code, json.loads(response.body)["error"]) == (404, "no_store")
    code, body = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert (code, body["error"]) == (404, "no_run")
    code, body = await fetch_json(
        jp_fetch, "deardiary", "blobs", "missing", method="POST",
        body=json.dumps({"sha256": [sha(b"x")]}),
    )
    assert body == {"missing": [sha(b"x")]}
    assert not (jp_root_dir / ".deardiary").exists()  # reading creates nothing


async def test_backup_is_a_consistent_copy(jp_fetch, jp_root_dir, tmp_path):
    for i in range(3):
        await post_run(jp_fetch, *record(f"s{i}"))
    response = await jp_fetch("deardiary", "store")
    assert response.headers["Content-Type"] == "application/vnd.sqlite3"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="deardiary-') and disposition.endswith(
        'Z.sqlite"'
    )
    copy = tmp_path / "backup.sqlite"
    copy.write_bytes(response.body)
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM iteration").fetchone()[0] == 3


async def test_the_whole_store_is_never_replaced(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    before = jp_root_dir.joinpath(*STORE).read_bytes()
    response = await jp_fetch(
        "deardiary", "store", method="PUT", body=b"SQLite format 3\x00" * 10,
        headers={"If-None-Match": "*"}, raise_error=False,
    )
    assert (response.code, json.loads(response.body)["error"]) == (410, "gone")
    assert jp_root_dir.joinpath(*STORE).read_bytes() == before


def write_store(root, data: bytes) -> bytes:
    path = root.joinpath(*STORE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def sqlite_file(tmp_path, app_id: int, version: int, rows: int = 50) -> bytes:
    path = tmp_path / f"made-{app_id}-{version}.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA application_id = {app_id}")
        db.execute(f"PRAGMA user_version = {version}")
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [(os.urandom(200),) for _ in range(rows)])
    db.close()
    return path.read_bytes()


UNUSABLE = {
    "not_sqlite": lambda tmp: b"this is not SQLite \x00\xff" * 10,
    "empty_header": lambda tmp: b"SQLite format 3\x00",
    "foreign": lambda tmp: sqlite_file(tmp, 1234, 1),
    "foreign_plain": lambda tmp: sqlite_file(tmp, 0, 0),
    "newer_schema": lambda tmp: sqlite_file(tmp, APPLICATION_ID, SCHEMA_VERSION + 1),
    "corrupt": lambda tmp: b"SQLite format 3\x00" + bytes(range(256)) * 16,
    "cut_short": lambda tmp: sqlite_file(tmp, APPLICATION_ID, 2, 400)[:5000],
}
CODES = {
    "empty_header": "not_sqlite",
    "foreign_plain": "foreign",
    "cut_short": "corrupt",
}

ENDPOINTS = [
    ("GET", ("runs",), None),
    ("GET", ("runs", "1"), None),
    ("POST", ("runs",), json.dumps(record()[0])),
    ("PATCH", ("runs", "1"), json.dumps({"note": "x"})),
    ("DELETE", ("runs", "1"), None),
    ("GET", ("index",), None),
    ("GET", ("store",), None),
    ("PUT", ("blobs", sha(b"abc")), b"abc"),
    ("GET", ("blobs", sha(b"abc")), None),
    ("POST", ("blobs", "missing"), json.dumps({"sha256": [sha(b"abc")]})),
]


@pytest.mark.parametrize("kind", list(UNUSABLE))
async def test_an_unusable_store_is_refused_and_never_written(jp_fetch, jp_root_dir, tmp_path, kind):
    data = write_store(jp_root_dir, UNUSABLE[kind](tmp_path))
    folder = jp_root_dir / ".deardiary"
    for method, parts, body in ENDPOINTS:
        code, answer = await fetch_json(jp_fetch, "deardiary", *parts, method=method, body=body)
        assert code == 409, (method, parts, answer)
        assert answer["error"] == CODES.get(kind, kind)
        assert answer["path"] == ".deardiary/deardiary.sqlite"
        assert answer["store_etag"] == hashlib.sha256(data).hexdigest()
    assert jp_root_dir.joinpath(*STORE).read_bytes() == data
    # no -wal, no -shm, no journal (the .gitignore the server writes aside)
    assert set(os.listdir(folder)) - {".gitignore"} == {"deardiary.sqlite"}


async def test_aside_moves_an_unusable_store_and_the_next_write_makes_a_new_one(
    jp_fetch, jp_root_dir
):
    bad = write_store(jp_root_dir, b"not a store" * 20)
    code, refused = await fetch_json(jp_fetch, "deardiary", "runs")  # as the browser does
    assert (code, refused["store_etag"]) == (409, hashlib.sha256(bad).hexdigest())
    response = await aside(jp_fetch, {"If-Match": f'"{refused["store_etag"]}"'})
    assert response.code == 200
    answer = json.loads(response.body)
    kept = jp_root_dir / answer["relpath"]
    assert kept.name.startswith("deardiary.sqlite.broken-")
    assert answer["relpath"] == f".deardiary/{kept.name}"
    assert kept.read_bytes() == bad
    assert not jp_root_dir.joinpath(*STORE).exists()
    created = await post_run(jp_fetch, *record())
    assert created["created"] and created["run"]["id"] == 1
    assert kept.read_bytes() == bad


async def test_aside_needs_the_exact_etag_of_an_unusable_store(jp_fetch, jp_root_dir):
    bad = write_store(jp_root_dir, b"not a store" * 20)
    assert (await aside(jp_fetch, {"If-Match": tag(b"other")})).code == 412
    assert (await aside(jp_fetch, {})).code == 428
    for header in ("*", "W/" + tag(bad), f'{tag(b"other")}, {tag(bad)}', tag(bad).upper()):
        response = await aside(jp_fetch, {"If-Match": header})
        assert response.code == 428
        assert json.loads(response.body)["error"] == "precondition_required"
    assert set(os.listdir(jp_root_dir / ".deardiary")) - {".gitignore"} == {"deardiary.sqlite"}
    assert jp_root_dir.joinpath(*STORE).read_bytes() == bad


async def test_a_usable_store_is_not_moved_aside(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    path = jp_root_dir.joinpath(*STORE)
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    response = await aside(jp_fetch, {"If-Match": tag(path.read_bytes())})
    assert (response.code, json.loads(response.body)["error"]) == (409, "store_usable")
    assert path.exists()


@pytest.mark.parametrize("deardiary_config", [{"store_path": "data/sub/my.sqlite"}])
async def test_configured_store_path(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    with sqlite3.connect(jp_root_dir / "data" / "sub" / "my.sqlite") as db:
        assert db.execute("SELECT snapshot_id FROM iteration").fetchall() == [("snap-1",)]


@pytest.mark.parametrize(
    "deardiary_config", [{"store_path": "../outside.sqlite"}, {"store_path": "/tmp/abs.sqlite"}]
)
async def test_store_path_outside_the_root(jp_fetch, jp_root_dir):
    for method, parts, body in ENDPOINTS:
        code, answer = await fetch_json(jp_fetch, "deardiary", *parts, method=method, body=body)
        assert (code, answer["error"]) == (500, "bad_store_path"), (method, parts)
    assert not (jp_root_dir.parent / "outside.sqlite").exists()
    assert not os.path.exists("/tmp/abs.sqlite")


async def test_store_behind_a_symlink_out_of_the_root(jp_fetch, jp_root_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (jp_root_dir / ".deardiary").symlink_to(outside)
    rec, blobs = record()
    response = await jp_fetch(
        "deardiary", "blobs", sha(b"abc"), method="PUT", body=b"abc", raise_error=False
    )
    assert (response.code, json.loads(response.body)["error"]) == (500, "bad_store_path")
    assert os.listdir(outside) == []


async def test_store_path_with_uri_characters(jp_fetch, jp_root_dir):
    """The store path goes into an SQLite URI: ?, # and % are escaped."""
    folder = jp_root_dir / "a ?b#c%20"
    folder.mkdir()
    (jp_root_dir / ".deardiary").symlink_to(folder)
    await post_run(jp_fetch, *record())
    assert (folder / "deardiary.sqlite").exists()
    code, body = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert (code, body["snapshot_id"]) == (200, "snap-1")


async def test_an_unusable_file_is_judged_once_per_version(jp_fetch, jp_root_dir, monkeypatch):
    from ..db import Store

    write_store(jp_root_dir, b"SQLite format 3\x00" + bytes(range(256)) * 16)
    judged = []
    check = Store._check_and_migrate
    monkeypatch.setattr(Store, "_check_and_migrate", lambda self: judged.append(1) or check(self))
    for _ in range(3):
        code, body = await fetch_json(jp_fetch, "deardiary", "runs")
        assert (code, body["error"]) == (409, "corrupt")
    assert len(judged) == 1
    write_store(jp_root_dir, b"not SQLite at all, now" * 10)  # another version of the file
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"], len(judged)) == (409, "not_sqlite", 2)
