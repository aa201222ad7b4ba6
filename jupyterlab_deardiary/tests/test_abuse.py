"""Issue 11's robustness list carried over to the store's endpoints (the whole-file store
they replaced was the one reviewed): hostile bodies answer 4xx with a message a user can
act on, never a 500 or a dropped connection, and change nothing in the store."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from .test_db import STORE, post_run, record, upload
from .test_robustness import deep
from .utils import fetch_json, raw_request


async def store_bytes(jp_root_dir) -> bytes:
    return jp_root_dir.joinpath(*STORE).read_bytes()


# (method, path below /deardiary/) of every endpoint that reads a JSON body.
JSON_ENDPOINTS = [("POST", "runs"), ("PATCH", "runs/1"), ("POST", "blobs/missing")]


@pytest.mark.parametrize(("method", "endpoint"), JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [100_000, 5_000])
async def test_deeply_nested_json(jp_fetch, jp_root_dir, method, endpoint, depth):
    await post_run(jp_fetch, *record())
    before = await store_bytes(jp_root_dir)
    for body in (deep(depth), '{"note": %s, "sha256": %s}' % (deep(depth), deep(depth))):
        code, answer = await fetch_json(
            jp_fetch, "deardiary", *endpoint.split("/"), method=method, body=body
        )
        assert code == 400, answer
        assert "nested too deeply" in answer["message"] or "not valid JSON" in answer["message"]
    assert await store_bytes(jp_root_dir) == before


# Values json.loads accepts that a run record must not hold.
ODD_VALUES = {
    "nested 900 deep": "@DEEP@",
    "NaN": math.nan,
    "Infinity": math.inf,
    "an integer of 400 digits": 10**400,
    "a lone surrogate": "\udcff",
}


@pytest.mark.parametrize("value", ODD_VALUES.values(), ids=ODD_VALUES.keys())
@pytest.mark.parametrize(
    "where",
    ["capture.sys.cpu_threads", "capture.sys.extra", "kernel.spec.env.X", "git.git.patch_bytes",
     "notebook.size", "trigger"],
)
async def test_odd_values_in_a_run_record(jp_fetch, jp_root_dir, value, where):
    """Stored and read back as they were, or refused with 400 naming why: never a 500."""
    await post_run(jp_fetch, *record())
    before = await store_bytes(jp_root_dir)
    rec, blobs = record("snap-odd")
    await upload(jp_fetch, blobs)
    *path, last = where.split(".")
    holder = rec
    for key in path:
        holder = holder[key]
    holder[last] = value
    body = json.dumps(rec).replace('"@DEEP@"', deep(900))
    code, answer = await fetch_json(jp_fetch, "deardiary", "runs", method="POST", body=body)
    assert code in (201, 400), answer
    if code == 400:
        assert answer["error"] == "bad_run" and answer["message"], answer
        assert await store_bytes(jp_root_dir) == before
    else:
        code, run = await fetch_json(jp_fetch, "deardiary", "runs", str(answer["run"]["id"]))
        assert code == 200, run
    # The server still answers, the first run intact.
    code, first = await fetch_json(jp_fetch, "deardiary", "runs", "1")
    assert (code, first["snapshot_id"]) == (200, "snap-1"), first


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [("GET", "runs"), ("GET", "runs/1"), ("DELETE", "runs/1"), ("GET", "index"),
     ("GET", "version"), ("GET", "store"), ("GET", "git?path=")],
)
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_on_other_methods(
    jp_fetch, jp_root_dir, jp_auth_header, jp_base_url, http_server_port, method, endpoint,
    chunked,
):
    """A body where none is expected is answered (ignored, or refused with 400), never a
    dropped connection or a 500; the store is unchanged unless the verb changes it."""
    await post_run(jp_fetch, *record())
    status, answer = await raw_request(
        http_server_port[1],
        f"{method} {jp_base_url}deardiary/{endpoint}",
        {**jp_auth_header, "Connection": "close"},
        b'{"note": "x"}',
        chunked,
    )
    assert status in (200, 400), answer
    if status == 400:
        assert json.loads(answer)["message"]
    code, _ = await fetch_json(jp_fetch, "deardiary", "version")
    assert code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"If-Match": "*"}, {"If-None-Match": '"anything"'}, {"If-None-Match": "*"},
     {"If-Match": "@ETAG@"}],
    ids=["none", "if-match-star", "if-none-match-tag", "if-none-match-star", "exact-if-match"],
)
async def test_the_store_is_never_replaced_whole_whatever_the_headers(
    jp_fetch, jp_root_dir, headers
):
    """The whole-file PUT is gone (410), with any precondition, even the exact one."""
    await post_run(jp_fetch, *record())
    before = await store_bytes(jp_root_dir)
    tag = '"%s"' % hashlib.sha256(before).hexdigest()
    headers = {k: v.replace("@ETAG@", tag) for k, v in headers.items()}
    response = await jp_fetch(
        "deardiary", "store", method="PUT", body=b"SQLite format 3\x00" * 100,
        headers=headers, raise_error=False,
    )
    assert (response.code, json.loads(response.body)["error"]) == (410, "gone")
    assert await store_bytes(jp_root_dir) == before


@pytest.mark.parametrize(
    "headers",
    [{"If-None-Match": "*"}, {"If-None-Match": '"@SHA@"'}, {"If-Match": "*"},
     {"If-Match": '"@SHA@", "@SHA@"'}, {"If-Match": 'W/"@SHA@"'}, {"If-Match": "@SHA@"}],
)
async def test_moving_aside_needs_exactly_if_match(jp_fetch, jp_root_dir, headers):
    """POST store/aside, the one request that puts a store file out of the way: only an
    exact If-Match naming the file's bytes (428 for anything else, the file untouched)."""
    path = jp_root_dir.joinpath(*STORE)
    path.parent.mkdir()
    path.write_bytes(b"not a store" * 50)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    headers = {k: v.replace("@SHA@", digest) for k, v in headers.items()}
    code, answer = await fetch_json(
        jp_fetch, "deardiary", "store", "aside", method="POST", body=b"", headers=headers
    )
    assert (code, answer["error"]) == (428, "precondition_required"), answer
    assert path.read_bytes() == b"not a store" * 50
    code, answer = await fetch_json(
        jp_fetch, "deardiary", "store", "aside", method="POST", body=b"",
        headers={"If-Match": f'"{digest}"'},
    )
    assert code == 200, answer
    assert not path.exists()
