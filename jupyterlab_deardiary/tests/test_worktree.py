"""POST /deardiary/worktree on real repositories: a run's code at its commit, patch applied."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from jupyter_server.utils import url_path_join

from .utils import GIT, GIT_ENV, fetch_json, git, git_lfs_install, make_repo, script, write

BLOB = bytes(range(256)) * 4


async def post_worktree(jp_fetch, **body):
    return await fetch_json(jp_fetch, "deardiary", "worktree", method="POST", body=json.dumps(body))


def worktrees(repo: Path) -> list[str]:
    """The paths `git worktree list` shows (the main worktree first)."""
    out = git(repo, "worktree", "list", "--porcelain")
    return [line[len("worktree ") :] for line in out.splitlines() if line.startswith("worktree ")]


def commit(repo: Path, files: dict[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        write(repo / name, content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (not .git) with its bytes."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            if name != ".git":
                path = Path(dirpath, name)
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


async def dirty_run(jp_fetch, repo: Path, rel: str, changes) -> tuple[str, dict]:
    """Make the changes, record the run's git state through GET /deardiary/git, then put
    the repository back at its HEAD. Returns (head sha, the git answer)."""
    changes(repo)
    code, state = await fetch_json(jp_fetch, "deardiary", "git", params={"path": rel})
    assert code == 200, state
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    return state["head_sha"], state


def change_everything(repo: Path) -> None:
    write(repo / "notebook.ipynb", '{"cells": ["changed"]}\r\n')
    write(repo / "src/code.jl", "f(x) = 2x\n# no newline at the end")
    (repo / "old.txt").unlink()
    write(repo / "added.txt", "brand new\n")
    git(repo, "add", "added.txt")


@pytest.fixture
def proj(jp_root_dir):
    return make_repo(
        jp_root_dir / "proj",
        {"notebook.ipynb": "{}\n", "src/code.jl": "f(x) = x\n", "old.txt": "old\n"},
    )


async def test_worktree_at_an_older_commit_with_its_patch(jp_fetch, jp_root_dir, proj):
    branches = git(proj, "branch", "--list")
    expected = None

    def changes(repo):
        nonlocal expected
        change_everything(repo)
        expected = tree(repo)

    sha, state = await dirty_run(jp_fetch, proj, "proj/notebook.ipynb", changes)
    commit(proj, {"src/code.jl": "f(x) = 3x\n", "later.txt": "later\n"}, "later")  # HEAD moves on

    code, body = await post_worktree(
        jp_fetch,
        path="proj/notebook.ipynb",
        target="runs/run-1/code",
        sha=sha,
        patch=state["patch"],
        patch_truncated=state["truncated"],
    )
    assert code == 200, body
    target = jp_root_dir / "runs" / "run-1" / "code"
    assert body == {
        "target": "runs/run-1/code",
        "target_abs": str(target),
        "toplevel": "proj",
        "sha": sha,
        "patch_applied": True,
        "patch_reason": None,
        "applied_files": ["added.txt", "notebook.ipynb", "old.txt", "src/code.jl"],
        "conflicts": [],
        "skipped_binary": [],
        "lfs_pointers": [],
    }
    assert tree(target) == expected  # byte for byte: CRLF, no final newline, added, deleted
    assert not (target / "old.txt").exists()
    assert git(target, "rev-parse", "HEAD").strip() == sha
    detached = subprocess.run([GIT, "symbolic-ref", "-q", "HEAD"], cwd=target, check=False)
    assert detached.returncode == 1
    assert git(proj, "branch", "--list") == branches  # detached: no branch was created
    assert worktrees(proj) == [str(proj), str(target)]
    # the worktree's own `git diff HEAD` is the stored patch again
    diff = subprocess.run(
        [GIT, "diff", "HEAD", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/"],
        cwd=target,
        capture_output=True,
        check=True,
    ).stdout
    assert diff == state["patch"].encode()


async def test_without_a_patch(jp_fetch, jp_root_dir, proj):
    first = git(proj, "rev-parse", "HEAD").strip()
    at_first = tree(proj)
    commit(proj, {"notebook.ipynb": '{"v": 2}\n'}, "second")
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=first)
    assert code == 200, body
    assert (body["patch_applied"], body["patch_reason"], body["applied_files"]) == (
        False,
        "empty",
        [],
    )
    assert tree(jp_root_dir / "code") == at_first


async def test_notebook_in_a_nested_folder(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "work" / "proj", {"a/b/nb.ipynb": "{}\n", "top.txt": "t\n"})

    def changes(repo):
        write(repo / "a/b/nb.ipynb", '{"changed": true}\n')

    sha, state = await dirty_run(jp_fetch, repo, "work/proj/a/b/nb.ipynb", changes)
    (jp_root_dir / "empty").mkdir()  # an existing empty folder is fine
    code, body = await post_worktree(
        jp_fetch, path="work/proj/a/b/nb.ipynb", target="empty", sha=sha, patch=state["patch"]
    )
    assert code == 200, body
    assert (body["toplevel"], body["applied_files"]) == ("work/proj", ["a/b/nb.ipynb"])
    target = jp_root_dir / "empty"
    assert (target / "a/b/nb.ipynb").read_text() == '{"changed": true}\n'
    assert (target / "top.txt").read_text() == "t\n"


async def test_conflicts_are_reported_per_file(jp_fetch, jp_root_dir, proj):
    first = git(proj, "rev-parse", "HEAD").strip()
    commit(proj, {"src/code.jl": "f(x) = 3x\n"}, "second")

    def changes(repo):  # a patch made against the second commit
        write(repo / "src/code.jl", "f(x) = 4x\n")
        write(repo / "notebook.ipynb", '{"applies": "anyway"}\n')

    _, state = await dirty_run(jp_fetch, proj, "proj", changes)
    code, body = await post_worktree(
        jp_fetch, path="proj", target="code", sha=first, patch=state["patch"]
    )
    assert code == 200, body
    assert (body["patch_applied"], body["patch_reason"]) == (False, "conflicts")
    assert body["applied_files"] == ["notebook.ipynb"]
    assert [c["path"] for c in body["conflicts"]] == ["src/code.jl"]
    assert "patch does not apply" in body["conflicts"][0]["message"]
    target = jp_root_dir / "code"
    assert (target / "src/code.jl").read_text() == "f(x) = x\n"  # stays at the commit
    assert (target / "notebook.ipynb").read_text() == '{"applies": "anyway"}\n'
    assert not list(target.rglob("*.rej"))
    assert worktrees(proj) == [str(proj), str(target)]


@pytest.mark.parametrize("deardiary_config", [{"patch_max_bytes": 4 * 1024 * 1024}])
async def test_large_patch(jp_fetch, jp_root_dir, proj):
    lines = "".join(f"line {i}\n" for i in range(100_000))

    def changes(repo):
        write(repo / "big.txt", lines)
        git(repo, "add", "big.txt")

    sha, state = await dirty_run(jp_fetch, proj, "proj", changes)
    assert len(state["patch"]) > 1_000_000 and not state["truncated"]
    code, body = await post_worktree(
        jp_fetch, path="proj", target="code", sha=sha, patch=state["patch"]
    )
    assert (code, body["applied_files"]) == (200, ["big.txt"]), body
    assert (jp_root_dir / "code/big.txt").read_text() == lines


async def test_truncated_patch_is_not_applied(jp_fetch, jp_root_dir, proj):
    at_head = tree(proj)
    sha, state = await dirty_run(jp_fetch, proj, "proj", change_everything)
    cut = state["patch"][: len(state["patch"]) // 2]
    code, body = await post_worktree(
        jp_fetch, path="proj", target="code", sha=sha, patch=cut, patch_truncated=True
    )
    assert code == 200, body
    assert (body["patch_applied"], body["patch_reason"], body["applied_files"]) == (
        False,
        "truncated",
        [],
    )
    assert tree(jp_root_dir / "code") == at_head


async def test_binary_files_are_skipped(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj", {"data.bin": BLOB, "text.txt": "a\n"})

    def changes(repo):
        write(repo / "data.bin", BLOB[::-1])
        write(repo / "text.txt", "b\n")

    sha, state = await dirty_run(jp_fetch, repo, "proj", changes)
    assert state["binary_files"] == ["data.bin"]
    code, body = await post_worktree(
        jp_fetch, path="proj", target="code", sha=sha, patch=state["patch"]
    )
    assert code == 200, body
    assert (body["patch_applied"], body["patch_reason"]) == (True, None)
    assert (body["applied_files"], body["skipped_binary"]) == (["text.txt"], ["data.bin"])
    assert (jp_root_dir / "code/data.bin").read_bytes() == BLOB  # at the commit
    assert (jp_root_dir / "code/text.txt").read_text() == "b\n"


async def test_sha256_repository(jp_fetch, jp_root_dir):
    repo = jp_root_dir / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256", "-b", "main")
    sha = commit(repo, {"nb.ipynb": "{}\n"}, "first")
    assert len(sha) == 64
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha.upper())
    assert code == 200, body
    assert body["sha"] == sha
    assert (jp_root_dir / "code/nb.ipynb").read_text() == "{}\n"


@pytest.mark.parametrize("sha", ["0" * 40, "0" * 64, "ab" * 32])
async def test_unknown_commit(jp_fetch, jp_root_dir, proj, sha):
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha)
    assert (code, body["error"]) == (409, "unknown_commit")
    assert "not in the repository at 'proj'" in body["message"]
    assert "fetch" in body["message"]
    assert not (jp_root_dir / "code").exists()
    assert worktrees(proj) == [str(proj)]


@pytest.mark.parametrize(
    "sha",
    ["abc123", "g" * 40, "HEAD", "--help", "0" * 39, "0" * 41, " " + "0" * 40, "0" * 40 + "\n", 7],
)
async def test_bad_sha(jp_fetch, jp_root_dir, proj, sha):
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha)
    assert (code, body["error"]) == (400, "bad_sha")
    assert not (jp_root_dir / "code").exists()
    assert worktrees(proj) == [str(proj)]


async def test_not_a_repository(jp_fetch, jp_root_dir):
    write(jp_root_dir / "plain" / "nb.ipynb", "{}")
    code, body = await post_worktree(jp_fetch, path="plain/nb.ipynb", target="code", sha="0" * 40)
    assert (code, body["error"]) == (409, "not_a_repository")
    assert "not inside a git repository" in body["message"]
    assert not (jp_root_dir / "code").exists()


async def test_target_not_empty(jp_fetch, jp_root_dir, proj):
    sha = git(proj, "rev-parse", "HEAD").strip()
    target = jp_root_dir / "code"
    for name in ("a", "b", "c", "d", "e", "f", ".hidden"):
        write(target / name, name)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in target.iterdir()}
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha)
    assert (code, body["error"]) == (409, "target_not_empty")
    assert body["entries"] == [".hidden", "a", "b", "c", "d"]
    assert "'code' is not empty" in body["message"]
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in target.iterdir()}
    assert after == before
    assert worktrees(proj) == [str(proj)]

    write(jp_root_dir / "afile", "x")
    code, body = await post_worktree(jp_fetch, path="proj", target="afile", sha=sha)
    assert (code, body["error"]) == (409, "not_a_folder")
    # an existing worktree is not empty either
    code, body = await post_worktree(jp_fetch, path="proj", target="proj", sha=sha)
    assert (code, body["error"]) == (409, "target_not_empty")


@pytest.mark.parametrize(
    "target",
    ["../escape", "ABSOLUTE", "a/../../escape", "link", "link/sub", "x\0y", "", "proj/.git/wt"],
)
async def test_target_outside_the_root(jp_fetch, jp_root_dir, tmp_path, proj, target):
    outside = tmp_path / "outside"
    outside.mkdir()
    (jp_root_dir / "link").symlink_to(outside)
    absolute = tmp_path / "absolute"
    target = str(absolute) if target == "ABSOLUTE" else target
    sha = git(proj, "rev-parse", "HEAD").strip()
    code, body = await post_worktree(jp_fetch, path="proj", target=target, sha=sha)
    assert code in (400, 403), body
    assert body["error"] in ("bad_path", "outside_root")
    assert os.listdir(outside) == []
    assert not (tmp_path / "escape").exists()
    assert not absolute.exists()
    assert not (proj / ".git" / "wt").exists()
    assert worktrees(proj) == [str(proj)]


@pytest.mark.parametrize("path", ["../x", "/etc", "link", "link/notebook.ipynb", "p\0x", 3])
async def test_path_outside_the_root(jp_fetch, jp_root_dir, tmp_path, path):
    outside = make_repo(tmp_path / "outside")
    (jp_root_dir / "link").symlink_to(outside)
    sha = git(outside, "rev-parse", "HEAD").strip()
    code, body = await post_worktree(jp_fetch, path=path, target="code", sha=sha)
    assert code in (400, 403), body
    assert body["error"] in ("bad_path", "outside_root")
    assert not (jp_root_dir / "code").exists()
    assert worktrees(outside) == [str(outside)]


@pytest.mark.parametrize(
    "bad", ["not a patch\n", "diff --git a/x b/x\n@@ -1 +1 @@\n-a\n+b\n", "--- a/x\n+++ b/x\n"]
)
async def test_malformed_patch_changes_nothing(jp_fetch, jp_root_dir, proj, bad):
    sha = git(proj, "rev-parse", "HEAD").strip()
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha, patch=bad)
    assert (code, body["error"]) == (400, "bad_patch")
    assert not (jp_root_dir / "code").exists()
    assert worktrees(proj) == [str(proj)]


async def test_unauthenticated(http_server_client, jp_base_url, jp_root_dir, proj):
    body = json.dumps(
        {"path": "proj", "target": "code", "sha": git(proj, "rev-parse", "HEAD").strip()}
    )
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "deardiary", "worktree"),
        method="POST",
        body=body,
        raise_error=False,
        follow_redirects=False,
    )
    assert response.code in (401, 403)
    assert not (jp_root_dir / "code").exists()
    assert worktrees(proj) == [str(proj)]


async def test_two_requests_for_one_target(jp_fetch, jp_root_dir, proj):
    sha = git(proj, "rev-parse", "HEAD").strip()
    answers = await asyncio.gather(
        *(post_worktree(jp_fetch, path="proj", target="code", sha=sha) for _ in range(2))
    )
    assert sorted(code for code, _ in answers) == [200, 409]
    assert worktrees(proj) == [str(proj), str(jp_root_dir / "code")]
    assert (jp_root_dir / "code" / "notebook.ipynb").read_text() == "{}\n"


async def test_no_hook_or_filter_driver_runs(jp_fetch, jp_root_dir, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    mark = lambda name: f'touch "{markers}/{name}"'  # noqa: E731
    repo = make_repo(
        jp_root_dir / "proj",
        {
            ".gitattributes": "*.txt filter=evil\n*.dat filter=evilproc\n*.wt filter=wtonly\n",
            "a.txt": "a\n",
            "p.dat": "p\n",
            "w.wt": "w\n",
        },
    )
    sha = git(repo, "rev-parse", "HEAD").strip()
    hook_names = ("post-checkout", "reference-transaction", "post-index-change", "post-commit")
    for hooks in (repo / ".git" / "hooks", tmp_path / "evil-hooks"):
        hooks.mkdir(exist_ok=True)
        for hook in hook_names:
            script(hooks / hook, mark("hook"))
    git(repo, "config", "core.hooksPath", str(tmp_path / "evil-hooks"))
    git(repo, "config", "core.fsmonitor", script(tmp_path / "fsm", mark("fsmonitor") + "\nexit 1"))
    smudge = script(tmp_path / "smudge", mark("smudge") + "\ncat")
    git(repo, "config", "filter.evil.smudge", smudge)
    git(repo, "config", "filter.evil.clean", script(tmp_path / "clean", mark("clean") + "\ncat"))
    git(repo, "config", "filter.evil.required", "true")
    process = script(tmp_path / "proc", mark("process") + "\ncat")
    git(repo, "config", "filter.evilproc.process", process)
    # config that only a linked worktree sees: read from inside the new worktree too
    write(repo / ".git" / "wt.cfg", f'[filter "wtonly"]\n\tsmudge = {tmp_path / "wtonly"}\n')
    script(tmp_path / "wtonly", mark("wtonly") + "\ncat")
    git(repo, "config", "includeIf.gitdir:**/worktrees/**.path", "wt.cfg")

    patch = (
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n"
        "@@ -1 +1 @@\n-a\n+a changed\n"
        "diff --git a/w.wt b/w.wt\n--- a/w.wt\n+++ b/w.wt\n@@ -1 +1 @@\n-w\n+w changed\n"
    )
    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha, patch=patch)
    assert code == 200, body
    assert body["applied_files"] == ["a.txt", "w.wt"]
    assert (jp_root_dir / "code/a.txt").read_text() == "a changed\n"
    assert (jp_root_dir / "code/p.dat").read_text() == "p\n"
    assert os.listdir(markers) == []

    # The same repository, given to plain git, does run them: the set-up is real.
    env = {**os.environ, **GIT_ENV}
    subprocess.run(
        [GIT, "worktree", "add", "--detach", str(tmp_path / "plain"), sha],
        cwd=repo,
        env=env,
        capture_output=True,
        check=False,
    )
    assert sorted(os.listdir(markers)) == ["fsmonitor", "hook", "process", "smudge", "wtonly"]


@pytest.mark.parametrize("existed", [False, True])
async def test_failure_midway_leaves_no_worktree(jp_fetch, jp_root_dir, proj, existed):
    # a blob the checkout cannot read, after `worktree add` (which reads no blob)
    sha = commit(proj, {"data.txt": "only in this commit\n"}, "data")
    blob = git(proj, "rev-parse", f"{sha}:data.txt").strip()
    os.unlink(proj / ".git" / "objects" / blob[:2] / blob[2:])
    if existed:
        (jp_root_dir / "runs" / "code").mkdir(parents=True)
    code, body = await post_worktree(jp_fetch, path="proj", target="runs/code", sha=sha)
    assert (code, body["error"]) == (500, "git_failed")
    assert "checkout" in body["message"]
    assert worktrees(proj) == [str(proj)]
    assert not (proj / ".git" / "worktrees").exists() or not os.listdir(proj / ".git/worktrees")
    if existed:
        assert os.listdir(jp_root_dir / "runs" / "code") == []
    else:
        assert not (jp_root_dir / "runs").exists()  # the parents made for it are gone too


@pytest.mark.parametrize("program", ["standalone_transfer_agent", "ssh_command"])
async def test_git_lfs_never_runs_a_program_the_repository_names(
    jp_fetch, jp_root_dir, tmp_path, program
):
    """git-lfs, installed as usual and trusted, never downloads here (a download runs
    programs the repository names): its files stay pointers, listed in the answer."""
    git_lfs_install()
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo(
        jp_root_dir / "proj",
        {".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "data.bin": "large\n"},
    )
    sha = git(repo, "rev-parse", "HEAD").strip()
    pointer = git(repo, "cat-file", "blob", f"{sha}:data.bin")
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1\n")
    shutil.rmtree(repo / ".git" / "lfs" / "objects")  # not downloaded (yet), as after a clone
    program_path = script(tmp_path / "program", f'touch "{markers}/{program}"\nexit 1')
    if program == "standalone_transfer_agent":
        git(repo, "config", "lfs.standalonetransferagent", "evil")
        git(repo, "config", "lfs.customtransfer.evil.path", program_path)
    else:
        git(repo, "config", "core.sshCommand", program_path)
        git(repo, "config", "lfs.url", "ssh://git@example.invalid/proj.git")

    code, body = await post_worktree(jp_fetch, path="proj", target="code", sha=sha)
    assert code == 200, body
    assert body["lfs_pointers"] == ["data.bin"]
    assert (jp_root_dir / "code" / "data.bin").read_text() == pointer
    assert os.listdir(markers) == []

    # Plain git (with the same git-lfs) does run it: the set-up is real.
    subprocess.run(
        [GIT, "worktree", "add", "--detach", str(tmp_path / "plain"), sha],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=False,
    )
    assert os.listdir(markers) == [program]
