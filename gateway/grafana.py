"""Grafana Alerting's webhook body (contact point type "webhook", version "1"), parsed leniently.

Grafana sends what Alertmanager sends (receiver, status, alerts, groupLabels, commonLabels,
commonAnnotations, externalURL, groupKey, truncatedAlerts) plus `orgId`, `title`, `state`,
`message`, and per alert `silenceURL`, `dashboardURL`, `panelURL`, `imageURL` (when the rule
takes screenshots), `values` (the rule's query values by ref id, or null) and `valueString`.
Its version is "1" (Alertmanager's is "4"), so both can share `/webhooks/alertmanager`: a body
with version "1" and an `orgId` is Grafana's (`looks_like_grafana`, from the bytes alone).

The group key is prefixed with `grafana/<orgId>/`, so a Grafana group never shares a message
with an Alertmanager group (or another organisation's) that happens to have the same key.

The "Test" button of a contact point sends one alert `TestAlert` with a group key
`<contact point>-<label fingerprint>-<unix time>` (grafana/alerting, notify/testreceivers.go):
`is_test_notification` recognises it, so it is shown as a test, not as an incident.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.alertmanager import Alert, AlertmanagerPayload, read_validated
from gateway.errors import validated

_VERSION = re.compile(rb'"version"\s*:\s*"1"')
_TEST_GROUP_KEY = re.compile(r"-[0-9a-f]{1,16}-\d{1,12}$")
_MAX_VALUES = 50


class GrafanaAlert(Alert):
    """One alert of a Grafana notification: Alertmanager's fields and Grafana's own."""

    silence_url: Annotated[str, Field(alias="silenceURL")] = ""
    dashboard_url: Annotated[str, Field(alias="dashboardURL")] = ""
    panel_url: Annotated[str, Field(alias="panelURL")] = ""
    image_url: Annotated[str, Field(alias="imageURL")] = ""
    values: dict[str, float | None] | None = None
    value_string: Annotated[str, Field(alias="valueString")] = ""

    @field_validator("silence_url", "dashboard_url", "panel_url", "image_url", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return "" if value is None else value


class GrafanaPayload(AlertmanagerPayload):
    """The whole Grafana webhook body (version "1")."""

    version: str = "1"
    org_id: Annotated[int, Field(alias="orgId")] = 0
    title: str = ""
    state: str = ""
    message: str = ""
    alerts: Annotated[list[GrafanaAlert], Field(max_length=20_000)]  # type: ignore[assignment]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "1":
            raise ValueError(f'unsupported Grafana webhook version {value!r} (expected "1")')
        return value

    @model_validator(mode="after")
    def _own_group_key(self) -> GrafanaPayload:
        object.__setattr__(self, "group_key", f"grafana/{self.org_id}/{self.group_key}")
        return self


class _Shape(BaseModel):
    """The top-level fields that tell Grafana's body from Alertmanager's."""

    model_config = ConfigDict(extra="ignore")

    version: object = None
    org_id: Annotated[object, Field(alias="orgId")] = None


def looks_like_grafana(body: bytes) -> bool:
    """A body Grafana sent: version "1" and an orgId at the top level.

    The bytes are searched first (most Alertmanager bodies stop there); only when both appear
    somewhere, perhaps as labels (`version="1"`, `orgId`), are the top-level fields read.
    """
    if b'"orgId"' not in body or _VERSION.search(body) is None:
        return False
    try:
        shape = _Shape.model_validate_json(body)
    except ValueError:
        return True  # not JSON at all: Grafana's parser says what is wrong
    return shape.version == "1" and shape.org_id is not None


def parse_grafana(body: bytes) -> GrafanaPayload:
    """Validate a raw body; raises BadPayload naming every bad field."""
    return validated(GrafanaPayload, body, "Grafana webhook payload")


async def read_grafana(body: bytes) -> GrafanaPayload:
    """`parse_grafana`, in a worker thread for a large body."""
    return await read_validated(GrafanaPayload, body, "Grafana webhook payload")


def is_test_notification(payload: GrafanaPayload) -> bool:
    """The notification a contact point's "Test" button sends."""
    return (
        len(payload.alerts) == 1
        and payload.alerts[0].labels.get("alertname") == "TestAlert"
        and _TEST_GROUP_KEY.search(payload.group_key) is not None
    )


@dataclass(frozen=True)
class GrafanaAlertInfo:
    """What Grafana says of one alert beyond Alertmanager's fields (for the message)."""

    silence_url: str = ""
    dashboard_url: str = ""
    panel_url: str = ""
    image_url: str = ""
    values: tuple[tuple[str, float], ...] = ()
    value_string: str = ""


@dataclass(frozen=True)
class GrafanaGroupInfo:
    """A Grafana group: its organisation, and whether it is the contact point's test."""

    org_id: int = 0
    test: bool = False


def alert_info(alert: Alert) -> GrafanaAlertInfo | None:
    """Grafana's extras of an alert; None for an Alertmanager alert."""
    if not isinstance(alert, GrafanaAlert):
        return None
    values = sorted((alert.values or {}).items())[:_MAX_VALUES]
    return GrafanaAlertInfo(
        silence_url=alert.silence_url,
        dashboard_url=alert.dashboard_url,
        panel_url=alert.panel_url,
        image_url=alert.image_url,
        values=tuple((k, v) for k, v in values if v is not None and math.isfinite(v)),
        value_string=alert.value_string,
    )


def group_info(payload: AlertmanagerPayload) -> GrafanaGroupInfo | None:
    """Grafana's extras of a group; None for an Alertmanager notification."""
    if not isinstance(payload, GrafanaPayload):
        return None
    return GrafanaGroupInfo(org_id=payload.org_id, test=is_test_notification(payload))
