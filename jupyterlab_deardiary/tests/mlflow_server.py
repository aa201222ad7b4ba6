"""A real `mlflow server` for the tests and the benchmark, and a small HTTP proxy in front
of it that checks Basic credentials (as MLflow's basic-auth app answers: 401 for unknown
credentials, 403 for a user without permission), counts the bytes clients send, and can
cut the connection of the n-th artifact upload (a push that fails halfway).

MLflow's own `--app-name basic-auth` needs Flask-WTF (`mlflow[auth]`) and a second slow
server start, so the credentials are checked by the proxy.
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """`mlflow server` with an SQLite backend store and artifacts served by it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        mlflow = Path(sys.executable).with_name("mlflow")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (kept open by the child)
        self.process = subprocess.Popen(
            [
                str(mlflow) if mlflow.exists() else "mlflow",
                "server",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--workers", "1",
                "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
                "--serve-artifacts",
                "--artifacts-destination", str(self.folder / "artifacts"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # its job runner (huey) doubles the start-up time and is not used here
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            start_new_session=True,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("mlflow server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def artifact_files(self) -> list[Path]:
        root = self.folder / "artifacts"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class Proxy:
    """An HTTP proxy in front of ``upstream`` (host, port)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.users: dict[str, str] | None = None  # user -> password; None: no check
        self.forbidden: set[str] = set()  # users whose requests are refused (403)
        self.fail_upload: int | None = None  # cut the n-th artifact PUT (1-based) from now
        self.uploads = 0
        self.bytes_in = 0
        self.requests = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # a response's headers and body are two writes: without this, each answer
            # waits for the client's delayed ACK (40 ms)
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        line = self.rfile.readline()
                        size = int(line.split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _any(self) -> None:
                body = self._body()
                sent = len(self.requestline) + 2 + len(bytes(self.headers)) + len(body)
                with proxy.lock:
                    proxy.bytes_in += sent
                    proxy.requests += 1
                if proxy.users is not None:
                    user, password = "", None
                    auth = self.headers.get("Authorization", "")
                    if auth.startswith("Basic "):
                        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if proxy.users.get(user) != password or password is None:
                        return self._answer(
                            401, b"You are not authenticated. Please see the documentation.",
                            {"WWW-Authenticate": 'Basic realm="mlflow"'},
                        )
                    if user in proxy.forbidden:
                        return self._answer(403, b"Permission denied")
                if self.command == "PUT" and "/mlflow-artifacts/" in self.path:
                    with proxy.lock:
                        proxy.uploads += 1
                        cut = proxy.fail_upload is not None and proxy.uploads >= proxy.fail_upload
                    if cut:  # the connection dies in the middle of the upload
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return None
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                conn.close()
                self._answer(r.status, data, {k: v for k, v in r.getheaders() if k.lower() not in HOP | {"content-length"}})
                return None

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.users, self.forbidden, self.fail_upload = None, set(), None
            self.uploads = self.bytes_in = self.requests = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
