"""The incident's values: an alert group's state as stored, and the keys that name it.

Frozen dataclasses, serialised whole by `gateway.incidents` (`dump_incident`/`load_incident`);
what folds a notification into them lives there too.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gateway.alertmanager import alert_key
from gateway.grafana import GrafanaAlertInfo, GrafanaGroupInfo


class Status(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class ChangeKind(StrEnum):
    NEW = "new"
    RESOLVED = "resolved"
    REFIRED = "refired"


@dataclass(frozen=True)
class AlertSnapshot:
    """The latest known state of one alert occurrence of the group."""

    fingerprint: str
    status: Status
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str = ""
    grafana: GrafanaAlertInfo | None = None  # values, links, image: a Grafana alert only

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @functools.cached_property
    def key(self) -> str:
        """Identity within the group: fingerprint plus a hash of the labels (`alert_key`)."""
        return alert_key(self.fingerprint, self.labels)

    @property
    def occurrence(self) -> tuple[str, datetime]:
        return (self.key, self.starts_at)


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    alert: AlertSnapshot


@dataclass(frozen=True)
class ActionRecord:
    """Who did what on the message (Ack, Silence, Rollback...), shown in place of buttons."""

    actor: str
    action: str
    at: datetime
    detail: str = ""
    link: str = ""


@dataclass(frozen=True)
class Incident:
    group_key: str
    generation: int
    receiver: str
    external_url: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    alerts: tuple[AlertSnapshot, ...]
    truncated: int
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    actions: tuple[ActionRecord, ...] = field(default=())
    omitted_firing: int = 0  # alerts of the group beyond the kept `alerts`, only counted
    omitted_resolved: int = 0
    # the group's first notification here already had every alert resolved (the gateway was
    # not receiving, or not running, while they fired)
    first_seen_resolved: bool = False
    grafana: GrafanaGroupInfo | None = None  # set for a group Grafana sent
    # when the latest notification folded here was received (a deferred one: parked), so a
    # notification received before it and folded after it is known to be older
    received_at: float = 0.0

    @property
    def status(self) -> Status:
        if self.omitted_firing or any(a.status is Status.FIRING for a in self.alerts):
            return Status.FIRING
        return Status.RESOLVED

    @property
    def omitted(self) -> int:
        return self.omitted_firing + self.omitted_resolved

    @property
    def firing(self) -> tuple[AlertSnapshot, ...]:
        return tuple(a for a in self.alerts if a.status is Status.FIRING)

    @property
    def model(self) -> str | None:
        """The model the whole group is about, when it names exactly one."""
        for labels in (self.group_labels, self.common_labels):
            if "model" in labels:
                return labels["model"]
        models = {a.labels["model"] for a in self.alerts if "model" in a.labels}
        return models.pop() if len(models) == 1 else None

    @property
    def message_key(self) -> str:
        return message_key(self.group_key, self.generation)


@functools.lru_cache(maxsize=256)  # one per alert of a body otherwise: 10,000 hashes of the key
def group_id(group_key: str) -> str:
    """A short stable id for a groupKey (groupKeys can be long; Slack button values are not)."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:20]


def state_key(group_key: str) -> str:
    return f"am:{group_id(group_key)}"


def message_key(group_key: str, generation: int) -> str:
    return f"am:{group_id(group_key)}:{generation}"
