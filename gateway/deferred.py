"""Deferred folds: under load, a notification is answered once its body is parked, and folded
later together with the group's other waiting notifications.

Alertmanager sends the whole group in every notification, so in a storm a group that grows by
3 alerts sends 3, 6, 9 ... 90 alerts, and folding each of them (merge, render the message, write
the incident) costs what the whole group does. While several folds are already in progress
here (`GatewayOptions.defer_after`), a new notification is instead validated, its body kept in
the store (`Store.park`: durable, so nothing is lost if the process dies) and answered 202;
background folders (`gateway.folder`) then take the groups, those waiting for their first
message first, else in the order they started waiting, and fold all of a group's waiting
notifications as one (`coalesced`): one merge, one render, one write, which also unparks their
bodies. A group that has notifications waiting
defers the next ones too, so a group's notifications are folded in the order they came.

A body parked by a process that died is folded by the next one to start (or, with several
replicas, by any replica once it has waited `RECOVER_AFTER` seconds): folds are idempotent (the
dedup keys), so one folded twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from gateway.alertmanager import AlertmanagerPayload

# Notifications held in memory waiting for their fold; past this, new ones are folded at once
# (their webhook waits for it), which slows the senders instead of growing memory.
MAX_WAITING = 5_000
# A parked body this old that this process does not hold is a dead process's: fold it here.
RECOVER_AFTER = 30.0
# While webhooks keep arriving, the folder leaves the event loop to them for this share of the
# time: each fold is followed by a pause (3 times its length, at most `folder.MAX_PAUSE`; none
# while a group waits for its first message), so several notifications of a group gather for
# the next one and the webhooks are answered meanwhile.
FOLDER_SHARE = 0.25


class _Lazy(Protocol):
    @property
    def payload(self) -> AlertmanagerPayload: ...


Readable = AlertmanagerPayload | _Lazy  # a payload, or what builds it (`Reread`)


class Reread:
    """A deferred notification kept as the body it came in (a third of the memory of its
    parsed form), read again if its fold needs it (`Waiting.payload`): it was valid."""

    __slots__ = ("_body", "_read")

    def __init__(self, body: bytes, read: Callable[[bytes], AlertmanagerPayload]) -> None:
        self._body = body
        self._read = read

    @property
    def payload(self) -> AlertmanagerPayload:
        return self._read(self._body)


class Waiting:
    """A notification answered and parked (`Store.park` id), waiting for its fold. Its payload
    is built only if the fold needs it: not at all once a later notification of the group
    holds every event it holds (`supersede`), as a growing group's next body does."""

    __slots__ = ("_payload", "at", "keys", "parked", "resolved")

    def __init__(
        self, payload: Readable, keys: Sequence[str], parked: int, *, at: float, resolved: bool
    ) -> None:
        self.keys = keys
        self.parked = parked
        self.at = at  # when it was received (and parked)
        self.resolved = resolved  # every alert resolved: never coalesced with others
        self._payload: Readable | None = payload

    @property
    def payload(self) -> AlertmanagerPayload | None:
        """The notification; None once superseded."""
        source = self._payload
        if source is None or isinstance(source, AlertmanagerPayload):
            return source
        self._payload = source.payload
        return self._payload

    def superseded_by(self, later: Waiting) -> bool:
        """Forget the payload when `later` holds every event of this one (same alerts, same
        occurrence, same status: what coalescing would keep of this one is all in `later`)."""
        if self.resolved or later.resolved or not set(self.keys) <= set(later.keys):
            return False
        self._payload = None
        return True


def coalesced(run: Sequence[Waiting]) -> AlertmanagerPayload:
    """One notification standing for several of a group in a row: the last one's envelope, and
    every alert of any of them, the latest occurrence of each (a group's notifications carry
    the whole group, so this is what folding them one after the other leaves, minus the
    intermediate changes). Callers never coalesce past a resolved notification (`segments`)."""
    payloads = [p for p in (w.payload for w in run) if p is not None]
    if len(payloads) == 1:
        return payloads[0]
    alerts = {a.key: a for p in payloads for a in p.alerts}
    return payloads[-1].model_copy(update={"alerts": list(alerts.values())})


def segments(waiting: Sequence[Waiting]) -> Iterator[list[Waiting]]:
    """`waiting` in runs that may be coalesced: a resolved notification (which resolves
    what it does not list, and after which a firing one opens a new incident) stands alone."""
    run: list[Waiting] = []
    for item in waiting:
        if item.resolved:
            if run:
                yield run
            yield [item]
            run = []
        else:
            run.append(item)
    if run:
        yield run


def event_keys_of(run: Sequence[Waiting]) -> list[str]:
    """The dedup keys of a run of notifications, each once."""
    return list(dict.fromkeys(k for item in run for k in item.keys))


class WaitingGroups:
    """The notifications waiting for their fold, by group, groups in the order they began."""

    def __init__(self, *, capacity: int = MAX_WAITING) -> None:
        self._groups: OrderedDict[str, list[Waiting]] = OrderedDict()
        self._first: OrderedDict[str, None] = OrderedDict()  # groups with no message yet
        self._ids: set[int] = set()
        self._capacity = capacity
        self._ready = asyncio.Event()
        self.count = 0

    def wanted(self, group: str, *, folding: int, after: int | None) -> bool:
        """Whether a new notification of `group` waits: `after` folds already in progress, or
        the group has notifications waiting; never past the capacity (nor with `after` None)."""
        if after is None or self.count >= self._capacity:
            return False
        return folding >= after or group in self._groups

    def holds(self, parked: int) -> bool:
        return parked in self._ids

    def add(self, group: str, item: Waiting, *, first: bool = False) -> None:
        """`first`: the group's first notification here, folded before the groups that
        already have their message (a new incident is shown first, updates gather)."""
        items = self._groups.setdefault(group, [])
        if first and len(items) == 0:
            self._first[group] = None
        items.append(item)
        if len(items) > 1 and items[-2].parked > item.parked:  # a recovered older body
            items.sort(key=lambda w: w.parked)
        elif len(items) > 1:
            items[-2].superseded_by(item)
        self._ids.add(item.parked)
        self.count += 1
        self._ready.set()

    def take(self, group: str) -> list[Waiting]:
        """All of `group`'s waiting notifications, now the caller's to fold."""
        items = self._groups.pop(group, [])
        self._first.pop(group, None)
        self._forget(items)
        return items

    @property
    def first_waiting(self) -> bool:
        """Whether a group waits for its first message (the folder does not pause then)."""
        return bool(self._first)

    async def next(self) -> tuple[str, list[Waiting]]:
        """The group waiting for its first message longest, else the group that has waited
        longest, with its notifications (waits for one)."""
        while not self._groups:
            self._ready.clear()
            await self._ready.wait()
        group = next(iter(self._first or self._groups))
        return group, self.take(group)

    def put_back(self, group: str, items: list[Waiting]) -> None:
        """A fold that could not be written (the store is down): first in line again."""
        for item in reversed(items):
            self._groups.setdefault(group, []).insert(0, item)
            self._ids.add(item.parked)
        self._groups.move_to_end(group, last=False)
        self.count += len(items)
        self._ready.set()

    def _forget(self, items: list[Waiting]) -> None:
        self._ids.difference_update(w.parked for w in items)
        self.count -= len(items)
