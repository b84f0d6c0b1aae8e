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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from gateway import incidents, intake
from gateway.alertmanager import OFF_LOOP_BYTES, AlertmanagerPayload
from gateway.dedup import RecentEvents, earlier_candidates, earlier_statuses, event_keys
from gateway.deferred import Reread, Waiting, WaitingGroups, coalesced, event_keys_of, segments
from gateway.drift_folds import DriftFolds
from gateway.folding import Fold, cpu, payload_of
from gateway.grafana import parse_grafana
from gateway.incident_model import Change, Incident, Status, state_key
from gateway.intake import Intake
from gateway.known_incidents import KnownIncidents
from gateway.options import GatewayOptions, Outcome, deduplicated
from gateway.render import message_update, render_changes, render_incident
from gateway.repeats import KnownBodies, Screened, screen
from gateway.serials import Serials
from slackio.metrics import Metrics
from storage import MessageUpdate, Store, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("gateway")


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
        self.serials = Serials()
        self._recent = RecentEvents()
        self._bodies = KnownBodies()
        self._alerts = intake.KnownAlerts()
        self._incidents = KnownIncidents()
        self.waiting = WaitingGroups()
        self.deferred_total = 0
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
        self,
        notification: AlertmanagerPayload | Intake,
        screened: Screened | None = None,
        *,
        body: bytes | None = None,
        source: str = "alertmanager",
    ) -> Outcome:
        """Fold one Alertmanager notification (its payload, or its `Intake` that builds it)
        into its group's incident message; under load (`gateway.deferred`), park its `body`
        and fold it later with the group's next ones."""
        group = notification.group_key
        keys = await self._keys(notification, screened)
        if self._recent.all_seen(keys, now=self._clock()):
            outcome = deduplicated(self.metrics, "alertmanager")
        elif body is not None and self.waiting.wanted(
            group, folding=self.serials.folding, after=self.options.defer_after
        ):
            outcome = await self._defer(notification, keys, body, source)
        else:
            outcome = await self._fold_now(payload_of(notification), keys)
        if screened is not None and outcome is not Outcome.IGNORED:
            self._bodies.remember(group, screened, keys)
            if screened.intake is not None:
                self._alerts.remember(group, screened.intake.known)
        return outcome

    async def _keys(
        self, notification: AlertmanagerPayload | Intake, screened: Screened | None
    ) -> Sequence[str]:
        if screened is not None and screened.keys is not None:
            return screened.keys
        if isinstance(notification, Intake):
            return notification.keys
        size = len(notification.alerts)
        return await cpu(size, functools.partial(event_keys, notification))

    async def _fold_now(self, payload: AlertmanagerPayload, keys: Sequence[str]) -> Outcome:
        """Fold while the webhook waits: after the group's waiting notifications, if any
        (more were waiting than memory holds)."""
        async with self.serials.one_at_a_time(payload.group_key):
            earlier = self.waiting.take(payload.group_key)
            if earlier:
                await self.fold_waiting(payload.group_key, earlier)
            return await self._record(payload, keys)

    async def _defer(
        self, notification: AlertmanagerPayload | Intake, keys: Sequence[str], body: bytes,
        source: str,
    ) -> Outcome:  # fmt: skip
        """Park the body (durable) and leave the fold to the folder: answered ACCEPTED."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # JSON in UTF-16 or -32: kept nowhere, folded now
            return await self._fold_now(payload_of(notification), keys)
        group = notification.group_key
        first = self._alerts.of(group) is None  # no body of this group folded here yet
        at = self._clock()
        parked = await self.store.park(group=group, source=source, body=text, now=at)
        kept = Reread(body, self.reader(source))  # not its parsed form: a third of the memory
        waiting = Waiting(kept, keys, parked, at=at, resolved=notification.status == "resolved")
        self.waiting.add(group, waiting, first=first)
        self.deferred_total += 1
        self.metrics.child(self.metrics.notifications_deferred, source).inc()
        self.metrics.notifications_waiting.set(self.waiting.count)
        return Outcome.ACCEPTED

    def reader(self, source: str) -> Callable[[bytes], AlertmanagerPayload]:
        """How a parked body of `source` is read again (reusing the group's known alerts):
        at its fold, or when recovered from the store (BadPayload if it is not valid)."""
        if source == "grafana":
            return parse_grafana
        return lambda body: intake.read(body, known_alerts=self._alerts).payload

    async def fold_waiting(self, group: str, waiting: Sequence[Waiting]) -> None:
        """Fold a group's waiting notifications, each run of them as one (`deferred.segments`);
        their parked bodies go with the write, or at once when nothing is written."""
        self.metrics.notifications_waiting.set(self.waiting.count)
        for run in segments(waiting):
            keys, parked = event_keys_of(run), [w.parked for w in run]
            outcome = Outcome.DUPLICATE
            if not self._recent.all_seen(keys, now=self._clock()):
                payload = coalesced(run)
                received = max(w.at for w in run)
                outcome = await self._record(payload, keys, unpark=parked, received=received)
            if outcome is not Outcome.ACCEPTED:
                await self.store.unpark(parked)
            log.debug("deferred_folded", group_key=group, notifications=len(run))

    async def _record(
        self,
        payload: AlertmanagerPayload,
        keys: Sequence[str],
        unpark: Sequence[int] = (),
        received: float | None = None,
    ) -> Outcome:
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
        fold = Fold(now, received, seen, marked, unpark)
        outcome = await self._fold_group(payload, fold)
        if outcome is Outcome.IGNORED:  # nothing recorded: a later firing is still new
            return outcome
        if outcome is not Outcome.ACCEPTED:  # no write carried them
            await self.store.mark_seen(marked, ttl=window, now=now)
        self._recent.remember(marked, until=now + window)
        return outcome

    async def _fold_group(self, payload: AlertmanagerPayload, fold: Fold) -> Outcome:
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
            folded = await self._fold_into(current, payload, fold)
            if folded is None:
                outcome = Outcome.DUPLICATE
                return None
            merged, changes, message, data = folded
            result[:] = [(merged, changes, message, stored.version if stored else 0)]
            window = self.options.dedup_window
            return Write(data, [message], seen=fold.marked, seen_ttl=window, unpark=fold.unpark)

        write = await cas.update(self.store, key, change, now=fold.now)
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
        fold: Fold,
    ) -> tuple[Incident, list[Change], MessageUpdate, str] | None:
        """`_folded`, after looking up how the alerts only counted were folded before."""
        received = fold.received
        if received is not None and current is not None and current.received_at > received:
            payload = incidents.resolutions(payload)  # deferred, older than the incident
        size, now = len(payload.alerts), fold.now
        candidates = functools.partial(earlier_candidates, payload, current, fold.seen)
        earlier = await earlier_statuses(self.store, await cpu(size, candidates), now=now)
        received = now if received is None else received
        folded = functools.partial(self._folded, current, payload, fold.when, earlier, received)
        return await cpu(size, folded)

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
        received: float,
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
        merged = replace(merged, received_at=max(received, base.received_at))
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
