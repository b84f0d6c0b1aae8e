"""Gateway use cases: a parsed notification in, durable state and queued Slack messages out.

This module holds the Alertmanager (and Grafana) use case; drift is in `gateway.drift_folds`,
the options and outcomes in `gateway.options`. Nothing here knows aiohttp or Slack payloads.
Each use case is idempotent: a repeat of an already-handled occurrence changes nothing and
queues nothing, whichever replica gets it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from gateway import incidents, intake
from gateway.alertmanager import OFF_LOOP_BYTES, AlertmanagerPayload
from gateway.dedup import RecentEvents, earlier_candidates, earlier_statuses, event_keys
from gateway.drift_folds import DriftFolds
from gateway.incident_model import Change, Incident, Status, state_key
from gateway.known_incidents import KnownIncidents
from gateway.options import GatewayOptions, Outcome, deduplicated
from gateway.render import message_update, render_changes, render_incident
from gateway.repeats import KnownBodies, Screened, screen
from slackio.metrics import Metrics
from storage import MessageUpdate, Store, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("gateway")


T = TypeVar("T")
# A notification with more alerts than this is merged and rendered in a worker thread, so the
# event loop keeps answering (/healthz, other webhooks) while a huge group is folded.
OFF_LOOP_ALERTS = 200


class Gateway(DriftFolds):
    """Turns webhooks into store writes; the outbox sender does the Slack side."""

    def __init__(
        self,
        store: Store,
        options: GatewayOptions,
        metrics: Metrics,
        *,
        wake_sender: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.options = options
        self.metrics = metrics
        self.wake_sender = wake_sender
        self._clock = clock
        self._serials: dict[str, _Serial] = {}
        self._recent = RecentEvents()
        self._bodies = KnownBodies()
        self._alerts = intake.KnownAlerts()
        self._incidents = KnownIncidents()
        # one whole large group body (over 1 MiB) read, parsed and folded at a time
        self.large_bodies = asyncio.Semaphore(1)

    async def screen_alertmanager(
        self, body: bytes, *, other: Callable[[bytes], bool] | None = None
    ) -> tuple[Screened, Outcome | None]:
        """A cheap look at a raw Alertmanager body (`gateway.repeats`) before validating it:
        DUPLICATE when it only repeats events still remembered here, else None. A body that
        is not a known one comes back validated (`gateway.intake`), or BadPayload, or unread
        with `other_sender` set when `other` recognises it (a Grafana body on this route)."""
        read = functools.partial(intake.read, known_alerts=self._alerts)
        work = functools.partial(screen, body, self._bodies, read, other)
        screened = await asyncio.to_thread(work) if len(body) > OFF_LOOP_BYTES else work()
        if screened.keys is not None and self._recent.all_seen(screened.keys, now=self._clock()):
            if screened.intake is not None:
                self._alerts.remember(screened.intake.group_key, screened.intake.known)
            return screened, deduplicated(self.metrics, "alertmanager")
        return screened, None

    async def ingest_alertmanager(
        self, payload: AlertmanagerPayload, screened: Screened | None = None
    ) -> Outcome:
        """Fold one Alertmanager notification into its group's incident message."""
        keys: Sequence[str]
        if screened is not None and screened.keys is not None:
            keys = screened.keys
        else:
            keys = await _cpu(len(payload.alerts), functools.partial(event_keys, payload))
        if self._recent.all_seen(keys, now=self._clock()):
            outcome = deduplicated(self.metrics, "alertmanager")
        else:
            async with self._one_at_a_time(payload.group_key):
                outcome = await self._record(payload, keys)
        if screened is not None and outcome is not Outcome.IGNORED:
            self._bodies.remember(payload.group_key, screened, keys)
            if screened.intake is not None:
                self._alerts.remember(payload.group_key, screened.intake.known)
        return outcome

    async def _record(self, payload: AlertmanagerPayload, keys: Sequence[str]) -> Outcome:
        """Fold unless the store has every event; the store reads and writes only the keys
        this process does not remember, and those it remembers past half the window."""
        now, window = self._clock(), self.options.dedup_window
        fresh = self._recent.known(keys, now=now)
        unknown = [k for k in dict.fromkeys(keys) if k not in fresh]
        seen = set(fresh) | (await self.store.seen(unknown, now=now) if unknown else set())
        if keys and len(seen) == len(fresh) + len(unknown):
            # saved by another replica at an unknown time: looked up again after half a window
            self._recent.remember(unknown, until=now + window / 2)
            return deduplicated(self.metrics, "alertmanager")
        marked = unknown + [k for k, expiry in fresh.items() if expiry - now < window / 2]
        outcome = await self._fold_group(payload, now, seen, marked)
        if outcome is Outcome.IGNORED:  # nothing recorded: a later firing is still new
            return outcome
        if outcome is not Outcome.ACCEPTED:  # no write carried them
            await self.store.mark_seen(marked, ttl=window, now=now)
        self._recent.remember(marked, until=now + window)
        return outcome

    @asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        """Copies of one notification (an Alertmanager HA pair sends two) that reach this
        process together are handled one after the other, so the second is a cheap `seen`
        hit instead of a lost compare-and-set after a full merge and render. Across replicas
        the compare-and-set alone keeps them correct.
        """
        serial = self._serials.setdefault(key, _Serial())
        serial.users += 1
        try:
            async with serial.lock:
                yield
        finally:
            serial.users -= 1
            if serial.users == 0:
                del self._serials[key]

    async def _fold_group(
        self, payload: AlertmanagerPayload, now: float, seen: set[str], marked: list[str]
    ) -> Outcome:
        """Fold into the group's incident; a write also marks `marked` seen (one transaction)."""
        key = state_key(payload.group_key)
        outcome = Outcome.DUPLICATE
        result: list[tuple[Incident, list[Change], MessageUpdate, int]] = []

        async def change(stored: Versioned | None) -> Write | None:
            nonlocal outcome
            current = self._incidents.load(key, stored) if stored else None
            if current is None and self._skips_resolved_only(payload):
                outcome = Outcome.IGNORED
                return None
            folded = await self._fold_into(current, payload, now, seen)
            if folded is None:
                outcome = Outcome.DUPLICATE
                return None
            merged, changes, message, data = folded
            result[:] = [(merged, changes, message, stored.version if stored else 0)]
            return Write(data, [message], seen=marked, seen_ttl=self.options.dedup_window)

        write = await cas.update(self.store, key, change, now=now)
        if write is None:
            return (
                deduplicated(self.metrics, "alertmanager")
                if outcome is Outcome.DUPLICATE
                else outcome
            )
        merged, changes, message, version = result[0]
        self._incidents.wrote(key, version + 1, write.data, merged)
        self.wake_sender(message.channel)
        log.info(
            "incident_updated",
            group_key=payload.group_key,
            generation=merged.generation,
            status=merged.status.value,
            changes=len(changes),
        )
        return Outcome.ACCEPTED

    async def _fold_into(
        self,
        current: Incident | None,
        payload: AlertmanagerPayload,
        now: float,
        seen: set[str],
    ) -> tuple[Incident, list[Change], MessageUpdate, str] | None:
        """`_folded`, after looking up how the alerts only counted were folded before."""
        size, when = len(payload.alerts), datetime.fromtimestamp(now, UTC)
        candidates = functools.partial(earlier_candidates, payload, current, seen)
        earlier = await earlier_statuses(self.store, await _cpu(size, candidates), now=now)
        return await _cpu(size, functools.partial(self._folded, current, payload, when, earlier))

    def _skips_resolved_only(self, payload: AlertmanagerPayload) -> bool:
        """A group first seen already resolved, when such groups are not posted."""
        if self.options.post_resolved_only_groups or not incidents.resolved_only(payload):
            return False
        log.info("resolved_only_group_skipped", group_key=payload.group_key)
        return True

    def _folded(
        self,
        current: Incident | None,
        payload: AlertmanagerPayload,
        when: datetime,
        earlier: Mapping[str, Status],
    ) -> tuple[Incident, list[Change], MessageUpdate, str] | None:
        """The merged incident, its changes, message and stored form; None if nothing changed.

        Pure CPU work on values, so a large notification can run it in a worker thread.
        """
        base = current
        if current is None or incidents.starts_new_incident(current, payload):
            generation = current.generation + 1 if current else 1
            base = incidents.open_incident(payload, generation=generation, now=when)
        assert base is not None
        limit = self.options.max_alerts_per_incident
        merged, changes = incidents.merge(base, payload, now=when, limit=limit, earlier=earlier)
        if not changes and base is current:
            return None
        message = self.incident_message(merged, changes if base is current else [])
        return merged, changes, message, incidents.dump_incident(merged)

    def incident_message(self, incident: Incident, changes: list[Change]) -> MessageUpdate:
        rendered = render_incident(
            incident,
            pipeline_models=self.options.models_that_can("rollback"),
            silence=self.options.silence,
            rollback_environments=self.options.rollback_environments,
            grafana_silence=self.options.grafana_silence,
        )
        reply = render_changes(changes) if changes else None
        channel = self.options.channel_for(incident.model)
        return message_update(
            incident.message_key, channel, rendered, reply=reply, event_type="chatops_incident"
        )


async def _cpu(alerts: int, work: Callable[[], T]) -> T:
    """Run pure CPU work for a notification: in a worker thread when it has many alerts."""
    return await asyncio.to_thread(work) if alerts > OFF_LOOP_ALERTS else work()


@dataclass
class _Serial:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
