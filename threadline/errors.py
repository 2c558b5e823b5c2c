"""One error root for the whole package; HTTP errors carry their status and code.

Every error the server renders goes through one handler (``app.py``) that turns
an :class:`HTTPError` into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any


class ThreadlineError(Exception):
    """Root of every error Threadline raises on purpose."""


class HTTPError(ThreadlineError):
    """An error with an HTTP status and a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_request(message: str, code: str = "invalid_body", details: Any = None) -> HTTPError:
    return HTTPError(400, code, message, details)


def unauthorized(message: str = "missing or unknown key") -> HTTPError:
    return HTTPError(401, "unauthorized", message)


def forbidden(message: str) -> HTTPError:
    return HTTPError(403, "forbidden", message)


def not_found(message: str) -> HTTPError:
    return HTTPError(404, "not_found", message)


def conflict(message: str, details: Any = None) -> HTTPError:
    return HTTPError(409, "conflict", message, details)


def too_large(message: str, details: Any = None) -> HTTPError:
    return HTTPError(413, "payload_too_large", message, details)


def unprocessable(message: str, code: str = "validation_error", details: Any = None) -> HTTPError:
    return HTTPError(422, code, message, details)


def store_unavailable(message: str, retry_after: int = 5) -> HTTPError:
    return HTTPError(503, "store_unavailable", message, headers={"Retry-After": str(retry_after)})


class StoreError(HTTPError):
    """The store could not do what was asked (disk full, closed, corrupt). A request it
    reaches unhandled is answered 503 ``store_unavailable`` with ``Retry-After``."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "store_unavailable", message, headers={"Retry-After": "5"})
