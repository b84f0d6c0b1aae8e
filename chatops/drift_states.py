"""The bot's `DriftStates`, read from what the gateway stores for each model.

The gateway keeps the model's living drift message under `drift:<model>` (the last drift
event and how many there were) and the last no-drift check under `drift-observation:<model>`;
the newer of the two is the model's drift state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from bot.releases.overview import DriftState
from gateway.drift import load_drift
from storage import Store

log = structlog.get_logger("chatops.drift_states")


class StoreDriftStates:
    """`bot.releases.overview.DriftStates` over the shared store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def drift_state(self, model: str) -> DriftState | None:
        drift = await self._drifted(model)
        checked = await self._checked(model)
        if drift is None or (checked is not None and checked.at > drift.at):
            return checked
        return drift

    async def _drifted(self, model: str) -> DriftState | None:
        stored = await self._store.get_state(f"drift:{model}")
        if stored is None:
            return None
        try:
            incident = load_drift(stored.data)
        except ValidationError as e:
            log.warning("drift_state_unreadable", model=model, error=str(e))
            return None
        return DriftState(detected=True, at=incident.last_at, events=incident.count)

    async def _checked(self, model: str) -> DriftState | None:
        stored = await self._store.get_state(f"drift-observation:{model}")
        if stored is None:
            return None
        try:
            at = float(json.loads(stored.data)["at"])
        except (ValueError, TypeError, KeyError) as e:
            log.warning("drift_observation_unreadable", model=model, error=str(e))
            return None
        return DriftState(detected=False, at=datetime.fromtimestamp(at, UTC))
