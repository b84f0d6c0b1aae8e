"""The Alertmanager payload model and the incident fold, on the captured bodies."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from gateway import incidents
from gateway.alertmanager import AlertmanagerPayload, parse_alertmanager, parse_timestamp
from gateway.dedup import event_key, event_keys, occurrence, occurrence_prefix
from gateway.errors import BadPayload
from gateway.incident_model import ChangeKind, Status
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.service import group_body

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def am(name: str) -> bytes:
    return fixture_bytes(f"alertmanager/{name}.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T19:43:21.72Z", datetime(2026, 11, 22, 19, 43, 21, 720000, tzinfo=UTC)),
        ("2026-11-22T19:43:08.042Z", datetime(2026, 11, 22, 19, 43, 8, 42000, tzinfo=UTC)),
        ("2026-11-22T19:43:08Z", datetime(2026, 11, 22, 19, 43, 8, tzinfo=UTC)),
        ("2026-11-22T19:43:08.123456789Z", datetime(2026, 11, 22, 19, 43, 8, 123456, tzinfo=UTC)),
        ("2026-11-22T20:43:08.5+01:00", datetime(2026, 11, 22, 19, 43, 8, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
    ],
)
def test_timestamps_parse_leniently(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_raw_wire_body_parses() -> None:
    payload = parse_alertmanager(am("api_firing_single-alert.raw-body"))
    assert payload.group_key == '{}:{alertname="ModelDriftDetected", model="fraud-detector"}'
    assert payload.alerts[0].ends_at is None
    assert payload.alerts[0].fingerprint == "5fd028d074d2c056"


def test_missing_fingerprint_is_derived_from_labels() -> None:
    body = (
        b'{"status":"firing","groupKey":"g","alerts":[{"status":"firing",'
        b'"labels":{"a":"1"},"startsAt":"2026-11-22T19:42:42Z"}]}'
    )
    alert = parse_alertmanager(body).alerts[0]
    assert len(alert.fingerprint) == 16


def test_bad_bodies_raise_bad_payload_with_details() -> None:
    with pytest.raises(BadPayload) as err:
        parse_alertmanager(b'{"status": "firing"}')
    assert "groupKey: field required" in err.value.details


def test_repeat_changes_nothing_and_resolve_is_one_change() -> None:
    firing = parse_alertmanager(am("api_firing_single-alert"))
    opened = incidents.open_incident(firing, generation=1, now=NOW)
    incident, changes = incidents.merge(opened, firing, now=NOW)
    assert [c.kind for c in changes] == [ChangeKind.NEW]
    again, none = incidents.merge(
        incident, parse_alertmanager(am("api_firing_single-alert_resend")), now=NOW
    )
    assert none == []
    assert again == incident
    resolved, changes = incidents.merge(
        incident, parse_alertmanager(am("api_resolved_single-alert")), now=NOW
    )
    assert [c.kind for c in changes] == [ChangeKind.RESOLVED]
    assert resolved.status is Status.RESOLVED
    assert resolved.resolved_at == NOW


def test_templated_annotation_resend_is_refreshed_without_a_change() -> None:
    first = parse_alertmanager(am("prometheus_firing_error-rate"))
    incident, _ = incidents.merge(
        incidents.open_incident(first, generation=1, now=NOW), first, now=NOW
    )
    resend = parse_alertmanager(am("prometheus_firing_error-rate_resend"))
    refreshed, changes = incidents.merge(incident, resend, now=NOW)
    assert changes == []
    assert refreshed.alerts[0].annotations == resend.alerts[0].annotations


def test_mixed_payload_resolves_one_and_a_resolved_alert_is_not_dropped() -> None:
    three = parse_alertmanager(am("api_one-group_3-alerts"))
    incident, _ = incidents.merge(
        incidents.open_incident(three, generation=1, now=NOW), three, now=NOW
    )
    incident, changes = incidents.merge(
        incident, parse_alertmanager(am("api_mixed_2-firing_1-resolved")), now=NOW
    )
    assert [(c.kind, c.alert.labels["model"]) for c in changes] == [
        (ChangeKind.RESOLVED, "churn-predictor")
    ]
    incident, changes = incidents.merge(
        incident, parse_alertmanager(am("api_after-mixed_resend_2-firing")), now=NOW
    )
    assert changes == []
    assert len(incident.firing) == 2
    assert len(incident.alerts) == 3


def test_truncated_firing_never_resolves_hidden_alerts() -> None:
    truncated = parse_alertmanager(am("api_truncated_max-alerts-2_of-5"))
    incident, _ = incidents.merge(
        incidents.open_incident(truncated, generation=1, now=NOW), truncated, now=NOW
    )
    assert incident.truncated == 3
    assert incident.status is Status.FIRING


def test_new_occurrence_after_resolution_starts_a_new_incident() -> None:
    firing = parse_alertmanager(am("api_firing_single-alert"))
    incident, _ = incidents.merge(
        incidents.open_incident(firing, generation=1, now=NOW), firing, now=NOW
    )
    resolved, _ = incidents.merge(
        incident, parse_alertmanager(am("api_resolved_single-alert")), now=NOW
    )
    assert not incidents.starts_new_incident(resolved, firing), (
        "an old occurrence is not a new incident"
    )
    refired = firing.model_copy(
        update={"alerts": [firing.alerts[0].model_copy(update={"starts_at": NOW})]}
    )
    assert incidents.starts_new_incident(resolved, refired)


def test_occurrence_key_includes_group_starts_at_and_status() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    key = occurrence("{}:{a=1}", "fp", start, "firing")
    assert key != occurrence("{}:{a=1}", "fp", start, "resolved")
    assert key != occurrence("{}:{a=1}", "fp", NOW, "firing")
    assert key != occurrence("{}/{b=2}:{a=1}", "fp", start, "firing"), "dedup is per group"
    assert key == occurrence("{}:{a=1}", "fp", start, "firing")


def test_event_keys_keep_the_stored_format() -> None:
    """Event keys are stored (the seen-set): one computed from the group's prefix, as every
    notification's are, is byte for byte the key earlier releases stored."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    group = hashlib.sha256(b"{}:{a=1}").hexdigest()[:20]
    expected = f"am:{group}:fp:2026-01-01T00:00:00+00:00:firing"
    assert occurrence("{}:{a=1}", "fp", start, "firing") == expected
    assert event_key(occurrence_prefix("{}:{a=1}"), "fp", start, "firing") == expected
    assert occurrence("{}:{a=1}", "fp", None, "resolved").endswith(":fp:-:resolved")
    payload = parse_alertmanager(am("api_mixed_2-firing_1-resolved"))
    assert event_keys(payload) == [
        occurrence(payload.group_key, a.key, a.starts_at, a.status) for a in payload.alerts
    ]


def test_incident_round_trips_through_json() -> None:
    payload = parse_alertmanager(am("api_mixed_2-firing_1-resolved"))
    incident, _ = incidents.merge(
        incidents.open_incident(payload, generation=2, now=NOW), payload, now=NOW
    )
    incident = incidents.with_action(
        incident, incidents.ActionRecord(actor="U1", action="ack", at=NOW)
    )
    assert incidents.load_incident(incidents.dump_incident(incident)) == incident


def test_recent_events_expire_and_stay_bounded() -> None:
    from gateway.dedup import RecentEvents

    recent = RecentEvents(capacity=3)
    assert not recent.all_seen([], now=0)
    recent.remember(["a", "b"], until=10)
    assert recent.all_seen(["a", "b"], now=5)
    assert not recent.all_seen(["a", "c"], now=5)
    assert not recent.all_seen(["a"], now=10), "expired at its deadline"
    recent.remember(["c", "d", "e"], until=20)
    assert len(recent) == 3
    assert not recent.all_seen(["a"], now=0), "the oldest was evicted"


def grown(alerts: int, *, resolved: bool = False) -> AlertmanagerPayload:
    """Group 1 holding alerts 0..alerts-1 (one captured alert, relabelled per alert)."""
    return parse_alertmanager(group_body(1, alerts, resolved=resolved))


def test_an_incident_keeps_at_most_limit_alerts_and_counts_the_rest() -> None:
    payload = grown(30)
    opened = incidents.open_incident(payload, generation=1, now=NOW)
    incident, changes = incidents.merge(opened, payload, now=NOW, limit=10)
    assert len(incident.alerts) == 10
    assert (incident.omitted_firing, incident.omitted_resolved) == (20, 0)
    assert len(changes) == 30
    assert {c.kind for c in changes} == {ChangeKind.NEW}
    assert incidents.load_incident(incidents.dump_incident(incident)) == incident

    # Alertmanager sends the whole group again, grown by 10: only those 10 are new
    more = grown(40)
    earlier = {a.key: Status.FIRING for a in payload.alerts}
    again, changes = incidents.merge(incident, more, now=NOW, limit=10, earlier=earlier)
    assert len(again.alerts) == 10
    assert (again.omitted_firing, again.omitted_resolved) == (30, 0)
    new = {a.key for a in more.alerts} - set(earlier)
    assert {c.alert.key for c in changes} == new

    # every alert resolved: counted ones too, each reported once
    done = grown(40, resolved=True)
    earlier = {a.key: Status.FIRING for a in more.alerts}
    resolved, changes = incidents.merge(again, done, now=NOW, limit=10, earlier=earlier)
    assert resolved.status is Status.RESOLVED
    assert (len(resolved.alerts), resolved.omitted_firing, resolved.omitted_resolved) == (10, 0, 30)
    assert len(changes) == 40
    assert {c.kind for c in changes} == {ChangeKind.RESOLVED}


def test_firing_alerts_are_kept_before_resolved_ones() -> None:
    payload = grown(8, resolved=True)
    opened = incidents.open_incident(payload, generation=1, now=NOW)
    incident, _ = incidents.merge(opened, payload, now=NOW, limit=10)
    firing = grown(12)
    mixed = firing.model_copy(update={"alerts": firing.alerts[8:]})
    incident, _ = incidents.merge(incident, mixed, now=NOW, limit=5)
    assert [a.status for a in incident.alerts] == [Status.FIRING] * 4 + [Status.RESOLVED]
    assert (incident.omitted_firing, incident.omitted_resolved) == (0, 7)


def test_a_group_first_seen_resolved_is_marked_until_it_is_seen_firing() -> None:
    resolved = parse_alertmanager(am("api_resolved_single-alert"))
    opened = incidents.open_incident(resolved, generation=1, now=NOW)
    incident, _ = incidents.merge(opened, resolved, now=NOW)
    assert incident.first_seen_resolved
    assert incidents.load_incident(incidents.dump_incident(incident)) == incident

    # the firing notification arrives late (same occurrence): it was seen firing after all
    firing = parse_alertmanager(am("api_firing_single-alert"))
    assert not incidents.starts_new_incident(incident, firing)
    refired, _ = incidents.merge(incident, firing, now=NOW)
    assert not refired.first_seen_resolved
    again, _ = incidents.merge(refired, resolved, now=NOW)
    assert again.status is Status.RESOLVED
    assert not again.first_seen_resolved


def test_alerts_sharing_a_fingerprint_are_told_apart_by_their_labels() -> None:
    payload = parse_alertmanager(am("api_firing_single-alert"))
    alert = payload.alerts[0]
    twin = alert.model_copy(update={"labels": {**alert.labels, "severity": "warning"}})
    assert twin.fingerprint == alert.fingerprint
    assert twin.key != alert.key
    both = payload.model_copy(update={"alerts": [alert, twin]})
    incident, changes = incidents.merge(
        incidents.open_incident(both, generation=1, now=NOW), both, now=NOW
    )
    assert len(incident.alerts) == 2
    assert [c.kind for c in changes] == [ChangeKind.NEW, ChangeKind.NEW]
