"""The one error type every endpoint raises: JSON ``{error, message, ...}``."""

from __future__ import annotations

import json
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
