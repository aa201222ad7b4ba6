"""The git endpoint's changes against real `git status` and `git diff HEAD`.

The endpoint runs one `git status` (porcelain v2) on its copy of the index, then `git diff
HEAD` of the changed tracked paths only when there are some. Each case here builds a
repository state, asks the endpoint, and compares its answer with what git's own status
and diff print afterwards, checks which git commands it ran, and that the repository's
index file was not touched.

The oracle reads git's status in another format than the product does (porcelain v1, with
its own few-line parser here; the product parses porcelain v2 in git.parse_status), and
HEAD and the branch with rev-parse and symbolic-ref: a bug in the product's parser cannot
agree with itself.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from jupyterlab_deardiary import git as gitmodule
from jupyterlab_deardiary.git import DIFF_ARGS, Git

from .utils import GIT, GIT_ENV, fetch_json, git, make_repo, tree_state, write

FILES = {
    "a.txt": "a\n" * 5,
    "b.txt": "b\n" * 5,
    "c.txt": "c\n" * 5,
    "bin.dat": b"\x00\x01\x02" * 10,
    "notebook.ipynb": "{}\n",
}


def _touch(path: Path) -> None:
    os.utime(path, (1, 1))


def modified(r):
    write(r / "a.txt", "changed\n")


def staged(r, name="a.txt"):
    write(r / name, "changed\n")
    git(r, "add", name)


def staged_then_modified(r, name="a.txt"):
    staged(r, name)
    write(r / name, "changed again\n")


def staged_then_reverted(r):
    staged(r)
    write(r / "a.txt", FILES["a.txt"])


def staged_then_touched(r):
    staged(r)
    _touch(r / "a.txt")


def touched_only(r):
    _touch(r / "a.txt")
    _touch(r / "bin.dat")


def touched_with_a_split_index(r):
    git(r, "config", "core.splitIndex", "true")
    git(r, "config", "splitIndex.maxPercentChange", "0")  # every write makes a new shared part
    git(r, "update-index", "--split-index")
    touched_only(r)
    modified(r)


def added(r):
    staged(r, "new.txt")


def added_then_modified(r):
    staged_then_modified(r, "new.txt")


def added_then_deleted(r):
    added(r)
    (r / "new.txt").unlink()


def deleted(r):
    (r / "a.txt").unlink()


def removed(r):
    git(r, "rm", "-q", "a.txt")


def removed_from_index_only(r):
    git(r, "rm", "-q", "--cached", "a.txt")


def executable(r):
    os.chmod(r / "a.txt", 0o755)


def executable_staged_then_reverted(r):
    executable(r)
    git(r, "add", "a.txt")
    os.chmod(r / "a.txt", 0o644)


def type_change(r):
    (r / "a.txt").unlink()
    os.symlink("b.txt", r / "a.txt")


def type_change_staged(r):
    type_change(r)
    git(r, "add", "a.txt")


def intent_to_add(r):
    write(r / "new.txt", "new\n")
    git(r, "add", "-N", "new.txt")


def binary(r):
    write(r / "bin.dat", b"\x00\x09" * 10)


def binary_odd_names(r):
    for name in ('bin\tary "caf\u00e9".dat', "new binary.dat"):
        write(r / name, b"\x00\x01")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "binary odd names")
    write(r / 'bin\tary "caf\u00e9".dat', b"\x00\x02")
    (r / "new binary.dat").unlink()
    write(r / "added binary.dat", b"\x00\x03")
    git(r, "add", "added binary.dat")
    binary(r)


def odd_names(r):
    for name in ("with space.txt", "caf\u00e9.txt", "tab\there.txt", 'quote".txt'):
        write(r / name, "x\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "odd names")
    for name in ("with space.txt", "caf\u00e9.txt", "tab\there.txt", 'quote".txt'):
        write(r / name, "y\n")


def everything_but_pairs(r):
    staged_then_modified(r)
    write(r / "b.txt", "b\n")
    write(r / "new.txt", "new\n")
    git(r, "add", "new.txt")
    binary(r)
    _touch(r / "c.txt")
    write(r / "untracked.txt", "u\n")


def detached_and_modified(r):
    write(r / "c.txt", "second\n")
    git(r, "commit", "-q", "-am", "second")
    git(r, "checkout", "-q", "--detach", "HEAD~1")
    modified(r)


def renamed(r):
    git(r, "mv", "a.txt", "moved.txt")


def renamed_without_rename_detection(r):
    git(r, "config", "diff.renames", "false")
    renamed(r)


def copied_with_copy_detection(r):
    git(r, "config", "status.renames", "copies")
    write(r / "copy.txt", FILES["a.txt"])
    write(r / "a.txt", FILES["a.txt"] + "more\n")
    git(r, "add", "-A")


def conflict(r):
    git(r, "checkout", "-q", "-b", "other")
    write(r / "a.txt", "theirs\n")
    git(r, "commit", "-q", "-am", "theirs")
    git(r, "checkout", "-q", "main")
    write(r / "a.txt", "ours\n")
    git(r, "commit", "-q", "-am", "ours")
    subprocess.run(
        [GIT, "merge", "-q", "other"],
        cwd=r,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=False,
    )


CASES = [
    modified,
    staged,
    staged_then_modified,
    staged_then_reverted,
    staged_then_touched,
    touched_only,
    touched_with_a_split_index,
    added,
    added_then_modified,
    added_then_deleted,
    deleted,
    removed,
    removed_from_index_only,
    executable,
    executable_staged_then_reverted,
    type_change,
    type_change_staged,
    intent_to_add,
    binary,
    binary_odd_names,
    odd_names,
    everything_but_pairs,
    detached_and_modified,
    renamed_without_rename_detection,
    renamed,
    copied_with_copy_detection,
    conflict,
]

# The endpoint's patch is `git diff HEAD` with its flags.
PATCH_ARGS = DIFF_ARGS

# Porcelain XY of an unmerged path (git-status(1), "Short Format").
UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


def _out(repo: Path, env: dict, *args: str, check: bool = True) -> bytes:
    return subprocess.run(
        [GIT, *args], cwd=repo, env=env, capture_output=True, check=check
    ).stdout


def oracle_status(repo: Path, env: dict) -> tuple[list[dict], list[str], str | None, str | None]:
    """(tracked changes as the endpoint lists them, untracked entries, HEAD's sha, branch),
    from `git status --porcelain=v1 -z` ("XY path\0", a rename or copy adds "origin\0"),
    `git rev-parse` and `git symbolic-ref`: none of the product's parsing."""
    gitlinks = {
        line.split(b"\t", 1)[1]
        for line in _out(repo, env, "ls-files", "--stage", "-z").split(b"\0")
        if line.startswith(b"160000 ")
    }
    tokens = iter(_out(repo, env, "status", "--porcelain=v1", "-z").split(b"\0"))
    files, untracked = [], []
    for entry in tokens:
        if not entry:
            continue  # after the last NUL
        xy, path = entry[:2].decode(), entry[3:]
        if xy == "??":
            untracked.append(path.decode("utf-8", "replace"))
            continue
        origin = next(tokens) if "R" in xy or "C" in xy else None
        files.append(
            {
                "path": path.decode("utf-8", "replace"),
                "status": "U" if xy in UNMERGED else xy.strip()[0],
                "xy": xy,
                "orig_path": origin.decode("utf-8", "replace") if origin is not None else None,
                "submodule": path in gitlinks,
            }
        )
    head = _out(repo, env, "rev-parse", "-q", "--verify", "HEAD", check=False).decode().strip()
    branch = _out(repo, env, "symbolic-ref", "-q", "--short", "HEAD", check=False).decode().strip()
    return files, untracked, head or None, branch or None


def _subcommand(args: list[str]) -> str:
    it = iter(args)
    for a in it:
        if a in ("-c", "--git-dir"):
            next(it)
        elif not a.startswith("-"):
            return a
    return ""


async def _check_against_git(
    jp_fetch, monkeypatch, repo: Path, first: bool = True
) -> tuple[list[str], list[dict]]:
    """Ask the endpoint, check its answer against git's own, and (on a ``first`` call) the
    git commands it ran: one status, and one diff only when there are tracked changes.
    Returns those commands and the tracked changes."""
    ran: list[str] = []
    original = Git.run

    async def spy(self, args, *rest, **kwargs):
        ran.append(_subcommand(args))
        return await original(self, args, *rest, **kwargs)

    monkeypatch.setattr(Git, "run", spy)
    before = tree_state(repo / ".git")

    code, body = await fetch_json(jp_fetch, "deardiary", "git", params={"path": repo.name})
    assert code == 200, body
    # nothing under .git changed, not even a time: the index was neither refreshed nor
    # rewritten, a split index's shared part not freshened (as any git that reads it does)
    assert tree_state(repo / ".git") == before

    env = {**os.environ, **GIT_ENV, "GIT_OPTIONAL_LOCKS": "0"}
    files, untracked, head_sha, branch = oracle_status(repo, env)
    tracked = [f for f in body["dirty_files"] if f["status"] != "??"]
    assert tracked == files
    assert [f["path"] for f in body["dirty_files"] if f["status"] == "??"] == untracked
    assert body["untracked_count"] == len(untracked)
    assert body["dirty"] is bool(files)
    assert body["head_sha"] == head_sha
    assert body["branch"] == branch
    patch = subprocess.run(
        [GIT, *PATCH_ARGS], cwd=repo, env=env, capture_output=True, check=True
    ).stdout
    assert body["patch"] == patch.decode()
    numstat = _out(repo, env, "diff", "HEAD", "--numstat", "-z", "--no-renames")
    binary = [e.split(b"\t", 2)[2].decode() for e in numstat.split(b"\0") if e[:4] == b"-\t-\t"]
    assert body["binary_files"] == binary
    commands = [c for c in ran if c not in ("rev-parse", "config", "update-index")]
    if first:
        assert commands == (["status", "diff"] if files else ["status"])
    return commands, files


@pytest.mark.parametrize("state", CASES, ids=[c.__name__ for c in CASES])
async def test_changes_as_git_status_lists_them(jp_fetch, jp_root_dir, monkeypatch, state):
    repo = make_repo(jp_root_dir / "proj", FILES)
    state(repo)
    await _check_against_git(jp_fetch, monkeypatch, repo)


def _random_step(r: Path, rnd: random.Random) -> None:
    """One random change to one of a few files (some steps do not apply: git refuses)."""
    name = rnd.choice([f"d{i % 2}/f{i}.txt" for i in range(4)] + ["n0.txt"])
    path = r / name
    step = rnd.choice(
        ["write"] * 3 + ["add"] * 3 + ["copy", "rm", "rm --cached", "touch", "chmod", "add -N"]
    )
    if step == "write":
        write(path, rnd.choice(["x\n", "line\r\n", ""]) * rnd.randint(1, 3))
    elif step == "copy":  # another file's content: a rename or copy for status to pair
        write(path, (r / "d0" / "f0.txt").read_bytes() if (r / "d0" / "f0.txt").exists() else b"")
    elif step == "touch" and path.is_file():
        _touch(path)
    elif step == "chmod" and path.is_file():
        os.chmod(path, 0o755)
    elif step == "rm" and path.exists():
        path.unlink()
    elif step in ("add", "rm --cached", "add -N"):
        subprocess.run(
            [GIT, *step.split(), "--", name],
            cwd=r,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            check=False,
        )


@pytest.mark.parametrize("seed", range(30))
async def test_random_states_as_git_status_lists_them(jp_fetch, jp_root_dir, monkeypatch, seed):
    rnd = random.Random(seed)
    repo = make_repo(jp_root_dir / "proj", {f"d{i % 2}/f{i}.txt": f"{i}\n" * 5 for i in range(4)})
    if seed % 3 == 0:
        git(repo, "config", "status.renames", rnd.choice(["false", "copies"]))
    for _ in range(rnd.randint(2, 12)):
        _random_step(repo, rnd)
    await _check_against_git(jp_fetch, monkeypatch, repo)


@pytest.mark.parametrize("seed", range(12))
async def test_call_after_call_as_git_status_lists_them(jp_fetch, jp_root_dir, monkeypatch, seed):
    """Random steps, the endpoint asked after each: what it keeps between calls (the
    repository's facts, the index copy, the last patch) never answers for an older state.
    (Files count as settled at once here; the steps are a few clock ticks apart, so that
    each change shows in a ctime.)"""
    monkeypatch.setattr(gitmodule, "SETTLED_NS", 0)
    rnd = random.Random(seed)
    repo = make_repo(jp_root_dir / "proj", {f"d{i % 2}/f{i}.txt": f"{i}\n" * 5 for i in range(4)})
    kept_patches = 0
    for step in range(10):
        time.sleep(0.03)
        if step % 4 == 3:
            attributes = rnd.choice(["", "*.txt -diff\n", "d0/* diff=x\n"])
            write(repo / rnd.choice([".gitattributes", "d0/.gitattributes"]), attributes)
        else:
            _random_step(repo, rnd)
        time.sleep(0.03)
        for _ in range(2):
            commands, files = await _check_against_git(jp_fetch, monkeypatch, repo, first=False)
            kept_patches += bool(files) and commands == ["status"]
    assert kept_patches  # the last patch was the answer again, at times


async def test_linked_worktree_keeps_its_own_index(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "main", FILES)
    linked = jp_root_dir / "linked"
    git(repo, "worktree", "add", "-q", str(linked))
    write(linked / "a.txt", "changed in the linked worktree\n")
    _touch(linked / "b.txt")
    index = repo / ".git" / "worktrees" / "linked" / "index"
    before = index.read_bytes(), index.stat().st_mtime_ns
    code, body = await fetch_json(jp_fetch, "deardiary", "git", params={"path": "linked"})
    assert code == 200, body
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    assert [(f["path"], f["xy"]) for f in body["dirty_files"]] == [("a.txt", " M")]
    assert body["branch"] == "linked"
    assert "+changed in the linked worktree" in body["patch"]
