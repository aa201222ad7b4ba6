"""HTTP handlers under <base_url>/deardiary/mlflow: push runs to an MLflow tracking server
and pull them back, as background jobs with progress (see mlflow_sync.py).

| method and path | body | answer |
|---|---|---|
| `GET mlflow` | | `{installed, version, configured, tracking_uri, auto_push, install}` |
| `POST mlflow/push` | `{"run_ids": [id, ...]}` | `202 {"job": IMlflowJob}`; `501 mlflow_missing`, `409 mlflow_not_configured`, `404 no_run` |
| `POST mlflow/pull` | `{"mlflow_run_ids": ["...", ...]}` | `202 {"job": IMlflowJob}` (same errors) |
| `GET mlflow/jobs/<id>` | | `IMlflowJob`: `{id, kind, state: queued|running|done|error, total, done, current, bytes_sent, bytes_skipped, results (once it ends), error}`; `404 no_job` |
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import time

from tornado import web
from tornado.ioloop import PeriodicCallback

from jupyter_server.auth.decorator import authorized

from .config import DearDiary
from .db import Store, transaction
from .errors import ApiError, bad_request, json_object
from .mlflow_sync import INSTALL, Jobs, Progress, mlflow_missing, not_configured, shown_uri
from .routes import BaseHandler, blocking, configured_store, store_in

log = logging.getLogger(__name__)
JOBS = Jobs()
MAX_RUNS = 10_000
AUTO_PUSH_SECONDS = 3.0
_MLFLOW_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def installed() -> str | None:
    """MLflow's client version when it is installed (mlflow or mlflow-skinny), else None."""
    try:
        if importlib.util.find_spec("mlflow") is None:
            return None
    except (ImportError, ValueError):  # a broken installation, or one blocked in sys.modules
        return None
    for name in ("mlflow-skinny", "mlflow"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(name)
    return "unknown"


def ready(config: DearDiary) -> str:
    """The tracking URI, once MLflow is installed and a server is set (else the error)."""
    if installed() is None:
        raise mlflow_missing()
    if not config.mlflow_tracking_uri:
        raise not_configured()
    return config.mlflow_tracking_uri


def existing_runs(store: Store, run_ids: list[int]) -> None:
    db = store.connection()
    found: set[int] = set()
    if db is not None:
        with transaction(db, "DEFERRED"):
            for i in range(0, len(run_ids), 500):
                part = run_ids[i : i + 500]
                marks = ",".join("?" * len(part))
                found.update(r[0] for r in db.execute(f"SELECT id FROM iteration WHERE id IN ({marks})", part))
    lacking = [i for i in run_ids if i not in found]
    if lacking:
        raise ApiError(404, "no_run", f"There is no run with id {lacking[0]}.", run_ids=lacking[:100])


class MlflowHandler(BaseHandler):
    """GET: whether pushing can work, and where to."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        uri = self.deardiary.mlflow_tracking_uri
        self.finish(json.dumps({
            "installed": installed() is not None,
            "version": installed(),
            "configured": bool(uri),
            "tracking_uri": shown_uri(uri) if uri else None,
            "auto_push": self.deardiary.mlflow_auto_push,
            "install": INSTALL,
        }))


class MlflowPushHandler(BaseHandler):
    """POST {"run_ids": [...]}: push those runs in the background."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        ids = json_object(self.request.body).get("run_ids")
        if (
            not isinstance(ids, list)
            or not ids
            or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
        ):
            raise bad_request("'run_ids' must be a non-empty list of run ids.")
        if len(ids) > MAX_RUNS:
            raise bad_request(f"Push at most {MAX_RUNS} runs at a time.")
        uri = ready(self.deardiary)
        store = configured_store(self)
        ids = list(dict.fromkeys(ids))
        await blocking(existing_runs, store, ids)
        job = JOBS.push(uri, store, ids)
        self.set_status(202)
        self.finish(json.dumps({"job": job.to_json()}))


class MlflowPullHandler(BaseHandler):
    """POST {"mlflow_run_ids": [...]}: import those MLflow runs into the store."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        ids = json_object(self.request.body).get("mlflow_run_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise bad_request("'mlflow_run_ids' must be a non-empty list of MLflow run ids.")
        ids = [i.strip() for i in ids]
        for i in ids:
            if not _MLFLOW_ID.fullmatch(i):
                raise bad_request(f"{i[:80]!r} is not an MLflow run id (32 hex digits, as MLflow shows it).")
        if len(ids) > MAX_RUNS:
            raise bad_request(f"Pull at most {MAX_RUNS} runs at a time.")
        uri = ready(self.deardiary)
        job = JOBS.pull(uri, configured_store(self), list(dict.fromkeys(ids)), self.deardiary.run_max_bytes)
        self.set_status(202)
        self.finish(json.dumps({"job": job.to_json()}))


class MlflowJobHandler(BaseHandler):
    """GET a job's progress."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = JOBS.get(job_id)
        if job is None:
            raise ApiError(404, "no_job", f"There is no MLflow job {job_id[:80]!r} (jobs are kept until the server restarts).")
        self.finish(json.dumps(job.to_json()))


class AutoPush:
    """Pushes each run the store gains (its change log's 'add' entries), every few seconds.
    The runs of a push that failed (MLflow down, credentials refused) are pushed again
    with the next ones, at most once a minute."""

    RETRY_SECONDS = 60.0

    def __init__(self, root_dir: str, config: DearDiary) -> None:
        self.root_dir, self.config = root_dir, config
        self.seq: int | None = None
        self.busy = False
        self.job: Progress | None = None
        self.job_ids: list[int] = []
        self.retry_at = 0.0

    def added(self) -> list[int]:
        store = store_in(self.root_dir, self.config)
        db = store.connection()
        if db is None:
            self.seq = self.seq or 0
            return []
        with transaction(db, "DEFERRED"):
            if self.seq is None:  # runs stored before the server started: pushed on demand
                self.seq = Store.seq_of(db)
                return []
            rows = db.execute(
                """SELECT c.seq, c.iteration_id FROM change_log c JOIN iteration i ON i.id = c.iteration_id
                   WHERE c.seq > ? AND c.kind = 'add' ORDER BY c.seq""",
                (self.seq,),
            ).fetchall()
            self.seq = Store.seq_of(db)
        return [r[1] for r in rows]

    def unfinished(self) -> list[int]:
        """The runs of the last push that failed (none while it runs or when it did not)."""
        job = self.job
        if job is None or job.state != "error":
            return []
        pushed = {r["run_id"] for r in job.to_json()["results"]}
        return [i for i in self.job_ids if i not in pushed]

    async def tick(self) -> None:
        if self.busy or (self.job is not None and self.job.state in ("queued", "running")):
            return
        self.busy = True
        try:
            retry = self.unfinished()
            if retry and time.time() < self.retry_at:
                return
            ids = list(dict.fromkeys(retry + await blocking(self.added)))
            if ids:
                self.job_ids = ids
                self.job = JOBS.push(ready(self.config), store_in(self.root_dir, self.config), ids)
                self.retry_at = time.time() + self.RETRY_SECONDS
        except ApiError:
            pass  # no store yet, a bad store path, MLflow missing: said where they are used
        finally:
            self.busy = False


def handlers(web_app: web.Application, config: DearDiary) -> list[tuple[str, type]]:
    """The MLflow handlers (routes.py registers them); starts the automatic push when set."""
    if config.mlflow_auto_push:
        try:
            ready(config)
        except ApiError as e:
            log.warning("jupyterlab_deardiary: DearDiary.mlflow_auto_push is set, but: %s", e.message)
        cm = web_app.settings.get("contents_manager")
        root = getattr(cm, "root_dir", None) or web_app.settings.get("server_root_dir", "")
        auto = AutoPush(os.path.abspath(os.path.expanduser(root)), config)
        with contextlib.suppress(ApiError):
            auto.added()  # the store's seq now: what came before is not pushed automatically
        timer = PeriodicCallback(auto.tick, AUTO_PUSH_SECONDS * 1000)
        web_app.settings["deardiary_mlflow_auto_push"] = timer
        timer.start()
    return [
        ("mlflow", MlflowHandler),
        ("mlflow/push", MlflowPushHandler),
        ("mlflow/pull", MlflowPullHandler),
        (r"mlflow/jobs/([^/]+)", MlflowJobHandler),
    ]
