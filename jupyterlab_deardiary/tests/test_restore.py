"""POST /deardiary/restore: exclusive, byte-exact writes inside the root."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from .utils import write

TRICKY = {
    "Project.toml": b'name = "Demo"\r\n[deps]\r\nExample = "7876af07-990d-54b4-ab0e-23690620f79a"\r\n',  # noqa: E501
    "Manifest.toml": b"\xef\xbb\xbf# BOM first\n\x00NUL inside\n\xff\xfe invalid UTF-8\n",
    "empty.txt": b"",
    "notebook.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
}
METADATA = {
    "project_path": "/old/place",
    "julia_version": "1.10.4",
    "git_sha": "0123456789abcdef0123456789abcdef01234567",
    "git_dirty": True,
    "entrypoint": "notebook.ipynb",
}


def entry(name: str, data: bytes, sha: str | None = None) -> dict[str, str]:
    return {
        "name": name,
        "base64": base64.b64encode(data).decode(),
        "sha256": sha or hashlib.sha256(data).hexdigest(),
    }


async def restore(jp_fetch, target: str, files: list[dict], **extra):
    body = json.dumps({"target": target, "files": files, **extra})
    response = await jp_fetch("deardiary", "restore", method="POST", body=body, raise_error=False)
    return response.code, json.loads(response.body)


def snapshot(folder) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


async def test_restore_is_byte_exact(jp_fetch, jp_root_dir):
    files = [entry(n, d) for n, d in TRICKY.items()]
    code, body = await restore(jp_fetch, "runs/2024/run-1", files, metadata=METADATA)
    assert code == 200, body
    target = jp_root_dir / "runs" / "2024" / "run-1"  # parents created
    for name, data in TRICKY.items():
        assert (target / name).read_bytes() == data
    assert sorted(os.listdir(target)) == sorted(TRICKY)  # no temp file left
    assert body == {
        "target": "runs/2024/run-1",
        "target_abs": str(target),
        "project_path": str(target),
        "project_file": str(target / "Project.toml"),
        "julia_version": "1.10.4",
        "git_sha": METADATA["git_sha"],
        "git_dirty": True,
        "entrypoint": "notebook.ipynb",
        "metadata": METADATA,
        "files": [
            {
                "name": name,
                "path": str(target / name),
                "relpath": f"runs/2024/run-1/{name}",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "verified": True,
            }
            for name, data in TRICKY.items()
        ],
    }


async def test_minimal_request(jp_fetch, jp_root_dir):
    code, body = await restore(jp_fetch, "", [entry("JuliaProject.toml", b"x")])
    assert code == 200, body
    assert body["target"] == ""
    assert body["project_file"] == str(jp_root_dir / "JuliaProject.toml")
    assert (body["julia_version"], body["git_sha"], body["git_dirty"], body["entrypoint"]) == (
        None,
    ) * 4
    code, body = await restore(jp_fetch, "plain", [entry("data.txt", b"x")])
    assert (code, body["project_path"], body["project_file"]) == (200, None, None)


async def test_existing_files_without_overwrite(jp_fetch, jp_root_dir):
    target = jp_root_dir / "restored"
    write(target / "Project.toml", "old project")
    write(target / "Manifest.toml", "old manifest")
    before = snapshot(target)
    files = [entry(n, d) for n, d in TRICKY.items()]
    code, body = await restore(jp_fetch, "restored", files)
    assert code == 409
    assert body["error"] == "exists"
    assert sorted(body["existing"]) == ["Manifest.toml", "Project.toml"]
    assert snapshot(target) == before  # nothing written, not even the new files


async def test_overwrite(jp_fetch, jp_root_dir):
    target = jp_root_dir / "restored"
    write(target / "Project.toml", "old project")
    write(target / "unrelated.txt", "keep me")
    files = [entry(n, d) for n, d in TRICKY.items()]
    code, body = await restore(jp_fetch, "restored", files, overwrite=True)
    assert code == 200, body
    for name, data in TRICKY.items():
        assert (target / name).read_bytes() == data
    assert (target / "unrelated.txt").read_text() == "keep me"
    assert sorted(os.listdir(target)) == sorted([*TRICKY, "unrelated.txt"])


async def test_overwrite_replaces_a_symlink_not_its_target(jp_fetch, jp_root_dir, tmp_path):
    outside = tmp_path / "outside.toml"
    outside.write_text("outside")
    target = jp_root_dir / "restored"
    target.mkdir()
    (target / "Project.toml").symlink_to(outside)
    code, body = await restore(jp_fetch, "restored", [entry("Project.toml", b"new")])
    assert code == 409
    code, body = await restore(
        jp_fetch, "restored", [entry("Project.toml", b"new")], overwrite=True
    )
    assert code == 200, body
    assert not (target / "Project.toml").is_symlink()
    assert (target / "Project.toml").read_bytes() == b"new"
    assert outside.read_text() == "outside"


async def test_sha256_mismatch_writes_nothing(jp_fetch, jp_root_dir):
    files = [
        entry("Project.toml", b"good"),
        entry("Manifest.toml", b"tampered", hashlib.sha256(b"original").hexdigest()),
    ]
    code, body = await restore(jp_fetch, "new/folder", files)
    assert code == 400
    assert body["error"] == "sha256_mismatch"
    assert body["name"] == "Manifest.toml"
    assert not (jp_root_dir / "new").exists()


async def test_bad_base64(jp_fetch, jp_root_dir):
    files = [{"name": "a.txt", "base64": "not base64!", "sha256": "0" * 64}]
    code, body = await restore(jp_fetch, "new", files)
    assert (code, body["error"]) == (400, "bad_base64")
    assert not (jp_root_dir / "new").exists()


@pytest.mark.parametrize(
    "name", ["a/b", "..", "../x", "x\0y", "", ".", "a\\b", "..hidden", ".hidden", "x\ny", 7]
)
async def test_bad_names(jp_fetch, jp_root_dir, name):
    files = [{"name": name, "base64": "", "sha256": hashlib.sha256(b"").hexdigest()}]
    code, body = await restore(jp_fetch, "new", files)
    assert code == 400
    assert body["error"] == "bad_name"
    assert not (jp_root_dir / "new").exists()
    assert not (jp_root_dir / "x").exists()


async def test_duplicate_names(jp_fetch, jp_root_dir):
    code, body = await restore(jp_fetch, "new", [entry("a.txt", b"1"), entry("a.txt", b"2")])
    assert (code, body["error"]) == (400, "bad_name")
    assert not (jp_root_dir / "new").exists()


@pytest.mark.parametrize(
    "target",
    ["../escape", "/etc", "ABSOLUTE", "a/../../escape", "link/sub", "link", "x\0y", ".git/hooks"],
)
async def test_target_outside_the_root(jp_fetch, jp_root_dir, tmp_path, target):
    outside = tmp_path / "outside"
    outside.mkdir()
    (jp_root_dir / "link").symlink_to(outside)
    absolute = tmp_path / "absolute"  # an absolute path that does not exist yet
    target = str(absolute) if target == "ABSOLUTE" else target
    code, body = await restore(jp_fetch, target, [entry("Project.toml", b"x")])
    assert code in (400, 403), body
    assert os.listdir(outside) == []
    assert not (tmp_path / "escape").exists()
    assert not absolute.exists()


async def test_target_is_a_file(jp_fetch, jp_root_dir):
    write(jp_root_dir / "afile", "x")
    code, body = await restore(jp_fetch, "afile", [entry("Project.toml", b"x")])
    assert (code, body["error"]) == (409, "not_a_folder")


@pytest.mark.parametrize("deardiary_config", [{"restore_max_bytes": 500}])
async def test_oversize_request(jp_fetch, jp_root_dir):
    code, body = await restore(jp_fetch, "new", [entry("big.bin", b"x" * 1000)])
    assert code == 413
    assert "DearDiary.restore_max_bytes" in body["message"]
    assert not (jp_root_dir / "new").exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"target": 1, "files": []}',
        b'{"target": "x", "files": []}',
        b'{"target": "x", "files": [{"name": "a"}]}',
        b'{"target": "x", "overwrite": "yes", "files": []}',
        b'{"target": "x", "metadata": {"git_dirty": "no"}, "files": []}',
    ],
)
async def test_malformed_requests(jp_fetch, jp_root_dir, payload):
    response = await jp_fetch(
        "deardiary", "restore", method="POST", body=payload, raise_error=False
    )
    assert response.code == 400
    assert json.loads(response.body)["error"] in ("bad_request", "bad_name", "bad_path")
    assert not (jp_root_dir / "x").exists()


UNSAFE = {
    "a control character (U+0001)": "\x01",
    "a control character (U+001F)": "\x1f",
    "a control character (U+007F)": "\x7f",
    "a control character (U+0085)": "\x85",
    "a control character (U+009F)": "\x9f",
    "a bidirectional-text control character (U+202E)": "\u202e",
    "a bidirectional-text control character (U+202A)": "\u202a",
    "a bidirectional-text control character (U+2066)": "\u2066",
    "a bidirectional-text control character (U+2069)": "\u2069",
    "a bidirectional-text control character (U+200E)": "\u200e",
    "a bidirectional-text control character (U+200F)": "\u200f",
    "a bidirectional-text control character (U+061C)": "\u061c",
}


@pytest.mark.parametrize(("kind", "char"), UNSAFE.items())
async def test_unsafe_characters_in_names(jp_fetch, jp_root_dir, kind, char):
    name = f"Manifest{char}lmth.toml"
    code, body = await restore(jp_fetch, "new", [entry("Project.toml", b"x"), entry(name, b"")])
    assert (code, body["error"], body["name"]) == (400, "bad_name", name)
    assert body["message"] == (
        f"The file name {name!r} contains {kind}, which file names may not hold."
    )
    assert os.listdir(jp_root_dir) == []


@pytest.mark.parametrize(("kind", "char"), UNSAFE.items())
async def test_unsafe_characters_in_the_target(jp_fetch, jp_root_dir, kind, char):
    target = f"runs/run{char}1"
    code, body = await restore(jp_fetch, target, [entry("Project.toml", b"x")])
    assert (code, body["error"]) == (400, "bad_path")
    assert body["message"] == (
        f"The folder {target!r} contains {kind}, which folder names may not hold."
    )
    assert os.listdir(jp_root_dir) == []


async def test_plain_unicode_names_are_fine(jp_fetch, jp_root_dir):
    name = "Ünïcödé 名前 \u00a0x.toml"  # letters of any script, a no-break space
    code, body = await restore(jp_fetch, "dossier é", [entry(name, b"x")])
    assert code == 200, body
    assert (jp_root_dir / "dossier é" / name).read_bytes() == b"x"


@pytest.mark.parametrize(
    ("target", "swapped"),
    [("a/b", "a/b"), ("a/b", "a"), ("new/b", "new/b"), ("new/b", "new")],
)
@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("moment", ["walk", "write"])
async def test_folder_swapped_for_a_symlink(
    jp_fetch, jp_root_dir, tmp_path, monkeypatch, target, swapped, overwrite, moment
):
    """A folder of the target is replaced by a symlink out of the root after the checks
    passed: just before it is opened ("walk"; where folders are not opened one by one,
    before the first write), or just before the first file is created ("write"). Nothing
    lands outside the root."""
    outside = tmp_path / "outside"
    (outside / "b").mkdir(parents=True)
    if not target.startswith("new"):
        (jp_root_dir / "a" / "b").mkdir(parents=True)
    real_open = os.open
    triggers = (".deardiary-", "Project.toml")

    def swap_then_open(path, *args, **kwargs):
        name = os.path.basename(os.fspath(path))
        opening = moment == "walk" and name == os.path.basename(swapped)
        if (opening and os.path.lexists(jp_root_dir / swapped)) or name.startswith(triggers):
            monkeypatch.setattr(os, "open", real_open)
            moved = jp_root_dir / "moved"
            os.rename(jp_root_dir / swapped, moved)
            os.symlink(outside / "b" if swapped.endswith("b") else outside, jp_root_dir / swapped)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", swap_then_open)
    files = [entry("Project.toml", b"x")]
    code, body = await restore(jp_fetch, target, files, overwrite=overwrite)
    monkeypatch.setattr(os, "open", real_open)
    assert os.path.islink(jp_root_dir / swapped)  # the swap happened
    assert list(outside.rglob("*")) == [outside / "b"]  # nothing written outside
    assert code == (409 if moment == "walk" else 200), body
    if code == 409:
        assert body["error"] == "changed"
        assert body["message"] == (
            f"The folder {swapped!r} was replaced by a symbolic link while restoring; "
            "nothing was written."
        )
        assert list((jp_root_dir / "moved").rglob("*.toml")) == []
    else:  # written into the folder it opened, which is now "moved"
        found = list((jp_root_dir / "moved").rglob("Project.toml"))
        assert [p.read_bytes() for p in found] == [b"x"]


async def test_target_through_a_symlink_inside_the_root(jp_fetch, jp_root_dir):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "alias").symlink_to(jp_root_dir / "proj")
    code, body = await restore(jp_fetch, "alias/run-1", [entry("Project.toml", b"x")])
    assert code == 200, body
    assert body["target"] == "proj/run-1"
    assert (jp_root_dir / "proj" / "run-1" / "Project.toml").read_bytes() == b"x"
