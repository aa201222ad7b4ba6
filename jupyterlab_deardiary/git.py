"""Read-only git facts about a notebook's repository, without ever running a repo's programs.

A repository's own config can name programs that git runs during status and diff:
fsmonitor, hooks, external diff, textconv, filter drivers (and git-lfs extensions), and
transports for lazy fetches. Every git call here overrides them on the command line (which
wins over every config file) or through GIT_CONFIG_COUNT. Git never descends into a
submodule (`--ignore-submodules=dirty`: it would apply the nested repository's own config
there, listed in .gitmodules or not); the endpoint looks inside each checked-out gitlink
itself, the same hardened way, to MAX_SUBMODULE_DEPTH.

Nothing is written in the repository either: git works on a copy of the index (made whole
when split: reading a split index freshens its shared part's mtime), git-lfs stores what it
cleans in a temporary folder (lfs.storage), and a lazy fetch (a partial clone's missing
object), which would write .git/config before failing, dies at once.

The copy is kept between calls (IndexCache: a private folder of the server, one copy per
repository, replaced when the repository's index file, HEAD or the overrides change), so
that files git cannot tell unchanged by their times (after a clone, `cp -a`, a checkout, a
build that touched them) are re-hashed by the first call only, as `git status` does once
for the repository's own index.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from .config import DearDiary
from .errors import ApiError
from .paths import relative_to_root

T = TypeVar("T")

# Prepended to every git command. (An empty diff.external would make git try to run ""
# and fail: every diff here also passes --no-ext-diff, which ignores it.) A lazy fetch,
# which GIT_NO_LAZY_FETCH=1 stops from git 2.39.4 / 2.44.1 on, is a `git fetch` child:
# older gits run it, and it dies on a negative fetch.parallel before anything else, such as
# writing remote.<name>.partialclonefilter to .git/config.
SAFE_ARGS = [
    "--no-pager",
    "--literal-pathspecs",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "diff.external=",
    "-c",
    "protocol.allow=never",
    "-c",
    "fetch.parallel=-1",
]
# Config worth reading before status/diff: filter drivers (and git-lfs's own keys) to
# neutralise, per-protocol allow rules to close, remotes and branch upstreams for
# remote_url, how status pairs renames.
CONFIG_REGEXP = (
    r"^(filter|protocol|remote|branch|lfs\.extension)\.|^(status|diff)\.renames$"
    r"|^lfs\.repositoryformatversion$"
)
FILTER_VARS = ("clean", "smudge", "process")
# The top folder and the index file's path, then HEAD's commit and its full symbolic name
# ("refs/heads/<branch>", or "HEAD" when detached): the last two fail without a commit.
HEAD_ARGS = [
    "rev-parse",
    "--show-toplevel",
    "--git-path",
    "index",
    "HEAD",
    "--symbolic-full-name",
    "HEAD",
    "--",
]
# Tracked changes only; untracked files are listed by UNTRACKED_ARGS in parallel.
STATUS_ARGS = [
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    "--untracked-files=no",
    "--ignore-submodules=dirty",
]
# What `git status --untracked-files=normal` lists: untracked files, and folders holding
# only untracked files as "folder/".
UNTRACKED_ARGS = [
    "ls-files",
    "--others",
    "--exclude-standard",
    "--directory",
    "--no-empty-directory",
    "-z",
]
# HEAD against the worktree: numstat (binary files show "-\t-"), then the patch.
DIFF_ARGS = [
    "diff",
    "HEAD",
    "--numstat",
    "-z",
    "-p",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "--submodule=short",
    "--ignore-submodules=dirty",
    "--src-prefix=a/",
    "--dst-prefix=b/",
]
# `git status`'s two columns: the index against HEAD (STAGED_ARGS), and the worktree
# against the index, which is the worktree against HEAD (WORKTREE_ARGS, that also gives the
# patch) except for staged paths (UNSTAGED_ARGS, for those only). Stat-only changes are
# skipped, as status does; porcelain `git diff` then rewrites the index it refreshed, hence
# a copy of the index.
STAGED_ARGS = ["diff", "--cached", "--raw", "-z", "--no-renames", "--ignore-submodules=dirty"]
# (A split index would also freshen its shared index file in the repository when saved.)
REFRESH_ARGS = ["-c", "diff.autoRefreshIndex=true", "-c", "core.splitIndex=false"]
WORKTREE_ARGS = [*REFRESH_ARGS, *DIFF_ARGS, "--raw"]
UNSTAGED_ARGS = [
    *REFRESH_ARGS,
    "diff",
    "--raw",
    "-z",
    "--no-renames",
    "--ignore-submodules=dirty",
]
# Refreshes a new copy of the index once, before any diff reads it: the files whose times
# changed are hashed once (a porcelain diff compares their contents, then hashes them again
# to refresh its index). -q: changed files are no error, --unmerged: conflicts neither;
# --ignore-submodules: gitlinks are not looked into; --force-write-index: written even when
# only racily clean entries were checked, so that a write in a later second settles them.
REFRESH_INDEX_ARGS = [
    *REFRESH_ARGS,
    "update-index",
    "-q",
    "--unmerged",
    "--ignore-submodules",
    "--refresh",
    "--force-write-index",
]
GITLINK = b"160000"
GITLINK_MODE = (0o160000).to_bytes(4, "big")  # as the index file stores an entry's mode
LFS_EXTENSION = "lfs.extension."  # git-lfs runs lfs.extension.<name>.clean/smudge
LFS_VERSION = "lfs.repositoryformatversion"
# What git prints when a lazy fetch was stopped (by GIT_NO_LAZY_FETCH, or fetch.parallel).
LAZY_FETCH_STOPPED = ("lazy fetching disabled", "promisor remote", "fetch.parallel cannot be")
DIRTY_FILES_MAX = 1000
PATHSPEC_MAX = 1000  # more changed paths than this: one diff without pathspec
STDERR_MAX = 64 * 1024
MAX_SUBMODULE_DEPTH = 4


def find_git() -> str | None:
    """The git executable on the server's PATH, or None."""
    return shutil.which("git")


@dataclass
class Output:
    returncode: int
    stdout: bytes
    stderr: str
    stdout_size: int  # full size, even when stdout was capped


class Git:
    """Runs git for the /deardiary/git endpoint."""

    def __init__(self, config: DearDiary, executable: str | None) -> None:
        self.config = config
        self.executable = executable
        self.cache = IndexCache(self)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.pop("SSH_ASKPASS", None)
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_OPTIONAL_LOCKS="0",
            GIT_NO_LAZY_FETCH="1",
            GIT_PAGER="cat",
            PAGER="cat",
            LC_ALL="C",
            LANGUAGE="C",
        )
        self._env = env

    # -- running ----------------------------------------------------------------

    async def run(
        self,
        args: list[str],
        cwd: str,
        overrides: Iterable[tuple[str, str]] = (),
        cap: int | None = None,
        marker: bytes | None = None,
        input: bytes | None = None,
        index: str | None = None,
    ) -> Output:
        """Run ``git <SAFE_ARGS> <args>`` in ``cwd``, feeding ``input`` on stdin (default:
        none), on the index file ``index`` if given; keep at most ``cap`` bytes of stdout
        (counted after ``marker`` when given). Raises ApiError 503 / 504."""
        if self.executable is None:
            raise ApiError(
                503,
                "git_missing",
                "git is not installed on the server: install git where Jupyter server runs, "
                "then restart it.",
            )
        env = dict(self._env)
        if index is not None:
            env["GIT_INDEX_FILE"] = index
        overrides = list(overrides)
        env["GIT_CONFIG_COUNT"] = str(len(overrides))
        for i, (key, value) in enumerate(overrides):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.git_timeout  # spawning counts too
        try:
            proc = await _start(
                [self.executable, *SAFE_ARGS, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills children too
            )
        except OSError as e:
            raise ApiError(500, "git_failed", f"Could not run {self.executable}: {e}") from None
        assert proc.stdout is not None and proc.stderr is not None
        try:
            (out, size), (err, _), code, _ = await asyncio.wait_for(
                asyncio.gather(
                    _read(proc.stdout, cap, marker),
                    _read(proc.stderr, STDERR_MAX),
                    proc.wait(),
                    _write(proc.stdin, input),
                ),
                timeout=max(0.0, deadline - loop.time()),
            )
        except asyncio.TimeoutError:
            raise ApiError(
                504,
                "git_timeout",
                f"git {_subcommand(args)} took longer than {self.config.git_timeout:g} s "
                "(DearDiary.git_timeout) and was stopped.",
            ) from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            if isinstance(proc, _Process):
                proc.close()
        return Output(code, out, err.decode("utf-8", "replace"), size)

    async def toplevel(self, directory: str) -> str | None:
        """The top folder of the repository holding ``directory``; None outside one."""
        return _toplevel(await self.run(["rev-parse", "--show-toplevel"], directory))

    async def read_config(self, cwd: str) -> list[tuple[str, str, str | None]]:
        """The config entries matching CONFIG_REGEXP, as git sees them from ``cwd``."""
        out = await self.run(["config", "--show-scope", "-z", "--get-regexp", CONFIG_REGEXP], cwd)
        if out.returncode not in (0, 1):  # 1: no matching key
            raise git_failed("config", out)
        return parse_config(out.stdout, scoped=True)

    # -- the endpoint -----------------------------------------------------------

    async def describe(self, directory: str, path: str, root: str) -> dict[str, Any]:
        """The JSON answer of GET /deardiary/git for ``directory`` (requested as ``path``)."""
        head, entries = await _gather(self.run(HEAD_ARGS, directory), self.read_config(directory))
        toplevel = _toplevel(head)
        if toplevel is None:
            return {"repo": False, "path": path}
        top_rel = relative_to_root(toplevel, root)
        index, named = parse_head(head)
        # The repository's state that the kept copy of its index must match, besides the
        # index file itself: HEAD (lines 3-4 of HEAD_ARGS).
        state = (head.returncode, head.stdout.split(b"\n")[2:])
        async with self._snapshot(directory, index, entries, toplevel, state) as (
            copy,
            overrides,
            kept,
        ):
            # Untracked files and modified submodules are listed while the tracked changes are.
            renames = _renames(entries)
            st, untracked, submodules = await _gather(
                self._tracked(copy, named, renames, toplevel, top_rel, overrides, kept),
                self.run(UNTRACKED_ARGS, toplevel, overrides, index=copy),
                self._modified_submodules(
                    toplevel, copy, overrides, 0, kept.gitlinks if kept else None
                ),
            )
            if copy is not None and not os.path.exists(copy):
                # Removed meanwhile (a cleaner of temporary files?): git may have read no
                # index at all, which lists every file as deleted.
                raise ApiError(
                    503,
                    "git_index_lost",
                    "The server's private copy of the repository's index was removed while "
                    "git read it (by a cleaner of temporary files?). Try again.",
                )
        _add_submodules(st, submodules, self.config.patch_max_bytes)
        if untracked.returncode != 0:
            raise git_failed("ls-files", untracked)
        names = [n for n in untracked.stdout.decode("utf-8", "replace").split("\0") if n]
        files = st.files + [
            {"path": n, "status": "??", "xy": "??", "orig_path": None, "submodule": False}
            for n in names
        ]

        remote_name = _pick_remote(entries, st.branch)
        remote_url = _config_value(entries, f"remote.{remote_name}.url") if remote_name else None
        return {
            "repo": True,
            "path": path,
            "toplevel": top_rel,
            "toplevel_outside_root": top_rel is None,
            "head_sha": st.head_sha,
            "branch": st.branch,
            "detached": st.branch is None,
            "remote_name": _text(remote_name),
            "remote_url": _text(strip_credentials(remote_url)) if remote_url else None,
            "dirty": bool(st.files),
            "dirty_files": files[:DIRTY_FILES_MAX],
            "dirty_files_truncated": len(files) > DIRTY_FILES_MAX,
            "untracked_count": len(names),
            "binary_files": st.binary,
            "patch": st.patch,
            "patch_bytes": st.patch_bytes,
            "truncated": st.patch_bytes > self.config.patch_max_bytes,
        }

    async def _tracked(
        self,
        index: str | None,
        named: tuple[str, str | None] | None,
        renames: str,
        toplevel: str,
        top_rel: str | None,
        overrides: list[tuple[str, str]],
        kept: KeptIndex | None = None,
    ) -> Changes:
        """The tracked changes, without `git status` when two diffs tell the same."""
        if named is not None and index is not None:
            st = await self._changes(index, *named, renames, toplevel, overrides, kept)
            if st is not None:
                return st
        return await self._changes_by_status(index, toplevel, top_rel, overrides)

    async def _changes(
        self,
        index: str,
        sha: str,
        branch: str | None,
        renames: str,
        toplevel: str,
        overrides: list[tuple[str, str]],
        kept: KeptIndex | None = None,
    ) -> Changes | None:
        """The tracked changes without `git status`, for about the cost of status: the
        worktree against HEAD (with the patch) while the index against HEAD, then the
        worktree against the index of the staged paths. None when only status tells
        exactly: conflicts, submodules, changes it would pair as renames or copies.

        The index against HEAD is the same as long as the ``kept`` copy of the index
        ``index`` is used (its entries and HEAD are the same): read once per copy."""

        async def staged_then_unstaged() -> tuple[list[Raw], list[Raw]]:
            staged = kept.staged if kept is not None else None
            if staged is None:
                out = await self.run(STAGED_ARGS, toplevel, overrides, index=index)
                if out.returncode != 0:
                    raise git_failed("diff --cached", out)
                staged = parse_raw(out.stdout)[0]
                if kept is not None:
                    kept.staged = staged
            if not staged or status_needed(staged, renames):
                return staged, []
            paths = [os.fsdecode(r.path) for r in staged]
            out = await self.run([*UNSTAGED_ARGS, "--", *paths], toplevel, overrides, index=index)
            if out.returncode != 0:
                raise git_failed("diff", out)
            return staged, parse_raw(out.stdout)[0]

        cap = self.config.patch_max_bytes
        worktree_out, (staged, unstaged) = await _gather(
            self.run(WORKTREE_ARGS, toplevel, overrides, cap, b"\0\0", index=index),
            staged_then_unstaged(),
        )
        if worktree_out.returncode != 0:
            raise git_failed("diff", worktree_out)
        worktree, end = parse_raw(worktree_out.stdout)
        if status_needed(worktree, renames) or status_needed(staged, renames):
            return None
        x = {r.path: r.letter for r in staged}
        y = {r.path: r.letter for r in worktree if r.path not in x}
        y.update((r.path, r.letter) for r in unstaged)
        files = []
        for p in sorted(x.keys() | y.keys()):
            xy, short = _xy(x.get(p, ".") + y.get(p, "."))
            files.append(
                {
                    "path": p.decode("utf-8", "replace"),
                    "status": short,
                    "xy": xy,
                    "orig_path": None,
                    "submodule": False,
                }
            )
        return Changes(sha, branch, files, *parse_diff(worktree_out, cap, start=end))

    async def _changes_by_status(
        self,
        index: str | None,
        toplevel: str,
        top_rel: str | None,
        overrides: list[tuple[str, str]],
    ) -> Changes:
        """The tracked changes as `git status` lists them, then the patch of those paths."""
        status = await self.run(STATUS_ARGS, toplevel, overrides, index=index)
        if status.returncode != 0:
            raise git_failed("status", status)
        st = parse_status(status.stdout)
        if st.head_sha is None:
            where = repr(top_rel) if top_rel is not None else "above the server root"
            raise ApiError(
                409,
                "empty_repository",
                f"The repository at {where} has no commits yet: commit once, then try again.",
            )
        patch = await self._patch(st.tracked_paths, toplevel, overrides, index)
        return Changes(st.head_sha, st.branch, st.files, *patch)

    async def _patch(
        self,
        paths: list[str],
        toplevel: str,
        overrides: list[tuple[str, str]],
        index: str | None,
    ) -> tuple[str, int, list[str]]:
        """``git diff HEAD`` of the changed tracked ``paths``: (patch, full size, binary paths)."""
        if not paths:
            return "", 0, []
        # Few paths: diff only those, and refresh only them (no preload threads over the
        # whole index), which halves the cost on a large repository.
        few = len(paths) <= PATHSPEC_MAX
        out = await self.run(
            [
                *(["-c", "core.preloadIndex=false"] if few else []),
                *REFRESH_ARGS,
                *DIFF_ARGS,
                "--",
                *(paths if few else []),
            ],
            toplevel,
            overrides,
            cap=self.config.patch_max_bytes,
            marker=b"\0\0",
            index=index,
        )
        if out.returncode != 0:
            raise git_failed("diff", out)
        return parse_diff(out, self.config.patch_max_bytes)

    @contextlib.asynccontextmanager
    async def _snapshot(
        self,
        directory: str,
        index: str | None,
        entries: list[tuple[str, str, str | None]],
        toplevel: str | None = None,
        state: Any = None,
    ) -> AsyncIterator[tuple[str | None, list[tuple[str, str]], KeptIndex | None]]:
        """A copy of the index file (None when there is none) and the config overrides,
        for reading the repository at ``directory`` without writing anything in it. Given
        the ``toplevel`` and the ``state`` of the repository, the copy is the one kept
        between calls (refreshed, see IndexCache, also yielded); else a new one for this
        call only (and None)."""
        with tempfile.TemporaryDirectory(prefix="deardiary-") as tmp:
            trusted = trusted_here(entries, self.config.trusted_filters)
            overrides = neutralising_overrides(entries, trusted)
            # Kept copies must match the overrides too: a filter driver, run or not, decides
            # which files a refresh finds unchanged.
            state = (state, tuple(overrides))
            overrides.append(("lfs.storage", os.path.join(tmp, "lfs")))
            if not index:
                yield None, overrides, None
            elif toplevel is not None and self.config.git_index_cache > 0:
                source = os.path.join(directory, index)
                async with self.cache.use(source, state, toplevel, overrides) as kept:
                    yield (kept.index if kept else None), overrides, kept
            else:
                copy = await self._copy_index(os.path.join(directory, index), tmp)
                yield copy, overrides, None

    async def _copy_index(self, index: str, tmp: str) -> str | None:
        """A copy of the index file (same times, so the same entries count as racily clean)
        in ``tmp``; None when there is none to copy. A split index is made whole, reading
        copies of the shared parts in a bare folder: git never reads the repository's."""
        copy = os.path.join(tmp, "index")
        try:
            await asyncio.to_thread(shutil.copy2, index, copy)
        except OSError:
            return None
        await self._unsplit(index, copy, tmp)
        return copy

    async def _unsplit(self, index: str, copy: str, tmp: str) -> None:
        """Make ``copy`` (of the repository's ``index``) whole if it is split, reading copies
        of the shared parts in a bare folder in ``tmp``."""
        shared = glob.glob(os.path.join(glob.escape(os.path.dirname(index)), "sharedindex.*"))
        if shared:
            await asyncio.to_thread(_bare_repository, os.path.join(tmp, "git"), shared)
            args = ["--git-dir", os.path.join(tmp, "git"), "update-index", "--no-split-index"]
            out = await self.run([*REFRESH_ARGS, *args], tmp, index=copy)
            if out.returncode != 0:
                raise git_failed("update-index", out)

    async def _modified_submodules(
        self,
        toplevel: str,
        index: str | None,
        overrides: list[tuple[str, str]],
        depth: int,
        gitlinks: bool | None = None,
    ) -> list[tuple[bytes, str]]:
        """(path, commit) of the gitlinks of ``index`` whose checkout holds tracked changes
        (git's "modified content"), looked at one by one to MAX_SUBMODULE_DEPTH. ``gitlinks``:
        whether an entry may have a gitlink's mode, if known."""
        if index is None:
            return []
        if gitlinks is None:
            gitlinks = GITLINK_MODE in await asyncio.to_thread(_read_bytes, index)
        if not gitlinks:
            return []  # no index entry has a gitlink's mode (the listing would cost more)
        out = await self.run(["ls-files", "--stage", "-z"], toplevel, overrides, index=index)
        if out.returncode != 0:
            raise git_failed("ls-files", out)
        found = []
        for path, sha in parse_gitlinks(out.stdout):
            if await self._has_changes(os.path.join(toplevel, os.fsdecode(path)), depth + 1):
                found.append((path, sha))
        return found

    async def _has_changes(self, directory: str, depth: int) -> bool:
        """Whether the repository checked out at ``directory`` (a gitlink's folder) has
        tracked changes, read with its own config neutralised, as the top one is."""
        if not os.path.lexists(os.path.join(directory, ".git")):
            return False  # not checked out
        head = await self.run(["rev-parse", "--show-toplevel", "--git-path", "index"], directory)
        lines = head.stdout.split(b"\n")
        if head.returncode != 0 or len(lines) != 3 or os.fsdecode(lines[0]) != directory:
            return False  # not a repository of its own (or reached through a symbolic link)
        entries = await self.read_config(directory)
        async with self._snapshot(directory, os.fsdecode(lines[1]), entries) as (
            copy,
            overrides,
            _,
        ):
            status = await self.run(STATUS_ARGS, directory, overrides, index=copy)
            if status.returncode != 0:
                raise git_failed("status", status)
            if parse_status(status.stdout).files:
                return True
            if depth >= MAX_SUBMODULE_DEPTH:
                return False
            return bool(await self._modified_submodules(directory, copy, overrides, depth))


# -- the kept index copies ---------------------------------------------------------


class KeptIndex:
    """One repository's refreshed copy of its index file, kept between calls."""

    def __init__(self, folder: str, stamp: Any) -> None:
        self.folder = folder  # private to this copy: removed with it
        self.index = os.path.join(folder, "index")
        self.stamp = stamp  # what it was made from (see IndexCache.use)
        self.users = 0  # calls reading it now
        self.retired = False  # replaced or dropped: removed when the last user is done
        self.gitlinks: bool | None = None  # whether an entry may have a gitlink's mode
        self.seen: tuple[int, ...] | None = None  # the file's identity when last read
        self.racy: int | None = None  # its mtime's second, if entries may be racily clean
        self.settle = True  # whether rewriting it in a later second is worth a try
        self.staged: list[Raw] | None = None  # `git diff --cached`, once read
        self.sample: list[Entry] = []  # entries spread over it, their files as recorded
        self.touched = False  # whether most files of its sample had other times when read


class IndexCache:
    """The refreshed index copies kept between calls of GET /deardiary/git, one per
    repository (its index file's real path), least recently used dropped first
    (DearDiary.git_index_cache).

    They live in a folder of this server's own (mkdtemp: 0700, removed with the server).
    A copy is used while it was made from the same index file (device, inode, size, mtime
    and ctime in ns, trailing checksum), HEAD and config overrides; else a new copy is
    made. git keeps refreshing the copy it reads (a diff rewrites the index after
    refreshing stat-only changes), except when most files have new times (a stale index,
    told by a sample of entries): then a refresh (REFRESH_INDEX_ARGS, in a new copy)
    hashes each of them once, before the diffs, which would hash them twice.

    The copy keeps the times git gave it, never ones of ours: git re-hashes the entries
    whose mtime is not older than the index file's ("racily clean", compared in seconds by
    a git built without USE_NSEC, as Debian's), which is what tells a file modified in the
    second of a refresh from an unchanged one. Such entries are re-hashed on every read
    until the index is written in a later second: after a clone, up to a second's worth
    of checked-out files. So a copy that may hold some is rewritten once in a later
    second, as `git status` rewrites the repository's.

    Copies are never changed in place by us: a new copy (its own folder) replaces the old
    one, which is removed when the last call reading it is done. Two calls can read one
    copy at once (git locks the index file it rewrites, and skips the rewrite when it is
    locked); a call still reading a replaced copy never writes the new one.
    """

    def __init__(self, git: Git) -> None:
        self._git = git
        self._folder: str | None = None
        self._kept: OrderedDict[str, KeptIndex] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._names = itertools.count()

    @property
    def size(self) -> int:
        return self._git.config.git_index_cache

    def folder(self) -> str:
        """The cache's folder, made on first use (again if something removed it)."""
        if self._folder is None or not os.path.isdir(self._folder):
            self._folder = tempfile.mkdtemp(prefix="deardiary-git-")
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def kept(self, source: str) -> KeptIndex | None:
        """The copy kept for the index file ``source`` (for tests)."""
        return self._kept.get(os.path.realpath(source))

    @contextlib.asynccontextmanager
    async def use(
        self, source: str, state: Any, toplevel: str, overrides: list[tuple[str, str]]
    ) -> AsyncIterator[KeptIndex | None]:
        """The refreshed copy of the index file ``source`` for a repository in ``state``
        (None when there is no index file), made or settled now if needed, git running in
        ``toplevel`` with ``overrides``; kept while the caller reads it."""
        key = os.path.realpath(source)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            identity = _identity(source)
            kept = None
            if identity is not None:
                kept = await self._current(key, source, (identity, state), toplevel, overrides)
            if kept is None:
                self._drop(key)
            else:
                kept.users += 1
                self._kept.move_to_end(key)
                while len(self._kept) > max(1, self.size):
                    self._drop(next(iter(self._kept)))
        if kept is None:
            yield None
            return
        failed = True
        try:
            yield kept
            failed = False
        finally:
            kept.users -= 1
            # A git stopped (timeout, cancelled call) may have left its lock file beside the
            # copy: git would never rewrite it again.
            if failed and os.path.lexists(kept.index + ".lock") or not os.path.exists(kept.index):
                self._retire(key, kept)
            self._remove_if_unused(kept)

    async def _current(
        self,
        key: str,
        source: str,
        stamp: Any,
        toplevel: str,
        overrides: list[tuple[str, str]],
    ) -> KeptIndex | None:
        """The copy to read now (kept, refreshed again or new); None when ``source`` is
        gone."""
        kept = self._kept.get(key)
        if kept is not None and kept.stamp == stamp:
            seen = _file_identity(kept.index)
            if seen is not None:
                if seen != kept.seen:  # git rewrote it: read it again
                    await asyncio.to_thread(_inspect, kept, toplevel)
                    kept.settle = True
                settle = kept.racy is not None and kept.settle and int(time.time()) > kept.racy
                if not settle and not _touched(kept.sample, toplevel):
                    return kept
                # Refreshed again, in a copy of the copy: in a later second than its
                # racily clean entries' (which settles them), or because most files have
                # new times (a build, `touch`: the refresh hashes them once, where a diff
                # compares their contents, then hashes them to refresh its index).
                again = await self._make(kept.index, stamp, toplevel, overrides, refresh=True)
                if again is not None:
                    again.staged = kept.staged  # (the same entries, the same HEAD)
                    if settle and again.racy is not None and again.racy <= (kept.racy or 0):
                        again.settle = False  # no later second (an entry dated ahead?)
                    self._replace(key, again)
                    return again
        kept = await self._make(source, stamp, toplevel, overrides, refresh=None)
        if kept is not None:
            self._replace(key, kept)
        return kept

    async def _make(
        self,
        source: str,
        stamp: Any,
        toplevel: str,
        overrides: list[tuple[str, str]],
        refresh: bool | None,
    ) -> KeptIndex | None:
        """A new copy: of the repository's index file ``source`` (made whole if split;
        ``refresh`` None: refreshed if that is worth it now), or of a kept copy (refreshed);
        None when there is no such file."""
        kept = KeptIndex(tempfile.mkdtemp(prefix=f"{next(self._names)}-", dir=self.folder()), stamp)
        try:
            identity = await asyncio.to_thread(_copy_file, source, kept.index)
            if identity is None:
                shutil.rmtree(kept.folder, ignore_errors=True)
                return None
            if refresh is None:
                # What was copied (the index file may have been replaced meanwhile).
                kept.stamp = (identity, stamp[1])
                await self._git._unsplit(source, kept.index, kept.folder)
            await asyncio.to_thread(_inspect, kept, toplevel)
            if refresh is None:
                # Worth it when most files have new times (a stale index: each is hashed
                # once, where a diff would compare it, then hash it again to refresh its
                # index), or when racily clean entries can be settled now. Else the diffs
                # refresh what little there is.
                settles = kept.racy is not None and int(time.time()) > kept.racy
                refresh = kept.touched or settles
            if refresh:
                out = await self._git.run(REFRESH_INDEX_ARGS, toplevel, overrides, index=kept.index)
                if out.returncode != 0:
                    # The copy is left as it was (the diffs refresh what they read); no
                    # point trying again.
                    kept.settle = False
                await asyncio.to_thread(_inspect, kept, toplevel)
        except BaseException:
            shutil.rmtree(kept.folder, ignore_errors=True)
            raise
        return kept

    def _replace(self, key: str, kept: KeptIndex) -> None:
        old = self._kept.get(key)
        self._kept[key] = kept
        if old is not None and old is not kept:
            old.retired = True
            self._remove_if_unused(old)

    def _retire(self, key: str, kept: KeptIndex) -> None:
        if self._kept.get(key) is kept:
            del self._kept[key]
        kept.retired = True

    def _drop(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            kept.retired = True
            self._remove_if_unused(kept)
        lock = self._locks.get(key)
        if kept is not None and lock is not None and not lock.locked():
            del self._locks[key]

    @staticmethod
    def _remove_if_unused(kept: KeptIndex) -> None:
        if kept.retired and kept.users == 0:
            shutil.rmtree(kept.folder, ignore_errors=True)


def _identity(path: str) -> tuple[Any, ...] | None:
    """What tells one version of an index file from another: device, inode, size, mtime and
    ctime in ns, and its trailing checksum (a SHA-256 one is longer: the last 32 bytes
    hold a SHA-1 one's end too). None when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        tail = os.pread(fd, 32, max(0, st.st_size - 32))
    finally:
        os.close(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, tail)


def _file_identity(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _copy_file(source: str, copy: str) -> tuple[Any, ...] | None:
    """Copy ``source`` with its access and modification times (in ns); the identity
    (as _identity) of what was copied, or None when there is no such file."""
    try:
        src = open(source, "rb")  # noqa: SIM115
    except OSError:
        return None
    with src:
        st = os.fstat(src.fileno())
        with open(copy, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        tail = os.pread(src.fileno(), 32, max(0, st.st_size - 32))
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, tail)


def _inspect(kept: KeptIndex, toplevel: str) -> None:
    """Note what ``kept``'s index file holds: whether an entry may have a gitlink's mode,
    the second of the file's mtime if an entry's mtime may fall in it (racily clean), and
    a sample of entries whose files (in ``toplevel``) it records as they are now."""
    with open(kept.index, "rb") as f:
        st = os.fstat(f.fileno())
        data = f.read()
    kept.seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    second = st.st_mtime_ns // 1_000_000_000
    kept.gitlinks = GITLINK_MODE in data
    kept.racy = second if _entry_mtime(second).search(data, 12) else None
    entries = _sample_entries(data)
    recorded = [_recorded(e, toplevel) for e in entries]
    kept.sample = [e for e, same in zip(entries, recorded) if same is True]
    kept.touched = len(entries) >= 8 and recorded.count(False) * 2 >= len(entries)


class Entry(NamedTuple):
    """What an index entry records of its file (the low 32 bits, as the index does)."""

    path: bytes
    mtime: int  # seconds
    size: int
    ino: int


SAMPLE = 32
# A regular file's or a symbolic link's mode, as an index entry stores it.
_FILE_MODE = re.compile(rb"\x00\x00(?:\x81\xa4|\x81\xed|\xa0\x00)")


def _sample_entries(data: bytes) -> list[Entry]:
    """Up to SAMPLE entries spread over an index file of version 2 or 3 (none from others):
    the first entry after each of SAMPLE evenly spaced offsets. Found by their mode, and
    checked (8-byte alignment, name, NUL padding), for SHA-1 or SHA-256 object names; a
    wrong one only costs a refresh, or misses one."""
    if data[:4] != b"DIRC" or int.from_bytes(data[4:8], "big") not in (2, 3):
        return []
    found: dict[bytes, Entry] = {}
    for i in range(SAMPLE):
        at = 12 + 24 + (len(data) - 36) * i // SAMPLE
        for _ in range(16):
            m = _FILE_MODE.search(data, at)
            if m is None:
                break
            entry = _entry_at(data, m.start() - 24)
            if entry is not None:
                found.setdefault(entry.path, entry)
                break
            at = m.start() + 1
    return list(found.values())


def _entry_at(data: bytes, start: int) -> Entry | None:
    """The entry of an index file (version 2 or 3) that starts at ``start``, if one does."""
    if start < 12 or start % 8 != 4:  # entries are 8-byte multiples after the 12-byte header
        return None
    for oid in (20, 32):
        flags_at = start + 40 + oid
        if flags_at + 2 > len(data):
            return None
        flags = int.from_bytes(data[flags_at : flags_at + 2], "big")
        name_at = flags_at + 2 + (2 if flags & 0x4000 else 0)
        length = flags & 0xFFF
        end = (name_at - start + length + 8) // 8 * 8 + start  # NUL-padded to 8 bytes
        name = data[name_at : name_at + length]
        if (
            0 < length < 0xFFF
            and end <= len(data)
            and b"\0" not in name
            and not name.startswith(b"/")
            and data[name_at + length : end].strip(b"\0") == b""
        ):
            field = lambda at: int.from_bytes(data[start + at : start + at + 4], "big")  # noqa: E731
            return Entry(name, field(8), field(36), field(20))
    return None


def _recorded(entry: Entry, toplevel: str) -> bool | None:
    """Whether ``entry`` records its file's mtime, size and inode as they are now (None:
    no such file)."""
    try:
        st = os.lstat(os.path.join(toplevel, os.fsdecode(entry.path)))
    except OSError:
        return None
    mask = 0xFFFFFFFF
    seconds = st.st_mtime_ns // 1_000_000_000
    return (seconds & mask, st.st_size & mask, st.st_ino & mask) == entry[1:]


def _touched(sample: list[Entry], toplevel: str) -> bool:
    """Whether most files of a sample of entries have new times (or sizes) since the copy
    recorded them: then the refresh, not a diff, is the one to hash them."""
    if len(sample) < 8:
        return False
    changed = sum(1 for e in sample if _recorded(e, toplevel) is False)
    return changed * 2 >= len(sample)


def _entry_mtime(second: int) -> re.Pattern[bytes]:
    """An index entry (any version) whose mtime is in ``second``: its 4 bytes, then the
    mtime's ns, dev and ino, then a file's, symbolic link's or gitlink's mode. (A false
    match, such as an inode number that looks like a mode, costs one rewrite.)"""
    return re.compile(
        re.escape((second & 0xFFFFFFFF).to_bytes(4, "big"))
        + rb".{12}\x00\x00(?:\x81\xa4|\x81\xed|\xa0\x00|\xe0\x00)",
        re.DOTALL,
    )


# -- parsing ----------------------------------------------------------------------


@dataclass
class Status:
    head_sha: str | None
    branch: str | None
    files: list[dict[str, Any]]
    tracked_paths: list[str]  # changed tracked paths (both sides of a rename)


@dataclass
class Changes:
    """The tracked changes of a repository, as the endpoint answers them."""

    head_sha: str
    branch: str | None
    files: list[dict[str, Any]]  # as `git status` lists them
    patch: str
    patch_bytes: int
    binary: list[str]


class Raw(NamedTuple):
    """One record of ``git diff --raw``."""

    path: bytes
    letter: str  # A, D, M, T, U, X
    modes: tuple[bytes, ...]


def parse_head(out: Output) -> tuple[str | None, tuple[str, str | None] | None]:
    """The index file's path, and (commit, branch or None when detached), from HEAD_ARGS;
    None for what it does not tell (no commit yet, HEAD not on a local branch)."""
    lines = out.stdout.split(b"\n")
    index = os.fsdecode(lines[1]) if len(lines) > 2 else None
    if out.returncode != 0 or len(lines) != 6:
        return index, None
    sha, name = lines[2].decode("ascii", "replace"), lines[3]
    if name == b"HEAD":
        return index, (sha, None)
    if name.startswith(b"refs/heads/"):
        return index, (sha, name[len(b"refs/heads/") :].decode("utf-8", "replace"))
    return index, None


def parse_raw(data: bytes) -> tuple[list[Raw], int]:
    """The records of ``--raw -z --no-renames`` at the start of ``data``, and where they end."""
    records = []
    i = 0
    while data.startswith(b":", i):
        meta_end = data.index(b"\0", i)
        path_end = data.index(b"\0", meta_end + 1)
        meta = data[i:meta_end]
        parents = len(meta) - len(meta.lstrip(b":"))  # "::" is a conflict's combined record
        fields = meta[parents:].split(b" ")
        letter = fields[-1][:1].decode() if parents == 1 else "U"
        path, modes = data[meta_end + 1 : path_end], tuple(fields[: parents + 1])
        records.append(Raw(path, letter, modes))
        i = path_end + 1
    return records, i


def parse_gitlinks(data: bytes) -> list[tuple[bytes, str]]:
    """(path, commit) of the gitlinks in ``git ls-files --stage -z`` (unmerged ones aside)."""
    found = []
    for record in data.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        fields = meta.split(b" ")
        if fields[0] == GITLINK and fields[-1] == b"0":
            found.append((path, fields[1].decode("ascii", "replace")))
    return found


def _add_submodules(st: Changes, modified: list[tuple[bytes, str]], cap: int) -> None:
    """List the submodules with modified content that git (never descending) did not, with
    the patch section `git diff HEAD --submodule=short` prints for them."""
    listed = {f["path"] for f in st.files}
    extra = ""
    for path, sha in modified:
        name = path.decode("utf-8", "replace")
        if name in listed:
            continue
        st.files.append(
            {"path": name, "status": "M", "xy": " M", "orig_path": None, "submodule": True}
        )
        a, b = _quote_path(b"a/" + path), _quote_path(b"b/" + path)
        tab = "\t" if " " in a else ""  # as git ends a ---/+++ line holding a space
        extra += (
            f"diff --git {a} {b}\n--- {a}{tab}\n+++ {b}{tab}\n@@ -1 +1 @@\n"
            f"-Subproject commit {sha}\n+Subproject commit {sha}-dirty\n"
        )
    if not extra:
        return
    st.files.sort(key=lambda f: f["path"])
    whole = st.patch_bytes <= cap
    st.patch_bytes += len(extra.encode())
    if whole:  # else the patch was cut already
        st.patch += extra
        if st.patch_bytes > cap:
            st.patch = _cut(st.patch.encode()[:cap]).decode("utf-8", "replace")


def _quote_path(path: bytes) -> str:
    """A path as git's diff headers print it (core.quotePath): C-quoted if it needs it."""
    if not any(c < 0x20 or c >= 0x7F or c in b'"\\' for c in path):
        return path.decode()
    escapes = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 34: '"', 92: "\\"}
    return '"' + "".join(
        f"\\{escapes[c]}" if c in escapes else chr(c) if 0x20 <= c < 0x7F else f"\\{c:03o}"
        for c in path
    ) + '"'


def status_needed(records: list[Raw], renames: str) -> bool:
    """Whether only `git status` lists these changes (one column's) exactly: conflicts,
    submodules, and added files it may pair with deleted (renames) or changed (copies) ones."""
    letters = {r.letter for r in records}
    if not letters <= set("ADMT") or any(GITLINK in r.modes for r in records):
        return True
    if "A" not in letters:
        return False
    return (renames == "renames" and "D" in letters) or (renames == "copies" and len(letters) > 1)


def _renames(entries: list[tuple[str, str, str | None]]) -> str:
    """How `git status` pairs changes here: "no", "renames" or "copies" (status.renames,
    else diff.renames, else renames)."""
    found = {}
    for _, key, value in entries:
        if key in ("status.renames", "diff.renames"):
            found[key] = "true" if value is None else value.lower()
    value = found.get("status.renames", found.get("diff.renames", "true"))
    if value in ("copies", "copy"):
        return "copies"
    return "no" if value in ("false", "no", "off", "0", "") else "renames"


def _xy(code: str) -> tuple[str, str]:
    """Porcelain v2 XY ("." for unchanged) to the v1 two-letter form and one short code."""
    xy = code.replace(".", " ")
    return xy, (xy[0] if xy[0] != " " else xy[1])


def parse_status(raw: bytes) -> Status:
    """Parse ``git status --porcelain=v2 --branch -z --untracked-files=no``."""
    tokens = raw.split(b"\0")
    head: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    tracked: list[str] = []
    i = 0
    while i < len(tokens):
        line = tokens[i]
        i += 1
        kind = line[:2]
        if kind == b"# ":
            key, _, value = line[2:].decode("utf-8", "replace").partition(" ")
            head[key] = value
        elif kind in (b"1 ", b"2 ", b"u "):
            fields = line.split(b" ", {b"1 ": 8, b"2 ": 9, b"u ": 10}[kind])
            paths = [fields[-1]]
            if kind == b"2 ":
                paths.append(tokens[i])
                i += 1
            xy, short = _xy(fields[1].decode())
            files.append(
                {
                    "path": paths[0].decode("utf-8", "replace"),
                    "status": "U" if kind == b"u " else short,
                    "xy": xy,
                    "orig_path": paths[1].decode("utf-8", "replace") if len(paths) > 1 else None,
                    "submodule": fields[2].startswith(b"S"),
                }
            )
            tracked += [os.fsdecode(p) for p in paths]  # exact bytes, for pathspecs
    oid = head.get("branch.oid")
    branch = head.get("branch.head")
    return Status(
        head_sha=None if oid in (None, "(initial)") else oid,
        branch=None if branch in (None, "(detached)") else branch,
        files=files,
        tracked_paths=tracked,
    )


def parse_diff(out: Output, cap: int, start: int = 0) -> tuple[str, int, list[str]]:
    """Split ``git diff --numstat -z -p`` (from ``start``, after any raw records) into
    (patch text cut to ``cap``, full patch size, binary paths)."""
    data = out.stdout
    sep = data.find(b"\0\0", start)
    if sep < 0:
        return "", 0, []
    binary = []
    for entry in data[start:sep].split(b"\0"):
        added, _, rest = entry.partition(b"\t")
        deleted, _, path = rest.partition(b"\t")
        if added == b"-" and deleted == b"-":
            binary.append(path.decode("utf-8", "replace"))
    patch, size = data[sep + 2 :], out.stdout_size - (sep + 2)
    if size > cap:
        patch = _cut(patch[:cap])
    return patch.decode("utf-8", "replace"), size, binary


def _cut(data: bytes) -> bytes:
    """End a truncated patch at a line end, or at least not inside a UTF-8 character."""
    nl = data.rfind(b"\n")
    if nl >= 0:
        return data[: nl + 1]
    end = len(data)
    while end > 0 and data[end - 1] & 0xC0 == 0x80:
        end -= 1
    if end > 0 and data[end - 1] >= 0xC0:
        end -= 1
    return data[:end]


def parse_config(raw: bytes, scoped: bool) -> list[tuple[str, str, str | None]]:
    """Parse ``git config [--show-scope] -z --get-regexp`` into (scope, key, value)."""
    # surrogateescape: names are passed back to git byte for byte (GIT_CONFIG_KEY_n)
    tokens = os.fsdecode(raw).split("\0")
    entries = []
    step = 2 if scoped else 1
    for i in range(0, len(tokens) - step + 1, step):
        scope = tokens[i] if scoped else ""
        key, nl, value = tokens[i + step - 1].partition("\n")
        if key:
            entries.append((scope, key, value if nl else None))
    return entries


def trusted_here(
    entries: list[tuple[str, str, str | None]], trusted: Iterable[str]
) -> list[str]:
    """The trusted filter drivers that may run in this repository: "lfs" only where git-lfs
    has run already (it writes lfs.repositoryformatversion in .git/config the first time;
    until then its files are pointers and need no filter), and only if the repository
    defines no git-lfs extensions (programs git-lfs would run)."""
    ran = any(scope == "local" and key == LFS_VERSION for scope, key, _ in entries)
    extensions = any(
        scope not in ("system", "global") and key.startswith(LFS_EXTENSION)
        for scope, key, _ in entries
    )
    return [name for name in trusted if name != "lfs" or (ran and not extensions)]


def neutralising_overrides(
    entries: list[tuple[str, str, str | None]], trusted: Iterable[str]
) -> list[tuple[str, str]]:
    """Config overrides that keep every configured program from running.

    Every filter driver is emptied, except a trusted one whose effective definition is
    its system/global one (a repository that redefines it loses it). An empty value
    cannot unset a key, and an empty ``process`` also disables ``clean``/``smudge``,
    hence all or nothing. Every per-protocol ``allow`` is closed (no lazy fetch, hence
    no transport program)."""
    trusted = set(trusted)
    names: list[str] = []
    effective: dict[str, dict[str, str | None]] = {}
    admin: dict[str, dict[str, str | None]] = {}  # from system/global config only
    overrides: list[tuple[str, str]] = []
    for scope, key, value in entries:
        if key.startswith("filter.") and key.count(".") >= 2:
            name, var = key[len("filter.") :].rsplit(".", 1)
            if name not in names:
                names.append(name)
            effective.setdefault(name, {})[var] = value
            if scope in ("system", "global"):
                admin.setdefault(name, {})[var] = value
        elif key.startswith("protocol.") and key.endswith(".allow") and key.count(".") >= 2:
            overrides.append((key, "never"))
    for name in names:
        if name in trusted and effective[name] == admin.get(name):
            continue
        overrides += [(f"filter.{name}.{var}", "") for var in FILTER_VARS]
        overrides.append((f"filter.{name}.required", "false"))
    return overrides


def _config_value(entries: list[tuple[str, str, str | None]], key: str) -> str | None:
    """The effective (last) value of ``key``; section and variable names are case-insensitive."""
    section, _, rest = key.partition(".")
    sub, _, var = rest.rpartition(".")
    want = f"{section.lower()}.{sub}.{var.lower()}"
    found = None
    for _, k, v in entries:
        if k == want:
            found = v
    return found


def _pick_remote(entries: list[tuple[str, str, str | None]], branch: str | None) -> str | None:
    """The branch's upstream remote, else "origin", else the first remote with a URL."""
    remotes = []
    for _, key, _ in entries:
        if key.startswith("remote.") and key.endswith(".url"):
            name = key[len("remote.") : -len(".url")]
            if name not in remotes:
                remotes.append(name)
    upstream = _config_value(entries, f"branch.{branch}.remote") if branch else None
    for candidate in (upstream, "origin"):
        if candidate in remotes:
            return candidate
    return remotes[0] if remotes else None


_SCHEME_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*@)?([^?#]*)", re.S)
_SCP_LIKE = re.compile(r"^([^/]*)@(.*)$", re.S)


def strip_credentials(url: str) -> str:
    """Drop passwords and tokens from a remote URL.

    URLs with a scheme lose their query, fragment and user info; only ssh keeps a user
    name (``ssh://git@host/x``). An scp-like ``user@host:path`` keeps its user name.
    """
    m = _SCHEME_URL.match(url)
    if m:
        scheme, userinfo, rest = m.groups()
        user = ""
        if userinfo and scheme.lower() in ("ssh://", "git+ssh://", "ssh+git://"):
            name = userinfo[:-1].split(":", 1)[0]
            user = f"{name}@" if name else ""
        return f"{scheme}{user}{rest}"
    m = _SCP_LIKE.match(url)
    if m:
        user = m.group(1).split(":", 1)[0]
        return f"{user}@{m.group(2)}" if user else m.group(2)
    return url


# -- helpers ----------------------------------------------------------------------


def _pidfd_works() -> bool:
    """Whether processes can be waited for through a pidfd (Linux 5.3+), where asyncio's
    own subprocesses still use a thread per process (Python < 3.12)."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


PIDFD = _pidfd_works()


async def _start(argv: list[str], **popen: Any) -> Any:
    """An asyncio-like process (stdin, stdout, stderr streams, pid, returncode, wait())."""
    if PIDFD:
        return await _Process.start(argv, **popen)
    return await asyncio.create_subprocess_exec(*argv, **popen)


class _Process:
    """A process watched without threads: its pipes through the event loop, its end
    through a pidfd. asyncio's default child watcher before Python 3.12 starts a thread
    for each process, and the event loop waits until that thread runs (about 0.5 ms a
    process here, more on a busy machine): 2 ms of every call of the git endpoint."""

    stdin: asyncio.StreamWriter | None
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._pidfd = -1
        self._ended: asyncio.Future[int] | None = None

    @classmethod
    async def start(cls, argv: list[str], **popen: Any) -> _Process:
        loop = asyncio.get_running_loop()
        self = cls(subprocess.Popen(argv, bufsize=0, **popen))  # (vfork, exec: as asyncio)
        try:
            self._pidfd = os.pidfd_open(self.pid)
            self._ended = loop.create_future()
            loop.add_reader(self._pidfd, self._on_end)
            self.stdout = await self._reader(loop, self._popen.stdout)
            self.stderr = await self._reader(loop, self._popen.stderr)
            self.stdin = None
            if self._popen.stdin is not None:
                protocol = asyncio.StreamReaderProtocol(asyncio.StreamReader(), loop=loop)
                transport, _ = await loop.connect_write_pipe(lambda: protocol, self._popen.stdin)
                self._transports.append(transport)
                self.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self._popen.wait()
            self.close()
            raise
        return self

    async def _reader(self, loop: asyncio.AbstractEventLoop, pipe: Any) -> asyncio.StreamReader:
        reader = asyncio.StreamReader(limit=1 << 16, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
        self._transports.append(transport)
        return reader

    def _on_end(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        self.returncode = self._popen.wait()  # at once: it has ended
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(self.returncode)

    async def wait(self) -> int:
        assert self._ended is not None
        return await asyncio.shield(self._ended)

    def close(self) -> None:
        """Close its pipes and pidfd (once it has ended)."""
        for transport in self._transports:
            transport.close()
        self._transports = []
        if self._pidfd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1


async def _read(
    stream: asyncio.StreamReader, cap: int | None, marker: bytes | None = None
) -> tuple[bytes, int]:
    """Read a stream to its end; keep at most ``cap`` bytes (after ``marker`` if given)."""
    kept = bytearray()
    total = 0
    limit = None if marker is not None else cap
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            return bytes(kept), total
        total += len(chunk)
        if limit is None:
            start = max(0, len(kept) - len(marker or b""))
            kept += chunk
            if marker is not None and cap is not None:
                at = kept.find(marker, start)
                if at >= 0:
                    limit = at + len(marker) + cap
                    del kept[limit:]
        elif len(kept) < limit:
            kept += chunk[: limit - len(kept)]


async def _write(stream: asyncio.StreamWriter | None, data: bytes | None) -> None:
    """Feed ``data`` to a process's stdin and close it (a process may stop reading early)."""
    if stream is None or data is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
    stream.close()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _bare_repository(path: str, shared: list[str]) -> None:
    """An empty repository at ``path`` holding copies of the ``shared`` index parts."""
    os.makedirs(os.path.join(path, "objects"))
    os.makedirs(os.path.join(path, "refs"))
    with open(os.path.join(path, "HEAD"), "w") as f:
        f.write("ref: refs/heads/main\n")
    if len(os.path.basename(shared[0])) == len("sharedindex.") + 64:  # a SHA-256 repository
        with open(os.path.join(path, "config"), "w") as f:
            f.write("[core]\n\trepositoryformatversion = 1\n")
            f.write("[extensions]\n\tobjectformat = sha256\n")
    for name in shared:
        shutil.copy2(name, path)


async def _gather(*aws: Awaitable[T]) -> list[T]:
    """Like asyncio.gather, but waits for every call before raising the first error."""
    results = await asyncio.gather(*aws, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def _toplevel(out: Output) -> str | None:
    """The top folder from `git rev-parse --show-toplevel ...` (its first line, printed
    even when a later argument fails); None outside a repository."""
    if b"\n" in out.stdout:
        return os.fsdecode(out.stdout.split(b"\n", 1)[0])
    if "dubious ownership" in out.stderr:
        raise _dubious(out.stderr)
    if "not a git repository" in out.stderr or "must be run in a work tree" in out.stderr:
        return None
    raise git_failed("rev-parse", out)


def _dubious(stderr: str) -> ApiError:
    m = re.search(r"dubious ownership in repository at '(.*)'", stderr)
    repo = m.group(1) if m else "this repository"
    command = f"git config --global --add safe.directory {shlex.quote(repo)}"
    return ApiError(
        403,
        "dubious_ownership",
        f"git refuses to read {repo}: it is owned by another user than the one running "
        f"Jupyter server. If you trust it, the server's administrator can run: {command}",
        command=command,
    )


def _text(s: str | None) -> str | None:
    """A string safe for JSON (undecodable bytes become U+FFFD)."""
    return None if s is None else s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _subcommand(args: list[str]) -> str:
    """The git command's name in an argument list that may start with -c options."""
    return next((a for a in args if not a.startswith("-") and "=" not in a), "")


def git_failed(what: str, out: Output) -> ApiError:
    if any(m in out.stderr for m in LAZY_FETCH_STOPPED):
        return ApiError(
            409,
            "missing_objects",
            f"git {what} needs objects that this partial clone has not fetched, and the "
            "server never fetches: run git there once yourself (`git diff HEAD` or "
            "`git checkout` fetches what it needs), then try again.",
        )
    return ApiError(
        500,
        "git_failed",
        f"git {what} failed (exit {out.returncode}): {out.stderr.strip()[:2000]}",
    )
