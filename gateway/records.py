"""Who did what on a gateway message: a button click becomes a record shown on the message.

The bot reaches this through its own `MessageActions` Protocol, wired by the composition root,
so the bot never imports the gateway. Recording goes through the same compare-and-set and
outbox as webhooks, so it survives restarts and replicas, and the message is updated in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway import incidents
from gateway.drift import dump_drift, load_drift
from gateway.incident_model import ActionRecord
from gateway.service import Gateway
from storage import MessageUpdate, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("gateway.records")


class GatewayRecords:
    """Implements the bot's MessageActions Protocol over incident and drift state."""

    def __init__(self, gateway: Gateway, *, clock: Callable[[], float] = time.time) -> None:
        self._gateway = gateway
        self._clock = clock

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        """Add the record and queue the message update; False if the message is unknown."""
        kind, _, rest = message_key.partition(":")
        ident, _, generation = rest.rpartition(":")
        if kind not in ("am", "drift") or not ident or not generation.isdigit():
            return False
        now = self._clock()
        record = ActionRecord(
            actor=actor,
            action=action,
            at=datetime.fromtimestamp(now, UTC),
            detail=detail,
            link=link,
        )

        def add(stored: Versioned | None) -> Write | None:
            if stored is None:
                return None
            updated = self._updated(kind, stored.data, int(generation), record)
            return None if updated is None else Write(updated[0], [updated[1]])

        try:
            written = await cas.update(self._gateway.store, f"{kind}:{ident}", add, now=now)
        except cas.Contention:
            return False
        if written is None:
            return False
        self._gateway.wake_sender(written.messages[0].channel)
        log.info("message_action_recorded", key=message_key, actor=actor, action=action)
        return True

    def _updated(
        self, kind: str, data: str, generation: int, record: ActionRecord
    ) -> tuple[str, MessageUpdate] | None:
        """New state and message for a click on the current generation's message, else None."""
        if kind == "am":
            incident = incidents.load_incident(data)
            if incident.generation != generation:
                return None
            incident = incidents.with_action(incident, record)
            return incidents.dump_incident(incident), self._gateway.incident_message(incident, [])
        drift = load_drift(data)
        if drift.generation != generation:
            return None
        drift = drift.with_action(record)
        return dump_drift(drift), self._gateway.drift_message(drift, None)
