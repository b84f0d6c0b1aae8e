"""Dedup identity of an alert event, and this process's memory of recent ones.

An occurrence is `(alert key, startsAt)` (the key is the fingerprint plus a hash of the labels,
so two alerts a sender gave one fingerprint stay two); with its status it is one event, and
events are deduplicated per Alertmanager group: the same alert routed to two groups (a team
channel and an SRE channel) is a separate event in each, so each group's message gets it. The
store's seen-set is the shared record (every replica); `RecentEvents` is a bounded in-process
memory of events this process already saw folded, so Alertmanager's frequent re-sends are
answered without a store round trip. It only ever says "already handled" for keys that were
saved, so losing it (a restart) costs a store lookup, never a notification.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.alertmanager import AlertmanagerPayload
from gateway.incident_model import Incident, Status, group_id
from storage import Store

DEFAULT_CAPACITY = 50_000


def occurrence(group_key: str, key: str, starts_at: datetime | None, status: str) -> str:
    """Dedup identity of one alert event: (groupKey, alert key, startsAt, status)."""
    return event_key(occurrence_prefix(group_key), key, starts_at, status)


def occurrence_prefix(group_key: str) -> str:
    """How every event key of a group begins (a hash of the groupKey: computed once per
    notification, not once per alert)."""
    return f"am:{group_id(group_key)}:"


def event_key(prefix: str, key: str, starts_at: datetime | None, status: str) -> str:
    """`occurrence`, given the group's `occurrence_prefix`."""
    stamp = starts_at.isoformat() if starts_at else "-"
    return f"{prefix}{key}:{stamp}:{status}"


class RecentEvents:
    """Least-recently-used event keys with their expiry time, at most `capacity` of them."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def all_seen(self, keys: Sequence[str], *, now: float) -> bool:
        """True when every key is remembered and unexpired (an empty list is not seen)."""
        if not keys:
            return False
        for key in keys:
            expiry = self._expiry.get(key)
            if expiry is None or expiry <= now:
                return False
        for key in keys:
            self._expiry.move_to_end(key)
        return True

    def known(self, keys: Iterable[str], *, now: float) -> dict[str, float]:
        """The expiry of each of `keys` that is remembered and unexpired (they count as used)."""
        found: dict[str, float] = {}
        for key in keys:
            expiry = self._expiry.get(key)
            if expiry is not None and expiry > now:
                found[key] = expiry
                self._expiry.move_to_end(key)
        return found

    def remember(self, keys: Iterable[str], *, until: float) -> None:
        for key in keys:
            self._expiry[key] = until
            self._expiry.move_to_end(key)
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)

    def __len__(self) -> int:
        return len(self._expiry)


_OTHER = {Status.FIRING: Status.RESOLVED, Status.RESOLVED: Status.FIRING}


def event_keys(payload: AlertmanagerPayload) -> list[str]:
    """The dedup key of each alert event of a notification."""
    prefix = occurrence_prefix(payload.group_key)
    return [event_key(prefix, a.key, a.starts_at, a.status) for a in payload.alerts]


@dataclass(frozen=True)
class Earlier:
    """With which status alerts the incident only counts were folded before: `found` from
    the events already looked up, `others` (event key -> alert key, status) still to look up."""

    found: dict[str, Status]
    others: dict[str, tuple[str, Status]]


def earlier_candidates(
    payload: AlertmanagerPayload, current: Incident | None, seen: set[str]
) -> Earlier:
    """For alerts of the payload that the incident does not keep (it is over its limit):
    the status each was folded with, as far as `seen` (this status's events) tells, and the
    other status's event keys for the rest. An incident that counts nothing needs none."""
    found: dict[str, Status] = {}
    others: dict[str, tuple[str, Status]] = {}
    if current is None or not current.omitted:
        return Earlier(found, others)
    kept, prefix = {a.key for a in current.alerts}, occurrence_prefix(payload.group_key)
    for alert in payload.alerts:
        if alert.key in kept:
            continue
        status = Status(alert.status)
        if event_key(prefix, alert.key, alert.starts_at, status) in seen:
            found[alert.key] = status
            continue
        other = _OTHER[status]
        others[event_key(prefix, alert.key, alert.starts_at, other)] = (alert.key, other)
    return Earlier(found, others)


async def earlier_statuses(store: Store, earlier: Earlier, *, now: float) -> dict[str, Status]:
    """Alert key -> the status it was folded with, so an alert that was counted, not kept,
    is neither announced as new again nor counted twice (the seen-set is the memory)."""
    found = dict(earlier.found)
    for key in await store.seen(list(earlier.others), now=now) if earlier.others else ():
        alert, status = earlier.others[key]
        found[alert] = status
    return found
