"""A real jupyter_server killed (-9) in the middle of adding runs, 20 times: the store opens
after each kill, passes integrity_check, every run is whole (its blobs reassemble and
check) or absent, and every run the server acknowledged is there. Two server processes
share one store.

Importing jupyter_server costs seconds here, so one launcher process imports it once and
forks a real server per round (each a process of its own, killed with SIGKILL).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from .. import blobs as blobs_module
from .test_db import manifest_bytes, record

OTHER_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "jupyter_server_terminals", "notebook_shim",
                    "notebook", "nbclassic", "jupyter_server_ydoc", "jupyter_collaboration")
ROUNDS = 20
#: What the writers' threads saw go wrong (a thread's exception would go unnoticed).
FAILURES: list[BaseException] = []
TOKEN = "crash-test-token"

LAUNCHER = r"""
import os, signal, sys
from jupyter_server.serverapp import ServerApp
import jupyterlab_deardiary.routes  # imported once, before the forks
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped at once
for line in sys.stdin:
    port, root = line.split(maxsplit=1)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        sys.stdin = open(os.devnull)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        ServerApp.launch_instance(argv=[
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root.strip()}", "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True", "--ServerApp.log_level=CRITICAL",
        ])
        os._exit(0)
    print(pid, flush=True)
""".replace("{TOKEN}", TOKEN)


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None):
    conn.request(method, f"/deardiary/{path}", body=body,
                 headers={"Authorization": f"token {TOKEN}"})
    response = conn.getresponse()
    return response.status, response.read()


def wait_ready(port: int, pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if request(conn, "GET", "version")[0] == 200:
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"the server {pid} did not start")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def writer(
    port: int, prefix: str, acknowledged: set[str], stop: threading.Event, count: int = 10**9
) -> None:
    """Add ``count`` runs, or until the server dies: upload each run's blobs, then post it."""
    man = manifest_bytes("medium")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = 0
        while not stop.is_set() and i < count:
            rec, blobs = record(
                f"{prefix}-{i}",
                notebook=f"n{i % 3}.ipynb",
                manifest=man if i % 2 else manifest_bytes("small"),
                notebook_bytes=os.urandom(2000) + f"run {prefix}-{i}".encode() * 2000,
                patch=f"diff {prefix} {i}\n".encode() * 50 if i % 3 == 0 else None,
            )
            for digest, data in blobs.items():
                status, _ = request(conn, "PUT", f"blobs/{digest}", data)
                assert status in (200, 201)
            status, body = request(conn, "POST", "runs", json.dumps(rec).encode())
            assert status in (200, 201), body
            acknowledged.add(rec["snapshot_id"])
            i += 1
    except (OSError, http.client.HTTPException):
        return  # the server was killed
    except AssertionError as e:  # an answer other than success: the test fails
        FAILURES.append(e)


def check_store(path: Path, acknowledged: set[str]) -> int:
    """The store opens, is intact, and each run is whole; returns how many runs it has."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {r[0] for r in db.execute("SELECT snapshot_id FROM iteration")}
        assert acknowledged <= stored, acknowledged - stored
        referenced = [
            r[0]
            for r in db.execute(
                """SELECT sha256 FROM iteration_file
                   UNION SELECT notebook_blob FROM iteration WHERE notebook_blob IS NOT NULL
                   UNION SELECT environment_sha256 FROM iteration
                   UNION SELECT patch_sha256 FROM iteration WHERE patch_sha256 IS NOT NULL"""
            )
        ]
        for sha in referenced:
            assert blobs_module.read_blob(db, sha) is not None, f"blob {sha} of a run is absent"
        for (sha,) in db.execute("SELECT sha256 FROM blob").fetchall():
            blobs_module.read_blob(db, sha)  # uploads too: whole, or absent
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        return len(stored)


@pytest.fixture
def servers(tmp_path):
    """start(root) -> (port, pid): a real jupyter_server with this extension, forked by a
    launcher that imported jupyter_server once."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {
            # only this extension: the others cost a second per start
            **{name: False for name in OTHER_EXTENSIONS}, "jupyterlab_deardiary": True,
        }}})
    )
    repo = str(Path(__file__).parents[2])
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=env, text=True,
    )
    assert launcher.stdin is not None and launcher.stdout is not None
    started: list[int] = []

    def start(root: Path) -> tuple[int, int]:
        port = free_port()
        launcher.stdin.write(f"{port} {root}\n")
        launcher.stdin.flush()
        pid = int(launcher.stdout.readline())
        started.append(pid)
        wait_ready(port, pid)
        return port, pid

    FAILURES.clear()
    yield start
    for pid in started:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    launcher.kill()
    launcher.wait()
    assert FAILURES == []


def test_killed_in_the_middle_of_adds(tmp_path, servers):
    root = tmp_path / "root"
    root.mkdir()
    store = root / ".deardiary" / "deardiary.sqlite"
    acknowledged: set[str] = set()
    rng = random.Random(13)
    counts = []
    for n in range(ROUNDS):
        port, pid = servers(root)
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(port, f"r{n}", acknowledged, stop))
        thread.start()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(pid, signal.SIGKILL)
        while not gone(pid):
            time.sleep(0.005)
        stop.set()
        thread.join(15)
        assert not thread.is_alive()
        counts.append(check_store(store, acknowledged))
    # runs were being added when the kills came (not only between them)
    assert counts[-1] >= ROUNDS and len(acknowledged) >= ROUNDS, counts
    assert len(set(counts)) > ROUNDS // 2


def test_two_servers_share_the_store(tmp_path, servers):
    """Two server processes on one root, two writers each, 50 runs per writer: every run
    stored once, numbered without gaps per notebook."""
    root = tmp_path / "root"
    root.mkdir()
    ports = [servers(root)[0] for _ in range(2)]
    acknowledged: set[str] = set()
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(ports[w % 2], f"w{w}", acknowledged, stop, 50))
        for w in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(acknowledged) == 200
    store = root / ".deardiary" / "deardiary.sqlite"
    assert check_store(store, acknowledged) == 200
    with closing(sqlite3.connect(store)) as db:
        for (notebook,) in db.execute("SELECT id FROM experiment").fetchall():
            numbers = [r[0] for r in db.execute(
                "SELECT number FROM iteration WHERE experiment_id = ? ORDER BY number", (notebook,)
            )]
            assert numbers == list(range(1, len(numbers) + 1))
        assert db.execute("SELECT count(*) FROM change_log").fetchone()[0] == 200
