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

One call runs one `git status` (HEAD, branch, tracked and untracked changes), then, only
when tracked files changed, one `git diff HEAD` of those paths for the patch. Two things
are kept between calls, so that a call on an unchanged repository starts nothing else:

- the copy of the index (IndexCache: a private folder of the server, one copy per
  repository, replaced when the repository's index file or the overrides change), which
  `git status` refreshes and rewrites as it does the repository's own index: files git
  cannot tell unchanged by their times (after a clone, `cp -a`, a checkout, a build that
  touched them) are re-hashed by the first call only, as `git status` does once;
- what `git rev-parse` and `git config` told of the notebook's folder (RepoCache), used
  while none of the files they read changed (see RepoCache);
- the last patch, the answer again while status lists the same changes and nothing else
  it depends on changed (the files, their attributes files, the config: _patch_inputs);
  else the paths the last call found changed are diffed while status runs.
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
import stat
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
from .store import private_folder, temporary_folder

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
# remote_url; includes, which name more files to read (RepoCache keeps nothing then); the
# files a patch depends on besides the files it shows (see Git._kept_patch).
CONFIG_REGEXP = (
    r"^(filter|protocol|remote|branch|lfs\.extension|include|includeif)\."
    r"|^lfs\.repositoryformatversion$|^core\.attributesfile$|^diff\.orderfile$"
)
FILTER_VARS = ("clean", "smudge", "process")
# The top folder, the git folder, and the paths (relative to the folder git ran in) of the
# index file, the config file, the worktree's own config file and the repository's
# attributes file. No commit needed.
REPO_ARGS = [
    "rev-parse",
    "--show-toplevel",
    "--absolute-git-dir",
    "--git-path",
    "index",
    "--git-path",
    "config",
    "--git-path",
    "config.worktree",
    "--git-path",
    "info/attributes",
]
# For git commands that may rewrite the index they refreshed (a copy of the index): a split
# index would also freshen its shared index file in the repository when saved.
REFRESH_ARGS = ["-c", "core.splitIndex=false"]
# HEAD, the branch, tracked changes (as the user's `git status` lists them) and untracked
# files (folders holding only untracked files as "folder/"), in one process. Ahead/behind
# counts are not computed (a walk of the history). Where it may, status refreshes and
# rewrites the index it read: the kept copy, never the repository's (see Git.run).
STATUS_ARGS = [
    *REFRESH_ARGS,
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    "--no-ahead-behind",
    "--ignore-submodules=dirty",
    "--untracked-files=normal",
]
# Whether a submodule's checkout has tracked changes.
TRACKED_STATUS_ARGS = [*STATUS_ARGS[:-1], "--untracked-files=no"]
# HEAD against the worktree: the patch (a binary file's section says "Binary files ...
# differ"; NUMSTAT_ARGS lists them all when the patch was cut).
DIFF_ARGS = [
    "diff",
    "HEAD",
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
NUMSTAT_ARGS = [*DIFF_ARGS[:2], "--numstat", "-z", *DIFF_ARGS[3:]]
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
REPOS_MAX = 256  # folders whose repository facts RepoCache keeps
# A file last changed this long before it was looked at: a change made since shows in its
# ctime (files changed more recently are read again, as git re-hashes racily clean ones).
SETTLED_NS = 1_000_000_000


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
        self.repos = RepoCache(self)
        self._lfs_names = itertools.count()
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
        input: bytes | None = None,
        index: str | None = None,
        write_index: bool = False,
    ) -> Output:
        """Run ``git <SAFE_ARGS> <args>`` in ``cwd``, feeding ``input`` on stdin (default:
        none), on the index file ``index`` if given; keep at most ``cap`` bytes of
        stdout. ``write_index``: `git status` may rewrite the index file it refreshed
        (only ever a kept copy: GIT_OPTIONAL_LOCKS, else 0, governs only that). Raises
        ApiError 503 / 504."""
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
            if write_index:
                env["GIT_OPTIONAL_LOCKS"] = "1"
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
                    _read(proc.stdout, cap),
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
        repo = await self.repos.get(directory)
        if repo is None:
            return {"repo": False, "path": path}
        toplevel = repo.toplevel
        top_rel = relative_to_root(toplevel, root)
        cap = self.config.patch_max_bytes
        async with self._snapshot(repo.index, repo.entries, toplevel) as (copy, overrides, kept):
            # The last patch is the answer again if nothing it depends on changed (see
            # _kept_patch). Else the tracked paths the last call found changed are diffed
            # while status runs: that patch is the answer if status lists the same paths.
            last = kept.patch if kept is not None and repo.key is not None else None
            if last is not None and _patch_inputs(repo, last.paths) != last.inputs:
                last = None
            guess = kept.changed if kept is not None and last is None else None
            early = early_inputs = None
            if guess:
                early_inputs = _patch_inputs(repo, guess)
                early = asyncio.ensure_future(self._patch(guess, toplevel, overrides, copy))
            writes = kept is not None
            try:
                # One status at a time on a kept copy: a later call reads what an earlier
                # one refreshed, instead of hashing the same files at the same time.
                # Modified submodules are looked for while status runs.
                async with kept.status_lock if kept else contextlib.nullcontext():
                    status, submodules = await _gather(
                        self.run(STATUS_ARGS, toplevel, overrides, index=copy, write_index=writes),
                        self._modified_submodules(
                            toplevel, copy, overrides, 0, kept.gitlinks if kept else None
                        ),
                    )
                if status.returncode != 0:
                    raise git_failed("status", status)
                st = parse_status(status.stdout)
                if kept is not None:
                    kept.changed = st.tracked_paths if st.head_sha is not None else None
                if st.head_sha is not None and last is not None and st.records == last.records:
                    patch = last.patch
                elif st.head_sha is not None:
                    if early is not None and st.tracked_paths == guess:
                        inputs, patch = early_inputs, await early
                    else:
                        inputs = _patch_inputs(repo, st.tracked_paths)
                        patch = await self._patch(st.tracked_paths, toplevel, overrides, copy)
                    if kept is not None:
                        kept.patch = _kept_patch(repo, st, inputs, patch)
            finally:
                if early is not None:  # not stopped: a git killed could leave a lock file
                    await asyncio.gather(early, return_exceptions=True)
            if copy is not None and not os.path.exists(copy):
                # Removed meanwhile (a cleaner of temporary files?): git may have read no
                # index at all, which lists every file as deleted.
                raise ApiError(
                    503,
                    "git_index_lost",
                    "The server's private copy of the repository's index was removed while "
                    "git read it (by a cleaner of temporary files?). Try again.",
                )
        if st.head_sha is None:
            where = repr(top_rel) if top_rel is not None else "above the server root"
            raise ApiError(
                409,
                "empty_repository",
                f"The repository at {where} has no commits yet: commit once, then try again.",
            )
        changes = Changes(st.head_sha, st.branch, st.files, *patch)
        _add_submodules(changes, submodules, cap)
        files = changes.files + [
            {"path": n, "status": "??", "xy": "??", "orig_path": None, "submodule": False}
            for n in st.untracked
        ]
        remote_name = _pick_remote(repo.entries, st.branch)
        remote_url = (
            _config_value(repo.entries, f"remote.{remote_name}.url") if remote_name else None
        )
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
            "dirty": bool(changes.files),
            "dirty_files": files[:DIRTY_FILES_MAX],
            "dirty_files_truncated": len(files) > DIRTY_FILES_MAX,
            "untracked_count": len(st.untracked),
            "binary_files": changes.binary,
            "patch": changes.patch,
            "patch_bytes": changes.patch_bytes,
            "truncated": changes.patch_bytes > cap,
        }

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
        pathspec = ["--", *(paths if few else [])]
        # Only status rewrites the copy (a diff may run while it does).
        args = [
            *(["-c", "core.preloadIndex=false"] if few else []),
            *REFRESH_ARGS,
            "-c",
            "diff.autoRefreshIndex=false",
        ]
        cap = self.config.patch_max_bytes
        out = await self.run([*args, *DIFF_ARGS, *pathspec], toplevel, overrides, cap, index=index)
        if out.returncode != 0:
            raise git_failed("diff", out)
        if out.stdout_size <= cap:
            patch = out.stdout
            return patch.decode("utf-8", "replace"), len(patch), binary_paths(patch)
        # Cut: the binary files of the whole patch, as numstat lists them ("-\t-").
        numstat_args = [*args, *NUMSTAT_ARGS, *pathspec]
        numstat = await self.run(numstat_args, toplevel, overrides, index=index)
        if numstat.returncode != 0:
            raise git_failed("diff", numstat)
        binary = []
        for entry in numstat.stdout.split(b"\0"):
            added, _, rest = entry.partition(b"\t")
            deleted, _, path = rest.partition(b"\t")
            if added == b"-" and deleted == b"-":
                binary.append(path.decode("utf-8", "replace"))
        patch = _cut(out.stdout[:cap]).decode("utf-8", "replace")
        return patch, out.stdout_size, binary

    @contextlib.asynccontextmanager
    async def _snapshot(
        self,
        index: str,
        entries: list[tuple[str, str, str | None]],
        toplevel: str | None = None,
    ) -> AsyncIterator[tuple[str | None, list[tuple[str, str]], KeptIndex | None]]:
        """A copy of the index file ``index`` (None when there is none) and the config
        overrides, for reading its repository without writing anything in it. Given the
        repository's ``toplevel``, the copy is the one kept between calls (see IndexCache,
        also yielded); else a new one for this call only (and None)."""
        trusted = trusted_here(entries, self.config.trusted_filters)
        overrides = neutralising_overrides(entries, trusted)
        # Kept copies must match the overrides too: a filter driver, run or not, decides
        # which files a refresh finds unchanged.
        state = tuple(overrides)
        if toplevel is not None and self.config.git_index_cache > 0:
            # (made by git-lfs if it runs, in the cache's private folder)
            lfs = os.path.join(self.cache.folder(), f"lfs-{next(self._lfs_names)}")
            overrides.append(("lfs.storage", lfs))
            try:
                async with self.cache.use(index, state) as kept:
                    yield (kept.index if kept else None), overrides, kept
            finally:
                if os.path.lexists(lfs):
                    await asyncio.to_thread(shutil.rmtree, lfs, True)
        else:
            with temporary_folder("git") as tmp:
                overrides.append(("lfs.storage", os.path.join(tmp, "lfs")))
                copy = await self._copy_index(index, tmp)
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
        index = os.path.join(directory, os.fsdecode(lines[1]))
        async with self._snapshot(index, entries) as (copy, overrides, _):
            status = await self.run(TRACKED_STATUS_ARGS, directory, overrides, index=copy)
            if status.returncode != 0:
                raise git_failed("status", status)
            if parse_status(status.stdout).files:
                return True
            if depth >= MAX_SUBMODULE_DEPTH:
                return False
            return bool(await self._modified_submodules(directory, copy, overrides, depth))


# -- what is kept between calls ----------------------------------------------------


@dataclass
class Repo:
    """What `git rev-parse` and `git config` tell of a notebook's folder."""

    toplevel: str
    index: str  # the index file's path
    entries: list[tuple[str, str, str | None]]  # read_config's
    attributes: tuple[str, ...] = ()  # the attributes files outside the worktree
    key: Any = None  # RepoCache's, while these facts are kept


class RepoCache:
    """What `git rev-parse` (REPO_ARGS) and `git config` (read_config) told of a folder,
    kept for the next calls on that folder while nothing they read changed: every config
    file git reads there (the system one, where this git looks for it; the user's two; the
    repository's, its worktree's own), the repository's `.git`, its git folder and
    `commondir` file, and on the way from the folder up to its top folder, no `.git` or
    `HEAD` (another repository). Told by their identities (device, inode, mode, owner;
    for files also size, mtime and ctime in ns), taken before git read them: the paths
    are those the previous call's rev-parse named, so facts are kept from the second call
    on a folder. Kept only when every such file was last changed a second before (so that
    a change made since shows in its ctime), and no config includes other files. A config
    file changed since means new filter drivers to neutralise: the cache must never keep
    those from being read.
    """

    def __init__(self, git: Git) -> None:
        self._git = git
        # folder: (identities, or None: not kept, only its paths are known; facts; paths)
        self._kept: OrderedDict[str, tuple[Any, Repo, tuple[str, ...]]] = OrderedDict()
        self._files: tuple[str, ...] | None = None

    async def get(self, directory: str) -> Repo | None:
        """The repository holding the (real) folder ``directory``; None outside one."""
        key = since = None
        found = self._kept.pop(directory, None)
        if found is not None and self._files:
            since = time.time_ns() - SETTLED_NS
            key = _repo_key(directory, found[1].toplevel, found[2])
            if key is not None and key == found[0]:
                self._kept[directory] = found
                return found[1]
        head, entries, files = await _gather(
            self._git.run(REPO_ARGS, directory),
            self._git.read_config(directory),
            self._config_files(),
        )
        toplevel = _toplevel(head)
        if toplevel is None:
            return None
        lines = head.stdout.split(b"\n")
        if head.returncode != 0 or len(lines) != 7:
            raise git_failed("rev-parse", head)
        gitdir, index, config, worktree, info = (
            os.path.join(directory, os.fsdecode(p)) for p in lines[1:6]
        )
        paths = (gitdir, os.path.join(gitdir, "commondir"), config, worktree, *files)
        repo = Repo(toplevel, index, entries, self._attributes(info, entries))
        # The identities taken before git read them hold if git read the same files.
        same = found is not None and (found[1].toplevel, found[2]) == (toplevel, paths)
        if not (
            same
            and key is not None
            and since is not None
            and all(len(i) < 7 or i[6] < since for i in key if i is not None)
            and not any(k.startswith(("include.", "includeif.")) for _, k, _ in entries)
        ):
            key = None
        repo.key = key
        self._kept[directory] = (key, repo, paths)
        while len(self._kept) > REPOS_MAX:
            self._kept.popitem(last=False)
        return repo

    def _attributes(self, info: str, entries: list[tuple[str, str, str | None]]) -> tuple[str, ...]:
        """The attributes files git reads besides the worktree's: the repository's
        ``info``, the user's (core.attributesFile, else $XDG_CONFIG_HOME/git/attributes or
        ~/.config/git/attributes) and the system's (beside the system config); empty when
        not all are known."""
        env = self._git._env
        home = env.get("HOME")
        if not self._files or not home:
            return ()
        user = _config_value(entries, "core.attributesfile")
        if user is None:
            xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
            user = os.path.join(xdg, "git", "attributes")
        elif user.startswith("~/"):
            user = os.path.join(home, user[2:])
        elif not os.path.isabs(user):
            return ()
        return (info, user, os.path.join(os.path.dirname(self._files[0]), "gitattributes"))

    async def _config_files(self) -> tuple[str, ...]:
        """The config files git reads wherever it runs: the system one (this git tells
        where: it opens it in an "editor" that prints its path), $XDG_CONFIG_HOME/git/config
        (or ~/.config/git/config) and ~/.gitconfig; empty when not known."""
        if self._files is None:
            env = self._git._env
            home = env.get("HOME")
            out = await self._git.run(
                ["-c", "core.editor=echo", "config", "--system", "--edit"],
                self._git.cache.folder(),
            )
            system = os.fsdecode(out.stdout)
            if (
                out.returncode == 0
                and home
                and system.endswith("\n")
                and os.path.isabs(system[:-1])
                and "\n" not in system[:-1]
            ):
                xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
                self._files = (
                    system[:-1],
                    os.path.join(xdg, "git", "config"),
                    os.path.join(home, ".gitconfig"),
                )
            else:
                self._files = ()
        return self._files


def _repo_key(directory: str, toplevel: str, paths: Iterable[str]) -> tuple[Any, ...] | None:
    """The identities RepoCache keeps a folder's facts by (see there); None when they cannot
    be kept (``directory`` not below ``toplevel``, a repository between them)."""
    chain = []
    d = directory
    try:
        while True:
            dotgit = _stat_id(os.path.join(d, ".git"), follow=False)
            if d == toplevel:
                if dotgit is None:
                    return None
                chain.append(dotgit)
                break
            if dotgit is not None or _stat_id(os.path.join(d, "HEAD"), follow=False):
                return None
            parent = os.path.dirname(d)
            if parent == d:
                return None
            d = parent
        chain.append(_stat_id(toplevel, follow=False))
        chain += [_stat_id(p) for p in paths]
    except OSError:  # other than a missing file (no permission?): nothing kept
        return None
    return tuple(chain)


def _stat_id(path: str, follow: bool = True) -> tuple[int, ...] | None:
    """A file's (device, inode, mode, owner, size, mtime, ctime), a folder's first four;
    None when there is no such file."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        return (st.st_dev, st.st_ino, st.st_mode, st.st_uid)
    return (
        st.st_dev,
        st.st_ino,
        st.st_mode,
        st.st_uid,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )


class KeptPatch(NamedTuple):
    """A call's patch, kept with what it depends on besides the objects it names."""

    inputs: Any  # _patch_inputs' when the diff started
    paths: list[str]
    records: list[bytes]  # status's records of the changes (modes, HEAD's and index's blobs)
    patch: tuple[str, int, list[str]]


def _patch_inputs(repo: Repo, paths: list[str]) -> tuple[Any, ...] | None:
    """What `git diff HEAD` of ``paths`` reads, besides the objects its status records name
    and the config (RepoCache's key): the files (their identities, as _stat_id), and the
    attributes files that apply to them. None when one changed less than a second ago
    (a change made since might leave its times as they are)."""
    if repo.key is None or not repo.attributes:
        return None
    since = time.time_ns() - SETTLED_NS
    folders = set()
    for p in paths:
        d = os.path.dirname(p)
        while d not in folders:
            folders.add(d)
            d = os.path.dirname(d)
    try:
        found = [_stat_id(os.path.join(repo.toplevel, p), follow=False) for p in paths]
        found += [
            _stat_id(os.path.join(repo.toplevel, d, ".gitattributes"), follow=False)
            for d in sorted(folders)
        ]
        found += [_stat_id(f) for f in repo.attributes]
    except OSError:
        return None
    if any(i is not None and len(i) == 7 and i[6] >= since for i in found):
        return None
    return (repo.key, tuple(found))


def _kept_patch(
    repo: Repo, st: Status, inputs: Any, patch: tuple[str, int, list[str]]
) -> KeptPatch | None:
    """The patch to keep for the next calls, if it may be: not with submodules (their
    section tells of another repository), conflicts, or diff.orderFile (another file)."""
    if inputs is None or any(k == "diff.orderfile" for _, k, _ in repo.entries):
        return None
    for record in st.records:  # "1 XY sub mH mI mW ...", "2 ..." the same; "u ..." a conflict
        if record[:2] == b"u " or GITLINK in record.split(b" ", 6)[3:6]:
            return None
    return KeptPatch(inputs, st.tracked_paths, st.records, patch)


class KeptIndex:
    """One repository's copy of its index file, kept (and refreshed by git) between calls."""

    def __init__(self, folder: str, stamp: Any) -> None:
        self.folder = folder  # private to this copy: removed with it
        self.index = os.path.join(folder, "index")
        self.stamp = stamp  # what it was made from (see IndexCache.use)
        self.users = 0  # calls reading it now
        self.retired = False  # replaced or dropped: removed when the last user is done
        self.gitlinks = False  # whether an entry may have a gitlink's mode
        self.status_lock = asyncio.Lock()  # held while `git status` may rewrite it
        self.changed: list[str] | None = None  # tracked paths the last call found changed
        self.patch: KeptPatch | None = None  # the last patch, and what it depends on


def _remove_folder(folder: str, fd: int) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    os.close(fd)


class IndexCache:
    """The index copies kept between calls of GET /deardiary/git, one per repository (its
    index file's real path), least recently used dropped first (DearDiary.git_index_cache).

    They live in a folder of this server's own (mkdtemp: 0700, removed with the server).
    A copy is used while it was made from the same index file (device, inode, size, mtime
    and ctime in ns, trailing checksum) and config overrides; else a new copy is made.
    `git status` refreshes the copy it reads and rewrites it when it refreshed something
    (files whose times changed, re-hashed once) or when entries are racily clean, exactly
    as it does the repository's own index: the first call after a clone, a build or
    `cp -a` pays what `git status` pays once, the later ones what it pays then.

    The copy keeps the times git gives it, never ones of ours: git re-hashes the entries
    whose mtime is not older than the index file's ("racily clean"), which is what tells a
    file modified in the second of a refresh from an unchanged one.

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
            # locked while this server holds it: a later server removes it if this one is
            # killed (store.remove_stale_folders)
            self._folder, fd = private_folder("git")
            weakref.finalize(self, _remove_folder, self._folder, fd)
        return self._folder

    def kept(self, source: str) -> KeptIndex | None:
        """The copy kept for the index file ``source`` (for tests)."""
        return self._kept.get(os.path.realpath(source))

    @contextlib.asynccontextmanager
    async def use(self, source: str, state: Any) -> AsyncIterator[KeptIndex | None]:
        """The copy of the index file ``source`` for a repository in ``state`` (None when
        there is no index file), made now if needed; kept while the caller reads it."""
        key = os.path.realpath(source)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            stamp = (_identity(source), state)
            kept = self._kept.get(key)
            if stamp[0] is None:
                kept = None
            elif kept is None or kept.stamp != stamp or not os.path.exists(kept.index):
                old, kept = kept, await self._make(source, stamp)
                if old is not None and kept is not None:
                    # Guesses for the new copy: status tells whether they still hold (the
                    # patch depends on HEAD's blobs, not the index's entries).
                    kept.changed, kept.patch = old.changed, old.patch
            if kept is None:
                self._drop(key)
            else:
                self._replace(key, kept)
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

    async def _make(self, source: str, stamp: Any) -> KeptIndex | None:
        """A new copy of the repository's index file ``source`` (made whole if split); None
        when there is no such file."""
        kept = KeptIndex(tempfile.mkdtemp(prefix=f"{next(self._names)}-", dir=self.folder()), stamp)
        try:
            copied = await asyncio.to_thread(_copy_file, source, kept.index)
            if copied is None:
                shutil.rmtree(kept.folder, ignore_errors=True)
                return None
            identity, data = copied
            kept.stamp = (identity, stamp[1])  # what was copied (it may have been replaced)
            kept.gitlinks = GITLINK_MODE in data
            await self._git._unsplit(source, kept.index, kept.folder)
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


def _copy_file(source: str, copy: str) -> tuple[tuple[Any, ...], bytes] | None:
    """Copy ``source`` with its access and modification times (in ns); the identity (as
    _identity) and the bytes of what was copied, or None when there is no such file."""
    try:
        src = open(source, "rb")  # noqa: SIM115
    except OSError:
        return None
    with src:
        st = os.fstat(src.fileno())
        data = src.read()
    with open(copy, "xb") as dst:
        dst.write(data)
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, data[-32:])
    return identity, data


# -- parsing ----------------------------------------------------------------------


@dataclass
class Status:
    head_sha: str | None
    branch: str | None
    files: list[dict[str, Any]]  # tracked changes
    tracked_paths: list[str]  # changed tracked paths (both sides of a rename)
    untracked: list[str]  # untracked files, and folders of them as "folder/"
    records: list[bytes]  # the tracked changes' records as status printed them


@dataclass
class Changes:
    """The tracked changes of a repository, as the endpoint answers them."""

    head_sha: str
    branch: str | None
    files: list[dict[str, Any]]  # as `git status` lists them
    patch: str
    patch_bytes: int
    binary: list[str]


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


def _xy(code: str) -> tuple[str, str]:
    """Porcelain v2 XY ("." for unchanged) to the v1 two-letter form and one short code."""
    xy = code.replace(".", " ")
    return xy, (xy[0] if xy[0] != " " else xy[1])


def parse_status(raw: bytes) -> Status:
    """Parse ``git status --porcelain=v2 --branch -z``."""
    tokens = raw.split(b"\0")
    head: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    tracked: list[str] = []
    untracked: list[str] = []
    records: list[bytes] = []
    i = 0
    while i < len(tokens):
        line = tokens[i]
        i += 1
        kind = line[:2]
        if kind == b"# ":
            key, _, value = line[2:].decode("utf-8", "replace").partition(" ")
            head[key] = value
        elif kind == b"? ":
            untracked.append(line[2:].decode("utf-8", "replace"))
        elif kind in (b"1 ", b"2 ", b"u "):
            fields = line.split(b" ", {b"1 ": 8, b"2 ": 9, b"u ": 10}[kind])
            paths = [fields[-1]]
            if kind == b"2 ":
                paths.append(tokens[i])
                line += b"\0" + tokens[i]
                i += 1
            records.append(line)
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
        untracked=untracked,
        records=records,
    )


def binary_paths(patch: bytes) -> list[str]:
    """The files whose section in a patch (``git diff --no-renames -p``) says "Binary files
    ... differ". (A line of a file's content starts with " ", "+" or "-".)"""
    found = []
    header = None
    for m in _SECTION_LINES.finditer(patch):
        if m[1] == b"diff --git ":
            header = m[2]
        elif header is not None:
            # "a/<path> b/<path>", each C-quoted if needed: two halves of one length
            path = _unquote(header[: (len(header) - 1) // 2])[2:]
            found.append(path.decode("utf-8", "replace"))
            header = None
    return found


_SECTION_LINES = re.compile(rb"^(diff --git |Binary files )(.*)$", re.M)


_C_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13}


def _unquote(name: bytes) -> bytes:
    """A path as git printed it (C-quoted, between double quotes, if it needed it)."""
    if not name.startswith(b'"'):
        return name
    return re.sub(
        rb"\\([0-7]{3}|.)",
        lambda m: bytes(
            [int(m[1], 8) if len(m[1]) == 3 else _C_ESCAPES.get(m[1], m[1][0])]
        ),
        name[1:-1],
        flags=re.S,
    )


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


async def _read(stream: asyncio.StreamReader, cap: int | None) -> tuple[bytes, int]:
    """Read a stream to its end; keep at most ``cap`` bytes (all if None); and its size."""
    kept = bytearray()
    total = 0
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            return bytes(kept), total
        total += len(chunk)
        if cap is None or len(kept) < cap:
            kept += chunk if cap is None else chunk[: cap - len(kept)]


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
