"""Benchmark GET /deardiary/git on a 20,000-file repository through a real jupyter server.

    python bench/bench_git.py [--dir DIR] [--files 20000] [--modified 50] [--calls 50]

Builds the repository (in a temp dir unless --dir is given), starts `jupyter server` with
the extension on a free port, times the endpoint over HTTP on the clean repository and
after modifying files (then staging some, then changing some staged ones again), times
plain `git status --porcelain` on the same repository, and prints one block. Endpoint calls
and `git status` runs alternate, so that background load affects both alike. Targets:
median < 300 ms on the dirty repository, and at most 1.5x plain git status. The server is
always stopped on exit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def file_path(i: int) -> str:
    return f"pkg{i // 1000:02d}/sub{(i // 100) % 10}/file{i:05d}.txt"


def build_repo(repo: Path, count: int) -> None:
    for i in range(count):
        path = repo / file_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"file {i} line {n}\n" for n in range(8)))
    (repo / "analysis.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "20,000 files")
    settle(repo)


def settle(repo: Path) -> None:
    """Let the index be refreshed once, as it would be on any working copy in use."""
    time.sleep(1.1)  # so that no entry is "racily clean"
    git(repo, "status", "--porcelain")


def modify(repo: Path, count: int, total: int) -> list[str]:
    step = max(1, total // count)
    paths = [file_path(i) for i in range(0, step * count, step)]
    for p in paths:
        with open(repo / p, "a") as f:
            f.write("an edit\n")
    settle(repo)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`jupyter server` with the extension, in a subprocess."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        config = workdir / "bench_server_config.py"
        config.write_text(
            "c.ServerApp.jpserver_extensions = {'jupyterlab_deardiary': True}\n"
            f"c.ServerApp.root_dir = {str(root)!r}\n"
            f"c.ServerApp.port = {self.port}\n"
            "c.ServerApp.port_retries = 0\n"
            "c.ServerApp.ip = '127.0.0.1'\n"
            "c.ServerApp.open_browser = False\n"
            "c.ServerApp.allow_root = True\n"
            f"c.IdentityProvider.token = {self.token!r}\n"
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={config}"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter server exited ({self.proc.returncode}); see {self.log.name}"
                )
            try:
                if self.get("/api/status")[0] == 200:
                    return
            except OSError:
                self.conn.close()
                time.sleep(0.2)
        raise RuntimeError("jupyter server did not start in time")

    def get(self, url: str) -> tuple[int, bytes]:
        self.conn.request("GET", url, headers={"Authorization": f"token {self.token}"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def stop(self) -> None:
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def interleaved(fn, baseline, n: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``n`` calls of ``fn`` and of ``baseline``, alternating (after two
    warm-up calls each), so that background load affects both alike."""
    for _ in range(2):
        fn()
        baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for f, out in ((fn, times[0]), (baseline, times[1])):
            start = time.perf_counter()
            f()
            out.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temp dir (removed)")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--modified", type=int, default=50)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    # SIGTERM too must reach the `finally` that stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load = os.getloadavg()
    workdir = args.dir.resolve() if args.dir else Path(tempfile.mkdtemp(prefix="deardiary-bench-"))
    root = workdir / "root"
    repo = root / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    server = None
    try:
        t0 = time.perf_counter()
        build_repo(repo, args.files)
        build_s = time.perf_counter() - t0
        server = Server(root, workdir)
        url = "/deardiary/git?path=repo/analysis.ipynb"

        def call(expect_dirty: bool) -> None:
            status, body = server.get(url)
            info = json.loads(body)
            if status != 200 or info["dirty"] is not expect_dirty:
                raise RuntimeError(f"unexpected answer {status}: {body[:300]!r}")

        def plain_status() -> None:
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=repo, stdout=subprocess.DEVNULL, check=True
            )

        version, _ = interleaved(lambda: server.get("/deardiary/version"), lambda: None, args.calls)
        clean, status_clean = interleaved(lambda: call(False), plain_status, args.calls)
        changed = modify(repo, args.modified, args.files)
        dirty, status_dirty = interleaved(lambda: call(True), plain_status, args.calls)
        _, body = server.get(url)
        info = json.loads(body)
        # A fifth of the changes staged, then a quarter of those changed again (git
        # status's "M " and "MM"): both columns differ.
        staged = changed[: max(1, len(changed) // 5)]
        git(repo, "add", *staged)
        settle(repo)
        staged_t, status_staged = interleaved(lambda: call(True), plain_status, args.calls)
        for p in staged[: max(1, len(staged) // 4)]:
            with open(repo / p, "a") as f:
                f.write("after staging\n")
        settle(repo)
        both_t, status_both = interleaved(lambda: call(True), plain_status, args.calls)
    finally:
        if server is not None:
            server.stop()
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)

    med = statistics.median
    ratio_clean = med(clean) / med(status_clean)
    ratio_dirty = med(dirty) / med(status_dirty)
    ratio_staged = med(staged_t) / med(status_staged)
    ratio_both = med(both_t) / med(status_both)
    worst = max(ratio_clean, ratio_dirty, ratio_staged, ratio_both)
    ok = lambda good: "OK" if good else "MISSED"  # noqa: E731
    print(
        f"""
GET /deardiary/git on a {args.files:,}-file repository ({os.cpu_count()} CPUs, git {git_version()})
  repository built and committed in {build_s:.1f} s; load average before the run {load[0]:.2f}
  {args.calls} endpoint calls per state over HTTP to a real jupyter server, each followed by
  one plain `git status --porcelain` on the same repository (interleaved, same conditions)
                                    median      p95
  endpoint, clean                 {med(clean):7.1f} ms {p95(clean):7.1f} ms
  {f"endpoint, {args.modified} files modified":31} {med(dirty):7.1f} ms {p95(dirty):7.1f} ms
  {f"endpoint, {len(staged)} of them staged":31} {med(staged_t):7.1f} ms {p95(staged_t):7.1f} ms
  endpoint, and changed again     {med(both_t):7.1f} ms {p95(both_t):7.1f} ms
  git status --porcelain, clean   {med(status_clean):7.1f} ms {p95(status_clean):7.1f} ms
  git status --porcelain, dirty   {med(status_dirty):7.1f} ms {p95(status_dirty):7.1f} ms
  git status --porcelain, staged  {med(status_staged):7.1f} ms {p95(status_staged):7.1f} ms
  git status --porcelain, again   {med(status_both):7.1f} ms {p95(status_both):7.1f} ms
  HTTP round trip (/version)      {med(version):7.1f} ms
  ratio endpoint / git status     clean {ratio_clean:.2f}x   dirty {ratio_dirty:.2f}x   \
staged {ratio_staged:.2f}x   changed again {ratio_both:.2f}x
  dirty answer: {len(info["dirty_files"])} dirty files, patch {info["patch_bytes"]:,} bytes
  target: median < 300 ms (dirty) .......... {ok(med(dirty) < 300)}
  target: <= 1.5x git status (dirty) ....... {ok(ratio_dirty <= 1.5)}
  target: <= 1.5x git status (every state) . {ok(worst <= 1.5)}
""".rstrip()
    )
    return 0


def git_version() -> str:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


if __name__ == "__main__":
    sys.exit(main())
