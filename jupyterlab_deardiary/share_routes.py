"""HTTP handlers to share runs (issue 17): bundles out and in, export into DearDiary.jl.

- ``POST /deardiary/bundles`` ``{"ids": [run id, ...]}``: the bundle (a zip download);
- ``POST /deardiary/bundles/import``: a bundle's bytes as the body: ``{added, already,
  refused, version}``;
- ``POST /deardiary/deardiary-export`` ``{"path", "ids" | "all": true, "flavour"}``: the
  runs added to the DearDiary store file ``path`` (inside the server root), the report.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from typing import Any

from tornado import web
from jupyter_server.auth.decorator import authorized

from . import bundle, deardiary_export
from .errors import ApiError, bad_request, json_object
from .paths import relative_to_root, resolve_inside
from .routes import BaseHandler, BodyHandler, StoreBaseHandler, blocking, configured_store
from .store import CHUNK

#: Most run ids one request names.
MAX_IDS = 100_000
#: Most bytes of an uploaded bundle (compressed).
MAX_UPLOAD = 2 << 30
#: What an imported bundle may hold once unpacked.
LIMITS = bundle.Limits()
_export_locks: dict[str, threading.Lock] = {}


def run_ids(body: dict[str, Any], allow_all: bool = False) -> list[int] | None:
    """The ``ids`` of a request (None: ``"all": true`` where allowed)."""
    if allow_all and body.get("all") is True:
        return None
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids
    ):
        raise bad_request("'ids' must be a list of run ids (positive integers)"
                          + (", or give \"all\": true." if allow_all else "."))
    if not ids:
        raise bad_request("'ids' is empty: name at least one run.")
    if len(ids) > MAX_IDS:
        raise bad_request(f"Name at most {MAX_IDS} runs at a time.")
    return ids


class BundlesHandler(StoreBaseHandler):
    """POST {"ids": [...]}: the runs as one zip file."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        ids = run_ids(json_object(self.request.body))
        store = configured_store(self)
        with tempfile.TemporaryFile() as spool:
            summary = await blocking(bundle.export_bundle, store, ids, spool)
            size = spool.tell()
            spool.seek(0)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.set_header("Content-Type", "application/zip")
            self.set_header("Content-Disposition",
                            f'attachment; filename="deardiary-runs-{stamp}.zip"')
            self.set_header("Content-Length", str(size))
            self.set_header("X-DearDiary-Runs", str(summary["runs"]))
            while chunk := spool.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()


@web.stream_request_body
class BundleImportHandler(StoreBaseHandler, BodyHandler):
    """POST a bundle's bytes: its runs added to the store (checked first), the report."""

    spool: Any = None

    def body_limit(self) -> int:
        return MAX_UPLOAD

    def too_large_error(self) -> ApiError:
        return ApiError(413, "bundle_too_large",
                        f"The bundle is larger than {MAX_UPLOAD} bytes. Nothing was stored.",
                        limit=MAX_UPLOAD)

    async def start_body(self) -> None:
        # Above ServerApp.max_body_size (512 MiB) for this authorised upload only.
        connection = self.request.connection
        if hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(MAX_UPLOAD)
        self.spool = tempfile.TemporaryFile()

    def body_chunk(self, chunk: bytes) -> None:
        self.spool.write(chunk)

    def on_finish(self) -> None:
        if self.spool is not None:
            self.spool.close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self.too_large:
            raise self.too_large_error()
        if not self.received:
            raise bad_request("The body is empty: send the bundle's bytes (a zip file).",
                              "bad_bundle")
        self.spool.seek(0)
        report = await blocking(bundle.import_bundle, configured_store(self), self.spool,
                                self.deardiary.run_max_bytes, LIMITS)
        self.finish(json.dumps(report))


class DearDiaryExportHandler(BaseHandler):
    """POST {"path", "ids" | "all": true, "flavour"}: runs into a DearDiary store file."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = json_object(self.request.body)
        ids = run_ids(body, allow_all=True)
        flavour = body.get("flavour", "v0.9.1")
        if flavour not in deardiary_export.FLAVOURS:
            raise bad_request(f"'flavour' must be one of {', '.join(deardiary_export.FLAVOURS)}.")
        path = body.get("path")
        if not isinstance(path, str) or not path.strip():
            raise bad_request("'path' must name the DearDiary store file, relative to the "
                              "server root (e.g. deardiary.db).", "bad_path")
        target = resolve_inside(self.root_dir, path, must_exist=False)
        store = configured_store(self)
        if target == store.path:
            raise bad_request("'path' names this extension's own store: name another file.",
                              "bad_path")
        relpath = relative_to_root(target, self.root_dir) or path
        lock = _export_locks.setdefault(str(target), threading.Lock())

        def run() -> dict[str, Any]:
            if not lock.acquire(timeout=60):
                raise ApiError(409, "busy", f"{relpath} is being written by another export.")
            try:
                return deardiary_export.export_runs(store, ids, target, flavour, relpath)
            finally:
                lock.release()

        self.finish(json.dumps(await blocking(run)))


HANDLERS = [
    ("bundles", BundlesHandler),
    ("bundles/import", BundleImportHandler),
    ("deardiary-export", DearDiaryExportHandler),
]
