"""One fold at a time per alert group, within this process, and how many are in progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Serial:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Serials:
    """Copies of one notification (an Alertmanager HA pair sends two) that reach this process
    together are handled one after the other, so the second is a cheap `seen` hit instead of a
    lost compare-and-set after a full merge and render; a group's deferred notifications are
    folded in order. Across replicas the compare-and-set alone keeps them correct."""

    def __init__(self) -> None:
        self._serials: dict[str, _Serial] = {}
        self.folding = 0  # holders of a group's turn right now (folds in progress)

    @asynccontextmanager
    async def one_at_a_time(self, key: str) -> AsyncIterator[None]:
        serial = self._serials.setdefault(key, _Serial())
        serial.users += 1
        try:
            async with serial.lock:
                self.folding += 1
                try:
                    yield
                finally:
                    self.folding -= 1
        finally:
            serial.users -= 1
            if serial.users == 0:
                del self._serials[key]
