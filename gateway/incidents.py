"""An incident: one Alertmanager group from its first firing alert until all are resolved.

Each incident is one Slack message. `merge` folds a (possibly repeated) notification into
the stored incident and says what changed; it is pure, so repeats and races are easy to test.
A repeat of the same occurrences with the same statuses changes nothing.

An incident keeps at most `limit` alerts (firing first, then the most recently started); the
rest are only counted (`omitted_firing`, `omitted_resolved`), so a group of 100,000 alerts costs
what a group of `limit` does. When an alert that was only counted comes again, the caller says
with which status it was folded before (`earlier`, from the dedup seen-set), so it is neither
announced as new again nor counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from pydantic import TypeAdapter

from gateway.alertmanager import Alert, AlertmanagerPayload
from gateway.grafana import alert_info, group_info
from gateway.incident_model import (
    ActionRecord,
    AlertSnapshot,
    Change,
    ChangeKind,
    Incident,
    Status,
)


def snapshot(alert: Alert) -> AlertSnapshot:
    assert alert.starts_at is not None  # guaranteed by the parser
    return AlertSnapshot(
        fingerprint=alert.fingerprint,
        status=Status(alert.status),
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        labels=alert.labels,  # shared, never changed: an alert is frozen, and so is this
        annotations=alert.annotations,
        generator_url=alert.generator_url,
        grafana=alert_info(alert),
    )


def open_incident(payload: AlertmanagerPayload, *, generation: int, now: datetime) -> Incident:
    """A new incident (new Slack message) for this group."""
    return Incident(
        group_key=payload.group_key,
        generation=generation,
        receiver=payload.receiver,
        external_url=payload.external_url,
        group_labels=dict(payload.group_labels),
        common_labels=dict(payload.common_labels),
        common_annotations=dict(payload.common_annotations),
        alerts=(),
        truncated=payload.truncated_alerts,
        opened_at=now,
        updated_at=now,
        first_seen_resolved=resolved_only(payload),
        grafana=group_info(payload),
    )


def resolved_only(payload: AlertmanagerPayload) -> bool:
    """Every alert of the notification is resolved (and it has some)."""
    return bool(payload.alerts) and all(a.status == "resolved" for a in payload.alerts)


def starts_new_incident(current: Incident | None, payload: AlertmanagerPayload) -> bool:
    """A group that was resolved and fires again with a new occurrence gets a new message."""
    if current is None:
        return True
    if current.status is Status.FIRING:
        return False
    known = {a.occurrence for a in current.alerts}
    return any(a.status == "firing" and (a.key, a.starts_at) not in known for a in payload.alerts)


DEFAULT_LIMIT = 500


def resolutions(payload: AlertmanagerPayload) -> AlertmanagerPayload:
    """What is left of a notification received before one the incident already holds: only its
    resolved alerts. Alertmanager sends a firing alert again in every notification of its group
    (the later one said what fires), but a resolution only once, so it still counts; and the
    rest of the group is not resolved by it (`merge` resolves what a resolved notification
    does not list), nor does it open a new incident."""
    resolved = [a for a in payload.alerts if a.status == "resolved"]
    return payload.model_copy(update={"alerts": resolved, "status": "firing"})


def merge(
    incident: Incident,
    payload: AlertmanagerPayload,
    *,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    earlier: Mapping[str, Status] | None = None,
) -> tuple[Incident, list[Change]]:
    """Fold a notification into the incident; return the new incident and what changed.

    `earlier`: alert key -> the status an alert of this payload was folded with before (the
    caller's dedup memory), for alerts the incident only counts instead of keeping.
    """
    by_fp = {a.key: a for a in incident.alerts}
    omitted = Counter({Status.FIRING: incident.omitted_firing})
    omitted[Status.RESOLVED] = incident.omitted_resolved
    changes = _fold_alerts(by_fp, omitted, payload, earlier or {})
    if payload.status == "resolved" and payload.truncated_alerts == 0:
        changes.extend(_resolve_rest(by_fp, payload, now))
        omitted[Status.RESOLVED] += omitted.pop(Status.FIRING, 0)
    kept = _kept(by_fp, limit)
    for dropped in kept[limit:]:
        omitted[dropped.status] += 1
    merged = replace(
        incident,
        alerts=tuple(sorted(kept[:limit], key=_order)),
        omitted_firing=omitted[Status.FIRING],
        omitted_resolved=omitted[Status.RESOLVED],
        truncated=payload.truncated_alerts,
        common_labels=dict(payload.common_labels) or incident.common_labels,
        common_annotations=dict(payload.common_annotations) or incident.common_annotations,
        updated_at=now if changes else incident.updated_at,
    )
    if merged.status is Status.RESOLVED and incident.resolved_at is None and changes:
        merged = replace(merged, resolved_at=now)
    elif merged.status is Status.FIRING:  # seen firing now, whatever came first
        merged = replace(merged, resolved_at=None, first_seen_resolved=False)
    return merged, changes


def _fold_alerts(
    by_fp: dict[str, AlertSnapshot],
    omitted: Counter[Status],
    payload: AlertmanagerPayload,
    earlier: Mapping[str, Status],
) -> list[Change]:
    """Each alert of the payload into `by_fp` (and out of `omitted` if it was only counted)."""
    changes: list[Change] = []
    for alert in payload.alerts:
        old = by_fp.get(alert.key)
        if old is not None and old.starts_at == alert.starts_at and old.status == alert.status:
            by_fp[alert.key] = _refreshed(old, alert)  # the same event again: no snapshot
            continue
        new = snapshot(alert)
        before = earlier.get(new.key) if old is None else None
        if before is not None and omitted[before] > 0:  # it was counted, not kept
            omitted[before] -= 1
            old = replace(new, status=before)
        change = _change(old, new)
        if change is not None:
            changes.append(Change(change, new))
        by_fp[new.key] = new if old is None or change is not None else _refresh(old, new)
    return changes


def _change(old: AlertSnapshot | None, new: AlertSnapshot) -> ChangeKind | None:
    if old is None or old.starts_at != new.starts_at:
        return ChangeKind.NEW if new.status is Status.FIRING else ChangeKind.RESOLVED
    if old.status is new.status:
        return None
    return ChangeKind.RESOLVED if new.status is Status.RESOLVED else ChangeKind.REFIRED


def _refreshed(old: AlertSnapshot, alert: Alert) -> AlertSnapshot:
    """`_refresh` from the alert itself: most alerts of a body are unchanged repeats."""
    grafana = alert_info(alert)
    if (old.annotations, old.generator_url, old.grafana) == (
        alert.annotations,
        alert.generator_url,
        grafana,
    ):
        return old
    refreshed = AlertSnapshot(
        fingerprint=old.fingerprint,
        status=old.status,
        starts_at=old.starts_at,
        ends_at=old.ends_at,
        labels=old.labels,
        annotations=alert.annotations,
        generator_url=alert.generator_url,
        grafana=grafana,
    )
    refreshed.__dict__["key"] = old.key  # the cached identity: same fingerprint and labels
    return refreshed


def _refresh(old: AlertSnapshot, new: AlertSnapshot) -> AlertSnapshot:
    """Same occurrence, same status: keep it, but show the latest annotations ($value)."""
    if (old.annotations, old.generator_url, old.grafana) == (
        new.annotations,
        new.generator_url,
        new.grafana,
    ):
        return old
    return AlertSnapshot(  # not `replace`: this runs for every unchanged alert of a body
        fingerprint=old.fingerprint,
        status=old.status,
        starts_at=old.starts_at,
        ends_at=old.ends_at,
        labels=old.labels,
        annotations=new.annotations,
        generator_url=new.generator_url,
        grafana=new.grafana,
    )


def _resolve_rest(
    by_fp: dict[str, AlertSnapshot], payload: AlertmanagerPayload, now: datetime
) -> list[Change]:
    """A resolved, untruncated notification means no alert of the group is firing any more."""
    listed = {a.key for a in payload.alerts}
    changes = []
    for fp, alert in list(by_fp.items()):
        if fp not in listed and alert.status is Status.FIRING:
            resolved = replace(alert, status=Status.RESOLVED, ends_at=now)
            by_fp[fp] = resolved
            changes.append(Change(ChangeKind.RESOLVED, resolved))
    return changes


def _order(alert: AlertSnapshot) -> tuple[int, datetime, str]:
    return (0 if alert.status is Status.FIRING else 1, alert.starts_at, alert.key)


def _kept(by_fp: dict[str, AlertSnapshot], limit: int) -> list[AlertSnapshot]:
    """The alerts in keeping order (firing first, then the most recently started): the first
    `limit` are kept, the rest only counted. Within the limit nothing needs sorting here."""
    if len(by_fp) <= limit:
        return list(by_fp.values())
    return sorted(by_fp.values(), key=_keeping_order)


def _keeping_order(alert: AlertSnapshot) -> tuple[bool, float, str]:
    return (alert.status is not Status.FIRING, -alert.starts_at.timestamp(), alert.key)


def with_action(incident: Incident, record: ActionRecord) -> Incident:
    """The incident with one more record of who did what."""
    return replace(incident, actions=(*incident.actions, record))


_CODEC: TypeAdapter[Incident] = TypeAdapter(Incident)


def dump_incident(incident: Incident) -> str:
    return _CODEC.dump_json(incident).decode()


def load_incident(data: str) -> Incident:
    return _CODEC.validate_json(data)
