"""GET /deardiary/git keeps its refreshed copy of a repository's index between calls, and
what `git rev-parse` and `git config` told of a folder while the files they read stay.

Evidence without timings: which git commands a call runs (a spy on Git.run), what git
itself reports through trace2 (``refresh/sum_scan``: entries whose files it re-hashed,
``write/cache_nr``: index files it wrote), and the kept copy's identity (inode, mtime).
Every test also checks that nothing under .git changed, not even a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path

import pytest

from jupyterlab_deardiary.git import Git

from .utils import GIT, GIT_ENV, fetch_json, git, make_repo, script, tree_state, write

FILES = {f"f{i:02d}.txt": f"file {i}\n" for i in range(20)}
PAST = time.time() - 1000  # a time no index was written at (so nothing is racily clean)


class Spy:
    """Records the git commands the server runs (and their index file), and has git write
    its trace2 events to a file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, trace: Path) -> None:
        self.trace = trace
        self.calls: list[tuple[list[str], str | None]] = []
        self.git: Git | None = None
        self.pause: asyncio.Event | None = None  # set: the next `git status` waits for it
        self.paused = asyncio.Event()
        original = Git.run
        spy = self

        async def run(self: Git, args: list[str], cwd: str, *rest, **kwargs):
            spy.git = self
            self._env["GIT_TRACE2_EVENT"] = str(trace)
            spy.calls.append((list(args), kwargs.get("index")))
            if spy.pause is not None and _subcommand(args) == "status":
                event, spy.pause = spy.pause, None
                spy.paused.set()
                await event.wait()
            return await original(self, args, cwd, *rest, **kwargs)

        monkeypatch.setattr(Git, "run", run)

    def reset(self) -> None:
        self.calls.clear()
        self.trace.write_bytes(b"")

    def ran(self, subcommand: str) -> int:
        """How many of the recorded commands were ``git <subcommand>``."""
        return sum(1 for args, _ in self.calls if _subcommand(args) == subcommand)

    def commands(self) -> list[str]:
        """The recorded commands' subcommands, in order."""
        return [_subcommand(args) for args, _ in self.calls]

    def events(self, key: str) -> list[int]:
        """The values git reported under a trace2 data ``key`` since the last reset."""
        if not self.trace.exists():
            return []
        values = []
        for line in self.trace.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "data" and event.get("key") == key:
                values.append(int(event["value"]))
        return values

    def rehashed(self) -> int:
        return sum(self.events("refresh/sum_scan"))

    def kept(self, repo: Path) -> Path:
        """The kept copy of ``repo``'s index file."""
        assert self.git is not None
        kept = self.git.cache.kept(str(repo / ".git" / "index"))
        assert kept is not None
        return Path(kept.index)


def _subcommand(args: list[str]) -> str:
    it = iter(args)
    for a in it:
        if a == "-c":
            next(it)
        elif not a.startswith("-"):
            return a
    return ""


def identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def settled_repo(path: Path) -> Path:
    """A repository whose index is fresh and holds no racily clean entry (its files dated
    before the index, as in a working copy in use), so that no call has a reason to refresh
    anything."""
    repo = make_repo(path, FILES)
    age(repo, PAST - 10)
    git(repo, "update-index", "--refresh")
    return repo


def age(repo: Path, when: float = PAST) -> None:
    """Give every tracked file another mtime, as a build or `cp -a` of the files would: the
    index then tells nothing about them (a stale index)."""
    for name in FILES:
        os.utime(repo / name, (when, when))


@pytest.fixture
def spy(monkeypatch, tmp_path) -> Spy:
    return Spy(monkeypatch, tmp_path / "trace2.json")


async def get_git(jp_fetch, path: str = "proj") -> dict:
    code, body = await fetch_json(jp_fetch, "deardiary", "git", params={"path": path})
    assert code == 200, body
    return body


def tracked(body: dict) -> dict[str, str]:
    return {f["path"]: f["xy"] for f in body["dirty_files"] if f["status"] != "??"}


async def test_a_stale_index_is_refreshed_by_the_first_call_only(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    age(repo)
    before = tree_state(repo / ".git")

    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert (spy.ran("status"), spy.ran("diff")) == (1, 0)
    assert spy.rehashed() == len(FILES)  # each aged file once, by status
    assert spy.events("write/cache_nr")  # which wrote the copy it refreshed
    kept = spy.kept(repo)
    assert not kept.is_relative_to(repo)
    first = identity(kept)

    for _ in range(2):
        spy.reset()
        assert tracked(await get_git(jp_fetch)) == {}
        assert spy.rehashed() == 0
        assert spy.events("write/cache_nr") == []  # no index written at all
        assert spy.kept(repo) == kept and identity(kept) == first
        assert {index for _, index in spy.calls} <= {None, str(kept)}
        assert [i for a, i in spy.calls if _subcommand(a) == "status"] == [str(kept)]
    assert tree_state(repo / ".git") == before


async def test_the_kept_copy_is_private_to_the_server(jp_fetch, jp_root_dir, spy):
    repo = make_repo(jp_root_dir / "proj", FILES)
    await get_git(jp_fetch)
    kept = spy.kept(repo)
    for folder in (kept.parent, kept.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.stat().st_uid == os.getuid()


async def test_a_new_index_makes_a_new_copy(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    await get_git(jp_fetch)
    kept = spy.kept(repo)

    write(repo / "f01.txt", "changed\n")
    git(repo, "add", "f01.txt")
    before = tree_state(repo / ".git")
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {"f01.txt": "M "}
    assert spy.kept(repo) != kept
    assert not kept.parent.exists()  # the replaced copy is removed
    assert tree_state(repo / ".git") == before


async def test_a_new_head_keeps_the_copy(jp_fetch, jp_root_dir, spy):
    """`git reset --soft` moves HEAD and leaves the index file alone: the copy still holds
    the index's entries, and status compares them with the new HEAD."""
    repo = make_repo(jp_root_dir / "proj", FILES)
    write(repo / "f01.txt", "second\n")
    git(repo, "commit", "-q", "-am", "second")
    assert tracked(await get_git(jp_fetch)) == {}
    kept = spy.kept(repo)
    index = identity(repo / ".git" / "index")

    git(repo, "reset", "-q", "--soft", "HEAD~1")
    assert identity(repo / ".git" / "index") == index
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {"f01.txt": "M "}
    assert spy.kept(repo) == kept

    git(repo, "checkout", "-q", "--detach")  # same commit, same entries: HEAD is detached
    body = await get_git(jp_fetch)
    assert (body["detached"], tracked(body)) == (True, {"f01.txt": "M "})


async def test_a_touched_file_is_hashed_again_once(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    await get_git(jp_fetch)
    kept = spy.kept(repo)
    before = tree_state(repo / ".git")

    os.utime(repo / "f03.txt", (PAST, PAST))  # same bytes, another time
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert spy.rehashed() == 1  # git refreshed the kept copy: that file only
    assert spy.kept(repo) == kept  # the same copy, rewritten by git
    rewritten = identity(kept)

    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert (spy.rehashed(), identity(kept)) == (0, rewritten)

    # Another content of the same size, given back the time the copy recorded: only the
    # ctime tells (git checks it, in seconds).
    _next_second()
    write(repo / "f03.txt", "file X\n")
    os.utime(repo / "f03.txt", (PAST, PAST))
    assert tracked(await get_git(jp_fetch)) == {"f03.txt": " M"}
    assert tree_state(repo / ".git") == before


async def test_files_all_touched_are_hashed_once(jp_fetch, jp_root_dir, spy):
    """After a build touched every file (the index file unchanged), the next call's status
    hashes each of them once and rewrites the kept copy: the later calls none (but the
    modified one, which git looks at again each time: its size tells it changed)."""
    repo = settled_repo(jp_root_dir / "proj")
    write(repo / "f09.txt", "modified\n")
    assert tracked(await get_git(jp_fetch)) == {"f09.txt": " M"}
    kept = spy.kept(repo)
    before = tree_state(repo / ".git")

    age(repo, PAST + 10)
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {"f09.txt": " M"}
    assert spy.ran("update-index") == 0
    # each file once (the modified one, its size changed, is counted too), then the copy
    # is written, once
    assert (spy.rehashed(), len(spy.events("write/cache_nr"))) == (len(FILES), 1)
    assert spy.kept(repo) == kept  # the same copy, rewritten by status

    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {"f09.txt": " M"}
    assert (spy.rehashed(), spy.events("write/cache_nr")) == (1, [])  # the modified one
    assert tree_state(repo / ".git") == before


async def test_a_racily_clean_entry_of_the_repository_is_checked(jp_fetch, jp_root_dir, spy):
    """An entry whose mtime is the index file's own (in seconds) may hide a change of the
    same size made in that second: git re-hashes it. The copies keep the index file's
    times, so git sees the same. (ctime is ignored here, so only the rule can tell.)"""
    repo = make_repo(jp_root_dir / "proj", FILES)
    git(repo, "config", "core.trustctime", "false")
    when = int(time.time()) - 100
    os.utime(repo / "f05.txt", (when, when))
    git(repo, "add", "f05.txt")
    os.utime(repo / ".git" / "index", (when + 0.5, when + 0.5))  # written in that second
    write(repo / "f05.txt", "file Y\n")  # same size
    os.utime(repo / "f05.txt", (when + 0.2, when + 0.2))
    before = tree_state(repo / ".git")
    env = {**os.environ, **GIT_ENV, "GIT_OPTIONAL_LOCKS": "0"}
    status = _status(repo, env)
    assert status == " M f05.txt\n"  # git's own answer

    for _ in range(3):
        assert tracked(await get_git(jp_fetch)) == {"f05.txt": " M"}
    assert tree_state(repo / ".git") == before


def _status(repo: Path, env: dict) -> str:
    import subprocess

    return subprocess.run(
        [GIT, "status", "--porcelain", "--untracked-files=no"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _next_second() -> None:
    time.sleep(1.02 - time.time() % 1)


async def test_a_file_changed_in_the_second_of_the_refresh_is_changed(
    jp_fetch, jp_root_dir, spy
):
    """The kept copy is refreshed, then a file changes within the same second keeping its
    size (its mtime and ctime, in seconds, as the copy recorded them). It must still be
    reported changed, on that call and on later ones, when the copy is rewritten in a later
    second (a copy that keeps times of ours, not git's, would call it unchanged)."""
    hit = 0
    for attempt in range(6):
        repo = make_repo(jp_root_dir / f"proj{attempt}", FILES)
        _next_second()
        write(repo / "f07.txt", FILES["f07.txt"])  # same bytes: the refresh records it
        spy.reset()
        assert tracked(await get_git(jp_fetch, repo.name)) == {}
        assert spy.rehashed() == 1
        copied = spy.kept(repo).stat()
        write(repo / "f07.txt", "file Z\n")
        changed = (repo / "f07.txt").stat()
        _next_second()
        for _ in range(3):
            assert tracked(await get_git(jp_fetch, repo.name)) == {"f07.txt": " M"}
        seconds = {int(copied.st_mtime), int(changed.st_mtime), int(changed.st_ctime)}
        if len(seconds) == 1:  # all in one second: only the racy rule could tell
            hit += 1
            if hit == 2:
                break
    assert hit >= 1, "never managed to change a file in the second of a refresh"


async def test_a_racily_clean_copy_is_rewritten_in_a_later_second(jp_fetch, jp_root_dir, spy):
    """After a clone, up to a second's worth of entries are as recent as the index: git
    would re-hash them on every call. The first call in a later second rewrites the copy
    (its status hashing them once more, as `git status` rewrites the repository's index),
    the next ones hash nothing."""
    repo = make_repo(jp_root_dir / "proj", FILES)
    _next_second()
    for name in FILES:
        write(repo / name, FILES[name])
    git(repo, "update-index", "--refresh")  # the index written in the files' second
    before = tree_state(repo / ".git")
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    kept = spy.kept(repo)
    if int(kept.stat().st_mtime) != int((repo / "f00.txt").stat().st_mtime):
        pytest.skip("the machine was too slow to stay within one second")
    _next_second()
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert spy.events("write/cache_nr")  # (git checks racily clean entries uncounted)
    assert spy.kept(repo) == kept
    assert int(kept.stat().st_mtime) > int((repo / "f00.txt").stat().st_mtime)
    written = identity(kept)
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert (spy.events("write/cache_nr"), spy.rehashed()) == ([], 0)
    assert (spy.kept(repo), identity(kept)) == (kept, written)
    assert tree_state(repo / ".git") == before


async def test_concurrent_calls_share_one_refresh(jp_fetch, jp_root_dir, spy):
    """Their statuses run one at a time: the later ones read the copy the first one
    refreshed."""
    repo = settled_repo(jp_root_dir / "proj")
    age(repo)
    write(repo / "f02.txt", "modified\n")
    before = tree_state(repo / ".git")
    spy.reset()
    bodies = await asyncio.gather(*(get_git(jp_fetch) for _ in range(4)))
    assert [tracked(b) for b in bodies] == [{"f02.txt": " M"}] * 4
    assert spy.ran("status") == 4
    # each file once, then the modified one by each later call (its size tells)
    assert spy.rehashed() == len(FILES) + 3
    assert len(spy.events("write/cache_nr")) == 1
    _same_entries(repo, spy.kept(repo))
    assert tree_state(repo / ".git") == before


async def test_a_call_reading_a_replaced_copy_never_writes_the_new_one(
    jp_fetch, jp_root_dir, spy
):
    """Call A reads the kept copy; meanwhile the index changes and call B makes a new
    copy; A's status then refreshes (rewrites) the copy it read, not B's."""
    repo = settled_repo(jp_root_dir / "proj")
    await get_git(jp_fetch)
    old = spy.kept(repo)
    os.utime(repo / "f04.txt", (PAST, PAST))  # A's status will refresh (rewrite) its copy
    spy.pause = asyncio.Event()
    resume = spy.pause
    a = asyncio.ensure_future(get_git(jp_fetch))
    await asyncio.wait_for(spy.paused.wait(), 30)

    write(repo / "f01.txt", "staged\n")
    git(repo, "add", "f01.txt")
    assert tracked(await get_git(jp_fetch)) == {"f01.txt": "M "}  # B
    new = spy.kept(repo)
    assert new != old
    new_identity = identity(new)
    spy.reset()
    resume.set()
    assert tracked(await a) in ({}, {"f01.txt": " M"})  # before or after the change
    assert spy.events("write/cache_nr")  # A's status did rewrite the copy it read
    assert identity(new) == new_identity
    assert not old.parent.exists()  # removed once A was done with it
    assert tracked(await get_git(jp_fetch)) == {"f01.txt": "M "}
    _same_entries(repo, new)


def _same_entries(repo: Path, kept: Path) -> None:
    """The kept copy holds the repository's entries (and git reads it whole)."""
    import subprocess

    env = {**os.environ, **GIT_ENV, "GIT_OPTIONAL_LOCKS": "0"}
    ours = subprocess.run(
        [GIT, "ls-files", "--stage", "-z"],
        cwd=repo,
        env={**env, "GIT_INDEX_FILE": str(kept)},
        capture_output=True,
        check=True,
    ).stdout
    theirs = subprocess.run(
        [GIT, "ls-files", "--stage", "-z"], cwd=repo, env=env, capture_output=True, check=True
    ).stdout
    assert ours == theirs


async def test_a_removed_copy_is_made_again(jp_fetch, jp_root_dir, spy):
    repo = make_repo(jp_root_dir / "proj", FILES)
    await get_git(jp_fetch)
    kept = spy.kept(repo)
    (kept.parent / "index").unlink()  # as a cleaner of temporary files might
    write(repo / "f06.txt", "changed\n")
    assert tracked(await get_git(jp_fetch)) == {"f06.txt": " M"}
    assert spy.kept(repo).exists()


@pytest.mark.parametrize("deardiary_config", [{"git_index_cache": 1}])
async def test_least_recently_used_copies_are_dropped(jp_fetch, jp_root_dir, spy):
    one = make_repo(jp_root_dir / "one", FILES)
    two = make_repo(jp_root_dir / "two", FILES)
    await get_git(jp_fetch, "one")
    kept = spy.kept(one)
    await get_git(jp_fetch, "two")
    assert not kept.parent.exists()
    assert spy.git is not None and spy.git.cache.kept(str(one / ".git" / "index")) is None
    spy.kept(two)


@pytest.mark.parametrize("deardiary_config", [{"git_index_cache": 0}])
async def test_no_kept_copies(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    age(repo)
    before = tree_state(repo / ".git")
    for _ in range(2):
        spy.reset()
        assert tracked(await get_git(jp_fetch)) == {}
        assert spy.ran("update-index") == 0
        assert spy.rehashed() == len(FILES)  # every call pays
    assert spy.git is not None and spy.git.cache.kept(str(repo / ".git" / "index")) is None
    assert tree_state(repo / ".git") == before


async def test_a_copy_removed_during_a_call_is_an_error_not_an_answer(
    jp_fetch, jp_root_dir, spy
):
    """Without its index file git would list every file as deleted: the call says to
    try again instead, and the next call makes a new copy."""
    repo = settled_repo(jp_root_dir / "proj")
    await get_git(jp_fetch)
    kept = spy.kept(repo)
    spy.pause = asyncio.Event()
    resume = spy.pause
    call = asyncio.ensure_future(
        fetch_json(jp_fetch, "deardiary", "git", params={"path": "proj"})
    )
    await asyncio.wait_for(spy.paused.wait(), 30)
    kept.unlink()
    resume.set()
    code, body = await call
    assert (code, body["error"]) == (503, "git_index_lost")
    assert tracked(await get_git(jp_fetch)) == {}
    assert spy.kept(repo) != kept


def _settle() -> None:
    """Let a second pass since the last config file was written (a file changed less than
    a second before it is read is read again on the next call)."""
    time.sleep(1.1)


async def test_an_unchanged_repository_costs_one_git_status(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    _settle()
    for _ in range(2):  # the first call learns which files to watch, the second keeps
        spy.reset()
        assert tracked(await get_git(jp_fetch)) == {}
        assert (spy.ran("rev-parse"), spy.commands()[-1]) == (1, "status")
    for _ in range(2):
        spy.reset()
        assert tracked(await get_git(jp_fetch)) == {}
        assert spy.commands() == ["status"]
    write(repo / "f01.txt", "changed\n")
    spy.reset()
    body = await get_git(jp_fetch)
    assert (tracked(body), spy.commands()) == ({"f01.txt": " M"}, ["status", "diff"])
    assert "+changed" in body["patch"]


@pytest.mark.parametrize("where", ["local", "global", "worktree", "included"])
async def test_a_filter_added_to_any_config_file_never_runs(
    jp_fetch, jp_root_dir, tmp_path, spy, where
):
    """Once a folder's facts are kept, a filter driver defined in any config file git reads
    (the repository's, the user's, the worktree's own, one included by another) is read,
    and neutralised, on the next call."""
    repo = settled_repo(jp_root_dir / "proj")
    if where == "worktree":
        git(repo, "config", "extensions.worktreeConfig", "true")
    if where == "included":
        git(repo, "config", "include.path", str(tmp_path / "included.cfg"))
        write(tmp_path / "included.cfg", "")
    write(repo / ".gitattributes", "*.txt filter=evil\n")
    _settle()
    for _ in range(2):
        assert tracked(await get_git(jp_fetch)) == {}
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    # kept, unless a config file includes another (which may name more)
    kept = where != "included"
    assert spy.commands() == (["status"] if kept else ["rev-parse", "config", "status"])
    marker = tmp_path / "ran"
    evil = script(tmp_path / "evil", f'touch "{marker}"\ncat')
    if where == "included":
        write(tmp_path / "included.cfg", f"[filter \"evil\"]\n\tclean = {evil}\n")
    else:
        git(repo, "config", f"--{where}", "filter.evil.clean", evil)
    age(repo, PAST + 20)  # every file is hashed: through the filter, were it not emptied
    spy.reset()
    assert tracked(await get_git(jp_fetch)) == {}
    assert spy.rehashed() == len(FILES)
    assert spy.ran("config") == 1
    assert not marker.exists()


async def test_a_repository_made_below_the_top_is_seen(jp_fetch, jp_root_dir, spy):
    repo = settled_repo(jp_root_dir / "proj")
    write(repo / "sub" / "notebook.ipynb", "{}\n")
    _settle()
    for _ in range(3):
        spy.reset()
        body = await get_git(jp_fetch, "proj/sub/notebook.ipynb")
        assert (body["toplevel"], body["untracked_count"]) == ("proj", 1)
    assert spy.commands() == ["status"]  # kept
    make_repo(repo / "sub")
    body = await get_git(jp_fetch, "proj/sub/notebook.ipynb")
    assert (body["toplevel"], body["untracked_count"]) == ("proj/sub", 0)


async def test_the_last_changed_paths_are_diffed_while_status_runs(jp_fetch, jp_root_dir, spy):
    """A call that found tracked changes leaves their paths: the next call diffs them while
    its status runs, and keeps that patch only if status lists the same paths."""
    repo = settled_repo(jp_root_dir / "proj")
    before = tree_state(repo / ".git")
    write(repo / "f01.txt", "changed\n")
    assert tracked(await get_git(jp_fetch)) == {"f01.txt": " M"}

    spy.reset()
    spy.pause = asyncio.Event()
    resume = spy.pause
    call = asyncio.ensure_future(get_git(jp_fetch))
    await asyncio.wait_for(spy.paused.wait(), 30)
    assert "diff" in spy.commands()  # started before status ends
    resume.set()
    body = await call
    assert tracked(body) == {"f01.txt": " M"} and "+changed" in body["patch"]
    assert (spy.ran("status"), spy.ran("diff")) == (1, 1)

    write(repo / "f02.txt", "changed too\n")
    spy.reset()
    body = await get_git(jp_fetch)  # f01's patch alone is not the answer
    assert tracked(body) == {"f01.txt": " M", "f02.txt": " M"}
    assert "+changed\n" in body["patch"] and "+changed too\n" in body["patch"]
    assert spy.ran("diff") == 2
    assert tree_state(repo / ".git") == before


@pytest.mark.parametrize(
    "change", ["content", "attributes", "subfolder attributes", "info attributes", "config"]
)
async def test_a_kept_patch_is_the_answer_until_what_it_depends_on_changes(
    jp_fetch, jp_root_dir, spy, change
):
    """The same changes (status's records: modes, HEAD's and the index's blobs), the files
    and the attributes files that apply to them as they were, the same config: the last
    patch is the answer, no diff runs. Any of those changed: a diff runs again."""
    files = {**FILES, "sub/f.txt": "one\ntwo\nthree\nfour\nfive\n"}
    repo = make_repo(jp_root_dir / "proj", files)
    git(repo, "update-index", "--refresh")
    write(repo / "sub/f.txt", "one\ntwo\nthree\nfour\nFIVE\n")
    _settle()
    for _ in range(2):
        body = await get_git(jp_fetch)
    patch = body["patch"]
    assert " three\n four\n-five\n+FIVE\n" in patch
    spy.reset()
    assert (await get_git(jp_fetch))["patch"] == patch
    assert spy.commands() == ["status"]

    if change == "content":  # same size, same mtime: only the ctime tells
        st = (repo / "sub/f.txt").stat()
        write(repo / "sub/f.txt", "one\ntwo\nthree\nfour\nfivX\n")
        os.utime(repo / "sub/f.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
        expected = "-five\n+fivX\n"
    elif change == "attributes":
        write(repo / ".gitattributes", "*.txt -diff\n")
        expected = "Binary files a/sub/f.txt and b/sub/f.txt differ\n"
    elif change == "subfolder attributes":
        write(repo / "sub" / ".gitattributes", "*.txt -diff\n")
        expected = "Binary files a/sub/f.txt and b/sub/f.txt differ\n"
    elif change == "info attributes":
        write(repo / ".git" / "info" / "attributes", "*.txt -diff\n")
        expected = "Binary files a/sub/f.txt and b/sub/f.txt differ\n"
    else:
        git(repo, "config", "diff.context", "1")
        expected = "@@ -4,2 +4,2 @@ three\n four\n-five\n+FIVE\n"
    spy.reset()
    body = await get_git(jp_fetch)
    assert spy.ran("diff") == 1
    assert expected in body["patch"]
