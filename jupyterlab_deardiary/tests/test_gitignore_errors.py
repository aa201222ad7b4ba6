"""The store folder's .gitignore (checked with real git) and the messages of a store that
cannot be written (a real read-only or immutable folder, a path through a file)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from ..errors import unexpected_error
from ..gitignore import gitignore_text
from .test_db import post_run, record
from .utils import fetch_json, git, make_repo


@pytest.fixture
def repo_root(jp_root_dir: Path) -> Path:
    return make_repo(jp_root_dir, {"analysis.ipynb": "{}\n"})


def untracked(root: Path) -> list[str]:
    return git(root, "status", "--porcelain", "--untracked-files=all").splitlines()


async def test_store_folder_never_untracked(jp_fetch, repo_root):
    assert untracked(repo_root) == []
    await post_run(jp_fetch, *record())
    folder = repo_root / ".deardiary"
    assert (folder / "deardiary.sqlite").is_file()
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert untracked(repo_root) == []  # neither the store, its WAL nor the .gitignore
    # git sees the folder again once the file is gone: the .gitignore is what hides it
    (folder / ".gitignore").unlink()
    assert any(".deardiary/" in line for line in untracked(repo_root))


async def test_existing_gitignore_kept(jp_fetch, repo_root):
    folder = repo_root / ".deardiary"
    folder.mkdir()
    (folder / ".gitignore").write_text("!deardiary.sqlite\n")
    await post_run(jp_fetch, *record())
    code, _ = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 200
    assert (folder / ".gitignore").read_text() == "!deardiary.sqlite\n"


@pytest.mark.parametrize("deardiary_config", [{"version_store": True}])
async def test_version_store_opts_in(jp_fetch, repo_root):
    await post_run(jp_fetch, *record())
    await fetch_json(jp_fetch, "deardiary", "runs")
    assert not (repo_root / ".deardiary" / ".gitignore").exists()
    assert "?? .deardiary/deardiary.sqlite" in untracked(repo_root)


@pytest.mark.parametrize("deardiary_config", [{"store_path": "data/diary.sqlite"}])
async def test_own_folder_ignores_only_the_store(jp_fetch, repo_root):
    (repo_root / "data").mkdir()
    (repo_root / "data" / "results.csv").write_text("a,b\n")
    await post_run(jp_fetch, *record())
    await fetch_json(jp_fetch, "deardiary", "runs")
    assert (repo_root / "data" / ".gitignore").read_text() == gitignore_text(
        repo_root / "data", "diary.sqlite"
    )
    # the user's own file still shows; the store and its WAL do not
    assert sorted(untracked(repo_root)) == ["?? data/.gitignore", "?? data/results.csv"]


@pytest.mark.parametrize("deardiary_config", [{"store_path": "diary.sqlite"}])
async def test_never_a_gitignore_in_the_root(jp_fetch, repo_root):
    await post_run(jp_fetch, *record())
    await fetch_json(jp_fetch, "deardiary", "runs")
    assert not (repo_root / ".gitignore").exists()


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """Make ``folder`` unwritable for this process: chmod for a user, an immutable folder
    (chattr +i) for root, whom permission bits do not stop. Yields how."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "chmod"
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    made = chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True)
    if not made or made.returncode != 0:
        # No immutable folders here (no chattr, or no CAP_LINUX_IMMUTABLE in a container):
        # a file where the folder must be stops root as well.
        folder.rmdir()
        folder.write_text("not a folder")
        try:
            yield "file"
        finally:
            folder.unlink()
            folder.mkdir()
        return
    try:
        yield "chattr"
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True, capture_output=True)


async def test_unwritable_store_says_why(jp_fetch, jp_root_dir):
    rec, blobs = record()
    digest = next(iter(blobs))
    with unwritable(jp_root_dir / ".deardiary") as how:
        response = await jp_fetch(
            "deardiary", "blobs", digest, method="PUT", body=blobs[digest], raise_error=False
        )
    body = response.body.decode()
    assert response.code == 500, body
    reply = json.loads(body)
    assert reply["error"] == "store_not_writable"
    message = reply["message"]
    assert message.startswith("Cannot write the store at .deardiary/deardiary.sqlite: ")
    assert (
        ".deardiary is a file, not a folder" in message
        if how == "file"
        else "permission denied" in message or "not permitted" in message
    )
    assert "c.DearDiary.store_path" in message
    assert "Unexpected" not in message
    # nothing was lost: once writable, the same upload is stored
    response = await jp_fetch("deardiary", "blobs", digest, method="PUT", body=blobs[digest])
    assert response.code == 201


async def test_store_folder_is_a_file(jp_fetch, jp_root_dir):
    (jp_root_dir / ".deardiary").write_text("not a folder")
    rec, blobs = record()
    digest = next(iter(blobs))
    code, reply = await fetch_json(
        jp_fetch, "deardiary", "blobs", digest, method="PUT", body=blobs[digest]
    )
    assert code == 500, reply
    assert reply["error"] == "store_not_writable"
    assert reply["message"].startswith("Cannot write the store at .deardiary")
    assert ": .deardiary is a file, not a folder. " in reply["message"]
    assert "Move that file away" in reply["message"]
    assert (jp_root_dir / ".deardiary").read_text() == "not a folder"


def test_messages_name_the_cause(tmp_path):
    root = str(tmp_path)
    store = ".deardiary/deardiary.sqlite"
    full = os.path.join(root, store)
    full_disk = unexpected_error(OSError(errno.ENOSPC, "No space left on device", full), root, store)
    assert full_disk["message"].startswith(
        "Cannot write the store at .deardiary/deardiary.sqlite: the disk is full. Free some"
    )
    elsewhere = unexpected_error(
        PermissionError(errno.EACCES, "Permission denied", os.path.join(root, "x", "y.ipynb")),
        root,
        store,
    )
    assert elsewhere["error"] == "not_writable"
    assert elsewhere["message"].startswith("Cannot write x/y.ipynb: permission denied.")
    assert unexpected_error(ValueError("boom"), root, store) == {
        "error": "internal_error",
        "message": "Unexpected server error (see the server log).",
    }


async def test_a_read_says_read(jp_fetch, jp_root_dir):
    (jp_root_dir / ".deardiary").write_text("not a folder")
    code, reply = await fetch_json(jp_fetch, "deardiary", "runs")
    assert code == 500, reply
    assert reply["message"].startswith(
        "Cannot read the store at .deardiary/deardiary.sqlite: .deardiary is a file, not a folder."
    )
