"""POST /deardiary/worktree: the code of a past run, as a git worktree at its commit with
its stored patch applied.

Every git call goes through Git.run (SAFE_ARGS: no hooks, no fsmonitor, no transport).
The worktree is added without a checkout; the config is then read again from inside it
(a linked worktree can see config the main one does not: ``includeIf "gitdir:"``, its
own config.worktree), and the checkout and the patch run with every filter driver
(clean, smudge, process) neutralised from that config, trusted ones too: the worktree
holds the files as committed. A trusted git-lfs would download there, and a download runs
programs the repository names (lfs.customtransfer.*.path with lfs.standalonetransferagent,
core.sshCommand for an ssh LFS URL, which git-lfs even connects to as it starts, credential
helpers): running no filter is simpler and safer than a list of such keys. git-lfs files
stay pointers, listed in the answer (lfs_pointers): `git lfs checkout` (objects already
fetched) or `git lfs pull` in the worktree replaces them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import weakref
from pathlib import Path
from typing import Any

from .errors import ApiError, bad_request, json_object
from .git import Git, git_failed, neutralising_overrides
from .paths import is_inside, relative_to_root, resolve_inside
from .restore import makedirs

_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_BINARY = re.compile(r"^Binary files .* differ$", re.MULTILINE)
APPLY_ARGS = ["apply", "--index", "--whitespace=nowarn", "--no-ignore-whitespace"]
LISTED_MAX = 5  # entries named when the target is not empty
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\n"  # how a pointer file starts
MESSAGE_MAX = 2000
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    """One worktree add at a time (per event loop): a failure only ever removes its own."""
    loop = asyncio.get_running_loop()
    if loop not in _locks:
        _locks[loop] = asyncio.Lock()
    return _locks[loop]


def parse_request(body: bytes) -> dict[str, Any]:
    """Validate the JSON body; nothing is touched here."""
    req = json_object(body)
    for key in ("path", "target"):
        if not isinstance(req.get(key), str):
            raise bad_request(f"'{key}' must be a path relative to the server root.", "bad_path")
    sha = req.get("sha")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise bad_request(
            f"'sha' must be a full commit id (40 or 64 hexadecimal digits), got {sha!r}.",
            "bad_sha",
        )
    patch = req.get("patch") or ""
    if not isinstance(patch, str):
        raise bad_request("'patch' must be the text of `git diff HEAD`.", "bad_patch")
    try:
        patch.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("'patch' is not valid text (lone surrogate).", "bad_patch") from None
    truncated = req.get("patch_truncated") or False
    if not isinstance(truncated, bool):
        raise bad_request("'patch_truncated' must be true or false.")
    return {**req, "sha": sha.lower(), "patch": patch, "patch_truncated": truncated}


def split_patch(patch: str) -> list[str]:
    """One section per ``diff --git`` header (content lines never start with "diff")."""
    starts = [m.start() for m in re.finditer(r"^diff --git ", patch, re.MULTILINE)]
    return [patch[a:b] for a, b in zip(starts, [*starts[1:], len(patch)])]


def _check_target(target: Path, rel: str, allow_hidden: bool) -> None:
    """A folder that does not exist or is empty, never inside a .git folder."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p.lower() == ".git" for p in parts) or (
        not allow_hidden and any(p.startswith(".") for p in parts)
    ):
        raise bad_request(
            f"The folder {rel!r} is hidden or inside a .git folder; choose another one.",
            "bad_path",
        )
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise ApiError(409, "not_a_folder", f"{rel!r} exists and is not a folder.")
    entries = sorted(os.listdir(target))
    if entries:
        shown = ", ".join(entries[:LISTED_MAX]) + (", …" if len(entries) > LISTED_MAX else "")
        raise ApiError(
            409,
            "target_not_empty",
            f"The folder {rel!r} is not empty (it holds {shown}). Nothing was changed; "
            "choose a new or empty folder for the code.",
            entries=entries[:LISTED_MAX],
        )


async def _overrides(git: Git, cwd: str) -> list[tuple[str, str]]:
    """The config overrides that neutralise what the config seen from ``cwd`` would run,
    every filter driver included (DearDiary.trusted_filters is for status and diff)."""
    return neutralising_overrides(await git.read_config(cwd), trusted=())


async def create_worktree(git: Git, root: str, body: bytes, allow_hidden: bool) -> dict[str, Any]:
    """The JSON answer of POST /deardiary/worktree."""
    req = parse_request(body)
    sha, patch = req["sha"], req["patch"]
    resolved = resolve_inside(root, req["path"], allow_empty=True)
    directory = str(resolved if resolved.is_dir() else resolved.parent)
    target = resolve_inside(root, req["target"], must_exist=False)
    _check_target(target, req["target"], allow_hidden)

    toplevel = await git.toplevel(directory)
    if toplevel is None:
        raise ApiError(
            409,
            "not_a_repository",
            f"{req['path']!r} is not inside a git repository: there is no code to restore.",
        )
    top_rel = relative_to_root(toplevel, root)
    overrides = await _overrides(git, toplevel)

    found = await git.run(
        ["rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}"], toplevel, overrides
    )
    if found.returncode != 0 or found.stdout.decode().strip() != sha:
        where = repr(top_rel) if top_rel is not None else "above the server root"
        raise ApiError(
            409,
            "unknown_commit",
            f"The commit {sha} is not in the repository at {where}. It may exist only in "
            "another clone: fetch it (for example `git fetch --all`), then try again.",
        )

    sections: list[str] = []
    names: list[str] = []
    if patch and not req["patch_truncated"]:  # read the whole patch before touching anything
        sections = split_patch(patch)
        stat = await git.run(
            ["apply", "--numstat", "-z"], toplevel, overrides, input=patch.encode()
        )
        names = [os.fsdecode(e.split(b"\t", 2)[-1]) for e in stat.stdout.split(b"\0") if e]
        if stat.returncode != 0 or not sections or len(names) != len(sections):
            message = stat.stderr.strip()[:MESSAGE_MAX] or "expected one `diff --git` per file"
            raise bad_request(
                f"The patch cannot be read ({message}); nothing was changed.", "bad_patch"
            )

    async with _lock():
        _check_target(target, req["target"], allow_hidden)
        existed = target.is_dir()
        made = makedirs(target)
        added = False
        try:
            if not is_inside(os.path.realpath(target), os.path.realpath(root)):
                raise ApiError(
                    403,
                    "outside_root",
                    f"The path {req['target']!r} leads outside the server root.",
                )
            # No checkout yet: the filter overrides must come from the new worktree's config.
            add = ["worktree", "add", "--no-checkout", "--detach", str(target), sha]
            added = True  # from here on, a failure (a timeout) may leave an entry behind
            out = await git.run(add, toplevel, overrides)
            if out.returncode != 0:
                added = False  # git removed what it had started
                raise git_failed("worktree add", out)
            inside = await _overrides(git, str(target))
            reset = ["reset", "--hard", "--no-recurse-submodules", "-q"]
            out = await git.run(reset, str(target), inside)
            if out.returncode != 0:
                raise git_failed("checkout", out)
            result = await _apply(git, str(target), inside, sections, names)
            result["lfs_pointers"] = await _lfs_pointers(git, str(target), inside)
        except BaseException:
            if added:  # the first error is the one to report
                remove = ["worktree", "remove", "--force", "--force", str(target)]
                with contextlib.suppress(ApiError):
                    if (await git.run(remove, toplevel, overrides)).returncode != 0:
                        await git.run(["worktree", "prune"], toplevel, overrides)
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            if existed:
                with contextlib.suppress(OSError):
                    os.mkdir(target)
            raise

    if not patch:
        result["patch_reason"] = "empty"
    elif req["patch_truncated"]:
        result["patch_reason"] = "truncated"
    return {
        "target": relative_to_root(target, root),
        "target_abs": str(target),
        "toplevel": top_rel,
        "sha": sha,
        **result,
    }


async def _apply(
    git: Git, cwd: str, overrides: list[tuple[str, str]], sections: list[str], names: list[str]
) -> dict[str, Any]:
    """Apply the text sections of the patch: all at once, else file by file so that each
    conflicting file is reported (and stays at the commit) while the others apply."""
    binary = [n for s, n in zip(sections, names) if _BINARY.search(s)]
    todo = [(s, n) for s, n in zip(sections, names) if not _BINARY.search(s)]
    result: dict[str, Any] = {
        "patch_applied": bool(sections),
        "patch_reason": None,
        "applied_files": [],
        "conflicts": [],
        "skipped_binary": binary,
    }
    if not todo:
        return result
    whole = await git.run(APPLY_ARGS, cwd, overrides, input="".join(s for s, _ in todo).encode())
    if whole.returncode == 0:
        result["applied_files"] = [n for _, n in todo]
        return result
    for section, name in todo:
        out = await git.run(APPLY_ARGS, cwd, overrides, input=section.encode())
        if out.returncode == 0:
            result["applied_files"].append(name)
        else:
            message = out.stderr.strip()[:MESSAGE_MAX]
            result["conflicts"].append({"path": name, "message": message})
    if result["conflicts"]:
        result.update(patch_applied=False, patch_reason="conflicts")
    return result


async def _lfs_pointers(git: Git, cwd: str, overrides: list[tuple[str, str]]) -> list[str]:
    """The files of the worktree with the git-lfs filter that are still pointer files."""
    listed = await git.run(["ls-files", "-z"], cwd, overrides)
    if listed.returncode != 0:
        raise git_failed("ls-files", listed)
    check = ["check-attr", "-z", "--stdin", "filter"]
    attrs = await git.run(check, cwd, overrides, input=listed.stdout)
    if attrs.returncode != 0:
        raise git_failed("check-attr", attrs)
    tokens = attrs.stdout.split(b"\0")  # path, attribute, value, ...
    found = []
    for path, value in zip(tokens[0::3], tokens[2::3]):
        if value == b"lfs" and _starts_with(os.path.join(cwd, os.fsdecode(path)), LFS_POINTER):
            found.append(path.decode("utf-8", "replace"))
    return found


def _starts_with(path: str, prefix: bytes) -> bool:
    """Whether the regular file at ``path`` (never through a symbolic link) starts so."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        return f.read(len(prefix)) == prefix
