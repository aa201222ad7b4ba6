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
