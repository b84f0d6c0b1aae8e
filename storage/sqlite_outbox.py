"""The SQLite store's outbox: queueing message updates, claiming, completing, pacing.

Plain functions on a connection inside the caller's transaction (`SqliteStore._tx`), so the
store module keeps the connection, the worker thread and the state/dedup tables, and this one
the `messages`, `replies` and `pacing` tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage.base import MessageRecord, MessageUpdate, OutboxItem, OutboxStats

# Only the placeholder list for excluded channels is formatted in; values are bound.
# A claim looks at each channel's next item instead of scanning the backlog in due order:
# in a storm most of the backlog belongs to channels being paced (excluded), and a scan past
# them all cost milliseconds per claim. The channels come from a skip-scan of the index.
_PENDING_CHANNELS_SQL = """
WITH RECURSIVE pending_channel(name) AS (
    SELECT MIN(channel) FROM messages WHERE pending = 1
    UNION ALL
    SELECT (SELECT MIN(channel) FROM messages WHERE pending = 1 AND channel > name)
    FROM pending_channel WHERE name IS NOT NULL
)
SELECT name FROM pending_channel WHERE name IS NOT NULL
"""
_CLAIM_SQL = (
    "SELECT key, channel, channel_id, ts, version, sent_version, text, blocks_json, "
    "metadata_json, attempts, queued_at, lease, due_at FROM messages "
    "WHERE pending = 1 AND channel = ? AND due_at <= ? AND lease_until < ? "
    "ORDER BY due_at, queued_at LIMIT 1"
)
_QUEUE_SQL = (
    "INSERT INTO messages (key, channel, version, sent_version, text, blocks_json, "
    "metadata_json, pending, due_at, queued_at) VALUES (?, ?, 1, 0, ?, ?, ?, 1, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET version = version + 1, text = excluded.text, "
    "blocks_json = excluded.blocks_json, metadata_json = excluded.metadata_json, "
    "due_at = CASE WHEN pending = 1 THEN due_at ELSE excluded.due_at END, "
    "queued_at = CASE WHEN pending = 1 THEN queued_at ELSE excluded.queued_at END, "
    "pending = 1"
)


def queue(db: sqlite3.Connection, message: MessageUpdate, now: float) -> None:
    """The message's new desired content (coalescing with a pending one), and its reply."""
    db.execute(
        _QUEUE_SQL,
        (
            message.key,
            message.channel,
            message.text,
            message.blocks_json,
            message.metadata_json,
            now,
            now,
        ),
    )
    if message.reply:
        db.execute("INSERT INTO replies (key, text) VALUES (?, ?)", (message.key, message.reply))


def claim(
    db: sqlite3.Connection,
    *,
    lease: str,
    lease_seconds: float,
    now: float,
    exclude_channels: Sequence[str],
) -> OutboxItem | None:
    skip = set(exclude_channels)
    channels = [r[0] for r in db.execute(_PENDING_CHANNELS_SQL) if r[0] not in skip]
    heads = [db.execute(_CLAIM_SQL, (c, now, now)).fetchone() for c in channels]
    candidates = [h for h in heads if h is not None]
    if not candidates:
        return None
    row = min(candidates, key=lambda h: (h[12], h[10]))  # due_at, then queued_at
    db.execute(
        "UPDATE messages SET lease = ?, lease_until = ?, due_at = ? WHERE key = ?",
        (lease, now + lease_seconds, now, row[0]),
    )
    replies = db.execute(
        "SELECT id, text FROM replies WHERE key = ? AND sent = 0 ORDER BY id", (row[0],)
    ).fetchall()
    return OutboxItem(
        key=row[0],
        channel=row[1],
        channel_id=row[2],
        ts=row[3],
        version=row[4],
        sent_version=row[5],
        text=row[6],
        blocks_json=row[7],
        metadata_json=row[8],
        replies=tuple((r[0], r[1]) for r in replies),
        attempts=row[9],
        lease=lease,
        first_queued_at=row[10],
        uncertain=row[11] is not None,
    )


def complete(
    db: sqlite3.Connection, item: OutboxItem, *, channel_id: str, ts: str, reply_ids: Sequence[int]
) -> None:
    db.executemany("UPDATE replies SET sent = 1 WHERE id = ?", [(i,) for i in reply_ids])
    db.execute(
        "UPDATE messages SET channel_id = ?, ts = ?, sent_version = MAX(sent_version, ?), "
        "attempts = 0, last_error = NULL, lease = NULL, lease_until = 0 WHERE key = ?",
        (channel_id, ts, item.version, item.key),
    )
    db.execute(
        "UPDATE messages SET pending = (version > sent_version OR EXISTS "
        "(SELECT 1 FROM replies WHERE replies.key = messages.key AND sent = 0)) "
        "WHERE key = ?",
        (item.key,),
    )


def retry_later(
    db: sqlite3.Connection, item: OutboxItem, *, at: float, error: str, lease: str | None
) -> None:
    db.execute(
        "UPDATE messages SET due_at = ?, attempts = attempts + 1, last_error = ?, "
        "lease = ?, lease_until = 0 WHERE key = ? AND lease = ?",
        (at, error[:500], lease, item.key, item.lease),
    )


def renew_lease(db: sqlite3.Connection, item: OutboxItem, *, until: float) -> bool:
    renewed = db.execute(
        "UPDATE messages SET lease_until = ? WHERE key = ? AND lease = ?",
        (until, item.key, item.lease),
    )
    return renewed.rowcount == 1


def reserve_channel(db: sqlite3.Connection, channel: str, *, interval: float, now: float) -> float:
    row = db.execute("SELECT next_at FROM pacing WHERE channel = ?", (channel,)).fetchone()
    at = max(now, float(row[0])) if row else now
    db.execute(
        "INSERT INTO pacing (channel, next_at) VALUES (?, ?) "
        "ON CONFLICT(channel) DO UPDATE SET next_at = excluded.next_at",
        (channel, at + interval),
    )
    return at


def message(db: sqlite3.Connection, key: str) -> MessageRecord | None:
    row = db.execute(
        "SELECT key, channel, channel_id, ts, version, sent_version FROM messages WHERE key = ?",
        (key,),
    ).fetchone()
    return None if row is None else MessageRecord(*row)


def next_due(db: sqlite3.Connection) -> float | None:
    """Earliest time an unclaimed pending item becomes due."""
    row = db.execute(
        "SELECT MIN(MAX(due_at, lease_until)) FROM messages WHERE pending = 1"
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def stats(db: sqlite3.Connection) -> OutboxStats:
    row = db.execute("SELECT COUNT(*), MIN(queued_at) FROM messages WHERE pending = 1").fetchone()
    return OutboxStats(pending=int(row[0]), oldest_queued_at=row[1])
