"""Authentication, authorisation and path containment on every endpoint."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from jupyter_server.auth import Authorizer
from jupyter_server.utils import url_path_join

from .utils import make_repo

EMPTY = hashlib.sha256(b"").hexdigest()
REQUESTS = [
    ("GET", "version", None, {}),
    ("GET", "git?path=proj", None, {}),
    ("GET", "store", None, {}),
    ("GET", "runs", None, {}),
    ("GET", "runs/1", None, {}),
    ("GET", "index", None, {}),
    ("GET", f"blobs/{EMPTY}", None, {}),
    ("PUT", "store", b"SQLite format 3\x00", {"If-None-Match": "*"}),
    ("POST", "store/aside", b"", {"If-Match": '"' + "0" * 64 + '"'}),
    ("PUT", f"blobs/{EMPTY}", b"", {}),
    ("POST", "blobs/missing", json.dumps({"sha256": [EMPTY]}).encode(), {}),
    ("POST", "runs", b"{}", {}),
    ("PATCH", "runs/1", json.dumps({"note": "x"}).encode(), {}),
    ("DELETE", "runs/1", None, {}),
    (
        "POST",
        "restore",
        json.dumps(
            {
                "target": "restored",
                "files": [
                    {
                        "name": "a.txt",
                        "base64": "",
                        "sha256": hashlib.sha256(b"").hexdigest(),
                    }
                ],
            }
        ).encode(),
        {},
    ),
    (
        "POST",
        "worktree",
        json.dumps({"path": "proj", "target": "restored", "sha": "0" * 40}).encode(),
        {},
    ),
]


@pytest.mark.parametrize(("method", "endpoint", "body", "headers"), REQUESTS)
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_unauthenticated(
    http_server_client, jp_base_url, jp_root_dir, method, endpoint, body, headers, token
):
    make_repo(jp_root_dir / "proj")
    if token:
        headers = {**headers, "Authorization": f"token {token}"}
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "deardiary", endpoint),
        method=method,
        body=body,
        headers=headers,
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
    )
    assert response.code in (401, 403)
    assert b"head_sha" not in response.body and b"SQLite" not in response.body
    assert not (jp_root_dir / ".deardiary").exists()
    assert not (jp_root_dir / "restored").exists()


class ReadOnlyAuthorizer(Authorizer):
    """Lets authenticated users read, never write."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyterlab_deardiary": True},
                "authorizer_class": ReadOnlyAuthorizer,
            }
        }
    ],
)
async def test_writes_need_write_permission(jp_fetch, jp_root_dir):
    version = await jp_fetch("deardiary", "version")
    assert version.code == 200  # reading is allowed
    writes = [r for r in REQUESTS if r[0] != "GET"]
    assert {r[0] for r in writes} == {"PUT", "POST", "PATCH", "DELETE"}
    for method, endpoint, body, headers in writes:
        response = await jp_fetch(
            "deardiary", endpoint, method=method, body=body, headers=headers, raise_error=False
        )
        assert response.code == 403
    assert not (jp_root_dir / ".deardiary").exists()
    assert not (jp_root_dir / "restored").exists()


@pytest.mark.parametrize(
    "path",
    [
        "../",
        "..",
        "../outside",
        "proj/../../outside",
        "/etc",
        "/etc/passwd",
        "link",
        "link/notebook.ipynb",
        "link/secret-notebook.ipynb",
        "proj\0x",
        "//etc",
    ],
)
async def test_git_path_containment(jp_fetch, jp_root_dir, tmp_path, path):
    make_repo(jp_root_dir / "proj")
    outside = make_repo(tmp_path / "outside", {"secret-notebook.ipynb": "classified content"})
    (jp_root_dir / "link").symlink_to(outside)
    response = await jp_fetch("deardiary", "git", params={"path": path}, raise_error=False)
    assert response.code in (400, 403), response.body
    body = json.loads(response.body)
    assert body["error"] in ("bad_path", "outside_root")
    assert b"classified" not in response.body
    assert str(tmp_path).encode() not in response.body


async def test_git_missing_path(jp_fetch, jp_root_dir):
    response = await jp_fetch("deardiary", "git", params={"path": "nope.ipynb"}, raise_error=False)
    assert response.code == 404
    assert json.loads(response.body)["error"] == "not_found"


async def test_git_symlink_inside_the_root_is_fine(jp_fetch, jp_root_dir):
    make_repo(jp_root_dir / "proj")
    os.symlink(jp_root_dir / "proj", jp_root_dir / "alias")
    response = await jp_fetch("deardiary", "git", params={"path": "alias/notebook.ipynb"})
    body = json.loads(response.body)
    assert (body["repo"], body["toplevel"]) == (True, "proj")
