"""Deferred notifications: which wait, in what order, and what a run of them folds as."""

from __future__ import annotations

import asyncio
import json

from gateway.alertmanager import AlertmanagerPayload, parse_alertmanager
from gateway.dedup import event_keys
from gateway.deferred import Waiting, WaitingGroups, coalesced, event_keys_of, segments
from tests.fakes.service import group_body


def payload(alerts: int, *, group: int = 1, resolved: bool = False) -> AlertmanagerPayload:
    return parse_alertmanager(group_body(group, alerts, resolved=resolved))


def waiting(parked: int, p: AlertmanagerPayload) -> Waiting:
    return Waiting(p, event_keys(p), parked, at=float(parked), resolved=p.status == "resolved")


def test_a_run_coalesces_into_every_alert_in_its_latest_form() -> None:
    first, second = payload(3), payload(6)
    changed = json.loads(group_body(1, 2))
    changed["alerts"][1]["status"] = "resolved"
    third = AlertmanagerPayload.model_validate(changed)  # alert 1 resolved, 2..5 not listed

    merged = coalesced([waiting(1, first), waiting(2, second), waiting(3, third)])

    assert merged.group_key == third.group_key
    assert [a.key for a in merged.alerts] == [a.key for a in second.alerts]
    assert [a.status for a in merged.alerts] == ["firing", "resolved", *["firing"] * 4]
    assert coalesced([waiting(1, first)]) is first


def test_a_notification_whose_events_a_later_one_holds_drops_its_payload() -> None:
    groups = WaitingGroups()
    three, six = waiting(1, payload(3)), waiting(2, payload(6))
    groups.add("g", three)
    groups.add("g", six)
    assert three.payload is None, "a growing group's older body is not kept"
    assert six.payload is not None
    assert coalesced([three, six]) is six.payload
    shrunk = waiting(3, payload(2))  # alerts 2..5 left the group: not superseded
    groups.add("g", shrunk)
    assert six.payload is not None
    resolved = waiting(4, payload(2, resolved=True))
    assert not shrunk.superseded_by(resolved)


class _Built:
    """Stands for `gateway.intake.Intake`: builds its payload when first asked."""

    def __init__(self, payload: AlertmanagerPayload) -> None:
        self.built = 0
        self._payload = payload

    @property
    def payload(self) -> AlertmanagerPayload:
        self.built += 1
        return self._payload


def test_a_payload_is_built_only_when_the_fold_needs_it() -> None:
    p = payload(3)
    lazy = _Built(p)
    item = Waiting(lazy, event_keys(p), 1, at=1.0, resolved=False)
    assert lazy.built == 0
    assert item.payload is p
    assert item.payload is p
    assert lazy.built == 1


async def test_a_group_waiting_for_its_first_message_goes_first() -> None:
    groups = WaitingGroups()
    groups.add("old", waiting(1, payload(3)))
    groups.add("new", waiting(2, payload(3, group=2)), first=True)
    groups.add("new", waiting(3, payload(6, group=2)))
    assert [g for g, _ in [await groups.next(), await groups.next()]] == ["new", "old"]
    assert groups.count == 0


def test_a_resolved_notification_is_never_coalesced_with_others() -> None:
    a, b, done, c = payload(3), payload(6), payload(6, resolved=True), payload(9)
    items = [waiting(i, p) for i, p in enumerate([a, b, done, c], start=1)]
    runs = [[w.parked for w in run] for run in segments(items)]
    assert runs == [[1, 2], [3], [4]]
    assert [[w.parked for w in r] for r in segments(items[2:3])] == [[3]]


def test_the_event_keys_of_a_run_are_each_there_once() -> None:
    run = [waiting(1, payload(3)), waiting(2, payload(6))]
    keys = event_keys_of(run)
    assert keys == event_keys(payload(6))


async def test_groups_are_folded_in_the_order_they_began_waiting() -> None:
    groups = WaitingGroups()
    one, two = payload(3, group=1), payload(3, group=2)
    groups.add("g1", waiting(1, one))
    groups.add("g2", waiting(2, two))
    groups.add("g1", waiting(3, one))
    assert groups.count == 3
    assert groups.holds(3)

    group, items = await groups.next()
    assert (group, [w.parked for w in items]) == ("g1", [1, 3])
    assert not groups.holds(1)
    assert groups.count == 1
    groups.put_back("g1", items)  # its write failed: first in line again
    assert (await groups.next())[0] == "g1"
    assert (await groups.next())[0] == "g2"

    later = asyncio.create_task(groups.next())
    await asyncio.sleep(0)
    assert not later.done(), "waits for a notification"
    groups.add("g3", waiting(4, one))
    assert (await asyncio.wait_for(later, 1))[0] == "g3"


def test_a_recovered_older_body_takes_its_place_in_its_group() -> None:
    groups = WaitingGroups()
    groups.add("g", waiting(7, payload(3)))
    groups.add("g", waiting(5, payload(3)))
    assert [w.parked for w in groups.take("g")] == [5, 7]
    assert groups.count == 0
    assert groups.take("g") == []


def test_what_waits_under_load_and_never_past_the_capacity() -> None:
    groups = WaitingGroups(capacity=2)
    assert not groups.wanted("g", folding=3, after=4)
    assert groups.wanted("g", folding=4, after=4)
    assert groups.wanted("g", folding=0, after=0)
    assert not groups.wanted("g", folding=100, after=None), "None: never deferred"
    groups.add("g", waiting(1, payload(3)))
    assert groups.wanted("g", folding=0, after=4), "a group with notifications waiting"
    assert not groups.wanted("h", folding=0, after=4)
    groups.add("g", waiting(2, payload(3)))
    assert not groups.wanted("g", folding=9, after=4), "full: folded at once instead"
