"""The sweeper: a periodic pass that expires pending approvals and keeps or resumes runs."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bot.approvals.tickets import Ticket
from bot.errors import BotError
from bot.service.graph import UseCases
from storage import StoreError

log = structlog.get_logger("bot")


class Sweeper:
    """Expire pending requests, keep or resume runs, close interrupted starts, prune the index."""

    def __init__(self, uses: UseCases) -> None:
        self._uses = uses
        self._tickets = uses.approvals.tickets

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Sweep every `interval` seconds until `stop` is set (its first pass resumes runs)."""
        while not stop.is_set():
            try:
                await self.sweep()
            except StoreError as e:
                log.warning("bot_sweep_failed", error=str(e))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def sweep(self) -> None:
        """One pass over the open tickets."""
        closed: set[str] = set()
        missing: set[str] = set()
        for ticket_id in await self._tickets.open_ids():
            loaded = await self._tickets.load(ticket_id)
            if loaded is None:
                missing.add(ticket_id)
                continue
            try:
                if await self._sweep_one(loaded.ticket):
                    closed.add(ticket_id)
            except BotError as e:  # e.g. the model left the config while its run was followed
                log.warning("bot_sweep_skipped", ticket=ticket_id, error=e.message)
        if closed or missing:
            await self._tickets.prune(closed, missing)

    async def _sweep_one(self, ticket: Ticket) -> bool:
        """One ticket's sweep; True when it no longer needs the sweeper."""
        runs = self._uses.runs
        if await self._uses.decisions.expire_due(ticket) or await runs.interrupted(ticket):
            return True
        if ticket.following:
            await runs.keep(ticket)
            return False
        return not ticket.is_open
