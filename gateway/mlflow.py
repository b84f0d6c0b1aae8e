"""MLflow registry webhooks: the signature MLflow puts on each delivery, and the body.

MLflow (3.3 and later) signs `<delivery id>.<unix timestamp>.<raw body>` with HMAC-SHA256 and
the webhook's secret, and sends `X-MLflow-Signature: v1,<base64 digest>`,
`X-MLflow-Delivery-Id` and `X-MLflow-Timestamp`. A delivery is refused when the signature is
wrong or the timestamp is more than five minutes away from now; a delivery id seen before is a
retry. The body is `{"entity", "action", "timestamp", "data"}`; `data` depends on the event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import BadPayload, Unauthorized, details_of

SIGNATURE_HEADER: Final = "X-MLflow-Signature"
DELIVERY_HEADER: Final = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER: Final = "X-MLflow-Timestamp"
MAX_SKEW_SECONDS: Final = 300


class RegistryEventKind(StrEnum):
    VERSION_CREATED = "model_version.created"
    ALIAS_CREATED = "model_version_alias.created"
    ALIAS_DELETED = "model_version_alias.deleted"
    OTHER = "other"


@dataclass(frozen=True)
class RegistryEvent:
    """One registry event the service may act on."""

    kind: RegistryEventKind
    name: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    source: str = ""
    tags: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


def required_headers(headers: dict[str, str]) -> tuple[str, str, str]:
    """Delivery id, timestamp and signature; `Unauthorized` when one is missing."""
    delivery = headers.get(DELIVERY_HEADER, "")
    stamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not delivery or not stamp or not signature:
        raise Unauthorized(
            f"MLflow deliveries need {SIGNATURE_HEADER}, {DELIVERY_HEADER} and {TIMESTAMP_HEADER}"
            " (set a secret on the MLflow webhook)"
        )
    return delivery, stamp, signature


def verify_delivery(secret: str, *, headers: dict[str, str], body: bytes, now: float) -> str:
    """The delivery id of a correctly signed, fresh delivery; `Unauthorized` otherwise."""
    delivery, stamp, signature = required_headers(headers)
    if not stamp.isascii() or not stamp.isdigit() or abs(now - int(stamp)) > MAX_SKEW_SECONDS:
        raise Unauthorized(f"{TIMESTAMP_HEADER} is not within 5 minutes of now")
    signed = f"{delivery}.{stamp}.".encode("utf-8", "surrogateescape") + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    expected = b"v1," + base64.b64encode(digest)
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        raise Unauthorized(f"invalid {SIGNATURE_HEADER}")
    return delivery


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=500)]
    version: Annotated[str | None, Field(max_length=100)] = None
    alias: Annotated[str | None, Field(max_length=255)] = None
    run_id: Annotated[str | None, Field(max_length=100)] = None
    source: Annotated[str | None, Field(max_length=2000)] = None
    tags: dict[str, str] | None = None


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    entity: Annotated[str, Field(min_length=1, max_length=100)]
    action: Annotated[str, Field(min_length=1, max_length=100)]
    data: dict[str, object]


_RELEVANT = {kind.value for kind in RegistryEventKind if kind is not RegistryEventKind.OTHER}


def parse_registry_event(body: bytes) -> RegistryEvent:
    """Validate a delivery body; `BadPayload` names the bad fields."""
    try:
        outer = _Body.model_validate_json(body)
        event = f"{outer.entity}.{outer.action}"
        if event not in _RELEVANT:
            name = outer.data.get("name")
            return RegistryEvent(RegistryEventKind.OTHER, name=str(name or ""))
        data = _Data.model_validate(outer.data)
    except ValidationError as e:
        raise BadPayload("invalid MLflow webhook payload", details_of(e)) from e
    kind = RegistryEventKind(event)
    if kind is not RegistryEventKind.ALIAS_DELETED and not data.version:
        raise BadPayload("invalid MLflow webhook payload", ["data.version: field required"])
    if kind is not RegistryEventKind.VERSION_CREATED and not data.alias:
        raise BadPayload("invalid MLflow webhook payload", ["data.alias: field required"])
    return RegistryEvent(
        kind=kind,
        name=data.name,
        version=data.version,
        alias=data.alias,
        run_id=data.run_id,
        source=data.source or "",
        tags=MappingProxyType(dict(data.tags or {})),
    )
