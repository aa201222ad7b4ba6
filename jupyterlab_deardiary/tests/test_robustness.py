"""Bad input answers 4xx with a clear message and loses nothing."""

from __future__ import annotations

import asyncio
import json

import pytest

from .utils import make_repo

STORE = (".deardiary", "deardiary.sqlite")
SQLITE = b"SQLite format 3\x00" + bytes(range(256)) * 16

BODIES = {"store": SQLITE, "restore": b'{"target": "x", "files": []}'}


async def raw_request(
    port: int, request: str, headers: dict[str, str], body: bytes, chunked: bool
) -> tuple[int, dict]:
    """(status, JSON answer) of a request written by hand (HTTP clients refuse a body on GET)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if chunked:
        headers = {**headers, "Transfer-Encoding": "chunked"}
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        headers = {**headers, "Content-Length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"{request} HTTP/1.1\r\nHost: localhost\r\n{head}\r\n".encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status, _, content = answer.partition(b"\r\n\r\n")
    return int(status.split()[1]), json.loads(content)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("endpoint", ["store", "restore"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_on_a_method_without_one(
    jp_fetch, jp_root_dir, jp_auth_header, jp_base_url, http_server_port, method, endpoint, chunked
):
    """The streaming endpoints answer 400 instead of dropping the connection."""
    await jp_fetch("deardiary", "store", method="PUT", body=SQLITE, headers={"If-None-Match": "*"})
    status, answer = await raw_request(
        http_server_port[1],
        f"{method} {jp_base_url}deardiary/{endpoint}",
        {**jp_auth_header, "Connection": "close"},
        BODIES[endpoint],
        chunked,
    )
    assert status == 400
    assert answer == {
        "error": "unexpected_body",
        "message": f"A {method} request to this endpoint takes no body.",
    }
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE
    assert not (jp_root_dir / "x").exists()
    assert (await jp_fetch("deardiary", "store")).body == SQLITE  # the server still answers


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("restore", deep(100_000)),
        ("restore", '{"target": "x", "files": %s}' % deep(100_000)),
        ("restore", '{"target": "x", "files": [], "metadata": {"a": %s}}' % deep(100_000)),
        ("worktree", '{"path": "proj", "target": "x", "sha": %s}' % deep(100_000)),
    ],
)
async def test_deeply_nested_json(jp_fetch, jp_root_dir, endpoint, body):
    make_repo(jp_root_dir / "proj")
    response = await jp_fetch("deardiary", endpoint, method="POST", body=body, raise_error=False)
    assert response.code == 400
    assert json.loads(response.body) == {
        "error": "bad_request",
        "message": "The request body's JSON is nested too deeply.",
    }
    assert not (jp_root_dir / "x").exists()

