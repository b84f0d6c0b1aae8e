"""The durable store shared by gateway and bot: dedup keys, versioned state, outbox, audit.

One Protocol, two backends (SQLite for one replica, Redis for several). Everything that must
survive a restart or be shared between replicas goes through here; nothing is kept in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# The lease value a store keeps on an item whose last attempt may have reached Slack: no real
# lease looks like it (theirs are `owner:uuid`), so it is never renewed or released by mistake.
UNCERTAIN = "uncertain"


class StoreError(Exception):
    """The store could not be reached or answered wrongly (readiness fails, webhooks get 503)."""


@dataclass(frozen=True)
class Versioned:
    """A state blob with the version it was read at, for compare-and-set writes."""

    version: int
    data: str


@dataclass(frozen=True)
class MessageUpdate:
    """The desired content of one living Slack message, plus an optional thread reply.

    `key` names the message (e.g. one Alertmanager group incident). Writing a new update for a
    key replaces the desired content: queued updates coalesce into the latest one.
    """

    key: str
    channel: str
    text: str
    blocks_json: str
    reply: str | None = None
    metadata_json: str | None = None


@dataclass(frozen=True)
class Parked:
    """A webhook body accepted but not yet folded (`Store.park`): its id, the group it
    belongs to, its sender (`alertmanager`, `grafana`), the body as received, when parked."""

    id: int
    group: str
    source: str
    body: str
    at: float


@dataclass(frozen=True)
class MessageRecord:
    """Where a living message is in Slack, if it has been posted yet."""

    key: str
    channel: str
    channel_id: str | None
    ts: str | None
    version: int
    sent_version: int


@dataclass(frozen=True)
class OutboxItem:
    """One claimed unit of sending: bring message `key` in Slack up to `version`, post replies."""

    key: str
    channel: str
    channel_id: str | None
    ts: str | None
    version: int
    sent_version: int
    text: str
    blocks_json: str
    metadata_json: str | None
    replies: tuple[tuple[int, str], ...]
    attempts: int
    lease: str
    first_queued_at: float
    # A previous attempt may have reached Slack without our knowing (its holder's lease ran
    # out, or its call timed out): look for what it posted before posting again.
    uncertain: bool = False

    @property
    def needs_post(self) -> bool:
        return self.ts is None

    @property
    def needs_update(self) -> bool:
        return self.ts is not None and self.version > self.sent_version


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_queued_at: float | None


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    model: str
    outcome: str
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Store(Protocol):
    """Durable state. Every method is safe to call from several replicas at once."""

    async def ping(self) -> None:
        """Raise StoreError unless the store answers."""

    async def close(self) -> None: ...

    async def seen(self, keys: Sequence[str], *, now: float) -> set[str]:
        """Which of `keys` were marked and have not expired."""

    async def mark_seen(self, keys: Sequence[str], *, ttl: float, now: float) -> None:
        """Remember `keys` for `ttl` seconds (after the state they stand for is saved)."""

    async def get_state(self, key: str) -> Versioned | None: ...

    async def save(
        self,
        *,
        key: str,
        data: str,
        expected_version: int,
        messages: Sequence[MessageUpdate] = (),
        now: float,
        seen: Sequence[str] = (),
        seen_ttl: float = 0.0,
        unpark: Sequence[int] = (),
    ) -> bool:
        """Compare-and-set `key` (0 = must not exist) and queue `messages` in one transaction;
        if the write wins, also `mark_seen(seen, ttl=seen_ttl)` and `unpark(unpark)` (in that
        transaction where the backend allows: SQLite; Redis right after it)."""

    async def park(self, *, group: str, source: str, body: str, now: float) -> int:
        """Durably keep a webhook body accepted before it is folded; its id (increasing)."""

    async def parked(self, *, before: float, after: int = 0, limit: int) -> list[Parked]:
        """Bodies parked before `before` with an id over `after`, not yet unparked, oldest
        first, at most `limit` (what a crashed process accepted and never folded)."""

    async def unpark(self, ids: Sequence[int]) -> None:
        """Forget parked bodies once folded (or found already folded); unknown ids are fine."""

    async def message(self, key: str) -> MessageRecord | None: ...

    async def claim(
        self, *, owner: str, lease_seconds: float, now: float, exclude_channels: Sequence[str]
    ) -> OutboxItem | None:
        """Lease the oldest due outbox item outside `exclude_channels`, or None.

        A claim makes the item due again at `now`: if it is still pending after this send,
        it waits behind the items that were already waiting (round robin), so a group that
        keeps changing cannot hold a channel while other groups wait for their first post.
        """

    async def complete(
        self, item: OutboxItem, *, channel_id: str, ts: str, reply_ids: Sequence[int]
    ) -> None:
        """Record that `item` reached Slack: its ts, the version sent, the replies posted."""

    async def retry_later(
        self, item: OutboxItem, *, at: float, error: str, uncertain: bool = False
    ) -> None:
        """Release `item`'s lease and make it due again at `at`. `uncertain`: the failed call
        may have reached Slack, so the next claim comes back `uncertain` (look before posting).
        """

    async def renew_lease(self, item: OutboxItem, *, lease_seconds: float, now: float) -> bool:
        """Extend `item`'s lease to `now + lease_seconds`; False if it is no longer ours (it
        ran out and another sender claimed the item, or the item was completed)."""

    async def reserve_channel(self, channel: str, *, interval: float, now: float) -> float:
        """Book the next send slot of `channel`, shared by every replica: the time (>= `now`)
        the caller may send; the slot after it is `interval` seconds later.
        """

    async def next_due(self, *, now: float) -> float | None:
        """Earliest time an unclaimed item becomes due (may be <= now), or None if idle."""

    async def outbox_stats(self) -> OutboxStats: ...

    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def recent_audit(self, *, model: str | None, limit: int) -> list[AuditEntry]: ...
