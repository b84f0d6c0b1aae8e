"""Bodies read in proportion to what changed: the same payload and keys as full validation."""

from __future__ import annotations

import json

import pytest

from gateway import intake
from gateway.alertmanager import Alert, parse_alertmanager
from gateway.dedup import event_keys
from gateway.errors import BadPayload
from tests.fakes.service import group_body


def with_value(body: bytes, value: str) -> bytes:
    doc = json.loads(body)
    for alert in doc["alerts"]:
        alert["annotations"]["description"] = f"value is {value}"
    return json.dumps(doc).encode()


def read_and_remember(body: bytes, known: intake.KnownAlerts) -> intake.Intake:
    read = intake.read(body, known)
    known.remember(read.group_key, read.known)
    return read


def assert_as_full_validation(read: intake.Intake, body: bytes) -> None:
    full = parse_alertmanager(body)
    assert read.payload.model_dump() == full.model_dump()
    assert read.keys == tuple(event_keys(full))
    assert [a.key for a in read.payload.alerts] == [a.key for a in full.alerts]


def test_a_first_body_is_validated_whole() -> None:
    body = group_body(1, 30)
    read = read_and_remember(body, intake.KnownAlerts())
    assert read.fresh == 30
    assert_as_full_validation(read, body)


def test_a_value_resend_builds_no_model_and_shows_the_new_annotations() -> None:
    known = intake.KnownAlerts()
    read_and_remember(with_value(group_body(1, 30), "0.91"), known)
    body = with_value(group_body(1, 30), "0.93")
    read = read_and_remember(body, known)
    assert read.fresh == 0
    assert_as_full_validation(read, body)
    assert read.payload.alerts[0].annotations["description"] == "value is 0.93"
    again = intake.read(with_value(group_body(1, 30), "0.91"), known)
    assert again.fresh == 0, "the remembered alerts are the first body's, not overwritten"
    assert again.payload.alerts[0].annotations["description"] == "value is 0.91"


def test_a_grown_group_validates_only_its_new_alerts() -> None:
    known = intake.KnownAlerts()
    read_and_remember(group_body(1, 30), known)
    body = group_body(1, 33)
    read = read_and_remember(body, known)
    assert read.fresh == 3
    assert_as_full_validation(read, body)
    resolved = group_body(1, 33, resolved=True)  # status and endsAt changed: validated again
    read = intake.read(resolved, known)
    assert read.fresh == 33
    assert_as_full_validation(read, resolved)


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("annotations", {"summary": 7}, "alerts.0.annotations.summary"),
        ("labels", {"severity": 3}, "alerts.0.labels.severity"),
        ("startsAt", "yesterday", "alerts.0.startsAt"),
        ("generatorURL", 5, "alerts.0.generatorURL"),
    ],
)
def test_a_bad_field_in_a_known_alert_is_refused_by_name(
    field: str, value: object, where: str
) -> None:
    known = intake.KnownAlerts()
    body = group_body(1, 3)
    read_and_remember(body, known)
    doc = json.loads(body)
    alert = doc["alerts"][0]
    alert[field] = {**alert[field], **value} if isinstance(value, dict) else value
    with pytest.raises(BadPayload) as refused:
        intake.read(json.dumps(doc).encode(), known)
    assert any(d.startswith(where) for d in refused.value.details), refused.value.details


def test_a_bad_envelope_and_a_lone_surrogate_are_refused() -> None:
    known = intake.KnownAlerts()
    read_and_remember(group_body(1, 3), known)
    doc = json.loads(group_body(1, 3))
    doc["status"] = "pending"
    with pytest.raises(BadPayload) as refused:
        intake.read(json.dumps(doc).encode(), known)
    assert any(d.startswith("status") for d in refused.value.details)
    doc = json.loads(group_body(1, 3))
    doc["alerts"][0]["labels"]["instance"] = "\ud800"
    with pytest.raises(BadPayload):
        intake.read(json.dumps(doc).encode(), known)


def test_unknown_fields_are_ignored_and_a_body_without_fingerprints_reads_the_same() -> None:
    doc = json.loads(group_body(1, 5))
    for alert in doc["alerts"]:
        del alert["fingerprint"]
        alert["extra"] = {"any": ["thing", 1]}
    body = json.dumps(doc).encode()
    known = intake.KnownAlerts()
    read_and_remember(body, known)
    read = intake.read(body, known)
    assert read.fresh == 0
    assert_as_full_validation(read, body)


def test_annotations_are_swapped_in_as_model_copy_would() -> None:
    alert = parse_alertmanager(group_body(1, 1)).alerts[0]
    assert alert.key  # cached on the instance
    swapped = intake._with_annotations(alert, {"summary": "new"})
    copied = alert.model_copy(update={"annotations": {"summary": "new"}})
    assert isinstance(swapped, Alert)
    assert swapped.model_dump() == copied.model_dump()
    assert swapped.model_fields_set == copied.model_fields_set
    assert swapped.key == alert.key
    assert alert.annotations != swapped.annotations, "the original is left alone"


def test_known_alerts_hold_at_most_their_capacity() -> None:
    known = intake.KnownAlerts(capacity=50)
    for group in range(3):
        read_and_remember(group_body(group, 20), known)
    assert len(known) == 40, "the oldest group was forgotten"
    assert intake.read(group_body(0, 20), known).fresh == 20
    assert intake.read(group_body(2, 20), known).fresh == 0
    read_and_remember(group_body(3, 60), known)  # larger than everything: not held
    assert intake.read(group_body(3, 60), known).fresh == 60


def test_a_large_body_is_read_alert_by_alert_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(intake, "LARGE_BODY", 1000)  # every body here is "large"
    known = intake.KnownAlerts()
    body = group_body(1, 30)
    read = read_and_remember(body, known)
    assert_as_full_validation(read, body)
    assert len(known) == 0, "a large group is not remembered (its re-sends are byte-identical)"
    doc = json.loads(body)
    doc["alerts"][4]["labels"]["severity"] = 3
    with pytest.raises(BadPayload) as refused:
        intake.read(json.dumps(doc).encode(), known)
    assert any(d.startswith("alerts.4.labels.severity") for d in refused.value.details)
    doc = json.loads(body)
    doc["alerts"][0]["labels"]["instance"] = "\ud800"  # json.loads would take it
    with pytest.raises(BadPayload):
        intake.read(json.dumps(doc).encode(), known)


def test_a_resend_of_the_same_alerts_is_matched_as_a_whole_and_remembered_as_is() -> None:
    known = intake.KnownAlerts()
    first = read_and_remember(with_value(group_body(1, 30), "0.91"), known)
    remembered = known.of(first.group_key)
    assert remembered is not None
    body = with_value(group_body(1, 30), "0.95")
    again = intake.read(body, known)
    assert (again.fresh, again.keys) == (0, first.keys)
    assert again.known is remembered, "nothing new to remember"
    assert_as_full_validation(again, body)
    reordered = json.loads(body)
    reordered["alerts"].reverse()  # the same alerts in another order: matched one by one
    read = intake.read(json.dumps(reordered).encode(), known)
    assert read.fresh == 0
    assert read.known is not remembered


def test_a_grown_body_reuses_the_last_one_as_its_prefix() -> None:
    known = intake.KnownAlerts()
    first = read_and_remember(group_body(1, 30), known)
    body = with_value(group_body(1, 33), "0.97")
    read = intake.read(body, known)
    assert read.fresh == 3
    assert read.keys[:30] == first.keys
    assert_as_full_validation(read, body)
