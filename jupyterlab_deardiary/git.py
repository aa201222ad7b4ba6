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
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
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
            proc = await asyncio.create_subprocess_exec(
                self.executable,
                *SAFE_ARGS,
                *args,
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
        async with self._snapshot(directory, index, entries) as (copy, overrides):
            # Untracked files and modified submodules are listed while the tracked changes are.
            st, untracked, submodules = await _gather(
                self._tracked(copy, named, _renames(entries), toplevel, top_rel, overrides),
                self.run(UNTRACKED_ARGS, toplevel, overrides, index=copy),
                self._modified_submodules(toplevel, copy, overrides, 0),
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
    ) -> Changes:
        """The tracked changes, without `git status` when two diffs tell the same."""
        if named is not None and index is not None:
            st = await self._changes(index, *named, renames, toplevel, overrides)
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
    ) -> Changes | None:
        """The tracked changes without `git status`, for about the cost of status: the
        worktree against HEAD (with the patch) while the index against HEAD, then the
        worktree against the index of the staged paths. None when only status tells
        exactly: conflicts, submodules, changes it would pair as renames or copies."""

        async def staged_then_unstaged() -> tuple[list[Raw], list[Raw]]:
            out = await self.run(STAGED_ARGS, toplevel, overrides, index=index)
            if out.returncode != 0:
                raise git_failed("diff --cached", out)
            staged = parse_raw(out.stdout)[0]
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
        self, directory: str, index: str | None, entries: list[tuple[str, str, str | None]]
    ) -> AsyncIterator[tuple[str | None, list[tuple[str, str]]]]:
        """A copy of the index file (None when there is none), and the config overrides,
        for reading the repository at ``directory`` without writing anything in it."""
        with tempfile.TemporaryDirectory(prefix="deardiary-") as tmp:
            trusted = trusted_here(entries, self.config.trusted_filters)
            overrides = neutralising_overrides(entries, trusted)
            overrides.append(("lfs.storage", os.path.join(tmp, "lfs")))
            copy = await self._copy_index(os.path.join(directory, index), tmp) if index else None
            yield copy, overrides

    async def _copy_index(self, index: str, tmp: str) -> str | None:
        """A copy of the index file (same times, so the same entries count as racily clean)
        in ``tmp``; None when there is none to copy. A split index is made whole, reading
        copies of the shared parts in a bare folder: git never reads the repository's."""
        copy = os.path.join(tmp, "index")
        try:
            await asyncio.to_thread(shutil.copy2, index, copy)
        except OSError:
            return None
        shared = glob.glob(os.path.join(glob.escape(os.path.dirname(index)), "sharedindex.*"))
        if shared:
            await asyncio.to_thread(_bare_repository, os.path.join(tmp, "git"), shared)
            args = ["--git-dir", os.path.join(tmp, "git"), "update-index", "--no-split-index"]
            out = await self.run([*REFRESH_ARGS, *args], tmp, index=copy)
            if out.returncode != 0:
                raise git_failed("update-index", out)
        return copy

    async def _modified_submodules(
        self, toplevel: str, index: str | None, overrides: list[tuple[str, str]], depth: int
    ) -> list[tuple[bytes, str]]:
        """(path, commit) of the gitlinks of ``index`` whose checkout holds tracked changes
        (git's "modified content"), looked at one by one to MAX_SUBMODULE_DEPTH."""
        if index is None or GITLINK_MODE not in await asyncio.to_thread(_read_bytes, index):
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
        async with self._snapshot(directory, os.fsdecode(lines[1]), entries) as (copy, overrides):
            status = await self.run(STATUS_ARGS, directory, overrides, index=copy)
            if status.returncode != 0:
                raise git_failed("status", status)
            if parse_status(status.stdout).files:
                return True
            if depth >= MAX_SUBMODULE_DEPTH:
                return False
            return bool(await self._modified_submodules(directory, copy, overrides, depth))


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
