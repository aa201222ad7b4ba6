"""Bad input answers 4xx with a clear message and loses nothing; interrupted writes leave
nothing behind for long."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .utils import make_repo, raw_request, write

EMPTY_SHA = hashlib.sha256(b"").hexdigest()

# A writer of a temp file, as the server's: it holds the file open (and, with this
# version, locked) until it is killed.
WRITER = """
import os, sys, time
try:
    from jupyterlab_deardiary.store import open_temp
except ImportError:  # before temp files were locked
    def open_temp(name):
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fd = open_temp(sys.argv[1])
os.write(fd, b"half a store" * 1000)
print("ready", flush=True)
time.sleep(600)
"""


def start_writer(path) -> subprocess.Popen:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    return writer


def age(path, seconds: float = 3600) -> None:
    """Make ``path`` look as old as a temp file an earlier kill left."""
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def temps(jp_root_dir):
    """Temp files beside the store, made before the server starts: two of writers killed
    (-9) mid-write, one of a writer still alive, one just made, and files that only look
    similar. Yields {name: whether it must survive}."""
    folder = jp_root_dir / ".deardiary"
    folder.mkdir()
    names = {
        ".deardiary.sqlite.0123456789abcdef.tmp": False,  # killed
        ".deardiary.sqlite.fedcba9876543210.tmp": False,  # killed
        ".deardiary.sqlite.00000000000000aa.tmp": True,  # its writer is alive
        ".deardiary.sqlite.00000000000000bb.tmp": True,  # too young to judge
        ".deardiary.sqlite.notes.tmp": True,  # not our pattern
        "deardiary.sqlite.0123456789abcdef.tmp": True,
        ".deardiary.sqlite.0123456789abcdef.tmp.keep": True,
    }
    live = []
    for name in names:
        path = folder / name
        if name.endswith("aa.tmp"):
            live.append(start_writer(path))
        elif name.endswith(("ef.tmp", "10.tmp")):
            writer = start_writer(path)
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        else:
            write(path, "x")
        if not name.endswith("bb.tmp"):
            age(path)
    yield folder, names
    for writer in live:
        writer.kill()
        writer.wait()


def survivors(folder, names) -> dict[str, bool]:
    return {name: (folder / name).exists() for name in names}


async def test_server_start_removes_stale_temp_files(temps, jp_serverapp):
    folder, names = temps
    assert survivors(folder, names) == names


@contextlib.contextmanager
def killed_and_live(folder, prefix: str):
    """An old temp file of a killed writer and one of a live writer in ``folder``."""
    folder.mkdir(exist_ok=True)
    killed = folder / f"{prefix}0123456789abcdef.tmp"
    alive = folder / f"{prefix}00000000000000aa.tmp"
    writer = start_writer(killed)
    writer.kill()
    writer.wait()
    live = start_writer(alive)
    age(killed)
    age(alive)
    try:
        yield killed, alive
    finally:
        live.kill()
        live.wait()


async def test_restore_removes_stale_temp_files(jp_fetch, jp_root_dir):
    with killed_and_live(jp_root_dir / "restored", ".deardiary-") as (killed, alive):
        file = {"name": "a.txt", "base64": "", "sha256": EMPTY_SHA}
        body = json.dumps({"target": "restored", "files": [file]})
        response = await jp_fetch("deardiary", "restore", method="POST", body=body)
        assert response.code == 200
        assert sorted(os.listdir(killed.parent)) == [alive.name, "a.txt"]


BLOB = b"stored bytes"
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()
BODIES = {f"blobs/{BLOB_SHA}": BLOB, "restore": b'{"target": "x", "files": []}'}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("endpoint", list(BODIES))
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_on_a_method_without_one(
    jp_fetch, jp_root_dir, jp_auth_header, jp_base_url, http_server_port, method, endpoint, chunked
):
    """The streaming endpoints answer 400 instead of dropping the connection."""
    await jp_fetch("deardiary", "blobs", BLOB_SHA, method="PUT", body=BLOB)
    status, answer = await raw_request(
        http_server_port[1],
        f"{method} {jp_base_url}deardiary/{endpoint}",
        {**jp_auth_header, "Connection": "close"},
        BODIES[endpoint],
        chunked,
    )
    assert status == 400
    assert json.loads(answer) == {
        "error": "unexpected_body",
        "message": f"A {method} request to this endpoint takes no body.",
    }
    assert not (jp_root_dir / "x").exists()
    assert (await jp_fetch("deardiary", "blobs", BLOB_SHA)).body == BLOB  # the server still answers


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


@pytest.mark.parametrize("depth", [1, 900, 960])
async def test_restore_metadata_is_flat(jp_fetch, jp_root_dir, depth):
    """Metadata is echoed: a value nested too deep to encode would fail after the write."""
    body = {
        "target": "x",
        "files": [{"name": "a.txt", "base64": "", "sha256": EMPTY_SHA}],
        "metadata": {"note": "@"},
    }
    raw = json.dumps(body).replace('"@"', deep(depth))
    response = await jp_fetch("deardiary", "restore", method="POST", body=raw, raise_error=False)
    assert response.code == 400
    assert "'metadata' must be an object of" in json.loads(response.body)["message"]
    assert not (jp_root_dir / "x").exists()


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udcff"])
@pytest.mark.parametrize("where", ["name", "target"])
async def test_restore_lone_surrogate(jp_fetch, jp_root_dir, surrogate, where):
    name, target = ("a" + surrogate, "x") if where == "name" else ("a.txt", "x" + surrogate)
    body = {"target": target, "files": [{"name": name, "base64": "", "sha256": EMPTY_SHA}]}
    response = await jp_fetch(
        "deardiary", "restore", method="POST", body=json.dumps(body), raise_error=False
    )
    assert response.code == 400
    answer = json.loads(response.body)
    assert answer["error"] == ("bad_name" if where == "name" else "bad_path")
    assert f"a lone surrogate (U+{ord(surrogate):04X})" in answer["message"]
    assert os.listdir(jp_root_dir) == []


async def test_worktree_lone_surrogate(jp_fetch, jp_root_dir):
    make_repo(jp_root_dir / "proj")
    sha = "0" * 40
    for path, target in (("proj", "x\udcff"), ("p\ud800", "x")):
        body = {"path": path, "target": target, "sha": sha}
        response = await jp_fetch(
            "deardiary", "worktree", method="POST", body=json.dumps(body), raise_error=False
        )
        assert response.code == 400, response.body
        assert "lone surrogate" in json.loads(response.body)["message"]
    assert sorted(os.listdir(jp_root_dir)) == ["proj"]


@pytest.mark.parametrize("target", ["a.txt/sub", "a.txt/sub/deeper", "dir/a.txt/sub"])
async def test_restore_below_a_file(jp_fetch, jp_root_dir, target):
    file = write(jp_root_dir / target.split("/sub")[0], "keep")
    body = {"target": target, "files": [{"name": "b.txt", "base64": "", "sha256": EMPTY_SHA}]}
    response = await jp_fetch(
        "deardiary", "restore", method="POST", body=json.dumps(body), raise_error=False
    )
    assert response.code == 409
    answer = json.loads(response.body)
    assert answer["error"] == "not_a_folder"
    shown = os.path.relpath(file, jp_root_dir)
    assert answer["message"] == (
        f"{shown!r} exists and is not a folder, so {target!r} cannot be made."
    )
    assert file.read_text() == "keep"
