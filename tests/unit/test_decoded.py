"""Incidents saved by this process are handed back decoded; any other stored text is decoded."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway import incidents
from gateway.alertmanager import parse_alertmanager
from gateway.decoded import DecodedIncidents
from tests.fakes.service import group_body

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_incident_saved_last_is_not_decoded_again_and_other_text_is() -> None:
    payload = parse_alertmanager(group_body(1, 5))
    opened = incidents.open_incident(payload, generation=1, now=NOW)
    incident, _ = incidents.merge(opened, payload, now=NOW)
    data = incidents.dump_incident(incident)
    decoded = DecodedIncidents(capacity=1)
    decoded.saved("am:1", data, incident)
    assert decoded.load("am:1", data) is incident
    acked = incidents.with_action(
        incident, incidents.ActionRecord(actor="U1", action="ack", at=NOW)
    )
    other = incidents.dump_incident(acked)  # another writer changed the stored state
    assert decoded.load("am:1", other) == acked
    decoded.saved("am:2", other, acked)  # over capacity: the older entry goes
    assert len(decoded) == 1
    again = decoded.load("am:1", data)
    assert again == incident
    assert again is not incident
    assert decoded.load("am:2", other) is acked
