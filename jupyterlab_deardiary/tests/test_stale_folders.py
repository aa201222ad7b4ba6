"""Issue 11: what interrupted writes leave is removed at start and before writing. The
store's writes leave nothing (SQLite's journal, an unnamed spool for uploads); the server's
temporary folders (a backup being downloaded, git's index copies) are removed by the next
server when a kill left them. Real jupyter_server processes, killed with SIGKILL, and
their own temporary folder (TMPDIR)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..store import STALE_AFTER
from .test_store_crash import OTHER_EXTENSIONS, free_port
from .utils import make_repo

TOKEN = "stale-folders-token"
SERVER = r"""
import sys
from jupyter_server.serverapp import ServerApp
port, root = sys.argv[1:3]
ServerApp.launch_instance(argv=[
    f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
    "--IdentityProvider.token=TOKEN", f"--ServerApp.root_dir={root}",
    "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
    "--ServerApp.log_level=CRITICAL",
])
""".replace("TOKEN", TOKEN)
HEADERS = {"Authorization": f"token {TOKEN}"}


class Server:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port), str(root)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "version")[0] == 200:
                    return
            except OSError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.05)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = self.connection()
        conn.request(method, f"/deardiary/{path}", body=body, headers=HEADERS)
        response = conn.getresponse()
        return response.status, response.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def start(tmp_path):
    """start() -> a real jupyter_server with this extension only, its temporary folder
    ``tmp_path / "tmp"``, its root ``tmp_path / "root"``."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {
            **{name: False for name in OTHER_EXTENSIONS}, "jupyterlab_deardiary": True,
        }}})
    )
    for name in ("tmp", "root", "runtime"):
        (tmp_path / name).mkdir()
    repo = str(Path(__file__).parents[2])
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path / "tmp"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    started: list[Server] = []

    def start() -> Server:
        started.append(Server(tmp_path / "root", env))
        return started[-1]

    yield start
    for server in started:
        if server.process.poll() is None:
            server.kill()


def age(folder: Path) -> None:
    """Make ``folder`` look as old as what a kill an hour ago left."""
    then = time.time() - 3600
    os.utime(folder, (then, then))


def upload(server: Server, data: bytes) -> None:
    status, body = server.request("PUT", f"blobs/{hashlib.sha256(data).hexdigest()}", data)
    assert status in (200, 201), body


def test_a_killed_server_leaves_nothing_the_next_one_keeps(tmp_path, start):
    tmp, root = tmp_path / "tmp", tmp_path / "root"
    make_repo(root / "proj", {"a.txt": "a\n"})
    (root / "proj" / "a.txt").write_text("changed\n")

    # A server that lives on: its folder (git's index copies) is never taken from it.
    live = start()
    assert live.request("GET", "git?path=proj")[0] == 200
    (live_folder,) = os.listdir(tmp)
    age(tmp / live_folder)

    killed = start()
    assert killed.request("GET", "git?path=proj")[0] == 200
    # A store large enough that its backup is still being sent when the server is killed.
    for i in range(4):
        upload(killed, os.urandom(8 << 20))
    backup = killed.connection()
    backup.request("GET", "/deardiary/store", headers=HEADERS)
    response = backup.getresponse()
    assert response.status == 200
    assert len(response.read(1 << 16)) == 1 << 16  # the rest waits in the server
    # An upload stopped halfway: its body is spooled where no name shows.
    upload_conn = killed.connection()
    upload_conn.putrequest("PUT", f"/deardiary/blobs/{'0' * 64}")
    upload_conn.putheader("Authorization", HEADERS["Authorization"])
    upload_conn.putheader("Content-Length", str(16 << 20))
    upload_conn.endheaders()
    upload_conn.send(os.urandom(4 << 20))
    time.sleep(0.5)
    left = sorted(set(os.listdir(tmp)) - {live_folder})
    assert [name.split("-")[1] for name in left] == ["backup", "git"], left
    killed.kill()
    for name in os.listdir(tmp):
        age(tmp / name)

    # What the kill left: the two folders (a whole store copy among them), nothing else.
    assert sorted(os.listdir(tmp)) == sorted([live_folder, *left])
    store_files = {"deardiary.sqlite", "deardiary.sqlite-shm", "deardiary.sqlite-wal"}
    assert set(os.listdir(root / ".deardiary")) - {".gitignore"} == store_files
    start()  # the next server removes what the killed one left, and only that
    assert os.listdir(tmp) == [live_folder]
    assert live.request("GET", "git?path=proj")[0] == 200
    assert os.listdir(tmp) == [live_folder]


def test_stale_folders_are_removed_before_a_new_one_is_made(tmp_path, start):
    """A folder a kill left after this server started goes when the server makes one."""
    tmp, root = tmp_path / "tmp", tmp_path / "root"
    server = start()
    upload(server, b"x")
    young = tmp / "deardiary-backup-young123"
    old = tmp / "deardiary-backup-abcd1234"
    other = tmp / "deardiary-backup-notours"  # not a name we make (9 characters)
    for folder in (young, old, other):
        folder.mkdir()
        (folder / "backup.sqlite").write_bytes(b"a store")
    age(old)
    age(other)
    status, body = server.request("GET", "store")
    assert status == 200 and body.startswith(b"SQLite format 3\0")
    # (the backup's own folder goes once the answer is sent: a moment after it is read)
    deadline = time.monotonic() + 10
    while len(os.listdir(tmp)) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(os.listdir(tmp)) == sorted([young.name, other.name])
    assert STALE_AFTER <= 3600  # (age() makes a folder stale)
