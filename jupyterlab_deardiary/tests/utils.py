"""Helpers shared by the tests: real git repositories, JSON requests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

GIT = shutil.which("git") or "git"  # looked up before any test empties PATH
GIT_ENV = {
    # The tests' own git ignores the machine's /etc/gitconfig (Debian's git-lfs package
    # defines filter.lfs there, and the oracles' git diff would then run git-lfs).
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git for test set-up (the test's HOME has an empty global config)."""
    return subprocess.run(
        [GIT, *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def script(path: Path, body: str) -> str:
    """An executable shell script (a program a repository's config could name)."""
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def make_repo(path: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """A repository with one commit of ``files`` on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"notebook.ipynb": "{}\n"}).items():
        write(path / name, content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


async def fetch_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """(status code, JSON body) of a request, without raising on HTTP errors."""
    response = await jp_fetch(*parts, raise_error=False, **kwargs)
    return response.code, json.loads(response.body)


def tree_state(path: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder below ``path`` (a .git folder, say): its bytes (None for a
    folder) and mtime, to tell that nothing was written there, not even a time."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            state[str(p.relative_to(path))] = (data, st.st_mtime_ns)
    state["."] = (None, path.lstat().st_mtime_ns)
    return state


def git_lfs_install() -> None:
    """git-lfs set up as usual (`git lfs install`) in the test's HOME, whose global config
    is the test's own. git-lfs must be installed (CI installs it): it is not skipped."""
    assert shutil.which("git-lfs"), "git-lfs is needed (apt-get install git-lfs)"
    git(Path(os.environ["HOME"]), "lfs", "install", "--skip-repo")


async def raw_request(
    port: int, request: str, headers: dict[str, str], body: bytes, chunked: bool
) -> tuple[int, bytes]:
    """(status, body bytes) of a request written by hand (HTTP clients refuse a body on GET)."""
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
    assert answer, "the connection was dropped without an answer"
    status, _, content = answer.partition(b"\r\n\r\n")
    return int(status.split()[1]), content
