"""The one error type every endpoint raises: JSON ``{error, message, ...}``."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from typing import Any

from tornado.web import HTTPError


class ApiError(HTTPError):
    """An HTTP error with a stable ``error`` code and a message a user can act on."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        # tornado formats log_message with %, so escape it
        super().__init__(status, log_message=message.replace("%", "%%"))
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        """The response body."""
        return {"error": self.error, "message": self.message, **self.extra}


def bad_request(message: str, error: str = "bad_request", **extra: Any) -> ApiError:
    return ApiError(400, error, message, **extra)


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    try:
        req = json.loads(body)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    except RecursionError:
        raise bad_request("The request body's JSON is nested too deeply.") from None
    if not isinstance(req, dict):
        raise bad_request("The request body must be a JSON object.")
    return req


_WHY = {
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (a read-only or immutable file or folder)",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}
_DO = {
    errno.ENOSPC: "Free some space there, then try again.",
    errno.EDQUOT: "Free some space there, then try again.",
}
_DO_DEFAULT = (
    "Give the user that runs Jupyter write access there, or set c.DearDiary.store_path "
    "(jupyter_server_config.py) to a folder it can write, then try again."
)


def _relative(path: str, root: str) -> str:
    inside = path == root or path.startswith(root.rstrip(os.sep) + os.sep)
    return os.path.relpath(path, root).replace(os.sep, "/") if inside else path


def _file_on_the_way(path: str, root: str) -> str | None:
    """The first part of ``path`` below ``root`` that is a file where a folder must be."""
    parts = os.path.relpath(os.path.dirname(path), root).split(os.sep)
    current = root
    for part in parts if parts != ["."] else []:
        current = os.path.join(current, part)
        if os.path.lexists(current) and not os.path.isdir(current):
            return current
    return None


def unexpected_error(
    exc: BaseException | None, root: str, store_path: str, reading: bool = False
) -> dict[str, Any]:
    """The JSON of an exception no endpoint turned into an ApiError: a file system error
    names what could not be written (read, for a GET), why and what to do; anything else
    points at the log."""
    root = os.path.normpath(root)
    store = os.path.normpath(os.path.join(root, store_path)) if store_path else ""
    if isinstance(exc, sqlite3.OperationalError) and store and (
        "readonly" in str(exc) or "unable to open" in str(exc)
    ):
        exc = PermissionError(errno.EACCES, str(exc), store)
    if not isinstance(exc, OSError) or not (exc.errno in _WHY or exc.strerror):
        return {"error": "internal_error", "message": "Unexpected server error (see the server log)."}
    filename = os.fsdecode(exc.filename) if exc.filename is not None else store or root
    path = os.path.normpath(os.path.join(root, filename))
    in_store = bool(store) and (
        path == store
        or path.startswith(os.path.dirname(store) + os.sep)
        or store.startswith(path + os.sep)
    )
    target = store if in_store else path
    what = f"the store at {_relative(target, root)}" if in_store else _relative(target, root)
    blocker = _file_on_the_way(target, root)
    if blocker is not None:
        why = f"{_relative(blocker, root)} is a file, not a folder"
        do = "Move that file away, or set c.DearDiary.store_path to another place."
    else:
        why = _WHY.get(exc.errno or 0) or (exc.strerror or "").lower()
        do = _DO.get(exc.errno or 0, _DO_DEFAULT)
    return {
        "error": "store_not_writable" if in_store else "not_writable",
        "message": f"Cannot {'read' if reading else 'write'} {what}: {why}. {do}",
        "path": _relative(target, root),
    }
