"""GET /deardiary/git on real repositories."""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

from jupyterlab_deardiary.git import PIDFD, parse_status

from .utils import (
    GIT,
    GIT_ENV,
    fetch_json,
    git,
    git_lfs_install,
    make_repo,
    script,
    tree_state,
    write,
)


async def get_git(jp_fetch, path: str):
    return await fetch_json(jp_fetch, "deardiary", "git", params={"path": path})


async def test_outside_a_repository(jp_fetch, jp_root_dir):
    write(jp_root_dir / "plain" / "nb.ipynb", "{}")
    code, body = await get_git(jp_fetch, "plain/nb.ipynb")
    assert code == 200
    assert body == {"repo": False, "path": "plain/nb.ipynb"}


async def test_clean_repository(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj")
    code, body = await get_git(jp_fetch, "proj/notebook.ipynb")
    assert code == 200
    assert body == {
        "repo": True,
        "path": "proj/notebook.ipynb",
        "toplevel": "proj",
        "toplevel_outside_root": False,
        "head_sha": git(repo, "rev-parse", "HEAD").strip(),
        "branch": "main",
        "detached": False,
        "remote_name": None,
        "remote_url": None,
        "dirty": False,
        "dirty_files": [],
        "dirty_files_truncated": False,
        "untracked_count": 0,
        "binary_files": [],
        "patch": "",
        "patch_bytes": 0,
        "truncated": False,
    }


async def test_dirty_repository(jp_fetch, jp_root_dir):
    repo = make_repo(
        jp_root_dir / "proj",
        {"modified.txt": "one\n", "deleted.txt": "gone soon\n", "keep.txt": "same\n"},
    )
    write(repo / "modified.txt", "one\ntwo\n")
    (repo / "deleted.txt").unlink()
    write(repo / "staged.txt", "new and staged\n")
    git(repo, "add", "staged.txt")
    write(repo / "untracked.txt", "not added\n")

    code, body = await get_git(jp_fetch, "proj")
    assert code == 200
    assert body["dirty"] is True
    by_path = {f["path"]: f for f in body["dirty_files"]}
    assert {p: f["status"] for p, f in by_path.items()} == {
        "modified.txt": "M",
        "deleted.txt": "D",
        "staged.txt": "A",
        "untracked.txt": "??",
    }
    assert by_path["modified.txt"]["xy"] == " M"
    assert by_path["staged.txt"]["xy"] == "A "
    assert body["untracked_count"] == 1
    assert "+two" in body["patch"]
    assert "-gone soon" in body["patch"]
    assert "+new and staged" in body["patch"]
    assert "not added" not in body["patch"]  # untracked files are listed, not diffed
    assert body["patch_bytes"] == len(body["patch"].encode())
    assert body["truncated"] is False


async def test_untracked_only_is_not_dirty(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj")
    write(repo / "scratch.txt", "x")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200
    assert body["dirty"] is False
    assert body["untracked_count"] == 1
    assert body["dirty_files"] == [
        {"path": "scratch.txt", "status": "??", "xy": "??", "orig_path": None, "submodule": False}
    ]


async def test_staged_rename(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj", {"old name.txt": "content\n" * 20})
    git(repo, "mv", "old name.txt", "new name.txt")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200
    assert body["dirty_files"] == [
        {
            "path": "new name.txt",
            "status": "R",
            "xy": "R ",
            "orig_path": "old name.txt",
            "submodule": False,
        }
    ]


async def test_detached_head(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj")
    first = git(repo, "rev-parse", "HEAD").strip()
    write(repo / "more.txt", "more")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    git(repo, "checkout", "-q", "--detach", first)
    code, body = await get_git(jp_fetch, "proj/notebook.ipynb")
    assert code == 200
    assert body["head_sha"] == first
    assert body["branch"] is None
    assert body["detached"] is True


async def test_empty_repository(jp_fetch, jp_root_dir):
    repo = jp_root_dir / "empty"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo / "nb.ipynb", "{}")
    code, body = await get_git(jp_fetch, "empty/nb.ipynb")
    assert code == 409
    assert body["error"] == "empty_repository"
    assert "no commits yet" in body["message"]


async def test_path_deep_inside_a_repository(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj", {"a/b/c/deep.ipynb": "{}"})
    write(repo / "a" / "b" / "c" / "deep.ipynb", '{"changed": 1}')
    code, body = await get_git(jp_fetch, "proj/a/b/c/deep.ipynb")
    assert code == 200
    assert body["toplevel"] == "proj"
    assert body["path"] == "proj/a/b/c/deep.ipynb"
    assert [f["path"] for f in body["dirty_files"]] == ["a/b/c/deep.ipynb"]  # relative to toplevel


async def test_server_root_inside_the_repository(jp_fetch, jp_root_dir):
    # the server root itself is a repository: toplevel is "" (the root)
    git(jp_root_dir, "init", "-q", "-b", "main")
    write(jp_root_dir / "nb.ipynb", "{}")
    git(jp_root_dir, "add", "-A")
    git(jp_root_dir, "commit", "-q", "-m", "x")
    code, body = await get_git(jp_fetch, "")
    assert code == 200
    assert body["toplevel"] == ""
    assert body["toplevel_outside_root"] is False


async def test_submodule(jp_fetch, jp_root_dir, tmp_path):
    lib_src = make_repo(tmp_path / "lib-src", {"lib.jl": "module Lib end\n", "other.jl": "x\n"})
    sup = make_repo(jp_root_dir / "super")
    git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib_src), "lib")
    git(sup, "commit", "-q", "-m", "add submodule")
    lib = sup / "lib"

    # a path inside the submodule describes the submodule's own repository
    code, body = await get_git(jp_fetch, "super/lib/lib.jl")
    assert code == 200
    assert body["toplevel"] == "super/lib"
    assert body["head_sha"] == git(lib, "rev-parse", "HEAD").strip()
    assert body["head_sha"] != git(sup, "rev-parse", "HEAD").strip()
    assert body["dirty"] is False

    # the superproject sees a submodule with modified content as a modified entry
    write(lib / "lib.jl", "module Lib changed end\n")
    code, body = await get_git(jp_fetch, "super")
    assert code == 200
    assert body["toplevel"] == "super"
    assert body["dirty"] is True
    assert body["dirty_files"] == [
        {"path": "lib", "status": "M", "xy": " M", "orig_path": None, "submodule": True}
    ]
    assert "Subproject commit" in body["patch"]


@pytest.mark.parametrize(
    ("url", "expected", "secret"),
    [
        ("https://user:s3cret@example.com/x.git", "https://example.com/x.git", "s3cret"),
        ("https://ghp_token123@example.com/x.git", "https://example.com/x.git", "ghp_token123"),
        ("https://example.com/x.git?private_token=tok987", "https://example.com/x.git", "tok987"),
        ("ssh://git:pw456@example.com/x.git", "ssh://git@example.com/x.git", "pw456"),
        ("git@example.com:org/x.git", "git@example.com:org/x.git", None),
    ],
)
async def test_remote_url_without_credentials(jp_fetch, jp_root_dir, url, expected, secret):
    repo = make_repo(jp_root_dir / "proj")
    git(repo, "remote", "add", "origin", url)
    write(repo / "notebook.ipynb", '{"dirty": true}')
    response = await jp_fetch("deardiary", "git", params={"path": "proj"})
    text = response.body.decode()
    if secret:
        assert secret not in text
    body = json.loads(text)
    assert body["remote_name"] == "origin"
    assert body["remote_url"] == expected


async def test_remote_follows_the_branch_upstream(jp_fetch, jp_root_dir):
    repo = make_repo(jp_root_dir / "proj")
    git(repo, "remote", "add", "origin", "https://example.com/origin.git")
    git(repo, "remote", "add", "Fork", "https://u:hidden@example.com/fork.git")
    git(repo, "config", "branch.main.remote", "Fork")
    git(repo, "config", "branch.main.merge", "refs/heads/main")
    response = await jp_fetch("deardiary", "git", params={"path": "proj"})
    assert b"hidden" not in response.body
    code, body = await get_git(jp_fetch, "proj")
    assert (body["remote_name"], body["remote_url"]) == ("Fork", "https://example.com/fork.git")


@pytest.mark.parametrize("deardiary_config", [{"patch_max_bytes": 2000}])
async def test_patch_is_truncated(jp_fetch, jp_root_dir):
    """Cut at a line end; the binary files past the cut are listed too."""
    lines = "".join(f"line {i}\n" for i in range(1000))
    repo = make_repo(jp_root_dir / "proj", {"big.txt": lines, "z.bin": b"\0a"})
    write(repo / "big.txt", "".join(f"line {i} é changed\n" for i in range(1000)))
    write(repo / "z.bin", b"\0b")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200
    assert body["truncated"] is True
    assert body["patch_bytes"] > 20000
    patch = body["patch"].encode()
    assert 0 < len(patch) <= 2000
    assert patch.endswith(b"\n")
    assert patch.startswith(b"diff --git a/big.txt b/big.txt\n")
    assert b"z.bin" not in patch
    assert body["binary_files"] == ["z.bin"]


async def test_binary_change_is_listed_not_inlined(jp_fetch, jp_root_dir):
    blob = bytes(range(256)) * 4
    repo = make_repo(jp_root_dir / "proj", {"data.bin": blob, "text.txt": "a\n"})
    write(repo / "data.bin", blob[::-1] + b"\0tail")
    write(repo / "text.txt", "b\n")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200
    assert body["binary_files"] == ["data.bin"]
    assert "Binary files a/data.bin and b/data.bin differ" in body["patch"]
    assert "\0" not in body["patch"]
    assert "+b" in body["patch"]


async def test_repository_config_never_runs_a_program(jp_fetch, jp_root_dir, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = lambda name: f'touch "{markers}/{name}"'  # noqa: E731
    repo = make_repo(
        jp_root_dir / "proj",
        {
            ".gitattributes": (
                "*.txt filter=evil diff=evil\n*.dat filter=evilproc\n*.lfs filter=lfs\n"
            ),
            "a.txt": "a\n",
            "b.txt": "b\n",
            "p.dat": "p\n",
            "x.lfs": "x\n",
        },
    )
    hooks = repo / "evil-hooks"
    hooks.mkdir()
    for hook in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction"):
        script(hooks / hook, mark("hook"))
    git(
        repo,
        "config",
        "core.fsmonitor",
        script(bin_dir / "fsmonitor", mark("fsmonitor") + "\nexit 1"),
    )
    git(repo, "config", "core.hooksPath", str(hooks))
    git(repo, "config", "diff.external", script(bin_dir / "extdiff", mark("extdiff")))
    git(
        repo,
        "config",
        "diff.evil.textconv",
        script(bin_dir / "textconv", mark("textconv") + '\ncat "$1"'),
    )
    git(repo, "config", "filter.evil.clean", script(bin_dir / "clean", mark("filter") + "\ncat"))
    git(repo, "config", "filter.evil.smudge", script(bin_dir / "smudge", mark("filter") + "\ncat"))
    git(repo, "config", "filter.evil.required", "true")
    git(
        repo,
        "config",
        "filter.evilproc.process",
        script(bin_dir / "process", mark("process") + "\ncat"),
    )
    # "lfs" is trusted, but only as defined in the system/global config, not by the repository
    git(repo, "config", "filter.lfs.clean", script(bin_dir / "lfs", mark("lfs") + "\ncat"))
    write(repo / "a.txt", "a changed\n")
    write(repo / "p.dat", "p changed\n")
    write(repo / "x.lfs", "x changed\n")
    os.utime(repo / "b.txt", (1, 1))  # same content, new stat: status must re-read it
    write(repo / "untracked.txt", "u\n")

    for _ in range(2):
        code, body = await get_git(jp_fetch, "proj")
        assert code == 200, body
        assert sorted(f["path"] for f in body["dirty_files"]) == [
            "a.txt",
            "evil-hooks/",
            "p.dat",
            "untracked.txt",
            "x.lfs",
        ]
        assert "+a changed" in body["patch"]
    assert sorted(os.listdir(markers)) == []

    # The same repository, read by plain git, does run all of them: the set-up is real.
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "status"], cwd=repo, env=env, capture_output=True)
    subprocess.run(["git", "diff", "HEAD"], cwd=repo, env=env, capture_output=True)
    subprocess.run(["git", "diff", "--no-ext-diff", "HEAD"], cwd=repo, env=env, capture_output=True)
    assert sorted(os.listdir(markers)) == [
        "extdiff",
        "filter",
        "fsmonitor",
        "hook",
        "lfs",
        "process",
        "textconv",
    ]


async def test_submodule_config_never_runs_a_program(jp_fetch, jp_root_dir, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    lib_src = make_repo(
        tmp_path / "lib-src",
        {".gitattributes": "*.jl filter=subevil\n", "a.jl": "a\n", "b.jl": "b\n"},
    )
    sup = make_repo(jp_root_dir / "super")
    git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib_src), "lib")
    git(sup, "commit", "-q", "-m", "add submodule")
    lib = sup / "lib"
    clean = script(tmp_path / "clean", f'touch "{markers}/subfilter"\ncat')
    fsmonitor = script(tmp_path / "fsmonitor", f'touch "{markers}/subfsmonitor"\nexit 1')
    git(lib, "config", "filter.subevil.clean", clean)
    git(lib, "config", "core.fsmonitor", fsmonitor)
    os.utime(lib / "a.jl", (1, 1))
    write(lib / "b.jl", "b changed\n")

    code, body = await get_git(jp_fetch, "super")
    assert code == 200, body
    assert [(f["path"], f["submodule"]) for f in body["dirty_files"]] == [("lib", True)]
    code, body = await get_git(jp_fetch, "super/lib")
    assert code == 200, body
    assert [f["path"] for f in body["dirty_files"]] == ["b.jl"]
    assert os.listdir(markers) == []

    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "status"], cwd=sup, env=env, capture_output=True)
    assert sorted(os.listdir(markers)) == ["subfilter", "subfsmonitor"]


def nested_repository(path, markers, tmp_path):
    """A repository whose own config names a clean and a process filter driver (programs
    that leave a marker), with files they would have to read: one touched, one changed."""
    repo = make_repo(
        path,
        {
            ".gitattributes": "*.jl filter=nested\n*.dat filter=nestedproc\n",
            "a.jl": "a\n",
            "b.jl": "b\n",
            "p.dat": "p\n",
        },
    )
    clean = script(tmp_path / "nested-clean", f'touch "{markers}/clean"\ncat')
    process = script(tmp_path / "nested-process", f'touch "{markers}/process"\ncat')
    git(repo, "config", "filter.nested.clean", clean)
    git(repo, "config", "filter.nestedproc.process", process)
    return repo


def add_gitlink(repo, name, listed):
    """Commit the repository at ``repo/name`` as a gitlink, listed in .gitmodules or not."""
    if listed:
        with open(repo / ".gitmodules", "a") as f:
            f.write(f'[submodule "{name}"]\n\tpath = {name}\n\turl = ./{name}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"add {name}")


@pytest.mark.parametrize("layout", ["unlisted", "no_gitmodules", "depth_5"])
async def test_nested_repository_config_never_runs_a_program(
    jp_fetch, jp_root_dir, tmp_path, layout
):
    """git never runs status inside a gitlink (where the nested repository's own config
    applies); the endpoint looks inside itself, with that config neutralised."""
    markers = tmp_path / "markers"
    markers.mkdir()
    top = make_repo(jp_root_dir / "super")
    if layout == "depth_5":  # super/s1/s2/s3/s4/s5, each listed in its parent's .gitmodules
        levels = [top / "s1"]
        for i in range(2, 6):
            levels.append(levels[-1] / f"s{i}")
        for level in levels[:-1]:
            make_repo(level)
        leaf = nested_repository(levels[-1], markers, tmp_path)
        for parent, child in reversed(list(zip([top, *levels[:-1]], levels))):
            add_gitlink(parent, child.name, listed=True)
        write(levels[0] / "new.txt", "a commit super does not record\n")
        git(levels[0], "add", "new.txt")
        git(levels[0], "commit", "-q", "-m", "moves on")
        sub = "s1"
    else:
        if layout == "unlisted":  # .gitmodules lists another path only
            write(top / ".gitmodules", '[submodule "lib"]\n\tpath = lib\n\turl = ./lib\n')
        leaf = nested_repository(top / "sub", markers, tmp_path)
        add_gitlink(top, "sub", listed=False)
        sub = "sub"
    os.utime(leaf / "a.jl", (1, 1))
    os.utime(leaf / "p.dat", (1, 1))
    write(leaf / "b.jl", "b changed\n")

    code, body = await get_git(jp_fetch, "super")
    assert code == 200, body
    assert [(f["path"], f["xy"], f["submodule"]) for f in body["dirty_files"]] == [
        (sub, " M", True)
    ]
    assert os.listdir(markers) == []

    # Plain git status does run the nested repository's drivers: the set-up is real.
    env = {**os.environ, **GIT_ENV}
    subprocess.run([GIT, "status"], cwd=top, env=env, capture_output=True)
    assert "clean" in os.listdir(markers)


async def test_modified_submodules_as_git_lists_them(jp_fetch, jp_root_dir):
    """Submodules with modified content, found by the endpoint itself, are listed and
    patched as git does (names quoted as git quotes them)."""
    top = make_repo(jp_root_dir / "super")
    names = ["lib", "my lib", "l\u00efb", 'a"b', "clean"]
    for name in names:
        make_repo(top / name, {"a.txt": "a\n"})
        add_gitlink(top, name, listed=False)
    for name in names[:-1]:
        write(top / name / "a.txt", "changed\n")

    code, body = await get_git(jp_fetch, "super")
    assert code == 200, body
    env = {**os.environ, **GIT_ENV}
    status = subprocess.run(
        [GIT, "status", "--porcelain=v2", "-z", "--untracked-files=no"],
        cwd=top,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert body["dirty_files"] == parse_status(status).files
    assert [f["path"] for f in body["dirty_files"]] == sorted(names[:-1])
    patch = subprocess.run(
        [GIT, "diff", "HEAD", "--submodule=short"], cwd=top, env=env, capture_output=True
    ).stdout
    assert body["patch"] == patch.decode()


async def test_dubious_ownership(jp_fetch, jp_root_dir):
    assert os.geteuid() == 0, "this test needs root to give the repository to another user"
    repo = make_repo(jp_root_dir / "theirs")
    for dirpath, dirnames, filenames in os.walk(repo):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.lchown(name, 12345, 12345)
    code, body = await get_git(jp_fetch, "theirs/notebook.ipynb")
    assert code == 403
    assert body["error"] == "dubious_ownership"
    assert body["command"] == f"git config --global --add safe.directory {repo}"
    assert body["command"] in body["message"]


@pytest.mark.skipif(not PIDFD, reason="asyncio watches processes itself (Python 3.12+)")
async def test_git_runs_without_a_thread_per_process(jp_fetch, jp_root_dir, monkeypatch):
    """git processes are watched through pidfds, and leave no file descriptor open."""
    make_repo(jp_root_dir / "proj")
    await get_git(jp_fetch, "proj")  # (the first call starts the thread pool it uses)
    fds = len(os.listdir("/proc/self/fd"))
    started = []
    original = threading.Thread.start

    def start(self):
        started.append(self.name)
        return original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    for _ in range(3):
        code, body = await get_git(jp_fetch, "proj")
        assert code == 200 and body["dirty"] is False
    assert started == []
    assert len(os.listdir("/proc/self/fd")) == fds


@pytest.fixture
def no_git(monkeypatch, tmp_path):
    """No git on the PATH (requested before the server starts, which looks git up once)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


async def test_git_missing(no_git, jp_fetch, jp_root_dir):
    make_repo(jp_root_dir / "proj")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 503
    assert body["error"] == "git_missing"
    assert "git is not installed on the server" in body["message"]


@pytest.mark.parametrize("deardiary_config", [{"git_timeout": 0.0001}])
async def test_git_timeout(jp_fetch, jp_root_dir):
    make_repo(jp_root_dir / "proj")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 504
    assert body["error"] == "git_timeout"
    assert "DearDiary.git_timeout" in body["message"]


async def test_trusted_filter_runs_only_as_defined_globally(jp_fetch, jp_root_dir, tmp_path):
    """git-lfs keeps working when installed globally (in a repository it has run in, which
    it marks); a repository that redefines a trusted driver loses it."""
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo(jp_root_dir / "proj", {".gitattributes": "*.lfs filter=lfs\n", "x.lfs": "x\n"})
    good = script(tmp_path / "good", f'touch "{markers}/global"\ncat')
    evil = script(tmp_path / "evil", f'touch "{markers}/local"\ncat')
    git(repo, "config", "--global", "filter.lfs.clean", good)  # HOME is the test's own
    write(repo / "x.lfs", "x changed\n")
    code, body = await get_git(jp_fetch, "proj")  # git-lfs would mark the repository first
    assert (code, os.listdir(markers)) == (200, [])
    git(repo, "config", "lfs.repositoryformatversion", "0")  # as git-lfs marks it
    code, body = await get_git(jp_fetch, "proj")
    assert (code, os.listdir(markers)) == (200, ["global"])
    assert "+x changed" in body["patch"]

    os.unlink(markers / "global")
    git(repo, "config", "filter.lfs.clean", evil)
    code, body = await get_git(jp_fetch, "proj")
    assert (code, os.listdir(markers)) == (200, [])
    assert "+x changed" in body["patch"]


def partial_clone(repo, tmp_path):
    """A partial clone (no blobs but those checked out) whose HEAD moved back a commit:
    `git diff HEAD` needs a blob it never fetched, and git would fetch it (a lazy fetch)."""
    src = make_repo(tmp_path / "src", {"a.txt": "one\n", "notebook.ipynb": "{}\n"})
    write(src / "a.txt", "two\n")
    git(src, "commit", "-q", "-am", "two")
    bare = tmp_path / "src.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{bare}", str(repo))
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    # as after an older git's clone: the lazy fetch would write it (then fail: no transport)
    git(repo, "config", "--unset", "remote.origin.partialclonefilter")


def split_index(repo, tmp_path):
    make_repo(repo, {"a.txt": "a\n", "b.txt": "b\n"})
    git(repo, "update-index", "--split-index")
    write(repo / "a.txt", "a changed\n")
    os.utime(repo / "b.txt", (1, 1))


def lfs_clean(repo, tmp_path):
    """git-lfs installed as usual (and trusted) cleans a changed file: into .git/lfs/objects
    unless told otherwise."""
    git_lfs_install()
    make_repo(repo, {".gitattributes": "*.bin filter=lfs -text\n", "data.bin": "large\n"})
    write(repo / "data.bin", "large and changed\n")


def lfs_never_ran(repo, tmp_path):
    """git-lfs installed after the clone: it would mark the repository (.git/config)."""
    make_repo(repo, {".gitattributes": "*.bin filter=lfs -text\n", "data.bin": "large\n"})
    git_lfs_install()
    write(repo / "data.bin", "large and changed\n")


@pytest.mark.parametrize("state", [partial_clone, split_index, lfs_clean, lfs_never_ran])
async def test_nothing_is_written_in_the_repository(jp_fetch, jp_root_dir, tmp_path, state):
    repo = jp_root_dir / "proj"
    state(repo, tmp_path)
    before = tree_state(repo / ".git")
    for _ in range(2):
        code, body = await get_git(jp_fetch, "proj")
        if state is partial_clone:
            assert (code, body["error"]) == (409, "missing_objects"), body
        else:
            assert code == 200, body
            assert body["dirty"] is True
    assert tree_state(repo / ".git") == before
    if state is lfs_clean:  # git-lfs did clean it: the patch is between two pointers
        assert "+size 18\n" in body["patch"]
    if state is lfs_never_ran:
        assert "+large and changed\n" in body["patch"]


async def test_git_lfs_runs_no_program_the_repository_names(jp_fetch, jp_root_dir, tmp_path):
    """git-lfs, installed as usual and trusted, cleans files, but never with extensions
    (programs) a repository defines, and never connects to an LFS server here."""
    git_lfs_install()
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo(
        jp_root_dir / "proj", {".gitattributes": "*.bin filter=lfs -text\n", "data.bin": "x\n"}
    )
    program = script(tmp_path / "program", f'touch "{markers}/program"\nexit 1')
    git(repo, "config", "core.sshCommand", program)
    git(repo, "config", "lfs.url", "ssh://git@example.invalid/proj.git")
    git(repo, "config", "lfs.standalonetransferagent", "evil")
    git(repo, "config", "lfs.customtransfer.evil.path", program)
    write(repo / "data.bin", "x changed\n")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200, body
    assert "+size 10\n" in body["patch"]  # cleaned by git-lfs
    assert os.listdir(markers) == []

    extension = script(tmp_path / "extension", f'touch "{markers}/extension"\ncat')
    git(repo, "config", "lfs.extension.evil.clean", f"{extension} %f")
    git(repo, "config", "lfs.extension.evil.priority", "0")
    code, body = await get_git(jp_fetch, "proj")
    assert code == 200, body
    assert "+x changed\n" in body["patch"]  # not cleaned: git-lfs does not run
    assert os.listdir(markers) == []

    # Plain git does run the extension: the set-up is real.
    env = {**os.environ, **GIT_ENV}
    subprocess.run([GIT, "diff", "HEAD"], cwd=repo, env=env, capture_output=True)
    assert os.listdir(markers) == ["extension"]
