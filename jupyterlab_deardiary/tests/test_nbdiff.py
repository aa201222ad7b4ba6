"""GET /deardiary/nbdiff: nbdime's diff of two stored notebooks."""

from __future__ import annotations

import base64
import json

import nbformat
import pytest
from jupyter_server.utils import url_path_join

from .test_db import sha, upload
from .utils import fetch_json

PNG_A = base64.b64encode(b"\x89PNG\r\n\x1a\n first image").decode()
PNG_B = base64.b64encode(b"\x89PNG\r\n\x1a\n second image").decode()


def notebook(line: str, png: str) -> bytes:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title", id="md"),
            nbformat.v4.new_code_cell(
                f"using Plots\n{line}\n",
                id="plot",
                execution_count=1,
                outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})],
            ),
        ],
        metadata={"kernelspec": {"name": "julia-1.10", "display_name": "Julia 1.10"}},
    )
    return nbformat.writes(nb).encode()


async def nbdiff(jp_fetch, base: str, remote: str):
    return await fetch_json(jp_fetch, "deardiary", "nbdiff", params={"base": base, "remote": remote})


def entry(diff: list[dict], key):
    """The diff entry for ``key`` (a single one)."""
    [found] = [e for e in diff if e["key"] == key]
    return found


async def test_diff_of_two_stored_notebooks(jp_fetch, jp_root_dir):
    a, b = notebook("plot(x)", PNG_A), notebook("plot(x, y)", PNG_B)
    await upload(jp_fetch, {sha(a): a, sha(b): b})
    code, body = await nbdiff(jp_fetch, sha(a), sha(b))
    assert code == 200, body
    assert set(body) == {"base", "diff"}
    assert body["base"]["cells"][1]["source"] == "using Plots\nplot(x)\n"
    # Only the second cell changed: its source (one line) and its PNG output.
    cells = entry(body["diff"], "cells")
    assert cells["op"] == "patch"
    [cell] = cells["diff"]
    assert (cell["op"], cell["key"]) == ("patch", 1)
    source = entry(cell["diff"], "source")["diff"]
    # Line 1 (0-based) changed: nbdime diffs by line, then within the line.
    assert source == [
        {"op": "patch", "key": 1, "diff": [{"op": "addrange", "key": 6, "valuelist": ", y"}]}
    ]
    # The output with the other image replaces the old one.
    outputs = entry(cell["diff"], "outputs")["diff"]
    assert {"op": "removerange", "key": 0, "length": 1} in outputs
    [added] = [e for e in outputs if e["op"] == "addrange"]
    assert [o["data"] for o in added["valuelist"]] == [{"image/png": PNG_B}]

    code, same = await nbdiff(jp_fetch, sha(a), sha(a))
    assert (code, same["diff"]) == (200, [])


async def test_the_run_ids_in_the_metadata_are_no_change(jp_fetch, jp_root_dir):
    """metadata.deardiary (written by each run) is left out; other metadata is compared."""
    nbs = []
    for run, lang in ((1, "julia"), (2, "julia"), (3, "python")):
        nb = json.loads(notebook("x", PNG_A))
        nb["metadata"]["deardiary"] = {"run_id": run, "snapshot_id": f"s{run}"}
        nb["metadata"]["language_info"] = {"name": lang}
        nbs.append(json.dumps(nb).encode())
    await upload(jp_fetch, {sha(b): b for b in nbs})
    code, body = await nbdiff(jp_fetch, sha(nbs[0]), sha(nbs[1]))
    assert (code, body["diff"]) == (200, [])
    assert "deardiary" not in body["base"]["metadata"]
    code, body = await nbdiff(jp_fetch, sha(nbs[1]), sha(nbs[2]))
    [meta] = body["diff"]
    assert meta["key"] == "metadata"
    assert [e["key"] for e in meta["diff"]] == ["language_info"]


async def test_an_older_notebook_format_is_converted(jp_fetch, jp_root_dir):
    v3 = json.dumps(
        {
            "nbformat": 3,
            "nbformat_minor": 0,
            "metadata": {},
            "worksheets": [{"cells": [{"cell_type": "code", "input": "1", "outputs": []}]}],
        }
    ).encode()
    v4 = notebook("x", PNG_A)
    await upload(jp_fetch, {sha(v3): v3, sha(v4): v4})
    code, body = await nbdiff(jp_fetch, sha(v3), sha(v4))
    assert code == 200, body
    assert body["base"]["nbformat"] == 4
    assert body["base"]["cells"][0]["source"] == "1"


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x89PNG not json", "is not JSON, so it is not a notebook"),
        (b"[1, 2]", "is JSON but not a notebook"),
        (b'{"cells": 3}', "is JSON but not a notebook"),
        (b'{"nbformat": 99, "cells": []}', "is not a notebook nbformat can read"),
        (b"[" * 100_000, "is not JSON"),
    ],
)
async def test_a_blob_that_is_no_notebook(jp_fetch, jp_root_dir, blob, message):
    good = notebook("x", PNG_A)
    await upload(jp_fetch, {sha(good): good, sha(blob): blob})
    code, body = await nbdiff(jp_fetch, sha(good), sha(blob))
    assert (code, body["error"]) == (422, "not_a_notebook"), body
    assert message in body["message"]
    assert f"The remote blob {sha(blob)[:12]}" in body["message"]


@pytest.mark.parametrize(
    "params, error",
    [
        ({"base": "abc", "remote": "0" * 64}, "bad_sha256"),
        ({"base": "0" * 64, "remote": "A" * 64}, "bad_sha256"),
        ({"base": "0" * 64}, "bad_request"),
        ({}, "bad_request"),
    ],
)
async def test_bad_input(jp_fetch, jp_root_dir, params, error):
    code, body = await fetch_json(jp_fetch, "deardiary", "nbdiff", params=params)
    assert (code, body["error"]) == (400, error), body
    assert body["message"]


async def test_a_missing_blob(jp_fetch, jp_root_dir):
    good = notebook("x", PNG_A)
    await upload(jp_fetch, {sha(good): good})
    code, body = await nbdiff(jp_fetch, "0" * 64, sha(good))
    assert (code, body["error"]) == (404, "no_blob")
    assert "0" * 64 in body["message"] and "(base)" in body["message"]


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_unauthenticated(http_server_client, jp_base_url, jp_root_dir, token):
    good = notebook("x", PNG_A)
    headers = {"Authorization": f"token {token}"} if token else {}
    url = url_path_join(jp_base_url, "deardiary", "nbdiff")
    response = await http_server_client.fetch(
        f"{url}?base={sha(good)}&remote={sha(good)}",
        headers=headers,
        raise_error=False,
        follow_redirects=False,
    )
    assert response.code in (401, 403)
    assert b"cells" not in response.body
