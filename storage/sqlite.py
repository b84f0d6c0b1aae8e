"""SQLite store: the default for a single replica. One connection, used from a worker thread.

sqlite3 is blocking, so every call runs on the store's own single worker thread (never the
event loop's default executor, which a slow CI provider could fill), one call at a time in
the order made, handed over in batches under load (storage/worker.py). Writes use
`BEGIN IMMEDIATE` so a second process on the same file (a restart overlapping the old one)
cannot interleave a compare-and-set.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from storage.base import (
    UNCERTAIN,
    AuditEntry,
    MessageRecord,
    MessageUpdate,
    OutboxItem,
    OutboxStats,
    StoreError,
    Versioned,
)
from storage.worker import BatchingWorker, WorkerClosed

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    key TEXT PRIMARY KEY, channel TEXT NOT NULL, channel_id TEXT, ts TEXT,
    version INTEGER NOT NULL, sent_version INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL, blocks_json TEXT NOT NULL, metadata_json TEXT,
    pending INTEGER NOT NULL, due_at REAL NOT NULL, queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    lease TEXT, lease_until REAL NOT NULL DEFAULT 0
);
DROP INDEX IF EXISTS messages_due;
CREATE INDEX IF NOT EXISTS messages_channel_due ON messages (pending, channel, due_at, queued_at);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (pending, MAX(due_at, lease_until));
CREATE TABLE IF NOT EXISTS replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, text TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS replies_key ON replies (key, sent);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, model TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
    extra_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_model ON audit (model, id);
CREATE TABLE IF NOT EXISTS pacing (channel TEXT PRIMARY KEY, next_at REAL NOT NULL);
"""

_PURGE_EVERY = 60.0
# How long a write waits for another connection's lock before failing with StoreError. Short,
# so a stuck lock makes a webhook answer 503 (Alertmanager retries) within seconds.
BUSY_TIMEOUT = 1.0

_SEEN_SQL = "SELECT key FROM seen WHERE key IN ({marks}) AND expires_at > ?"

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


def sqlite_path(url: str) -> str:
    """`sqlite:///./x.db` -> `./x.db`, `sqlite:////data/x.db` -> `/data/x.db`."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {url!r}")
    path = url[len(prefix) :]
    if not path:
        raise ValueError("sqlite URL names no file")
    return path


def _make_parent(path: Path) -> None:
    """Create a missing directory for the file only inside the working directory (`./data/`):
    elsewhere a missing directory is more likely a typo or an unmounted volume than a wish."""
    parent = path.parent
    if parent.is_dir():
        return
    if not parent.resolve().is_relative_to(Path.cwd().resolve()):
        raise StoreError(f"sqlite: directory {parent} does not exist")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"sqlite: cannot create {parent} ({e.strerror})") from e


class SqliteStore:
    """Store backed by one SQLite file (WAL mode)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._worker = BatchingWorker("sqlite")
        self._last_purge = 0.0

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        store = cls(sqlite_path(url))
        try:
            await store._run(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        if self._path != ":memory:":
            _make_parent(Path(self._path))
        conn = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await self._worker.run(fn)
        except sqlite3.Error as e:
            raise StoreError(f"sqlite: {e}") from e
        except WorkerClosed as e:
            raise StoreError("sqlite store is closed") from e

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("sqlite store is closed")
        return self._conn

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> Callable[[], T]:
        def run() -> T:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return run

    async def ping(self) -> None:
        await self._run(lambda: self._db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await self._worker.close(last=self._disconnect)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def seen(self, keys: Sequence[str], *, now: float) -> set[str]:
        def op() -> set[str]:
            found: set[str] = set()
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                sql = _SEEN_SQL.format(marks=marks)
                found.update(r[0] for r in self._db.execute(sql, (*chunk, now)).fetchall())
            return found

        return await self._run(op)

    async def mark_seen(self, keys: Sequence[str], *, ttl: float, now: float) -> None:
        purge = now - self._last_purge > _PURGE_EVERY
        if purge:
            self._last_purge = now

        def op(db: sqlite3.Connection) -> None:
            if purge:
                db.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            db.executemany(
                "INSERT INTO seen (key, expires_at) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at",
                [(k, now + ttl) for k in keys],
            )

        await self._run(self._tx(op))

    async def get_state(self, key: str) -> Versioned | None:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT version, data FROM state WHERE key = ?", (key,)
            ).fetchone()
        )
        return None if row is None else Versioned(version=row[0], data=row[1])

    async def save(
        self,
        *,
        key: str,
        data: str,
        expected_version: int,
        messages: Sequence[MessageUpdate] = (),
        now: float,
    ) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT version FROM state WHERE key = ?", (key,)).fetchone()
            if (row[0] if row else 0) != expected_version:
                return False
            db.execute(
                "INSERT INTO state (key, version, data, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET version = excluded.version, "
                "data = excluded.data, updated_at = excluded.updated_at",
                (key, expected_version + 1, data, now),
            )
            for message in messages:
                _queue_message(db, message, now)
            return True

        return await self._run(self._tx(op))

    async def message(self, key: str) -> MessageRecord | None:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT key, channel, channel_id, ts, version, sent_version FROM messages "
                "WHERE key = ?",
                (key,),
            ).fetchone()
        )
        return None if row is None else MessageRecord(*row)

    async def claim(
        self, *, owner: str, lease_seconds: float, now: float, exclude_channels: Sequence[str]
    ) -> OutboxItem | None:
        lease = f"{owner}:{uuid.uuid4().hex}"

        def op(db: sqlite3.Connection) -> OutboxItem | None:
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

        return await self._run(self._tx(op))

    async def complete(
        self, item: OutboxItem, *, channel_id: str, ts: str, reply_ids: Sequence[int]
    ) -> None:
        def op(db: sqlite3.Connection) -> None:
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

        await self._run(self._tx(op))

    async def retry_later(
        self, item: OutboxItem, *, at: float, error: str, uncertain: bool = False
    ) -> None:
        # An expired lease is what makes a claim `uncertain`; UNCERTAIN stands in for one.
        lease = UNCERTAIN if uncertain else None
        await self._run(
            self._tx(
                lambda db: db.execute(
                    "UPDATE messages SET due_at = ?, attempts = attempts + 1, last_error = ?, "
                    "lease = ?, lease_until = 0 WHERE key = ? AND lease = ?",
                    (at, error[:500], lease, item.key, item.lease),
                )
            )
        )

    async def renew_lease(self, item: OutboxItem, *, lease_seconds: float, now: float) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            renewed = db.execute(
                "UPDATE messages SET lease_until = ? WHERE key = ? AND lease = ?",
                (now + lease_seconds, item.key, item.lease),
            )
            return renewed.rowcount == 1

        return await self._run(self._tx(op))

    async def reserve_channel(self, channel: str, *, interval: float, now: float) -> float:
        def op(db: sqlite3.Connection) -> float:
            row = db.execute("SELECT next_at FROM pacing WHERE channel = ?", (channel,)).fetchone()
            at = max(now, float(row[0])) if row else now
            db.execute(
                "INSERT INTO pacing (channel, next_at) VALUES (?, ?) "
                "ON CONFLICT(channel) DO UPDATE SET next_at = excluded.next_at",
                (channel, at + interval),
            )
            return at

        return await self._run(self._tx(op))

    async def next_due(self, *, now: float) -> float | None:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT MIN(MAX(due_at, lease_until)) FROM messages WHERE pending = 1"
            ).fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])

    async def outbox_stats(self) -> OutboxStats:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT COUNT(*), MIN(queued_at) FROM messages WHERE pending = 1"
            ).fetchone()
        )
        return OutboxStats(pending=int(row[0]), oldest_queued_at=row[1])

    async def append_audit(self, entry: AuditEntry) -> None:
        await self._run(
            self._tx(
                lambda db: db.execute(
                    "INSERT INTO audit (at, actor, action, model, outcome, detail, extra_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.at,
                        entry.actor,
                        entry.action,
                        entry.model,
                        entry.outcome,
                        entry.detail,
                        json.dumps(entry.extra, sort_keys=True),
                    ),
                )
            )
        )

    async def recent_audit(self, *, model: str | None, limit: int) -> list[AuditEntry]:
        select = "SELECT at, actor, action, model, outcome, detail, extra_json FROM audit "
        args: tuple[str | int, ...]
        if model:
            sql, args = select + "WHERE model = ? ORDER BY id DESC LIMIT ?", (model, limit)
        else:
            sql, args = select + "ORDER BY id DESC LIMIT ?", (limit,)
        rows = await self._run(lambda: self._db.execute(sql, args).fetchall())
        return [
            AuditEntry(
                at=r[0],
                actor=r[1],
                action=r[2],
                model=r[3],
                outcome=r[4],
                detail=r[5],
                extra=json.loads(r[6]),
            )
            for r in rows
        ]


def _queue_message(db: sqlite3.Connection, message: MessageUpdate, now: float) -> None:
    db.execute(
        "INSERT INTO messages (key, channel, version, sent_version, text, blocks_json, "
        "metadata_json, pending, due_at, queued_at) VALUES (?, ?, 1, 0, ?, ?, ?, 1, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET version = version + 1, text = excluded.text, "
        "blocks_json = excluded.blocks_json, metadata_json = excluded.metadata_json, "
        "due_at = CASE WHEN pending = 1 THEN due_at ELSE excluded.due_at END, "
        "queued_at = CASE WHEN pending = 1 THEN queued_at ELSE excluded.queued_at END, "
        "pending = 1",
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
