"""Alertmanager webhook v4 payload (as sent by Alertmanager 0.25), parsed leniently.

Timestamps are Go RFC3339Nano (variable fraction digits, trailing zeros dropped); a firing
alert's `endsAt` is the zero time `0001-01-01T00:00:00Z`, which we read as "no end".
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.errors import M, validated

_ZERO_YEAR = 1
_MAX_ALERTS = 20_000
# Bodies larger than this are parsed in a worker thread, so the event loop keeps serving.
OFF_LOOP_BYTES = 64 * 1024


def parse_timestamp(value: object) -> datetime | None:
    """RFC3339 with 0-9 fraction digits; the Go zero time and empty strings mean None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_rfc3339(value)
    else:
        raise ValueError("expected an RFC3339 timestamp string")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= _ZERO_YEAR:
        return None
    offset = parsed.utcoffset()
    if offset is not None and offset.seconds % 60 + offset.microseconds:
        # RFC3339 offsets are whole minutes; the store's codec would round these off
        raise ValueError("timestamp offset must be whole minutes")
    try:
        parsed.astimezone(UTC)  # 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
    except OverflowError as e:
        raise ValueError("timestamp out of range") from e
    return parsed


def _checked(value: datetime | None) -> datetime | None:
    """A natively parsed timestamp: the Go zero time means None; it must fit in UTC."""
    if value is None or value.year <= _ZERO_YEAR:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)  # 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
    except OverflowError as e:
        raise ValueError("timestamp out of range") from e
    return value


def _parse_rfc3339(text: str) -> datetime:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        text = f"{head}.{(fraction + '000000')[:6]}{zone}" if fraction else head + zone
    try:
        return datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"not an RFC3339 timestamp: {text[:40]!r}") from e


def alert_key(fingerprint: str, labels: Mapping[str, str]) -> str:
    """The identity of an alert: its fingerprint and a hash of its labels. Alertmanager's
    fingerprint is itself a hash of the labels, but other senders (vmalert-style, hand-made
    bodies) may give two alerts with different labels one fingerprint: they stay two alerts."""
    return _alert_key(fingerprint, tuple(labels.items()))


@functools.lru_cache(maxsize=2048)  # alerts met again keep their key (`gateway.intake`)
def _alert_key(fingerprint: str, labels: tuple[tuple[str, str], ...]) -> str:
    digest = hashlib.sha256(repr(sorted(labels)).encode()).hexdigest()[:12]
    return f"{fingerprint}~{digest}"


class Alert(BaseModel):
    """One alert of a notification."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: Annotated[datetime | None, Field(alias="startsAt")]
    ends_at: Annotated[datetime | None, Field(alias="endsAt")] = None
    generator_url: Annotated[str, Field(alias="generatorURL")] = ""
    fingerprint: str = ""

    # Timestamps are parsed by pydantic-core itself (any number of fraction digits, offsets in
    # whole minutes): a Python validator per field cost half the parse of a webhook. What the
    # native parser cannot know, the Go zero time and the range check, is done once below.

    @model_validator(mode="after")
    def _normalise(self) -> Alert:
        starts_at, ends_at = _checked(self.starts_at), _checked(self.ends_at)
        if starts_at is None:
            raise ValueError("startsAt is required")
        object.__setattr__(self, "starts_at", starts_at)
        object.__setattr__(self, "ends_at", ends_at)
        if not self.fingerprint:
            digest = hashlib.sha256(repr(sorted(self.labels.items())).encode()).hexdigest()
            object.__setattr__(self, "fingerprint", digest[:16])
        return self

    @functools.cached_property
    def key(self) -> str:
        """Identity within a group (`alert_key`): fingerprint plus a hash of the labels."""
        return alert_key(self.fingerprint, self.labels)


class AlertmanagerPayload(BaseModel):
    """The whole webhook body (version "4")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str = "4"
    group_key: Annotated[str, Field(alias="groupKey", min_length=1, max_length=10_000)]
    truncated_alerts: Annotated[int, Field(alias="truncatedAlerts", ge=0)] = 0
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: Annotated[dict[str, str], Field(alias="groupLabels")] = Field(
        default_factory=dict
    )
    common_labels: Annotated[dict[str, str], Field(alias="commonLabels")] = Field(
        default_factory=dict
    )
    common_annotations: Annotated[dict[str, str], Field(alias="commonAnnotations")] = Field(
        default_factory=dict
    )
    external_url: Annotated[str, Field(alias="externalURL")] = ""
    alerts: Annotated[list[Alert], Field(max_length=_MAX_ALERTS)]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f'unsupported webhook version {value!r} (expected "4")')
        return value


def parse_alertmanager(body: bytes) -> AlertmanagerPayload:
    """Validate a raw body; raises BadPayload naming every bad field."""
    return validated(AlertmanagerPayload, body, "Alertmanager webhook payload")


async def read_validated(model: type[M], body: bytes, what: str) -> M:
    """`errors.validated`, in a worker thread for a body over OFF_LOOP_BYTES."""
    if len(body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(validated, model, body, what)
    return validated(model, body, what)


async def read_alertmanager(body: bytes) -> AlertmanagerPayload:
    """`parse_alertmanager`, in a worker thread for a body over OFF_LOOP_BYTES."""
    return await read_validated(AlertmanagerPayload, body, "Alertmanager webhook payload")
