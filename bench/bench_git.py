"""Benchmark GET /deardiary/git against plain `git status` and W&B's `wandb.init`.

    python bench/bench_git.py [--files 2000,20000,100000] [--calls 20] [--calls-large 7]
                              [--repeat 1] [--no-wandb] [--dir DIR] [--json FILE]

For each size, builds a repository (100 files a folder, a .gitignore holding `wandb/`),
and times, through one real `jupyter server` with the extension, these states:

  clean   nothing changed, the index fresh (as on any working copy in use)
  dirty   50 files modified, 10 of them staged (3 of those changed again), 2 untracked
  stale   the dirty state with every tracked file touched (same bytes, new mtime): the
          index no longer tells them unchanged. The first call, then the later ones.
  clone   a fresh `git clone` of the repository (up to a second's worth of its entries
          are as recent as its index: racily clean). The first call, then the later ones.

against, on the same repository in the same run:

  git status   plain `git status --porcelain`, as a user runs it (it rewrites the index
               when it refreshed something, so a stale index costs it once)
  W&B          `wandb.init(mode="offline", dir=<repository>,
               settings=wandb.Settings(save_code=True, console="off"))` in a long-lived
               Python (W&B's service is warm), timed to its return: it records the commit
               (`git rev-parse`, `git config`) and, with save_code, the patch
               (wandb-core runs `git diff HEAD --submodule=diff`, then
               `git rev-parse @{upstream}`). W&B lives in its own venv, made here
               (.cache/bench-wandb, `pip install wandb`): never a dependency of the project.

clean and dirty: the three alternate call by call (after two warm-up calls each), so that
background load affects them alike. stale: the files touched, a second passes, then the
endpoint's first call (it never writes the repository's index), git status's first call,
then their later calls alternate; then the files touched again for W&B's first and later
calls. clone: one clone, then the first calls of the endpoint, W&B (neither writes the
clone's index) and git status, then their later calls alternate. --repeat runs the states
again on the same repositories; the table shows medians over every round. The server is
always stopped.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
WANDB_VENV = REPO_ROOT / ".cache" / "bench-wandb" / "venv"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
MODIFIED, STAGED, CHANGED_AGAIN = 50, 10, 3
UNTRACKED = ["untracked.txt", "scratch/notes.txt"]  # listed as "untracked.txt", "scratch/"
NOTEBOOK = "analysis.ipynb"


def git(repo: Path, *args: str) -> None:
    out = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({out.returncode}): {out.stderr}")


def file_path(i: int) -> str:
    return f"pkg{i // 1000:02d}/sub{(i // 100) % 10}/file{i:05d}.txt"


def tracked_paths(count: int) -> list[str]:
    return [file_path(i) for i in range(count)] + [NOTEBOOK, ".gitignore"]


def build_repo(repo: Path, count: int) -> None:
    for i in range(count):
        path = repo / file_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"file {i} line {n}\n" for n in range(8)))
    (repo / NOTEBOOK).write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    )
    (repo / ".gitignore").write_text("wandb/\n")  # where W&B writes its runs
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{count:,} files")
    settle(repo)


def settle(repo: Path) -> None:
    """Let the index be refreshed once, as it would be on any working copy in use."""
    time.sleep(1.1)  # so that no entry is "racily clean"
    git(repo, "status", "--porcelain")


def make_dirty(repo: Path, count: int) -> None:
    step = max(1, count // MODIFIED)
    paths = [file_path(i) for i in range(0, step * MODIFIED, step)]
    for p in paths:
        with open(repo / p, "a") as f:
            f.write("an edit\n")
    git(repo, "add", *paths[:STAGED])
    for p in paths[:CHANGED_AGAIN]:
        with open(repo / p, "a") as f:
            f.write("after staging\n")
    for p in UNTRACKED:
        (repo / p).parent.mkdir(parents=True, exist_ok=True)
        (repo / p).write_text("not added\n")
    settle(repo)


def make_clean(repo: Path) -> None:
    git(repo, "reset", "-q", "--hard", "HEAD")
    git(repo, "clean", "-q", "-fd")  # not -x: W&B's runs stay (ignored)
    settle(repo)


def touch_all(repo: Path, count: int) -> None:
    """Every tracked file gets a new mtime (same bytes), as a build or `cp -a` does; then
    a second passes, as before anyone looks."""
    now = time.time()
    for p in tracked_paths(count):
        os.utime(repo / p, (now, now))
    time.sleep(1.1)


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
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
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


WANDB_CHILD = r"""
import json, os, sys, time
import wandb

print(json.dumps({"version": wandb.__version__}), flush=True)
for line in sys.stdin:
    folder = json.loads(line)["dir"]
    start = time.perf_counter()
    run = wandb.init(
        mode="offline",
        project="deardiary-bench",
        dir=folder,
        settings=wandb.Settings(save_code=True, console="off"),
    )
    ms = (time.perf_counter() - start) * 1000
    patch = os.path.join(run.dir, "diff.patch")
    answer = {
        "ms": ms,
        "commit": run.settings.git_commit,
        "patch": os.path.getsize(patch) if os.path.exists(patch) else 0,
    }
    run.finish()
    print(json.dumps(answer), flush=True)
"""


def wandb_python() -> Path:
    """The Python of the benchmark's own W&B venv, made (and wandb installed from PyPI) on
    first use."""
    python = WANDB_VENV / "bin" / "python"
    probe = [str(python), "-c", "import wandb"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"making {WANDB_VENV} with wandb from PyPI (once) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(WANDB_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "wandb"], check=True)
    return python


class WandB:
    """A long-lived Python of W&B's venv that runs wandb.init on request."""

    def __init__(self, warmup: Path, workdir: Path) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "PYTHON"))
        }
        env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_CONSOLE="off")
        self.proc = subprocess.Popen(
            [str(wandb_python()), "-c", WANDB_CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(workdir / "wandb.log", "wb"),  # noqa: SIM115
            cwd=workdir,
            env=env,
            text=True,
        )
        self.version = self._read()["version"]
        for _ in range(2):  # starts W&B's service
            self.init(warmup)

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the W&B process stopped; see wandb.log in the work folder")
        return json.loads(line)

    def init(self, repo: Path) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"dir": str(repo)}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class Bench:
    def __init__(self, server: Server, wandb: WandB | None, calls: int) -> None:
        self.server = server
        self.wandb = wandb
        self.calls = calls

    def tools(self, repo: Path, expect: dict[str, Any]) -> dict[str, Callable[[], Any]]:
        url = f"/deardiary/git?path={repo.name}/{NOTEBOOK}"

        def endpoint() -> None:
            status, body = self.server.get(url)
            info = json.loads(body)
            tracked = [f for f in info.get("dirty_files", ()) if f["status"] != "??"]
            got = {
                "dirty": info.get("dirty"),
                "tracked": len(tracked),
                "untracked": info.get("untracked_count"),
            }
            if status != 200 or got != expect:
                raise RuntimeError(f"unexpected answer {status} {got}: {body[:300]!r}")

        def git_status() -> None:
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=repo, stdout=subprocess.DEVNULL, check=True
            )

        found = {"endpoint": endpoint, "git status": git_status}
        if self.wandb is not None:
            wandb = self.wandb

            def wandb_init() -> None:
                answer = wandb.init(repo)
                if not answer["commit"] or bool(answer["patch"]) is not expect["dirty"]:
                    raise RuntimeError(f"W&B recorded no commit or no patch: {answer}")

            found["W&B"] = wandb_init
        return found

    def interleaved(self, repo: Path, expect: dict[str, Any]) -> dict[str, list[float]]:
        """Milliseconds of each tool's calls, alternating call by call, after 2 warm-ups."""
        tools = self.tools(repo, expect)
        for _ in range(2):
            for fn in tools.values():
                fn()
        times: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(self.calls):
            for name, fn in tools.items():
                times[name].append(timed(fn))
        return times

    def first_then_later(
        self,
        repo: Path,
        expect: dict[str, Any],
        groups: list[tuple[Callable[[], None] | None, list[str]]],
    ) -> dict[str, list[float]]:
        """For each group of tools: ``prepare`` (if any), then each tool's first call in
        turn (as "<tool> 1st"), then their later calls, alternating call by call (as
        "<tool>")."""
        tools = self.tools(repo, expect)
        times: dict[str, list[float]] = {}
        for prepare, names in groups:
            names = [n for n in names if n in tools]
            if not names:
                continue
            if prepare is not None:
                prepare()
            for name in names:
                times[f"{name} 1st"] = [timed(tools[name])]
            for _ in range(self.calls):
                for name in names:
                    times.setdefault(name, []).append(timed(tools[name]))
        return times


def measure_size(
    root: Path, server: Server, wandb: WandB | None, count: int, calls: int, rounds: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    repo = root / f"repo-{count}"
    clone = root / f"clone-{count}"
    facts: dict[str, Any] = {}
    t0 = time.perf_counter()
    build_repo(repo, count)
    facts["build_s"] = time.perf_counter() - t0
    bench = Bench(server, wandb, calls)
    clean = {"dirty": False, "tracked": 0, "untracked": 0}
    dirty = {"dirty": True, "tracked": MODIFIED, "untracked": len(UNTRACKED)}
    results: dict[str, dict[str, list[float]]] = {}

    def add(state: str, times: dict[str, list[float]]) -> None:
        for name, values in times.items():
            results.setdefault(state, {}).setdefault(name, []).extend(values)

    for r in range(rounds):
        if r:
            make_clean(repo)
        add("clean", bench.interleaved(repo, clean))
        make_dirty(repo, count)
        add("dirty", bench.interleaved(repo, dirty))
        touch = lambda: touch_all(repo, count)  # noqa: E731
        groups = [(touch, ["endpoint", "git status"]), (touch, ["W&B"])]
        add("stale", bench.first_then_later(repo, dirty, groups))
        t0 = time.perf_counter()
        git(root, "clone", "-q", repo.name, clone.name)
        facts["clone_s"] = time.perf_counter() - t0
        time.sleep(1.1)  # as before anyone opens the notebook
        first = [(None, ["endpoint", "W&B", "git status"])]
        add("clone", bench.first_then_later(clone, clean, first))
        shutil.rmtree(clone)
    _, body = server.get(f"/deardiary/git?path={repo.name}/{NOTEBOOK}")
    facts["patch_bytes"] = json.loads(body)["patch_bytes"]
    shutil.rmtree(repo)
    return results, facts


def med(values: list[float]) -> float:
    return statistics.median(values)


ROWS = [
    ("clean", "clean", ""),
    ("dirty", "dirty", ""),
    ("stale, 1st call", "stale", " 1st"),
    ("stale, later calls", "stale", ""),
    ("clone, 1st call", "clone", " 1st"),
    ("clone, later calls", "clone", ""),
]


def report(
    sizes: dict[int, tuple[dict[str, dict[str, list[float]]], dict[str, Any]]],
    extra: dict[str, Any],
) -> str:
    has_wandb = extra["wandb"] is not None
    lines = [
        "",
        f"GET /deardiary/git against `git status --porcelain`"
        + (f" and W&B {extra['wandb']} wandb.init" if has_wandb else "")
        + f" ({os.cpu_count()} CPUs, git {git_version()}; load average before: "
        f"{', '.join(f'{load[0]:.2f}' for load in extra['loads'])})",
        f"  medians in ms over {extra['rounds']} round(s) of {extra['calls']} calls a state "
        f"({extra['calls_large']} at 100,000+ files; a 1st call: one a round)",
        "  files    state                 endpoint  git status   ratio"
        + ("   W&B init  endpoint/W&B" if has_wandb else ""),
    ]
    ratio: dict[tuple[int, str], tuple[float, float | None, float, float | None]] = {}
    for count, (results, facts) in sizes.items():
        for label, state, suffix in ROWS:
            times = results[state]
            ours, theirs = med(times["endpoint" + suffix]), med(times["git status" + suffix])
            w = med(times["W&B" + suffix]) if has_wandb else None
            ratio[(count, label)] = (ours, w, ours / theirs, ours / w if w else None)
            line = f"  {count:>7,}  {label:20} {ours:8.1f}   {theirs:8.1f}  {ours / theirs:5.2f}x"
            if w is not None:
                line += f"   {w:8.1f}   {ours / w:10.2f}x"
            lines.append(line)
        lines.append(
            f"  {count:>7,}  built in {facts['build_s']:.1f} s, cloned in "
            f"{facts['clone_s']:.1f} s; dirty patch {facts['patch_bytes']:,} bytes"
        )
    lines.append(f"  HTTP round trip (GET /deardiary/version): {extra['http_ms']:.1f} ms")

    def check(text: str, good: bool, value: str) -> None:
        lines.append(f"  target: {text:.<58} {'OK' if good else 'MISSED'} ({value})")

    stale = ratio.get((20_000, "stale, later calls"))
    if stale:
        ours, _, to_status, _ = stale
        check("stale index, later calls <= 1.5x git status (20,000) ", to_status <= 1.5,
              f"{to_status:.2f}x")
        check("stale index, later calls <= 300 ms (20,000) ", ours <= 300, f"{ours:.0f} ms")
    dirty = ratio.get((20_000, "dirty"))
    if dirty and dirty[3] is not None:
        check("dirty 20,000: endpoint <= W&B init ", dirty[3] <= 1, f"{dirty[3]:.2f}x")
    for count, limit in ((2_000, 2.0), (100_000, 1.2)):
        got = [ratio[(count, label)][2] for label in ("clean", "dirty") if (count, label) in ratio]
        if got:
            check(f"{count:,} files: <= {limit}x git status (clean, dirty) ",
                  max(got) <= limit, " / ".join(f"{g:.2f}x" for g in got))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temp dir (removed)")
    parser.add_argument("--files", default="2000,20000,100000", help="sizes, comma-separated")
    parser.add_argument("--calls", type=int, default=20, help="calls a state and tool")
    parser.add_argument("--calls-large", type=int, default=7, help="the same at 100,000+ files")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the states a size")
    parser.add_argument("--no-wandb", action="store_true", help="leave W&B out")
    parser.add_argument("--json", type=Path, help="also write every timing to this file")
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="measure nothing: print the table of runs saved with --json, pooled",
    )
    args = parser.parse_args()
    if args.from_json:
        print(report(*pooled(args.from_json)))
        return 0
    # SIGTERM too must reach the `finally` that stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load = os.getloadavg()
    workdir = args.dir.resolve() if args.dir else Path(tempfile.mkdtemp(prefix="deardiary-bench-"))
    root = workdir / "root"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    server = wandb = None
    sizes = {}
    try:
        server = Server(root, workdir)
        warmup = root / "warmup"
        warmup.mkdir()
        build_repo(warmup, 10)
        if not args.no_wandb:
            wandb = WandB(warmup, workdir)
        http_ms = med([timed(lambda: server.get("/deardiary/version")) for _ in range(30)])
        for count in (int(n) for n in args.files.split(",")):
            calls = args.calls if count < 100_000 else args.calls_large
            sizes[count] = measure_size(root, server, wandb, count, calls, args.repeat)
    finally:
        if wandb is not None:
            wandb.stop()
        if server is not None:
            server.stop()
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
    extra = {
        "loads": [load],
        "http_ms": http_ms,
        "wandb": wandb.version if wandb else None,
        "rounds": args.repeat,
        "calls": args.calls,
        "calls_large": args.calls_large,
    }
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, **extra}, indent=1))
    print(report(sizes, extra))
    return 0


def pooled(files: list[Path]) -> tuple[dict[int, Any], dict[str, Any]]:
    """The timings of runs saved with --json, every call of every run together."""
    sizes: dict[int, Any] = {}
    extra: dict[str, Any] = {}
    for path in files:
        run = json.loads(path.read_text())
        for count, (results, facts) in run.pop("sizes").items():
            merged, _ = sizes.setdefault(int(count), ({}, facts))
            for state, tools in results.items():
                for tool, values in tools.items():
                    merged.setdefault(state, {}).setdefault(tool, []).extend(values)
        if not extra:
            extra = {**run, "rounds": 0, "loads": [], "http": []}
        extra["rounds"] += run["rounds"]
        extra["loads"] += run["loads"]
        extra["http"].append(run["http_ms"])
    extra["http_ms"] = med(extra["http"])
    return sizes, extra


def git_version() -> str:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


if __name__ == "__main__":
    sys.exit(main())
