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
from gateway.incidents import ActionRecord
from gateway.service import Gateway
from storage import MessageUpdate

log = structlog.get_logger("gateway.records")

_ATTEMPTS = 20


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
        state_key = f"{kind}:{ident}"
        for _ in range(_ATTEMPTS):
            stored = await self._gateway.store.get_state(state_key)
            if stored is None:
                return False
            updated = self._updated(kind, stored.data, int(generation), record)
            if updated is None:
                return False
            data, message = updated
            if await self._gateway.store.save(
                key=state_key,
                data=data,
                expected_version=stored.version,
                messages=[message],
                now=now,
            ):
                self._gateway.wake_sender(message.channel)
                log.info("message_action_recorded", key=message_key, actor=actor, action=action)
                return True
        return False

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
