"""GET /deardiary/runs: the run list read from the store, field by field, with its version."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path

import pytest
from jupyter_server.utils import url_path_join

from .. import runs as runs_module
from ..db import LIST_RUNS, SCHEMA_VERSION
from ..runs import FIELDS
from .test_db import manifest_bytes, post_run, record, rows_of, sha
from .test_security import ReadOnlyAuthorizer
from .utils import fetch_json


async def test_no_store(jp_fetch, jp_root_dir):
    response = await jp_fetch("deardiary", "runs")
    assert "ETag" not in response.headers
    assert json.loads(response.body) == {
        "version": None,
        "schema_version": SCHEMA_VERSION,
        "columns": {name: [] for name in FIELDS},
    }
    assert not (jp_root_dir / ".deardiary").exists()


async def test_runs_field_by_field(jp_fetch, jp_root_dir):
    man, project, patch = manifest_bytes("small"), b"[deps]\n", b"diff --git a b\n"
    await post_run(jp_fetch, *record("snap-1", created_at="2024-01-01T10:00:00.000Z"))
    rec, blobs = record(
        "snap-2",
        notebook="b/c.ipynb",
        created_at="2024-01-02T10:00:00.000Z",
        note="tuned é ✓",
        manifest=man,
        project=project,
        patch=patch,
        parent="snap-1",
    )
    rec["trigger"] = "code"
    rec["capture"]["project"]["is_global"] = True
    rec["capture"]["files"][1]["name"] = "Manifest-v1.11.toml"
    rec["git"]["git"]["truncated"] = True
    rec["notebook"]["unsaved_changes"] = True
    await post_run(jp_fetch, rec, blobs)
    third, blobs = record("snap-3", created_at="2024-01-01T10:00:00.000Z")
    third["git"] = {"state": "unknown", "error_code": "no_git", "message": "git is not installed"}
    last = await post_run(jp_fetch, third, blobs)

    response = await jp_fetch("deardiary", "runs")
    body = json.loads(response.body)
    assert response.headers["ETag"] == f'"{last["version"]}"'
    assert body["version"] == last["version"]
    assert body["schema_version"] == SCHEMA_VERSION
    rows = rows_of(body["columns"])
    assert [r["id"] for r in rows] == [2, 3, 1]  # newest first, then the higher id
    second, third_row, first = rows
    assert second == {
        "id": 2,
        "snapshot_id": "snap-2",
        "number": 1,
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
        "manifest_sha256": sha(man),
        "project_sha256": sha(project),
        "manifest_name": "Manifest-v1.11.toml",
        "project_path": "/home/u/p/Project.toml",
        "notebook_unsaved": True,
        "has_patch": True,
        "patch_truncated": True,
    }
    assert (first["git_dirty"], first["git_sha"]) == (False, "a" * 40)
    assert (third_row["git_dirty"], third_row["git_sha"]) == (None, None)
    assert first["has_patch"] is False and first["manifest_sha256"] is None
    # the run list and the detail agree
    for row in rows:
        code, detail = await fetch_json(jp_fetch, "deardiary", "runs", str(row["id"]))
        assert {k: detail[k] for k in FIELDS} == row


async def test_a_current_list_is_not_sent_again(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    first = await jp_fetch("deardiary", "runs")
    same = await jp_fetch(
        "deardiary", "runs", headers={"If-None-Match": first.headers["ETag"]}, raise_error=False
    )
    assert (same.code, same.body) == (304, b"")
    assert same.headers["ETag"] == first.headers["ETag"]
    other = await jp_fetch("deardiary", "runs", headers={"If-None-Match": '"0123456789abcdef.0"'})
    assert other.code == 200 and other.body == first.body
    await post_run(jp_fetch, *record("snap-2"))
    changed = await jp_fetch(
        "deardiary", "runs", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert changed.code == 200
    assert len(rows_of(json.loads(changed.body)["columns"])) == 2


async def test_each_version_is_read_once(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    answers = await asyncio.gather(*(jp_fetch("deardiary", "runs") for _ in range(3)))
    assert len({a.body for a in answers}) == 1
    key = str(jp_root_dir.resolve().joinpath(".deardiary", "deardiary.sqlite"))
    cached = runs_module._lists[key].answer
    assert cached.body == answers[0].body
    await fetch_json(jp_fetch, "deardiary", "runs", "1", method="PATCH",
                     body=json.dumps({"note": "new"}))
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert rows_of(body["columns"])[0]["note"] == "new"
    assert runs_module._lists[key].answer is not cached


async def test_limit_and_total(jp_fetch, jp_root_dir):
    for i in range(5):
        await post_run(jp_fetch, *record(f"s{i}", created_at=f"2024-01-0{i + 1}T00:00:00.000Z"))
    code, body = await fetch_json(jp_fetch, "deardiary", "runs", params={"limit": "2"})
    assert code == 200
    assert body["total"] == 5
    assert [r["snapshot_id"] for r in rows_of(body["columns"])] == ["s4", "s3"]
    for bad in ("0", "-1", "x"):
        code, body = await fetch_json(jp_fetch, "deardiary", "runs", params={"limit": bad})
        assert (code, body["error"]) == (400, "bad_limit")


async def test_repeated_values_are_sent_once(jp_fetch, jp_root_dir):
    for i in range(12):
        await post_run(
            jp_fetch,
            *record(f"s{i}", notebook=f"{'ab'[i % 2]}.ipynb",
                    created_at=f"2024-01-01T00:00:{i:02}.000Z"),
        )
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    columns = body["columns"]
    assert columns["id"] == list(range(12, 0, -1))
    assert columns["notebook_path"] == {
        "values": ["b.ipynb", "a.ipynb"],
        "index": [0, 1] * 6,
    }
    assert columns["status"] == {"values": ["recorded"], "index": [0] * 12}


async def test_gzipped_for_browsers_that_accept_it(jp_fetch, jp_root_dir):
    for i in range(30):
        await post_run(jp_fetch, *record(f"s{i}"))
    plain, packed = [
        await jp_fetch(
            "deardiary", "runs", headers={"Accept-Encoding": encoding}, decompress_response=False
        )
        for encoding in ("identity", "gzip, deflate, br")
    ]
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body) / 3


async def test_a_starting_frontend_has_the_run_list_and_index_made_ahead(jp_fetch, jp_root_dir):
    await post_run(jp_fetch, *record())
    runs_module._lists.clear()
    assert (await jp_fetch("deardiary", "version")).code == 200
    key = str(jp_root_dir.resolve().joinpath(".deardiary", "deardiary.sqlite"))
    for _ in range(250):
        index = runs_module._indexes.get(key)
        if key in runs_module._lists and runs_module._lists[key].answer and index and index.image:
            break
        await asyncio.sleep(0.02)
    assert (await jp_fetch("deardiary", "runs")).body == runs_module._lists[key].answer.body
    assert (await jp_fetch("deardiary", "index")).body == runs_module._indexes[key].image


async def test_a_broken_store_does_not_disturb_the_version_check(jp_fetch, jp_root_dir):
    path = jp_root_dir / ".deardiary" / "deardiary.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    assert (await jp_fetch("deardiary", "version")).code == 200
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert (code, body["error"]) == (409, "corrupt")


def test_the_order_is_stated_once_in_the_query():
    """list_runs.sql ends with the one order rule (src/store's RUN_ORDER repeats it)."""
    text = (Path(__file__).parent.parent / "list_runs.sql").read_text()
    assert text == LIST_RUNS
    assert re.findall(r"ORDER BY[^\n]*", text) == ["ORDER BY created_at DESC, id DESC"]
    assert text.rstrip().endswith("ORDER BY created_at DESC, id DESC")


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_unauthenticated(http_server_client, jp_base_url, jp_fetch, jp_root_dir, token):
    await post_run(jp_fetch, *record())
    headers = {"Authorization": f"token {token}"} if token else {}
    for path in ("runs", "runs/1", "index"):
        response = await http_server_client.fetch(
            url_path_join(jp_base_url, "deardiary", path),
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
    from ..db import Store

    store = Store(jp_root_dir.resolve() / ".deardiary" / "deardiary.sqlite", jp_root_dir)
    rec, blobs = record()
    for digest, data in blobs.items():
        store.put_blob(digest, data)
    store.add_run(rec, 1 << 30)
    code, body = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    assert [r["snapshot_id"] for r in rows_of(body["columns"])] == ["snap-1"]
    code, detail = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert (code, detail["snapshot_id"]) == (200, "snap-1")
    assert (await jp_fetch("deardiary", "index")).code == 200


async def test_the_list_kept_up_to_date_equals_a_fresh_read(jp_fetch, jp_root_dir):
    """The whole list is made from the last version's rows and the changes since."""
    from ..db import Store

    store = Store(jp_root_dir.resolve() / ".deardiary" / "deardiary.sqlite", jp_root_dir)
    for i in range(6):
        await post_run(jp_fetch, *record(f"s{i}", created_at=f"2024-01-0{1 + i % 3}T00:00:00.000Z"))
    assert (await jp_fetch("deardiary", "runs")).code == 200  # rows kept from here on
    await fetch_json(jp_fetch, "deardiary", "runs", "2", method="PATCH",
                     body=json.dumps({"note": "edited"}))
    await fetch_json(jp_fetch, "deardiary", "runs", "6", method="DELETE")  # its id comes back
    await fetch_json(jp_fetch, "deardiary", "runs", "3", method="DELETE")
    await post_run(jp_fetch, *record("late", created_at="2024-01-02T00:00:00.000Z"))
    body = (await jp_fetch("deardiary", "runs")).body
    assert body == runs_module.read_run_list(store).body
    rows = rows_of(json.loads(body)["columns"])
    assert [(r["id"], r["snapshot_id"]) for r in rows] == [
        (6, "late"), (5, "s4"), (2, "s1"), (4, "s3"), (1, "s0")
    ]
    assert rows[2]["note"] == "edited"
