"""Issue 16: a run's notebook is the editor's content; the saved file, when it differed,
is a second blob (file role ``notebook_saved``), referenced, read back and deleted with
the run. A real jupyter_server and a real SQLite file (helpers of test_db.py)."""

from __future__ import annotations

import json

import pytest

from .test_db import open_db, post_run, record, sha
from .utils import fetch_json

EDITOR = b'{\n "cells": [\n  "unsaved cell"\n ]\n}\n'
SAVED = b'{\n "cells": []\n}\n'


def with_saved(snapshot_id: str, stored: bool = True):
    rec, blobs = record(snapshot_id, notebook_bytes=EDITOR)
    rec["notebook"]["origin"] = "editor"
    rec["notebook"]["unsaved_changes"] = True
    rec["notebook"]["saved"] = {"sha256": sha(SAVED), "size": len(SAVED), "stored": stored}
    if stored:
        blobs[sha(SAVED)] = SAVED
    return rec, blobs


async def test_the_saved_file_is_a_second_blob(jp_fetch, jp_root_dir):
    rec, blobs = with_saved("s1")
    # Not uploaded: the run names it, so the server asks for it.
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert code == 409 and sha(SAVED) in body["missing"]
    answer = await post_run(jp_fetch, rec, blobs)
    code, detail = await fetch_json(jp_fetch, "deardiary", "runs", str(answer["run"]["id"]))
    assert code == 200
    assert detail["notebook"]["origin"] == "editor"
    assert detail["notebook"]["sha256"] == sha(EDITOR)
    assert detail["notebook"]["saved"] == {"sha256": sha(SAVED), "size": len(SAVED), "stored": True}
    assert [f["role"] for f in detail["files"]] == ["project"]  # not among the run's files
    assert (await jp_fetch("deardiary", "blobs", sha(SAVED))).body == SAVED
    assert (await jp_fetch("deardiary", "blobs", sha(EDITOR))).body == EDITOR
    with open_db(jp_root_dir) as db:
        roles = [r[0] for r in db.execute("SELECT role FROM iteration_file ORDER BY role")]
    assert roles == ["notebook_saved", "project"]

    # Deleting the run deletes the saved file's blob too (no other run names it).
    code, _ = await fetch_json(jp_fetch, "deardiary", "runs", str(answer["run"]["id"]), method="DELETE")
    assert code == 200
    assert (await jp_fetch("deardiary", "blobs", sha(SAVED), raise_error=False)).code == 404


async def test_saved_file_not_kept_and_older_runs(jp_fetch, jp_root_dir):
    rec, blobs = with_saved("s2", stored=False)
    answer = await post_run(jp_fetch, rec, blobs)
    _, detail = await fetch_json(jp_fetch, "deardiary", "runs", str(answer["run"]["id"]))
    assert detail["notebook"]["saved"] == {"sha256": sha(SAVED), "size": len(SAVED), "stored": False}
    assert (await jp_fetch("deardiary", "blobs", sha(SAVED), raise_error=False)).code == 404

    old, old_blobs = record("s3")  # as browsers before issue 16 post it
    answer = await post_run(jp_fetch, old, old_blobs)
    _, detail = await fetch_json(jp_fetch, "deardiary", "runs", str(answer["run"]["id"]))
    assert "origin" not in detail["notebook"] and "saved" not in detail["notebook"]


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda n: n.update(origin="clipboard"), "notebook.origin"),
        (lambda n: n.update(saved={"sha256": "x", "size": 1, "stored": True}), "notebook.saved.sha256"),
        (lambda n: n.update(saved={"sha256": "a" * 64, "size": -1, "stored": True}), "notebook.saved.size"),
        (lambda n: n.update(saved={"sha256": "a" * 64, "size": 1}), "notebook.saved.stored"),
        (lambda n: n.update(saved=[]), "notebook.saved"),
    ],
)
async def test_bad_saved_notebook(jp_fetch, jp_root_dir, change, field):
    rec, _ = with_saved("bad")
    change(rec["notebook"])
    code, body = await fetch_json(
        jp_fetch, "deardiary", "runs", method="POST", body=json.dumps(rec)
    )
    assert (code, body["error"], body["field"]) == (400, "bad_run", field)
