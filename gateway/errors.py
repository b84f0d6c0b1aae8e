"""The gateway's exception tree: what a webhook request can get wrong."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class GatewayError(Exception):
    """Base of the gateway's user-facing errors."""


class BadPayload(GatewayError):
    """The body is not JSON or not the expected shape (answered 400 with `details`)."""

    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthorized(GatewayError):
    """Missing/invalid bearer token or drift signature (answered 401)."""


def details_of(error: Exception, *, limit: int = 20) -> list[str]:
    """Readable `path: problem` strings from a pydantic error (first `limit` of them)."""
    if not isinstance(error, ValidationError):
        return [str(error)[:300]]
    found = []
    for err in error.errors()[:limit]:
        path = ".".join(str(p) for p in err["loc"]) or "(body)"
        message = "field required" if err["type"] == "missing" else err["msg"]
        if err["type"] == "json_invalid":
            path, message = "(body)", f"not valid JSON: {err['ctx'].get('error', '')}".rstrip(": ")
        found.append(f"{path}: {message}")
    if error.error_count() > limit:
        found.append(f"... and {error.error_count() - limit} more")
    return found


def validated(model: type[M], body: bytes, what: str) -> M:
    """A raw JSON body validated into `model`; BadPayload naming every bad field (`what` says
    which webhook payload it should have been)."""
    try:
        return model.model_validate_json(body)
    except ValueError as e:
        raise BadPayload(f"invalid {what}", details_of(e)) from e
