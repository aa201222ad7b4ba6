"""GET/PUT /deardiary/store: ETag = sha256, If-Match, atomic replace."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

import pytest

STORE = (".deardiary", "deardiary.sqlite")
SQLITE = b"SQLite format 3\x00" + bytes(range(256)) * 16


def tag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


async def put(jp_fetch, body: bytes, headers: dict[str, str]):
    return await jp_fetch(
        "deardiary", "store", method="PUT", body=body, headers=headers, raise_error=False
    )


def leftovers(folder) -> list[str]:
    """Files in the store's folder other than the store and its lock file."""
    return sorted(set(os.listdir(folder)) - {"deardiary.sqlite", "deardiary.sqlite.lock"})


async def test_get_without_store(jp_fetch, jp_root_dir):
    response = await jp_fetch("deardiary", "store", raise_error=False)
    assert response.code == 404
    assert json.loads(response.body)["error"] == "no_store"
    assert not (jp_root_dir / ".deardiary").exists()


async def test_create_then_read_back(jp_fetch, jp_root_dir):
    response = await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    assert response.code == 201
    assert json.loads(response.body) == {"etag": tag(SQLITE), "size": len(SQLITE)}
    assert response.headers["ETag"] == tag(SQLITE)
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE

    response = await jp_fetch("deardiary", "store")
    assert response.code == 200
    assert response.body == SQLITE
    assert response.headers["ETag"] == tag(SQLITE)
    assert response.headers["Content-Type"] == "application/vnd.sqlite3"

    response = await jp_fetch(
        "deardiary", "store", headers={"If-None-Match": tag(SQLITE)}, raise_error=False
    )
    assert response.code == 304
    assert leftovers(jp_root_dir / ".deardiary") == []


async def test_create_when_it_exists(jp_fetch, jp_root_dir):
    assert (await put(jp_fetch, SQLITE, {"If-None-Match": "*"})).code == 201
    response = await put(jp_fetch, b"other", {"If-None-Match": "*"})
    assert response.code == 412
    assert json.loads(response.body)["current_etag"] == tag(SQLITE)
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE


async def test_replace_with_if_match(jp_fetch, jp_root_dir):
    await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    new = SQLITE + b"more"
    response = await put(jp_fetch, new, {"If-Match": tag(SQLITE)})
    assert response.code == 200
    assert json.loads(response.body) == {"etag": tag(new), "size": len(new)}
    assert (await jp_fetch("deardiary", "store")).body == new
    assert leftovers(jp_root_dir / ".deardiary") == []


async def test_stale_etag(jp_fetch, jp_root_dir):
    await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    response = await put(jp_fetch, b"lost update", {"If-Match": tag(b"an older version")})
    assert response.code == 412
    body = json.loads(response.body)
    assert body["error"] == "etag_mismatch"
    assert body["current_etag"] == tag(SQLITE)
    assert response.headers["ETag"] == tag(SQLITE)
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE
    assert leftovers(jp_root_dir / ".deardiary") == []


async def test_if_match_without_store(jp_fetch, jp_root_dir):
    response = await put(jp_fetch, SQLITE, {"If-Match": tag(SQLITE)})
    assert response.code == 412
    assert json.loads(response.body)["current_etag"] is None
    assert not jp_root_dir.joinpath(*STORE).exists()


async def test_put_without_precondition(jp_fetch, jp_root_dir):
    response = await put(jp_fetch, SQLITE, {})
    assert response.code == 428
    assert json.loads(response.body)["error"] == "precondition_required"
    assert not jp_root_dir.joinpath(*STORE).exists()


async def test_concurrent_puts_with_the_same_etag(jp_fetch, jp_root_dir):
    await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    a, b = SQLITE + b"A" * 100_000, SQLITE + b"B" * 100_000
    ra, rb = await asyncio.gather(
        put(jp_fetch, a, {"If-Match": tag(SQLITE)}), put(jp_fetch, b, {"If-Match": tag(SQLITE)})
    )
    assert sorted([ra.code, rb.code]) == [200, 412]
    winner = a if ra.code == 200 else b
    assert jp_root_dir.joinpath(*STORE).read_bytes() == winner
    loser = rb if ra.code == 200 else ra
    assert json.loads(loser.body)["current_etag"] == tag(winner)
    assert leftovers(jp_root_dir / ".deardiary") == []


@pytest.mark.parametrize("deardiary_config", [{"store_max_bytes": 1000}])
async def test_oversize_put(jp_fetch, jp_root_dir):
    await put(jp_fetch, SQLITE[:1000], {"If-None-Match": "*"})
    response = await put(jp_fetch, SQLITE[:1001], {"If-Match": tag(SQLITE[:1000])})
    assert response.code == 413
    body = json.loads(response.body)
    assert body["error"] == "too_large"
    assert "DearDiary.store_max_bytes" in body["message"]
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE[:1000]
    assert leftovers(jp_root_dir / ".deardiary") == []


@pytest.mark.parametrize("deardiary_config", [{"store_path": "data/sub/my.sqlite"}])
async def test_configured_store_path(jp_fetch, jp_root_dir):
    assert (await put(jp_fetch, SQLITE, {"If-None-Match": "*"})).code == 201
    assert (jp_root_dir / "data" / "sub" / "my.sqlite").read_bytes() == SQLITE


@pytest.mark.parametrize(
    "deardiary_config", [{"store_path": "../outside.sqlite"}, {"store_path": "/tmp/abs.sqlite"}]
)
async def test_store_path_outside_the_root(jp_fetch, jp_root_dir):
    for response in (
        await jp_fetch("deardiary", "store", raise_error=False),
        await put(jp_fetch, SQLITE, {"If-None-Match": "*"}),
    ):
        assert response.code == 500
        assert json.loads(response.body)["error"] == "bad_store_path"
    assert not (jp_root_dir.parent / "outside.sqlite").exists()
    assert not os.path.exists("/tmp/abs.sqlite")


async def test_store_behind_a_symlink_out_of_the_root(jp_fetch, jp_root_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (jp_root_dir / ".deardiary").symlink_to(outside)
    response = await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    assert response.code == 500
    assert json.loads(response.body)["error"] == "bad_store_path"
    assert os.listdir(outside) == []


@pytest.mark.parametrize("deardiary_config", [{"store_max_bytes": 1000}])
async def test_oversize_streamed_put(jp_fetch, jp_root_dir):
    """A chunked body (no Content-Length) is counted as it arrives."""

    async def producer(write):
        for _ in range(5):
            await write(b"x" * 300)

    response = await jp_fetch(
        "deardiary",
        "store",
        method="PUT",
        body_producer=producer,
        headers={"If-None-Match": "*"},
        raise_error=False,
    )
    assert response.code == 413
    assert json.loads(response.body)["error"] == "too_large"
    assert not jp_root_dir.joinpath(*STORE).exists()
    assert leftovers(jp_root_dir / ".deardiary") == []



async def aside(jp_fetch, headers: dict[str, str]):
    return await jp_fetch(
        "deardiary", "store", "aside", method="POST", body=b"", headers=headers, raise_error=False
    )


async def test_keep_aside_copies_the_current_store_beside_it(jp_fetch, jp_root_dir):
    bad = b"this is not SQLite \x00\xff"
    assert (await put(jp_fetch, bad, {"If-None-Match": "*"})).code == 201
    response = await aside(jp_fetch, {"If-Match": tag(bad)})
    assert response.code == 200
    answer = json.loads(response.body)
    kept = jp_root_dir.joinpath(*STORE).parent / os.path.basename(answer["path"])
    assert kept.name.startswith("deardiary.sqlite.broken-")
    assert answer["relpath"] == f".deardiary/{kept.name}"
    assert kept.read_bytes() == bad
    assert jp_root_dir.joinpath(*STORE).read_bytes() == bad  # left as it was


async def test_keep_aside_refuses_a_stale_or_missing_etag(jp_fetch, jp_root_dir):
    assert (await put(jp_fetch, SQLITE, {"If-None-Match": "*"})).code == 201
    assert (await aside(jp_fetch, {"If-Match": tag(b"other")})).code == 412
    assert (await aside(jp_fetch, {})).code == 428
    assert leftovers(jp_root_dir.joinpath(*STORE).parent) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "*"},
        {"If-Match": "W/" + tag(SQLITE)},
        {"If-Match": f'{tag(b"other")}, {tag(SQLITE)}'},
        {"If-Match": tag(SQLITE).upper()},
        {"If-None-Match": tag(b"other")},
        {"If-None-Match": tag(SQLITE)},
        {"If-Match": tag(SQLITE), "If-None-Match": "*"},
    ],
)
async def test_only_an_exact_etag_or_create_only_replaces(jp_fetch, jp_root_dir, headers):
    """A precondition that holds without knowing the current version is refused."""
    await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    response = await put(jp_fetch, b"blind overwrite", headers)
    assert response.code == 428
    body = json.loads(response.body)
    assert body["error"] == "precondition_required"
    assert "is not accepted" in body["message"] and 'If-Match: "<etag>"' in body["message"]
    assert jp_root_dir.joinpath(*STORE).read_bytes() == SQLITE
    assert leftovers(jp_root_dir / ".deardiary") == []


@pytest.mark.parametrize("if_match", ["*", "W/" + tag(SQLITE), f'{tag(b"other")}, {tag(SQLITE)}'])
async def test_keep_aside_needs_an_exact_etag(jp_fetch, jp_root_dir, if_match):
    await put(jp_fetch, SQLITE, {"If-None-Match": "*"})
    response = await aside(jp_fetch, {"If-Match": if_match})
    assert response.code == 428
    assert json.loads(response.body)["error"] == "precondition_required"
    assert leftovers(jp_root_dir / ".deardiary") == []
