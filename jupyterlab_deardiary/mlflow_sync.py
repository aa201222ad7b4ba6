"""Runs to and from an MLflow tracking server (issue 17), with MLflow's own client.

Layout on the server (one experiment per notebook, named by its path):
- an *environment run* per distinct environment (the set of captured Project/Manifest
  files) holds those files as artifacts, once (``Project.toml``, ``Manifest.toml`` at its
  root; a stacked environment's under ``stack-<n>/``, a workspace's under
  ``workspace/``);
- a *run* per stored run, a child of its environment run (``mlflow.parentRunId``), holds
  ``deardiary-run.json`` (the run record: the capture without bytes, git, kernel,
  notebook), ``notebook/<name>`` and ``git.patch``; its tags name the Julia version, git
  commit / branch / dirty, the notebook path, our run and snapshot ids and the sha256 of
  every file.
What is not sent twice: an environment's files (1,000 runs of 30 environments send 30
manifests), and any run or environment run already complete on the server (found by its
``deardiary.snapshot_id`` / ``deardiary.environment`` tag). A run is complete when its
status is FINISHED, set after its last artifact: a push cut short leaves it RUNNING, and
the next push uploads only the artifacts it lacks (by path and size), then finishes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import tempfile
import threading
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .db import Store, js_json, transaction
from .errors import ApiError

log = logging.getLogger(__name__)
INSTALL = 'pip install "jupyterlab_deardiary[mlflow]"  (or: pip install mlflow-skinny)'
P = "deardiary."  # our tags' prefix
RECORD = "deardiary-run.json"
PATCH = "git.patch"
_NAME = re.compile(r"[^/\\\x00]{1,255}")
# MLflow's client retries a refused connection 7 times with a backoff of 2 s by default
# (minutes before an error): the server asks for a few quick tries unless the environment
# says otherwise.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def mlflow_missing() -> ApiError:
    return ApiError(
        501,
        "mlflow_missing",
        f"MLflow's client library is not installed on the Jupyter server. Install it with: {INSTALL}, "
        "then restart the server.",
        install=INSTALL,
    )


def not_configured() -> ApiError:
    return ApiError(
        409,
        "mlflow_not_configured",
        "No MLflow tracking server is set: set c.DearDiary.mlflow_tracking_uri in the "
        "Jupyter server's config (or MLFLOW_TRACKING_URI in its environment), then restart it.",
    )


def make_client(uri: str) -> Any:
    """MLflow's client for ``uri`` (credentials from MLFLOW_TRACKING_USERNAME / _PASSWORD /
    _TOKEN / _INSECURE_TLS, which MLflow reads itself)."""
    if not uri:
        raise not_configured()
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise mlflow_missing() from None
    for key, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    return MlflowClient(tracking_uri=uri)


def shown_uri(uri: str) -> str:
    """The tracking URI without credentials in it."""
    return re.sub(r"//[^/@]*@", "//", uri)


def refused(exc: BaseException, uri: str) -> ApiError:
    """What the MLflow server (or the way to it) said, as an error a user can act on."""
    if isinstance(exc, ApiError):
        return exc
    where = shown_uri(uri)
    status = None
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        status = response.status_code
    code = getattr(exc, "error_code", "")
    if status == 401 or code == "UNAUTHENTICATED":
        return ApiError(
            502,
            "mlflow_unauthenticated",
            f"The MLflow server at {where} refused the credentials (401 Unauthorized): set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) "
            "in the Jupyter server's environment, then restart it.",
            mlflow_status=401,
        )
    if status == 403 or code == "PERMISSION_DENIED":
        return ApiError(
            502,
            "mlflow_forbidden",
            f"The MLflow server at {where} refused the request (403 Forbidden): the user "
            "named by MLFLOW_TRACKING_USERNAME lacks permission on this experiment.",
            mlflow_status=403,
        )
    text = str(exc)
    if (
        "Max retries exceeded" in text
        or "failed with exception" in text
        or "Connection" in type(exc).__name__
        or isinstance(exc, (ConnectionError, TimeoutError))
    ):
        return ApiError(
            503,
            "mlflow_unreachable",
            f"The MLflow server at {where} cannot be reached (is it running?): {text[:300]}",
        )
    return ApiError(502, "mlflow_error", f"The MLflow server at {where} answered: {text[:500]}")


# Reading a stored run back as the record that was posted


def record_of(store: Store, run_id: int) -> dict[str, Any]:
    """The IRunRecord of a stored run, as POST /deardiary/runs took it (the capture without
    bytes, git with patch_sha256): posting it again makes the same environment blob."""
    db = store.connection()
    if db is None:
        raise ApiError(404, "no_run", "There is no store yet, so no run.")
    with transaction(db, "DEFERRED"):
        row = db.execute(
            """SELECT i.snapshot_id, i.trigger, i.notes, i.created_date, i.end_date, i.details,
                      i.environment_sha256, i.kernel_name, i.kernel_display_name,
                      i.notebook_sha256, i.notebook_size, i.notebook_blob, e.name, i.number
               FROM iteration i JOIN experiment e ON e.id = i.experiment_id WHERE i.id = ?""",
            (run_id,),
        ).fetchone()
        if row is None:
            raise ApiError(404, "no_run", f"There is no run with id {run_id}.")
        from . import blobs

        env = json.loads(blobs.read_blob(db, row[6]) or b"null")
    details = json.loads(row[5])
    git = env["git"]
    if env.get("patch_sha256") is not None:
        git = {"state": "ok", "git": {**git["git"], "patch_sha256": env["patch_sha256"]}}
    kernel = {"name": row[7], "display_name": row[8], "language": details["kernel_language"]}
    if "kernelspec" in details:
        kernel["spec"] = details["kernelspec"]
    return {
        "snapshot_id": row[0],
        "trigger": row[1],
        "note": row[2],
        "created_at": row[3],
        "ended_at": row[4],
        "parent_snapshot_id": details.get("parent_snapshot_id"),
        "kernel": kernel,
        "capture": env["capture"],
        "git": git,
        "notebook": {
            "path": row[12],
            "sha256": row[9],
            "size": row[10],
            "unsaved_changes": details["notebook"]["unsaved_changes"],
            "stored": row[11] is not None,
        },
    }


def _name(name: str, sha: str) -> str:
    return name if _NAME.fullmatch(name) and name not in (".", "..") else sha


def environment_files(record: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(artifact path in the environment run, sha256, size) of the captured files."""
    out = []
    for f in record["capture"]["files"]:
        role, env = f["role"], f.get("env")
        folder = {"project": "", "manifest": "", "workspace_project": "workspace/"}.get(role)
        if folder is None:
            folder = f"stack-{env}/" if env is not None else f"{role}/"
        out.append((folder + _name(f["name"], f["sha256"]), f["sha256"], f["size"]))
    return out


def run_files(record: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    """(artifact path in the run, sha256, size) of the notebook and the patch."""
    out: list[tuple[str, str, int | None]] = []
    nb = record["notebook"]
    if nb["stored"]:
        out.append((f"notebook/{_name(os.path.basename(nb['path']), nb['sha256'])}", nb["sha256"], nb["size"]))
    g = record["git"]
    if g["state"] == "ok" and g["git"].get("patch_sha256"):
        out.append((PATCH, g["git"]["patch_sha256"], None))
    return out


def environment_key(record: dict[str, Any]) -> str:
    lines = sorted(f"{p}\t{s}" for p, s, _ in environment_files(record))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _ms(stamp: str) -> int | None:
    with contextlib.suppress(ValueError):
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    return None


def _tag(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:5000]


def run_tags(record: dict[str, Any], run_id: int, number: int, store_id: str) -> dict[str, str]:
    g = record["git"]["git"] if record["git"]["state"] == "ok" else {}
    dirty = g.get("dirty")
    files = {f["role"] + (f"-{f['env']}" if f.get("env") is not None else ""): f["sha256"] for f in record["capture"]["files"]}
    path = record["notebook"]["path"]
    tags = {
        "mlflow.runName": f"{os.path.basename(path)} #{number}",
        "mlflow.source.name": path,
        "mlflow.source.type": "NOTEBOOK",
        "mlflow.note.content": record["note"],
        f"{P}kind": "run",
        f"{P}snapshot_id": record["snapshot_id"],
        f"{P}run_id": str(run_id),
        f"{P}store_id": store_id,
        f"{P}trigger": record["trigger"],
        f"{P}notebook_path": path,
        f"{P}julia_version": record["capture"]["julia_version"],
        f"{P}kernel": record["kernel"]["display_name"],
        f"{P}git_commit": g.get("head_sha") or "",
        f"{P}git_branch": g.get("branch") or "",
        f"{P}git_dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
        f"{P}environment": environment_key(record),
        f"{P}notebook_sha256": record["notebook"]["sha256"],
    }
    if g.get("head_sha"):
        tags["mlflow.source.git.commit"] = g["head_sha"]
    if g.get("branch"):
        tags["mlflow.source.git.branch"] = g["branch"]
    if g.get("remote_url"):
        tags["mlflow.source.git.repoURL"] = g["remote_url"]
    if g.get("patch_sha256"):
        tags[f"{P}patch_sha256"] = g["patch_sha256"]
    for role, sha in files.items():
        tags[f"{P}{role}_sha256"] = sha
    return {k: _tag(v) for k, v in tags.items()}


class Progress:
    """A job's progress, written by its worker thread and read by the handlers."""

    _ids = itertools.count(1)

    def __init__(self, kind: str, total: int) -> None:
        self.id = f"{kind}-{next(self._ids)}-{os.urandom(4).hex()}"
        self.kind = kind
        self.state = "queued"
        self.total = total
        self.done = 0
        self.current: str | None = None
        self.bytes_sent = 0
        self.bytes_skipped = 0
        self.results: list[dict[str, Any]] = []
        self.error: dict[str, Any] | None = None
        self.started = time.time()
        self.lock = threading.Lock()

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "state": self.state,
                "total": self.total,
                "done": self.done,
                "current": self.current,
                "bytes_sent": self.bytes_sent,
                "bytes_skipped": self.bytes_skipped,
                # each run's result once the job ends (a poll of a long push stays small)
                "results": list(self.results) if self.state in ("done", "error") else [],
                "error": self.error,
            }


class Pusher:
    """Pushes runs of one store to one MLflow server (one job at a time per server process).

    What the server holds is read once per experiment (one search per 1,000 runs), then
    runs go out ``threads`` at a time. A run or environment run is complete when its
    status is FINISHED (set after its last artifact): one found RUNNING was cut short and is
    completed (its missing artifacts by path and size, the record again), not duplicated.
    """

    def __init__(self, client: Any, store: Store, progress: Progress | None = None,
                 upload: Callable[..., None] | None = None, threads: int = 4) -> None:
        self.client = client
        self.store = store
        self.progress = progress or Progress("push", 0)
        self.threads = threads
        self.experiments: dict[str, str] = {}
        self.known: dict[str, dict[tuple[str, str], Any]] = {}  # experiment -> (kind, key) -> run
        # the seam the tests use to fail an upload halfway; MLflow's own otherwise
        self.upload = upload or client.log_artifact
        self.tmp = tempfile.TemporaryDirectory(prefix="deardiary-mlflow-")
        db = store.connection()
        row = None
        if db is not None:
            with transaction(db, "DEFERRED"):
                row = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        self.store_id = row[0] if row else ""

    def close(self) -> None:
        self.tmp.cleanup()

    # What the server holds

    def experiment(self, name: str) -> str:
        if name not in self.experiments:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    eid = self.client.create_experiment(name, tags={f"{P}notebook_path": name})
                except Exception:  # made meanwhile by another client
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
                    eid = found.experiment_id
            else:
                eid = found.experiment_id
                if found.lifecycle_stage == "deleted":
                    self.client.restore_experiment(eid)
            self.experiments[name] = eid
            self.known[eid] = self._read(eid)
        return self.experiments[name]

    def _read(self, experiment_id: str) -> dict[tuple[str, str], Any]:
        """Our runs in the experiment by (kind, snapshot id or environment key); a
        FINISHED one wins over one cut short, the oldest over a later duplicate."""
        out: dict[tuple[str, str], Any] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id], f"tags.`{P}kind` != ''", max_results=1000,
                order_by=["attributes.start_time ASC"], page_token=token,
            )
            for run in page:
                kind = run.data.tags.get(f"{P}kind")
                key = run.data.tags.get(f"{P}snapshot_id" if kind == "run" else f"{P}environment")
                if key is None:
                    continue
                old = out.get((kind, key))
                if old is None or (old.info.status != "FINISHED" and run.info.status == "FINISHED"):
                    out[(kind, key)] = run
            token = page.token
            if not token:
                return out

    # Uploading

    def complete(self, run: Any, files: list[tuple[str, bytes]], end_ms: int | None, new: bool) -> str:
        """Upload the artifacts ``run`` lacks, then mark it FINISHED: 'already' | 'resumed'
        | 'pushed'."""
        rid = run.info.run_id
        if run.info.status == "FINISHED":
            self._count(skipped=sum(len(d) for _, d in files))
            return "already"
        have = {} if new else self._listing(rid)
        for path, data in files:
            if path != RECORD and have.get(path) == len(data):  # the record may have changed
                self._count(skipped=len(data))
                continue
            folder, name = os.path.split(path)
            local = Path(self.tmp.name) / rid / (folder or ".") / name
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            self.upload(rid, str(local), folder or None)
            local.unlink()
            self._count(sent=len(data))
        self.client.set_terminated(rid, "FINISHED", end_time=end_ms)
        return "pushed" if new else "resumed"

    def _listing(self, run_id: str, path: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.client.list_artifacts(run_id, path):
            if a.is_dir:
                out.update(self._listing(run_id, a.path))
            else:
                out[a.path] = a.file_size
        return out

    def _count(self, sent: int = 0, skipped: int = 0) -> None:
        with self.progress.lock:
            self.progress.bytes_sent += sent
            self.progress.bytes_skipped += skipped

    def _blob(self, sha: str) -> bytes:
        data = self.store.get_blob(sha)
        if data is None:
            raise ApiError(500, "no_blob", f"The store lacks the blob {sha}.")
        return data

    # Runs

    def push_all(self, run_ids: list[int], on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Push ``run_ids`` (environments first, in order, then the runs in parallel)."""
        plans = []
        for run_id in run_ids:
            record = record_of(self.store, run_id)
            eid = self.experiment(record["notebook"]["path"])
            found = self.known[eid].get(("run", record["snapshot_id"]))
            env = None
            if found is None or found.info.status != "FINISHED":
                env = self.environment_run(eid, record)
            plans.append((run_id, record, eid, found, env))
        results: list[dict[str, Any]] = []

        def one(plan: tuple[int, dict[str, Any], str, Any, str | None]) -> dict[str, Any]:
            result = self._push(*plan)
            if on_done is not None:
                on_done(result)
            return result

        if self.threads <= 1:
            return [one(p) for p in plans]
        with ThreadPoolExecutor(self.threads, thread_name_prefix="deardiary-mlflow-run") as pool:
            results = list(pool.map(one, plans))
        return results

    def push(self, run_id: int) -> dict[str, Any]:
        return self.push_all([run_id])[0]

    def _push(self, run_id: int, record: dict[str, Any], eid: str, found: Any, env_run: str | None) -> dict[str, Any]:
        sid = record["snapshot_id"]
        result = {"run_id": run_id, "snapshot_id": sid, "experiment_id": eid}
        record_bytes = js_json(record)
        if found is not None and found.info.status == "FINISHED":
            self._count(skipped=len(record_bytes) + sum(n or 0 for _, _, n in run_files(record)))
            return {**result, "mlflow_run_id": found.info.run_id, "state": "already"}
        record_sha = hashlib.sha256(record_bytes).hexdigest()
        new = found is None
        if found is None:
            number = self._number(run_id)
            tags = run_tags(record, run_id, number, self.store_id)
            tags["mlflow.parentRunId"] = env_run or ""
            tags[f"{P}environment_run_id"] = env_run or ""
            tags[f"{P}record_sha256"] = record_sha
            found = self.client.create_run(eid, start_time=_ms(record["created_at"]), tags=tags)
            self.known[eid][("run", sid)] = found
        elif found.data.tags.get(f"{P}record_sha256") != record_sha:  # resumed, the note edited
            self.client.set_tag(found.info.run_id, f"{P}record_sha256", record_sha)
        files = [(RECORD, record_bytes)] + [(p, self._blob(s)) for p, s, _ in run_files(record)]
        state = self.complete(found, files, _ms(record["ended_at"]), new)
        return {**result, "mlflow_run_id": found.info.run_id, "state": state}

    def environment_run(self, experiment_id: str, record: dict[str, Any]) -> str:
        key = environment_key(record)
        run = self.known[experiment_id].get(("environment", key))
        if run is None or run.info.status != "FINISHED":
            files = environment_files(record)
            new = run is None
            if run is None:
                manifest = next((f for f in record["capture"]["files"] if f["role"] == "manifest"), None)
                tags = {
                    "mlflow.runName": f"environment {key[:12]}",
                    f"{P}kind": "environment",
                    f"{P}environment": key,
                    f"{P}julia_version": record["capture"]["julia_version"],
                    **{f"{P}file.{p}": s for p, s, _ in files},
                }
                if manifest is not None:
                    tags[f"{P}manifest_sha256"] = manifest["sha256"]
                run = self.client.create_run(experiment_id, start_time=_ms(record["created_at"]), tags=tags)
            self.complete(run, [(p, self._blob(s)) for p, s, _ in files], _ms(record["created_at"]), new)
            run = self.client.get_run(run.info.run_id)
            self.known[experiment_id][("environment", key)] = run
        return run.info.run_id

    def _number(self, run_id: int) -> int:
        db = self.store.connection()
        assert db is not None
        with transaction(db, "DEFERRED"):
            return db.execute("SELECT number FROM iteration WHERE id = ?", (run_id,)).fetchone()[0]


# Pulling a run back


def pull(client: Any, store: Store, mlflow_run_id: str, run_max_bytes: int) -> dict[str, Any]:
    """Import the run ``mlflow_run_id`` into ``store``: every file's sha256 is checked
    before anything is stored; the run is added by the store's own path (one transaction,
    nothing added when its snapshot id is there already)."""
    run = client.get_run(mlflow_run_id)
    tags = run.data.tags
    if tags.get(f"{P}kind") != "run":
        raise ApiError(400, "not_a_deardiary_run",
                       f"The MLflow run {mlflow_run_id} was not pushed by jupyterlab-deardiary.")
    if run.info.status != "FINISHED":
        raise ApiError(409, "mlflow_run_incomplete",
                       f"The MLflow run {mlflow_run_id} is incomplete (its push was cut short): "
                       "push it again from the store it came from.")
    sid = tags[f"{P}snapshot_id"]
    existing = _local(store, sid)
    if existing is not None:
        return {"run_id": existing, "snapshot_id": sid, "mlflow_run_id": mlflow_run_id, "created": False}
    with tempfile.TemporaryDirectory(prefix="deardiary-mlflow-") as tmp:
        def fetch(rid: str, path: str, sha: str) -> bytes:
            local = client.download_artifacts(rid, path, tmp)
            data = Path(local).read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                raise ApiError(422, "sha256_mismatch",
                               f"The artifact {path} of MLflow run {rid} does not hash to {sha}: "
                               "nothing was stored.", path=path)
            return data

        record_bytes = fetch(mlflow_run_id, RECORD, tags.get(f"{P}record_sha256", ""))
        record = json.loads(record_bytes)
        if record.get("snapshot_id") != sid:
            raise ApiError(422, "bad_record", f"{RECORD} names another snapshot than its run's tag.")
        env_run = tags.get(f"{P}environment_run_id", "")
        wanted = [(env_run, p, s) for p, s, _ in environment_files(record)]
        wanted += [(mlflow_run_id, p, s) for p, s, _ in run_files(record)]
        missing = set(store.missing_blobs([s for _, _, s in wanted]))
        data = {s: fetch(rid, p, s) for rid, p, s in wanted if s in missing}
    for sha, b in data.items():
        store.put_blob(sha, b)
    summary, created, version = store.add_run(record, run_max_bytes)
    return {"run_id": summary["id"], "snapshot_id": sid, "mlflow_run_id": mlflow_run_id,
            "created": created, "version": version, "run": summary}


def _local(store: Store, snapshot_id: str) -> int | None:
    db = store.connection()
    if db is None:
        return None
    with transaction(db, "DEFERRED"):
        row = db.execute("SELECT id FROM iteration WHERE snapshot_id = ?", (snapshot_id,)).fetchone()
    return None if row is None else row[0]


# Jobs: one at a time per server process, so two pushes never race to create one run


class Jobs:
    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deardiary-mlflow")
        self.jobs: dict[str, Progress] = {}

    def get(self, job_id: str) -> Progress | None:
        return self.jobs.get(job_id)

    def _keep(self, progress: Progress) -> None:
        self.jobs[progress.id] = progress
        for old in list(self.jobs)[:-100]:
            if self.jobs[old].state in ("done", "error"):
                del self.jobs[old]

    def push(self, uri: str, store: Store, run_ids: list[int],
             upload: Callable[..., None] | None = None) -> Progress:
        progress = Progress("push", len(run_ids))
        self._keep(progress)

        def work() -> None:
            pusher = Pusher(make_client(uri), store, progress, upload)

            def done(result: dict[str, Any]) -> None:
                with progress.lock:
                    progress.results.append(result)
                    progress.done += 1
                    progress.current = str(result["run_id"])

            try:
                pusher.push_all(run_ids, done)
            finally:
                pusher.close()

        self._run(progress, work, uri)
        return progress

    def pull(self, uri: str, store: Store, mlflow_run_ids: list[str], run_max_bytes: int) -> Progress:
        progress = Progress("pull", len(mlflow_run_ids))
        self._keep(progress)

        def work() -> None:
            client = make_client(uri)
            for rid in mlflow_run_ids:
                with progress.lock:
                    progress.current = rid
                result = pull(client, store, rid, run_max_bytes)
                with progress.lock:
                    progress.results.append(result)
                    progress.done += 1

        self._run(progress, work, uri)
        return progress

    def _run(self, progress: Progress, work: Callable[[], None], uri: str) -> None:
        def job() -> None:
            with progress.lock:
                progress.state = "running"
            try:
                work()
            except BaseException as exc:  # every failure becomes the job's error
                try:
                    error = refused(exc, uri)
                except Exception:
                    error = ApiError(500, "mlflow_error", str(exc)[:500])
                if not isinstance(exc, ApiError) and error.error == "mlflow_error":
                    log.exception("jupyterlab_deardiary: MLflow %s job failed", progress.kind)
                with progress.lock:
                    progress.state = "error"
                    progress.error = error.to_json()
            else:
                with progress.lock:
                    progress.state = "done"
            finally:
                with progress.lock:
                    progress.current = None

        self.executor.submit(job)
