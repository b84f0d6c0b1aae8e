"""Tickets in the durable store: compare-and-set writes that queue the ticket's Slack message.

Every change of a ticket is one `Store.save` with the expected version, carrying the re-rendered
message (`req:<id>`) for the outbox sender, so the store decides which of two concurrent clicks
wins and the message always shows the saved state. An index of open tickets (`bot:open`) lets
the sweeper find pending requests to expire and runs to resume after a restart; the store has no
key listing, and the index is small because tickets leave it when they are done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from bot.approvals.render import status_reply, ticket_message
from bot.approvals.tickets import Ticket, dump_ticket, load_ticket, state_key
from bot.options import BotOptions
from storage import MessageUpdate, Store, StoreError, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("bot.approvals.tickets")

INDEX_KEY = "bot:open"
ORPHAN_GRACE = 300.0  # an indexed id with no ticket after this long is dropped from the index

Change = Callable[[Ticket], Ticket | None]
Reply = Callable[[Ticket, Ticket], str | None]


@dataclass(frozen=True)
class Loaded:
    """A ticket with the version it was read at."""

    ticket: Ticket
    version: int


def with_status_reply(before: Ticket, after: Ticket) -> str | None:
    """A thread reply when the run's status changed (for `TicketStore.change`)."""
    if after.run is None:
        return None
    if before.run is not None and before.run.status is after.run.status:
        return None
    return status_reply(after)


class TicketStore:
    """Loads and saves tickets; queues their message whenever they are visible in Slack."""

    def __init__(
        self,
        store: Store,
        options: BotOptions,
        *,
        wake_sender: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._options = options
        self._wake_sender = wake_sender
        self._clock = clock

    async def load(self, ticket_id: str) -> Loaded | None:
        stored = await self._store.get_state(state_key(ticket_id))
        return None if stored is None else Loaded(_decode(ticket_id, stored.data), stored.version)

    async def create(self, ticket: Ticket) -> bool:
        """Store a new ticket (indexed as open first); False if its id exists: a re-delivery."""
        await self.add_open(ticket.id)
        return await self.save(ticket, version=0)

    async def save(
        self, ticket: Ticket, *, version: int, reply: str | None = None, quiet: bool = False
    ) -> bool:
        """Compare-and-set (`version` 0: create); the message is queued with the same write.

        `quiet`: bookkeeping only (a lease), the message does not change.
        """
        write = self._write(ticket, reply, quiet)
        saved = await self._store.save(
            key=ticket.key,
            data=write.data,
            expected_version=version,
            messages=write.messages,
            now=self._clock(),
        )
        if saved and write.messages:
            self._wake_sender()
        return saved

    async def change(
        self, ticket_id: str, change: Change, *, reply: Reply | None = None, quiet: bool = False
    ) -> Ticket | None:
        """Apply `change` to the stored ticket until the write wins; None if nothing changed."""
        changed: Ticket | None = None

        def apply(stored: Versioned | None) -> Write | None:
            nonlocal changed
            if stored is None:
                return None
            ticket = _decode(ticket_id, stored.data)
            changed = change(ticket)
            if changed is None:
                return None
            return self._write(changed, reply(ticket, changed) if reply else None, quiet)

        written = await cas.update(self._store, state_key(ticket_id), apply, now=self._clock())
        if written is None:
            return None
        if written.messages:
            self._wake_sender()
        return changed

    def _write(self, ticket: Ticket, reply: str | None, quiet: bool) -> Write:
        messages = [self._message(ticket, reply)] if visible(ticket) and not quiet else []
        return Write(dump_ticket(ticket), messages)

    def _message(self, ticket: Ticket, reply: str | None) -> MessageUpdate:
        r = ticket.request
        rule = self._options.policy.find(r.action, r.environment)
        approvers = rule.approvers if rule is not None else frozenset()
        rendered = ticket_message(ticket, approvers=approvers)
        return MessageUpdate(
            key=ticket.key,
            channel=r.channel or self._options.channel_for(r.model),
            text=rendered.text,
            blocks_json=json.dumps(rendered.blocks),
            reply=reply,
        )

    # --- the open index ------------------------------------------------------------------------

    async def open_ids(self) -> list[str]:
        """Ids of tickets that may still need the sweeper."""
        stored = await self._store.get_state(INDEX_KEY)
        return sorted(_index(stored.data)) if stored else []

    async def add_open(self, ticket_id: str) -> None:
        await self._edit_index(lambda ids: {**ids, ticket_id: self._clock()})

    async def prune(self, closed: set[str], missing: set[str]) -> None:
        """Drop finished tickets, and ids whose ticket never appeared within the grace time."""
        limit = self._clock() - ORPHAN_GRACE

        def drop(ids: dict[str, float]) -> dict[str, float]:
            return {
                i: at
                for i, at in ids.items()
                if i not in closed and not (i in missing and at < limit)
            }

        await self._edit_index(drop)

    async def _edit_index(self, edit: Callable[[dict[str, float]], dict[str, float]]) -> None:
        def apply(stored: Versioned | None) -> Write | None:
            current = _index(stored.data) if stored else {}
            updated = edit(current)
            return None if updated == current else Write(json.dumps(updated))

        await cas.update(self._store, INDEX_KEY, apply, now=self._clock())


def visible(ticket: Ticket) -> bool:
    """Whether the ticket has a channel message: it asked for approval, or a run was started."""
    return ticket.request.approvals_needed > 0 or ticket.run is not None


def _decode(ticket_id: str, data: str) -> Ticket:
    try:
        return load_ticket(data)
    except (ValueError, KeyError) as e:
        raise StoreError(f"ticket {ticket_id} is unreadable: {e}") from e


def _index(data: str) -> dict[str, float]:
    raw = json.loads(data)
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
