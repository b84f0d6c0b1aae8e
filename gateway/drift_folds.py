"""The drift use cases of the gateway: a drift event in, the model's drift message out.

A mixin of `gateway.service.Gateway` (it shares the store, options, metrics and clock); kept
apart so each module holds one kind of notification.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.drift import DriftEvent, DriftIncident, dump_drift, fold, load_drift, occurrence_key
from gateway.options import GatewayOptions, Outcome, deduplicated
from gateway.render import message_update, render_drift
from slackio.metrics import Metrics
from storage import MessageUpdate, Store, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("gateway")


class DriftFolds:
    """Drift events folded into one living message per model (see `Gateway`)."""

    store: Store
    options: GatewayOptions
    metrics: Metrics
    wake_sender: Callable[[str], None]
    _clock: Callable[[], float]

    async def ingest_drift(self, event: DriftEvent, body: bytes) -> Outcome:
        """Record a drift event; post or update the model's drift message if drift was found."""
        now = self._clock()
        key = occurrence_key(event, body)
        if await self.store.seen([key], now=now):
            return deduplicated(self.metrics, "drift")
        outcome = (
            await self._fold_drift(event, now)
            if event.detected
            else await self._observe(event, now)
        )
        await self.store.mark_seen([key], ttl=self.options.dedup_window, now=now)
        return outcome

    async def _observe(self, event: DriftEvent, now: float) -> Outcome:
        """A no-drift event is recorded (latest observation per model) and posts nothing."""
        data = json.dumps({"at": now, "source": event.source, "detected": False})
        await cas.update(
            self.store, f"drift-observation:{event.model}", lambda _: Write(data), now=now
        )
        log.info("drift_observed", model=event.model, detected=False)
        return Outcome.NO_DRIFT

    async def _fold_drift(self, event: DriftEvent, now: float) -> Outcome:
        when = datetime.fromtimestamp(now, UTC)
        counts: list[int] = []

        def change(stored: Versioned | None) -> Write:
            current = load_drift(stored.data) if stored else None
            folded = fold(current, event, now=when, window=self.options.dedup_window)
            counts[:] = [folded.count]
            return Write(dump_drift(folded), [self.drift_message(folded, current)])

        write = await cas.update(self.store, f"drift:{event.model}", change, now=now)
        assert write is not None  # `change` always writes
        self.wake_sender(write.messages[0].channel)
        log.info("drift_recorded", model=event.model, count=counts[0])
        return Outcome.ACCEPTED

    def drift_message(self, folded: DriftIncident, previous: DriftIncident | None) -> MessageUpdate:
        rendered = render_drift(
            folded,
            pipeline_models=self.options.models_that_can("retrain"),
            pipeline_notes=self.options.pipeline_notes,
        )
        repeated = previous is not None and previous.generation == folded.generation
        reply = _drift_reply(folded) if repeated else None
        channel = self.options.channel_for(folded.model)
        return message_update(
            folded.message_key, channel, rendered, reply=reply, event_type="chatops_drift"
        )


def _drift_reply(incident: DriftIncident) -> str:
    latest = incident.latest
    if latest.p_value is not None:
        evidence = f"p-value {latest.p_value:.3g}"
    elif latest.share_drifted is not None:
        evidence = f"{latest.share_drifted:.0%} of columns drifted"
    else:
        evidence = "drift detected"
    return f"📈 Drift again on {incident.model}: {evidence} (seen {incident.count} times)"
