"""HTTP handlers under <base_url>/deardiary/: git, store, runs, restore, worktree, version."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mmap
import os
import re
import tempfile
import time
from http.client import responses
from pathlib import Path
from typing import Any, Callable, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.services.contents.fileio import FileManagerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from . import __version__
from .blobs import BlobCorrupt
from .config import DearDiary
from .db import Store
from .errors import ApiError, bad_request, json_object, unexpected_error
from .git import Git, find_git
from .gitignore import ensure_ignored
from .paths import relative_to_root, resolve_inside
from .restore import restore
from .runs import bad_limit, read_ahead, read_index, read_packages, run_list
from .store import (
    CHUNK,
    etag,
    parse_tags,
    remove_stale_temps,
    required_sha256,
    temp_pattern,
    temporary_folder,
)
from .worktree import create_worktree

API_VERSION = 1
SQLITE_TYPE = "application/vnd.sqlite3"
SHA256 = re.compile(r"[0-9a-f]{64}")
#: Most sha256s one POST /deardiary/blobs/missing may ask about.
MAX_ASKED = 10_000
T = TypeVar("T")


class BaseHandler(APIHandler):
    """Authenticated JSON handler; errors answer ``{error, message, ...}``."""

    auth_resource = "contents"

    def initialize(self, config: DearDiary, git: Git | None = None) -> None:
        self.deardiary = config  # the DearDiary settings (c.DearDiary.*)
        self.git = git

    @property
    def root_dir(self) -> str:
        """The folder client paths are relative to (the contents manager's root)."""
        cm = self.contents_manager
        if isinstance(cm, FileManagerMixin):
            return os.path.abspath(os.path.expanduser(cm.root_dir))
        return str(self.serverapp.root_dir)  # type: ignore[union-attr]

    def query_path(self, name: str) -> str:
        """A query argument exactly as sent (tornado would turn control characters into spaces)."""
        values = self.request.query_arguments.get(name)
        if not values:
            return ""
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_path", f"'{name}' is not valid UTF-8.") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, ApiError):
            for key, value in exc.headers.items():
                self.set_header(key, value)
            reply = exc.to_json()
        elif isinstance(exc, web.HTTPError):
            try:
                message = (exc.log_message or "") % exc.args if exc.args else exc.log_message
            except TypeError:
                message = exc.log_message
            reason = responses.get(status_code, "error")
            reply = {"error": reason.lower().replace(" ", "_"), "message": message or reason}
        else:
            config = getattr(self, "deardiary", None)
            reply = unexpected_error(
                exc,
                self.root_dir,
                config.store_path if config else "",
                reading=self.request.method in ("GET", "HEAD"),
            )
        self.finish(json.dumps(reply))


class GitHandler(BaseHandler):
    """GET ?path=<notebook or folder>: the repository's state."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.query_path("path")
        resolved = resolve_inside(self.root_dir, path, allow_empty=True)
        directory = resolved if resolved.is_dir() else resolved.parent
        assert self.git is not None
        self.finish(json.dumps(await self.git.describe(str(directory), path, self.root_dir)))


class StoreBaseHandler(BaseHandler):
    """A store endpoint: its ETag is the store version or a sha256, never a hash of the
    answer (tornado's default)."""

    def compute_etag(self) -> str | None:
        return None


class BodyHandler(BaseHandler):
    """Streams the request body of PUT/POST, after authorising it and checking its size."""

    received = 0
    too_large = False

    def body_limit(self) -> int:
        raise NotImplementedError

    def too_large_error(self) -> ApiError:
        raise NotImplementedError

    async def start_body(self) -> None:
        """Called once the request is authorised, before the first chunk."""

    def body_chunk(self, chunk: bytes) -> None:
        raise NotImplementedError

    def streams(self) -> bool:
        """Whether this request's body is streamed to ``body_chunk`` (else refused)."""
        return self.request.method in ("PUT", "POST")

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # Authorise before accepting a single byte (the verb's decorators run after the body).
        user = self.current_user
        if not user:
            raise web.HTTPError(403)
        if not self.streams():
            headers = self.request.headers
            if headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in headers:
                raise ApiError(
                    400,
                    "unexpected_body",
                    f"A {self.request.method} request to this endpoint takes no body.",
                )
            return
        if not await ensure_async(
            self.authorizer.is_authorized(self, user, "write", self.auth_resource)
        ):
            raise web.HTTPError(
                403, f"User is not authorized to write on resource: {self.auth_resource}."
            )
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.body_limit():
            raise self.too_large_error()
        await self.start_body()

    def data_received(self, chunk: bytes) -> None:
        if not self.streams():
            return  # refused in prepare
        self.received += len(chunk)
        if self.received > self.body_limit():
            self.too_large = True
        if not self.too_large:
            self.body_chunk(chunk)


def configured_store(handler: BaseHandler) -> Store:
    """The store file named by DearDiary.store_path, inside the server root."""
    return store_in(handler.root_dir, handler.deardiary)


def store_in(root_dir: str, config: DearDiary) -> Store:
    try:
        path = resolve_inside(root_dir, config.store_path, must_exist=False)
    except ApiError as e:
        raise ApiError(
            500,
            "bad_store_path",
            f"DearDiary.store_path {config.store_path!r} is unusable: {e.message}",
        ) from None
    ensure_ignored(path, root_dir, config.version_store)
    return Store(path, os.path.realpath(root_dir))


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking store work in a thread, never on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def checked_sha256(value: str) -> str:
    if not SHA256.fullmatch(value):
        raise ApiError(400, "bad_sha256", f"{value[:80]!r} is not a sha256 (64 lowercase hex digits).")
    return value


def run_id_of(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ApiError(404, "no_run", f"There is no run with id {value[:40]!r}.")
    return int(value)


def too_large(config: DearDiary) -> ApiError:
    return ApiError(
        413,
        "run_too_large",
        f"The blob is larger than {config.run_max_bytes} bytes (DearDiary.run_max_bytes).",
        limit=config.run_max_bytes,
    )


class BlobsMissingHandler(StoreBaseHandler):
    """POST {"sha256": [hex, ...]}: those the store lacks."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        shas = json_object(self.request.body).get("sha256")
        if not isinstance(shas, list) or not all(isinstance(s, str) for s in shas):
            raise bad_request("'sha256' must be a list of sha256 strings.")
        if len(shas) > MAX_ASKED:
            raise bad_request(f"Ask for at most {MAX_ASKED} blobs at a time.")
        for sha in shas:
            checked_sha256(sha)
        missing = await blocking(configured_store(self).missing_blobs, shas)
        self.finish(json.dumps({"missing": missing}))


@web.stream_request_body
class BlobHandler(StoreBaseHandler, BodyHandler):
    """GET a blob's exact bytes; PUT them (streamed, hashed, stored chunked)."""

    spool: Any = None

    def streams(self) -> bool:
        return self.request.method == "PUT"

    def body_limit(self) -> int:
        return self.deardiary.run_max_bytes

    def too_large_error(self) -> ApiError:
        return too_large(self.deardiary)

    async def start_body(self) -> None:
        checked_sha256(self.path_args[0])
        self.spool = tempfile.TemporaryFile()  # unnamed: nothing left behind by a kill
        self.hash = hashlib.sha256()

    def body_chunk(self, chunk: bytes) -> None:
        self.spool.write(chunk)
        self.hash.update(chunk)

    def on_finish(self) -> None:
        if self.spool is not None:
            self.spool.close()

    @web.authenticated
    @authorized
    async def put(self, sha: str) -> None:
        if self.too_large:
            raise self.too_large_error()
        if self.hash.hexdigest() != sha:
            raise ApiError(
                400,
                "sha256_mismatch",
                f"The body hashes to {self.hash.hexdigest()}, not {sha}: nothing was stored.",
            )
        self.spool.flush()
        created = await blocking(_put_blob, configured_store(self), sha, self.spool)
        self.set_status(201 if created else 200)
        self.finish(json.dumps({"sha256": sha, "size": self.received}))

    @web.authenticated
    @authorized
    async def get(self, sha: str) -> None:
        checked_sha256(sha)
        self.set_header("ETag", etag(sha))
        if etag(sha) in parse_tags(self.request.headers.get("If-None-Match", "")):
            self.set_status(304)
            self.finish()
            return
        try:
            data = await blocking(configured_store(self).get_blob, sha)
        except BlobCorrupt as e:
            self.clear_header("ETag")
            raise ApiError(500, "blob_corrupt", str(e)) from None
        if data is None:
            self.clear_header("ETag")
            raise ApiError(404, "no_blob", f"There is no blob {sha} in the store.")
        self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        self.finish(data, set_content_type="application/octet-stream")


def _put_blob(store: Store, sha: str, spool: Any) -> bool:
    size = os.fstat(spool.fileno()).st_size
    if size == 0:
        return store.put_blob(sha, b"")
    with mmap.mmap(spool.fileno(), size, access=mmap.ACCESS_READ) as data:
        return store.put_blob(sha, data)


class RunsHandler(StoreBaseHandler):
    """GET the run list (ETag: the store version); POST a run record."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        store = configured_store(self)
        limit_arg = self.get_query_argument("limit", None)
        limit = None
        if limit_arg is not None:
            if not limit_arg.isdigit() or int(limit_arg) < 1:
                raise bad_limit(limit_arg)
            limit = int(limit_arg)
        if self.request.headers.get("If-None-Match"):
            version = await blocking(store.version)
            if version is not None and etag(version) in parse_tags(
                self.request.headers["If-None-Match"]
            ):
                self.set_header("ETag", etag(version))
                self.set_status(304)
                self.finish()
                return
        answer = await blocking(run_list, store, limit)
        if answer.version is not None:
            self.set_header("ETag", etag(answer.version))
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(answer.gzipped)
        else:
            self.finish(answer.body)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            record = json.loads(self.request.body)
        except (ValueError, RecursionError):
            raise ApiError(400, "bad_run", "The body is not valid JSON.", field="") from None
        store = configured_store(self)
        run, created, version = await blocking(store.add_run, record, self.deardiary.run_max_bytes)
        self.set_status(201 if created else 200)
        self.set_header("ETag", etag(version))
        self.finish(json.dumps({"run": run, "created": created, "version": version}))


class RunHandler(StoreBaseHandler):
    """GET one run (IRunDetail), PATCH its note, DELETE it."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.finish(json.dumps(await blocking(configured_store(self).get_run, run_id_of(run_id))))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        note = json_object(self.request.body).get("note")
        if not isinstance(note, str):
            raise bad_request("'note' must be a string.")
        if not note.isascii() and any("\ud800" <= c <= "\udfff" for c in note):
            raise bad_request("'note' holds a lone surrogate (not valid Unicode).")
        store = configured_store(self)
        run, version = await blocking(store.update_note, run_id_of(run_id), note)
        self.set_header("ETag", etag(version))
        self.finish(json.dumps({"run": run, "version": version}))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        version = await blocking(configured_store(self).delete_run, run_id_of(run_id))
        self.set_header("ETag", etag(version))
        self.finish(json.dumps({"version": version}))


class IndexHandler(StoreBaseHandler):
    """GET the browser's index: an SQLite image, or the changes ``?since=<version>``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        since = self.get_query_argument("since", None)
        gzipped = "gzip" in self.request.headers.get("Accept-Encoding", "")
        version, answer = await blocking(read_index, configured_store(self), since, gzipped)
        if version is None:
            raise ApiError(404, "no_store", f"There is no store yet at {self.deardiary.store_path!r}.")
        self.set_header("ETag", etag(version))
        self.set_header("Cache-Control", "no-cache")
        if answer is None:
            self.set_status(304)
            self.finish()
        elif isinstance(answer, bytes):
            self.set_header("Vary", "Accept-Encoding")
            if gzipped:
                self.set_header("Content-Encoding", "gzip")
            self.finish(answer, set_content_type=SQLITE_TYPE)
        else:
            self.finish(json.dumps(answer, separators=(",", ":")))


class PackagesHandler(StoreBaseHandler):
    """GET ?name=<package>&name=...: per manifest, the versions of those packages (the
    index's answer, for a tab that has not loaded its own index yet)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        names = self.get_query_arguments("name")
        if not names or len(names) > 100 or any(not n or len(n) > 200 for n in names):
            raise bad_request("Give 1 to 100 package names (?name=CSV&name=JuMP).", "bad_names")
        version, answer = await blocking(read_packages, configured_store(self), names)
        if version is None:
            raise ApiError(404, "no_store", f"There is no store yet at {self.deardiary.store_path!r}.")
        self.set_header("Cache-Control", "no-cache")
        self.finish(json.dumps({"version": version, "manifests": answer}, separators=(",", ":")))


class StoreHandler(StoreBaseHandler):
    """GET a consistent copy of the whole store (backup); PUT is gone."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        store = configured_store(self)
        with temporary_folder("backup") as folder:  # removed by a later start if killed
            copy = Path(folder) / "backup.sqlite"
            await blocking(store.backup, copy)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.set_header("Content-Type", SQLITE_TYPE)
            self.set_header(
                "Content-Disposition", f'attachment; filename="deardiary-{stamp}.sqlite"'
            )
            self.set_header("Content-Length", str(copy.stat().st_size))
            with open(copy, "rb") as f:
                while chunk := f.read(CHUNK):
                    self.write(chunk)
                    await self.flush()
        self.finish(set_content_type=SQLITE_TYPE)

    @web.authenticated
    @authorized
    async def put(self) -> None:
        raise ApiError(
            410,
            "gone",
            "The store is never replaced whole any more: runs are added one by one "
            "(POST /deardiary/runs).",
        )


class StoreAsideHandler(StoreBaseHandler):
    """POST with If-Match: "<sha256 of the file>": move an unusable store aside."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        expected = required_sha256(self.request.headers.get("If-Match"))
        aside = await blocking(configured_store(self).set_aside, expected)
        self.finish(
            json.dumps({"path": str(aside), "relpath": relative_to_root(aside, self.root_dir)})
        )


@web.stream_request_body
class RestoreHandler(BodyHandler):
    """POST {target, files: [{name, base64, sha256}], overwrite, metadata}."""

    def body_limit(self) -> int:
        return self.deardiary.restore_max_bytes

    def too_large_error(self) -> ApiError:
        return ApiError(
            413,
            "too_large",
            f"The restore request exceeds {self.deardiary.restore_max_bytes} bytes "
            "(DearDiary.restore_max_bytes).",
        )

    async def start_body(self) -> None:
        self.body = bytearray()

    def body_chunk(self, chunk: bytes) -> None:
        self.body += chunk

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self.too_large:
            raise self.too_large_error()
        allow_hidden = bool(getattr(self.contents_manager, "allow_hidden", False))
        result = await asyncio.get_running_loop().run_in_executor(
            None, restore, self.root_dir, bytes(self.body), allow_hidden
        )
        self.finish(json.dumps(result))


class WorktreeHandler(BaseHandler):
    """POST {path, target, sha, patch, patch_truncated}: a git worktree of the repository
    holding ``path``, at ``sha``, in ``target``, with ``patch`` applied."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        assert self.git is not None
        allow_hidden = bool(getattr(self.contents_manager, "allow_hidden", False))
        result = await create_worktree(self.git, self.root_dir, self.request.body, allow_hidden)
        self.finish(json.dumps(result))


class VersionHandler(BaseHandler):
    """GET: which server extension answers, so the frontend can detect a mismatch.

    Every frontend asks this when it starts: the run list of the store is made then (in
    the background, once per store version), so that the sidebar's first GET
    /deardiary/runs finds it ready (and the store checked and migrated).
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        with contextlib.suppress(ApiError):  # a bad store path is reported where it is used
            read_ahead(configured_store(self))
        self.finish(
            json.dumps(
                {
                    "version": __version__,
                    "name": "jupyterlab_deardiary",
                    "api": API_VERSION,
                    "store_path": self.deardiary.store_path,
                }
            )
        )


def setup_handlers(web_app: web.Application, config: DearDiary) -> None:
    """Register the handlers under <base_url>/deardiary/, and remove the temp files that
    interrupted whole-store uploads of older versions left."""
    cm = web_app.settings.get("contents_manager")
    root_dir = getattr(cm, "root_dir", None) or web_app.settings.get("server_root_dir", "")
    with contextlib.suppress(ApiError, OSError):  # a bad store path is reported where it is used
        # temp files of whole-store uploads that older versions left
        path = store_in(os.path.abspath(os.path.expanduser(root_dir)), config).path
        if path.parent.is_dir():
            remove_stale_temps(path.parent, temp_pattern(f".{path.name}."))
    base_url = web_app.settings["base_url"]
    from .share_routes import HANDLERS as SHARE_HANDLERS  # noqa: PLC0415 (it imports this module)
    from .nbdiff import NotebookDiffHandler  # noqa: PLC0415 (nbdiff imports this module)
    from .mlflow_routes import handlers as mlflow_handlers  # noqa: PLC0415 (it imports this module)
    options: dict[str, Any] = {"config": config, "git": Git(config, find_git())}
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, "deardiary", name), handler, options)
            for name, handler in (
                ("git", GitHandler),
                ("store", StoreHandler),
                ("store/aside", StoreAsideHandler),
                ("runs", RunsHandler),
                (r"runs/([^/]+)", RunHandler),
                ("blobs/missing", BlobsMissingHandler),
                (r"blobs/([^/]+)", BlobHandler),
                ("index", IndexHandler),
                ("packages", PackagesHandler),
                ("restore", RestoreHandler),
                ("worktree", WorktreeHandler),
                ("version", VersionHandler),
                *SHARE_HANDLERS,
                ("nbdiff", NotebookDiffHandler),
                *mlflow_handlers(web_app, config),
            )
        ],
    )
