"""HTTP handlers under <base_url>/deardiary/: git, store, runs, restore, worktree, version."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from http.client import responses
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.services.contents.fileio import FileManagerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from . import __version__
from .config import DearDiary
from .errors import ApiError
from .git import Git, find_git
from .paths import relative_to_root, resolve_inside
from .restore import restore
from .runs import list_runs, read_ahead
from .store import CHUNK, Store, Upload, etag, parse_tags, required_version
from .worktree import create_worktree

API_VERSION = 1
SQLITE_TYPE = "application/vnd.sqlite3"


class BaseHandler(APIHandler):
    """Authenticated JSON handler; errors answer ``{error, message, ...}``."""

    auth_resource = "contents"

    def initialize(self, config: DearDiary, git: Git | None = None) -> None:
        self.dd = config
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
            reply = {
                "error": "internal_error",
                "message": "Unexpected server error (see the server log).",
            }
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


@web.stream_request_body
class StoreHandler(BodyHandler):
    """GET the store's bytes (ETag: sha256); PUT new bytes with If-Match / If-None-Match."""

    upload: Upload | None = None

    def store(self) -> Store:
        return configured_store(self)

    def body_limit(self) -> int:
        return self.dd.store_max_bytes

    def too_large_error(self) -> ApiError:
        return ApiError(
            413,
            "too_large",
            f"The store would exceed {self.dd.store_max_bytes} bytes (DearDiary.store_max_bytes).",
        )

    async def start_body(self) -> None:
        headers = self.request.headers
        required_version(headers.get("If-Match"), headers.get("If-None-Match"))  # or 428
        self.upload = self.store().begin_upload()

    def body_chunk(self, chunk: bytes) -> None:
        assert self.upload is not None
        self.upload.write(chunk)

    def _discard(self) -> None:
        if self.upload is not None:
            self.upload.discard()

    def on_finish(self) -> None:
        self._discard()

    def on_connection_close(self) -> None:
        self._discard()
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def get(self) -> None:
        store = self.store()
        opened = await asyncio.get_running_loop().run_in_executor(None, store.open)
        if opened is None:
            raise ApiError(404, "no_store", f"There is no store yet at {self.dd.store_path!r}.")
        f, sha, size = opened
        with f:
            self.set_header("ETag", etag(sha))
            self.set_header("Cache-Control", "no-cache")
            if etag(sha) in parse_tags(self.request.headers.get("If-None-Match", "")):
                self.set_status(304)
                self.finish()
                return
            self.set_header("Content-Type", SQLITE_TYPE)
            self.set_header("Content-Length", str(size))
            while chunk := f.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type=SQLITE_TYPE)

    @web.authenticated
    @authorized
    async def put(self) -> None:
        if self.too_large:
            raise self.too_large_error()
        assert self.upload is not None
        store = self.store()
        async with store.lock:
            sha, size, created = await asyncio.get_running_loop().run_in_executor(
                None,
                store.commit,
                self.upload,
                self.request.headers.get("If-Match"),
                self.request.headers.get("If-None-Match"),
            )
        self.set_status(201 if created else 200)
        self.set_header("ETag", etag(sha))
        self.finish(json.dumps({"etag": etag(sha), "size": size}))
        read_ahead(store)  # the other tabs' sidebars will ask for the new run list


def configured_store(handler: BaseHandler) -> Store:
    """The store file named by DearDiary.store_path, inside the server root."""
    return store_in(handler.root_dir, handler.dd)


def store_in(root_dir: str, config: DearDiary) -> Store:
    try:
        path = resolve_inside(root_dir, config.store_path, must_exist=False)
    except ApiError as e:
        raise ApiError(
            500,
            "bad_store_path",
            f"DearDiary.store_path {config.store_path!r} is unusable: {e.message}",
        ) from None
    return Store(path)


class RunsHandler(BaseHandler):
    """GET the run list read from the store file, and the store's ETag it describes."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        runs = await list_runs(configured_store(self))
        if runs.etag:
            self.set_header("ETag", runs.etag)
            if self.check_etag_header():  # the list the frontend holds is still current
                self.set_status(304)
                self.finish()
                return
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(runs.gzipped)
        else:
            self.finish(runs.body)


class StoreAsideHandler(BaseHandler):
    """POST with If-Match: keep a copy of a store that cannot be opened, beside it."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        store = configured_store(self)
        async with store.lock:
            aside = await asyncio.get_running_loop().run_in_executor(
                None, store.keep_aside, self.request.headers.get("If-Match")
            )
        self.finish(json.dumps({"path": str(aside), "relpath": relative_to_root(aside, self.root_dir)}))


@web.stream_request_body
class RestoreHandler(BodyHandler):
    """POST {target, files: [{name, base64, sha256}], overwrite, metadata}."""

    def body_limit(self) -> int:
        return self.dd.restore_max_bytes

    def too_large_error(self) -> ApiError:
        return ApiError(
            413,
            "too_large",
            f"The restore request exceeds {self.dd.restore_max_bytes} bytes "
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

    Every frontend asks this when it starts: the run list of the store is read then (in
    the background, once per version of the file), so that the sidebar's first GET
    /deardiary/runs finds it ready instead of waiting for the file to be hashed and read.
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
                    "store_path": self.dd.store_path,
                }
            )
        )


def setup_handlers(web_app: web.Application, config: DearDiary) -> None:
    """Register the handlers under <base_url>/deardiary/, and remove the temp files that
    interrupted store uploads left."""
    cm = web_app.settings.get("contents_manager")
    root_dir = getattr(cm, "root_dir", None) or web_app.settings.get("server_root_dir", "")
    with contextlib.suppress(ApiError, OSError):  # a bad store path is reported where it is used
        store_in(os.path.abspath(os.path.expanduser(root_dir)), config).remove_stale_temps()
    base_url = web_app.settings["base_url"]
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
                ("restore", RestoreHandler),
                ("worktree", WorktreeHandler),
                ("version", VersionHandler),
            )
        ],
    )
