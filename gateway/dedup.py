"""Dedup identity of an alert event, and this process's memory of recent ones.

An occurrence is `(fingerprint, startsAt)`; with its status it is one event, and events are
deduplicated per Alertmanager group: the same alert routed to two groups (a team channel and
an SRE channel) is a separate event in each, so each group's message gets it. The store's
seen-set is the shared record (every replica); `RecentEvents` is a bounded in-process memory
of events this process already saw folded, so Alertmanager's frequent re-sends are answered
without a store round trip. It only ever says "already handled" for keys that were saved, so
losing it (a restart) costs a store lookup, never a notification.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime

from gateway.alertmanager import AlertmanagerPayload
from gateway.incidents import Incident, Status, group_id
from storage import Store

DEFAULT_CAPACITY = 50_000


def occurrence(group_key: str, fingerprint: str, starts_at: datetime | None, status: str) -> str:
    """Dedup identity of one alert event: (groupKey, fingerprint, startsAt, status)."""
    stamp = starts_at.isoformat() if starts_at else "-"
    return f"am:{group_id(group_key)}:{fingerprint}:{stamp}:{status}"


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

    def remember(self, keys: Iterable[str], *, until: float) -> None:
        for key in keys:
            self._expiry[key] = until
            self._expiry.move_to_end(key)
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)

    def __len__(self) -> int:
        return len(self._expiry)


_OTHER = {Status.FIRING: Status.RESOLVED, Status.RESOLVED: Status.FIRING}


async def earlier_statuses(
    store: Store,
    payload: AlertmanagerPayload,
    current: Incident | None,
    seen: set[str],
    *,
    now: float,
) -> dict[str, Status]:
    """For alerts the incident only counts (over its limit): the status each was folded with.

    Read from the seen-set (`seen`: this status's events already found; else the other
    status's event is looked up), so an alert that was counted, not kept, is neither
    announced as new again nor counted twice.
    """
    if current is None or not current.omitted:
        return {}
    kept, group = {a.fingerprint for a in current.alerts}, payload.group_key
    found: dict[str, Status] = {}
    others: dict[str, tuple[str, Status]] = {}
    for alert in payload.alerts:
        if alert.fingerprint in kept:
            continue
        status = Status(alert.status)
        if occurrence(group, alert.fingerprint, alert.starts_at, status) in seen:
            found[alert.fingerprint] = status
            continue
        other = _OTHER[status]
        others[occurrence(group, alert.fingerprint, alert.starts_at, other)] = (
            alert.fingerprint,
            other,
        )
    for key in await store.seen(list(others), now=now) if others else ():
        fingerprint, earlier = others[key]
        found[fingerprint] = earlier
    return found
