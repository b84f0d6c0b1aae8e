"""How one fold runs: its facts (`Fold`), and CPU work moved off the event loop when large."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from gateway.alertmanager import AlertmanagerPayload
from gateway.intake import Intake

T = TypeVar("T")
# A notification with more alerts than this is merged and rendered in a worker thread, so the
# event loop keeps answering (/healthz, other webhooks) while a huge group is folded.
OFF_LOOP_ALERTS = 200


@dataclass(frozen=True)
class Fold:
    """One fold's facts: when, when its notification was received if it was deferred (None:
    now), the events the store had, the keys its write marks and the bodies it unparks."""

    now: float
    received: float | None
    seen: set[str]
    marked: list[str]
    unpark: Sequence[int]

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def payload_of(notification: AlertmanagerPayload | Intake) -> AlertmanagerPayload:
    """The payload of a notification given as one or as its `Intake` (built now)."""
    return notification.payload if isinstance(notification, Intake) else notification


async def cpu(alerts: int, work: Callable[[], T]) -> T:
    """Run pure CPU work for a notification: in a worker thread when it has many alerts."""
    return await asyncio.to_thread(work) if alerts > OFF_LOOP_ALERTS else work()
