"""The one error type every endpoint raises: JSON ``{error, message, ...}``."""

from __future__ import annotations

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
