"""MLflow push and pull (issue 17) against a real `mlflow server` (SQLite backend store,
artifacts served by it) started once for the module, behind a proxy that checks
credentials, counts bytes and can cut an upload (tests/mlflow_server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.utils import url_path_join

from .. import mlflow_routes, mlflow_sync
from ..db import Store
from ..mlflow_sync import P, Pusher, make_client, pull
from ..restore import restore
from .mlflow_server import MlflowServer, Proxy, free_port
from .test_db import manifest_bytes, post_run, record, sha
from .utils import fetch_json

from mlflow.tracking import MlflowClient  # a test dependency (the 'test' extra)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(mlflow_server):
    p = Proxy(mlflow_server.url)
    yield p
    p.close()


@pytest.fixture
def mlflow_url(proxy):
    proxy.reset()
    yield proxy.url
    proxy.reset()


@pytest.fixture
def deardiary_config(mlflow_url, request, monkeypatch):
    """The server's settings: this MLflow server, and what a test parametrizes."""
    extra = getattr(request, "param", {})
    if extra.get("mlflow_auto_push"):
        monkeypatch.setattr(mlflow_routes, "AUTO_PUSH_SECONDS", 0.3)
    return {"mlflow_tracking_uri": mlflow_url, **extra}


def store_of(root: Path) -> Store:
    return Store(root.resolve() / ".deardiary" / "deardiary.sqlite", root)


async def add_runs(jp_fetch, tag: str, n: int = 3, notebook: str = "nb/a.ipynb") -> list[dict[str, Any]]:
    """n runs of one notebook: two environments, a patch on every other one."""
    out = []
    for i in range(n):
        rec, blobs = record(
            f"{tag}-{i}",
            notebook=notebook,
            notebook_bytes=f'{{"cells": [], "i": {i}}}\n'.encode(),
            manifest=manifest_bytes("small") + (b"\n" if i % 2 else b""),
            patch=f"diff --git a/x b/x\n+{i}\n".encode() if i % 2 else None,
            created_at=f"2024-05-0{i + 1}T10:00:00.000Z",
            note=f"run {i} é",
        )
        out.append((await post_run(jp_fetch, rec, blobs))["run"])
    return out


async def job(jp_fetch, kind: str, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    code, answer = await fetch_json(
        jp_fetch, "deardiary", "mlflow", kind, method="POST", body=json.dumps(body)
    )
    assert code == 202, answer
    job_id = answer["job"]["id"]
    seen = []
    for _ in range(int(timeout * 10)):
        code, progress = await fetch_json(jp_fetch, "deardiary", "mlflow", "jobs", job_id)
        assert code == 200
        seen.append(progress["done"])
        if progress["state"] in ("done", "error"):
            assert seen == sorted(seen)  # progress only goes forward
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end")


def ours(url: str, snapshot_prefix: str) -> list[Any]:
    client = MlflowClient(url)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        f"tags.`{P}snapshot_id` LIKE '{snapshot_prefix}%'",
        max_results=1000,
    )
    return list(runs)


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in client.list_artifacts(run_id, path):
        out.update(artifacts(client, run_id, a.path) if a.is_dir else {a.path: a.file_size})
    return out


async def test_push_repush_pull_and_restore(jp_fetch, jp_root_dir, mlflow_url, mlflow_server, proxy, tmp_path):
    runs = await add_runs(jp_fetch, "rt")
    ids = [r["id"] for r in runs]
    version = store_of(jp_root_dir).version()
    progress = await job(jp_fetch, "push", {"run_ids": ids})
    assert progress["state"] == "done", progress
    assert store_of(jp_root_dir).version() == version  # a push reads the store only
    assert (progress["done"], progress["total"]) == (3, 3)
    assert [r["state"] for r in progress["results"]] == ["pushed"] * 3
    client = MlflowClient(mlflow_url)
    pushed = {r.data.tags[f"{P}snapshot_id"]: r for r in ours(mlflow_url, "rt-")}
    assert sorted(pushed) == ["rt-0", "rt-1", "rt-2"]
    local = store_of(jp_root_dir)
    first = pushed["rt-1"]
    tags = first.data.tags
    detail = local.get_run(ids[1])
    assert tags[f"{P}julia_version"] == "1.10.4"
    assert tags[f"{P}git_commit"] == tags["mlflow.source.git.commit"] == "a" * 40
    assert (tags[f"{P}git_branch"], tags[f"{P}git_dirty"]) == ("main", "true")
    assert tags[f"{P}notebook_path"] == "nb/a.ipynb"
    assert tags[f"{P}run_id"] == str(ids[1])
    assert tags["mlflow.note.content"] == "run 1 é"
    assert first.info.status == "FINISHED"
    assert client.get_experiment(first.info.experiment_id).name == "nb/a.ipynb"
    # the exact files: the run holds the record, the notebook, the patch; its environment
    # run (its parent) the project and the manifest
    files = artifacts(client, first.info.run_id)
    assert sorted(files) == ["deardiary-run.json", "git.patch", "notebook/a.ipynb"]
    env_run = tags["mlflow.parentRunId"]
    env_files = artifacts(client, env_run)
    assert sorted(env_files) == ["Manifest.toml", "Project.toml"]
    by_role = {f["role"]: f for f in detail["files"]}
    got = Path(client.download_artifacts(env_run, "Manifest.toml", str(tmp_path)))
    assert sha(got.read_bytes()) == by_role["manifest"]["sha256"] == tags[f"{P}manifest_sha256"]
    # two environments for three runs: the manifest went twice, not three times
    assert len({r.data.tags["mlflow.parentRunId"] for r in pushed.values()}) == 2
    on_disk = mlflow_server.artifact_files()
    sent = proxy.bytes_in

    # pushed again: nothing added, no artifact sent
    again = await job(jp_fetch, "push", {"run_ids": ids})
    assert [r["state"] for r in again["results"]] == ["already"] * 3
    assert again["bytes_sent"] == 0 and again["bytes_skipped"] > 0
    assert len(ours(mlflow_url, "rt-")) == 3
    assert mlflow_server.artifact_files() == on_disk
    assert proxy.bytes_in - sent < 5000  # a lookup, no upload

    # pulled back into a fresh store: the same run, every byte; then restored as usual
    fresh = Store(tmp_path / "fresh" / "deardiary.sqlite", tmp_path)
    answer = pull(make_client(mlflow_url), fresh, first.info.run_id, 1 << 30)
    assert answer["created"] is True
    assert pull(make_client(mlflow_url), fresh, first.info.run_id, 1 << 30)["created"] is False
    back = fresh.get_run(answer["run_id"])
    for key in ("id", "number", "parent_id"):
        back.pop(key), detail.pop(key)
    assert back == detail
    files = [
        {"name": f["name"], "base64": base64.b64encode(fresh.get_blob(f["sha256"])).decode(), "sha256": f["sha256"]}
        for f in back["files"]
    ]
    result = restore(str(tmp_path), json.dumps({"target": "restored", "files": files}).encode(), False)
    for f in back["files"]:
        assert sha((tmp_path / "restored" / f["name"]).read_bytes()) == f["sha256"]
    assert {f["sha256"] for f in result["files"]} == {f["sha256"] for f in back["files"]}
    assert sha(fresh.get_blob(back["notebook"]["sha256"])) == detail["notebook"]["sha256"]

    # and through the endpoint: a run deleted here comes back from MLflow
    _, before = await fetch_json(jp_fetch, "deardiary", "runs", str(ids[2]))
    await jp_fetch("deardiary", "runs", str(ids[2]), method="DELETE")
    third = pushed["rt-2"].info.run_id
    progress = await job(jp_fetch, "pull", {"mlflow_run_ids": [third, third]})
    assert progress["state"] == "done", progress
    assert [r["created"] for r in progress["results"]] == [True]
    code, after = await fetch_json(jp_fetch, "deardiary", "runs", str(progress["results"][0]["run_id"]))
    after.pop("id"), before.pop("id")  # SQLite may give the freed id again
    assert after == before


async def test_a_tampered_artifact_is_refused_and_nothing_stored(jp_fetch, jp_root_dir, mlflow_url, mlflow_server, tmp_path):
    runs = await add_runs(jp_fetch, "tamper", 2)
    progress = await job(jp_fetch, "push", {"run_ids": [runs[1]["id"]]})
    assert progress["state"] == "done", progress
    (run,) = ours(mlflow_url, "tamper-1")
    patch = next(p for p in mlflow_server.artifact_files() if run.info.run_id in str(p) and p.name == "git.patch")
    patch.write_bytes(patch.read_bytes() + b"tampered\n")
    fresh = Store(tmp_path / "fresh.sqlite", tmp_path)
    with pytest.raises(mlflow_sync.ApiError) as refused:
        pull(make_client(mlflow_url), fresh, run.info.run_id, 1 << 30)
    assert refused.value.error == "sha256_mismatch" and "git.patch" in refused.value.message
    assert fresh.version() is None or fresh.read_runs()[3] == 0


async def test_server_down_loses_nothing_and_says_why(jp_fetch, jp_root_dir, monkeypatch):
    runs = await add_runs(jp_fetch, "down", 1)
    before = store_of(jp_root_dir).version()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from ..mlflow_routes import JOBS

    progress = JOBS.push(f"http://127.0.0.1:{free_port()}", store_of(jp_root_dir), [runs[0]["id"]])
    for _ in range(300):
        if progress.state in ("done", "error"):
            break
        await asyncio.sleep(0.1)
    state = progress.to_json()
    assert state["state"] == "error"
    assert state["error"]["error"] == "mlflow_unreachable"
    assert "cannot be reached" in state["error"]["message"]
    assert store_of(jp_root_dir).version() == before
    assert store_of(jp_root_dir).get_run(runs[0]["id"])["snapshot_id"] == "down-0"


@pytest.mark.parametrize("user, status, error", [
    ("mallory", 401, "mlflow_unauthenticated"),
    ("bob", 403, "mlflow_forbidden"),
])
async def test_bad_credentials_are_named(jp_fetch, jp_root_dir, mlflow_url, proxy, monkeypatch, user, status, error):
    runs = await add_runs(jp_fetch, f"cred-{user}", 1)
    proxy.users = {"alice": "right", "bob": "right"}
    proxy.forbidden = {"bob"}
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "right" if user == "bob" else "wrong")
    before = store_of(jp_root_dir).version()
    progress = await job(jp_fetch, "push", {"run_ids": [runs[0]["id"]]})
    assert progress["state"] == "error"
    assert progress["error"]["error"] == error and progress["error"]["mlflow_status"] == status
    assert str(status) in progress["error"]["message"]
    assert store_of(jp_root_dir).version() == before
    proxy.users = None
    assert ours(mlflow_url, f"cred-{user}") == []
    # the right credentials: pushed
    proxy.users = {"alice": "right"}
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "right")
    assert (await job(jp_fetch, "push", {"run_ids": [runs[0]["id"]]}))["state"] == "done"


async def test_a_push_cut_short_is_resumed_not_duplicated(jp_fetch, jp_root_dir, mlflow_url, proxy, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    runs = await add_runs(jp_fetch, "cut", 3)
    ids = [r["id"] for r in runs]
    client = MlflowClient(mlflow_url)
    # the real path: the proxy cuts the connection of the 4th artifact upload and after
    proxy.fail_upload = 4
    progress = await job(jp_fetch, "push", {"run_ids": ids})
    assert progress["state"] == "error", progress
    assert progress["error"]["error"] in ("mlflow_unreachable", "mlflow_error")
    partial = ours(mlflow_url, "cut-")
    assert partial and any(r.info.status != "FINISHED" for r in partial)
    proxy.fail_upload = None
    progress = await job(jp_fetch, "push", {"run_ids": ids})
    assert progress["state"] == "done", progress
    assert "resumed" in [r["state"] for r in progress["results"]]
    done = ours(mlflow_url, "cut-")
    assert sorted(r.data.tags[f"{P}snapshot_id"] for r in done) == ["cut-0", "cut-1", "cut-2"]
    assert all(r.info.status == "FINISHED" for r in done)
    local = store_of(jp_root_dir)
    for r in done:
        detail = local.get_run(int(r.data.tags[f"{P}run_id"]))
        files = artifacts(client, r.info.run_id)
        assert files[f"notebook/{Path(detail['notebook']['path']).name}"] == detail["notebook"]["size"]
        env = artifacts(client, r.data.tags["mlflow.parentRunId"])
        assert {f["name"]: f["size"] for f in detail["files"]} == env


def test_a_failing_upload_at_the_seam_is_resumed(jp_root_dir, mlflow_url, tmp_path):
    store = Store(tmp_path / "s.sqlite", tmp_path)
    for i in range(2):
        rec, blobs = record(f"seam-{i}", notebook="nb/seam.ipynb", patch=b"diff\n", manifest=manifest_bytes("small"))
        for digest, data in blobs.items():
            store.put_blob(digest, data)
        store.add_run(rec, 1 << 30)
    client = make_client(mlflow_url)
    calls = []

    def failing(run_id: str, path: str, folder: str | None) -> None:
        calls.append(path)
        if len(calls) == 4:  # the environment's two files, the first run's record, then this
            raise ConnectionError("cut")
        client.log_artifact(run_id, path, folder)

    with pytest.raises(ConnectionError):
        Pusher(client, store, upload=failing, threads=1).push_all([1, 2])
    (cut,) = [r for r in ours(mlflow_url, "seam-") if r.info.status != "FINISHED"]
    assert sorted(artifacts(client, cut.info.run_id)) == ["deardiary-run.json"]
    results = Pusher(client, store, threads=1).push_all([1, 2])
    assert [r["state"] for r in results] == ["resumed", "pushed"]
    assert results[0]["mlflow_run_id"] == cut.info.run_id
    assert sorted(artifacts(client, cut.info.run_id)) == ["deardiary-run.json", "git.patch", "notebook/seam.ipynb"]
    assert len(ours(mlflow_url, "seam-")) == 2


async def test_endpoints(jp_fetch, jp_root_dir, http_server_client, jp_base_url, mlflow_url, monkeypatch):
    code, status = await fetch_json(jp_fetch, "deardiary", "mlflow")
    assert code == 200 and status["installed"] and status["configured"]
    assert status["tracking_uri"] == mlflow_url
    for method, path, body in (
        ("GET", "mlflow", None),
        ("POST", "mlflow/push", '{"run_ids": [1]}'),
        ("POST", "mlflow/pull", '{"mlflow_run_ids": ["abc"]}'),
        ("GET", "mlflow/jobs/push-1-00", None),
    ):
        response = await http_server_client.fetch(
            url_path_join(jp_base_url, "deardiary", path), method=method, body=body,
            raise_error=False, follow_redirects=False,
        )
        assert response.code in (401, 403), path
    assert (await fetch_json(jp_fetch, "deardiary", "mlflow", "jobs", "nope"))[1]["error"] == "no_job"
    for body, error in (
        ({"run_ids": []}, "bad_request"),
        ({"run_ids": ["1"]}, "bad_request"),
        ({"run_ids": [99]}, "no_run"),
    ):
        code, answer = await fetch_json(jp_fetch, "deardiary", "mlflow", "push", method="POST", body=json.dumps(body))
        assert answer["error"] == error and code in (400, 404)
    code, answer = await fetch_json(
        jp_fetch, "deardiary", "mlflow", "pull", method="POST", body=json.dumps({"mlflow_run_ids": ["../x"]})
    )
    assert (code, answer["error"]) == (400, "bad_request")
    # an MLflow run that is not ours
    other = MlflowClient(mlflow_url).create_run("0")
    progress = await job(jp_fetch, "pull", {"mlflow_run_ids": [other.info.run_id]})
    assert progress["error"]["error"] == "not_a_deardiary_run"
    # without MLflow's client: how to install it
    monkeypatch.setitem(sys.modules, "mlflow", None)
    code, answer = await fetch_json(jp_fetch, "deardiary", "mlflow", "push", method="POST", body='{"run_ids": [1]}')
    assert (code, answer["error"]) == (501, "mlflow_missing")
    assert "pip install" in answer["message"] and answer["install"]
    assert (await fetch_json(jp_fetch, "deardiary", "mlflow"))[1]["installed"] is False


@pytest.mark.parametrize("deardiary_config", [{"mlflow_tracking_uri": ""}], indirect=True)
async def test_not_configured(jp_fetch, jp_root_dir):
    code, answer = await fetch_json(jp_fetch, "deardiary", "mlflow", "push", method="POST", body='{"run_ids": [1]}')
    assert (code, answer["error"]) == (409, "mlflow_not_configured")
    assert "mlflow_tracking_uri" in answer["message"]


@pytest.mark.parametrize("deardiary_config", [{"mlflow_auto_push": True}], indirect=True)
async def test_automatic_push_and_its_retry(jp_fetch, jp_root_dir, mlflow_server, proxy, monkeypatch):
    monkeypatch.setattr(mlflow_routes.AutoPush, "RETRY_SECONDS", 0.5)
    proxy.users = {"alice": "right"}  # the first push is refused (401)
    runs = await add_runs(jp_fetch, "auto", 2, notebook="nb/auto.ipynb")
    for _ in range(300):
        if proxy.requests:
            break
        await asyncio.sleep(0.1)
    assert proxy.requests and ours(mlflow_server.url, "auto-") == []
    proxy.users = None  # the server lets it in: the same runs are pushed again
    for _ in range(300):
        pushed = [r for r in ours(mlflow_server.url, "auto-") if r.info.status == "FINISHED"]
        if len(pushed) == 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(int(r.data.tags[f"{P}run_id"]) for r in pushed) == [r["id"] for r in runs]


def test_unusual_runs_round_trip(mlflow_url, tmp_path):
    """No notebook bytes kept, no manifest, a stacked environment's manifest, a note with
    quotes and a snapshot id with characters a filter must quote."""
    store = Store(tmp_path / "s.sqlite", tmp_path)
    rec, blobs = record(
        "odd 'snap\" id",
        notebook="dir with space/ünïcode.ipynb",
        notebook_bytes=None,
        env_manifest=manifest_bytes("small"),
        note="it's \"quoted\"",
    )
    for digest, data in blobs.items():
        store.put_blob(digest, data)
    store.add_run(rec, 1 << 30)
    client = make_client(mlflow_url)
    (result,) = Pusher(client, store).push_all([1])
    assert result["state"] == "pushed"
    assert Pusher(client, store).push_all([1])[0]["state"] == "already"
    run = client.get_run(result["mlflow_run_id"])
    assert sorted(artifacts(client, run.info.run_id)) == ["deardiary-run.json"]
    assert sorted(artifacts(client, run.data.tags["mlflow.parentRunId"])) == ["Project.toml", "stack-2/Manifest.toml"]
    fresh = Store(tmp_path / "fresh.sqlite", tmp_path)
    back = pull(client, fresh, run.info.run_id, 1 << 30)
    a, b = store.get_run(1), fresh.get_run(back["run_id"])
    assert a == b
