"""SQLite store: the default for a single replica. One connection, used from a worker thread.

sqlite3 is blocking, so every call runs on the store's own single worker thread (never the
event loop's default executor, which a slow CI provider could fill), one call at a time in
the order made, handed over in batches under load (storage/worker.py). Writes use
`BEGIN IMMEDIATE` so a second process on the same file (a restart overlapping the old one)
cannot interleave a compare-and-set. This module holds the connection, the schema and the
dedup and state tables; the outbox (`storage.sqlite_outbox`), the audit log
(`storage.sqlite_audit`) and parked bodies (`storage.sqlite_parking`) are functions run
inside its transactions.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self, TypeVar

from storage import sqlite_audit as audit
from storage import sqlite_outbox as outbox
from storage import sqlite_parking as parking
from storage.base import (
    UNCERTAIN,
    AuditEntry,
    MessageRecord,
    MessageUpdate,
    OutboxItem,
    OutboxStats,
    Parked,
    StoreError,
    Versioned,
)
from storage.sqlite_file import make_parent
from storage.sqlite_file import sqlite_path as sqlite_path  # where it always was
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


class SqliteStore:
    """Store backed by one SQLite file (WAL mode)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._worker = BatchingWorker("sqlite")
        self._last_purge = 0.0
        self._parks = parking.ParkBatcher(lambda fn: self._run(self._tx(fn)))

    @classmethod
    async def open(cls, url: str) -> Self:
        store = cls(sqlite_path(url))
        try:
            await store._run(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        if self._path != ":memory:":
            make_parent(Path(self._path))
        conn = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA + parking.SCHEMA)
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
        await self._parks.close()
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
        mark = self._marking(keys, ttl=ttl, now=now)
        await self._run(self._tx(mark))

    def _marking(
        self, keys: Sequence[str], *, ttl: float, now: float
    ) -> Callable[[sqlite3.Connection], None]:
        """The statements of `mark_seen`, to run in a transaction (purging now and then)."""
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

        return op

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
        seen: Sequence[str] = (),
        seen_ttl: float = 0.0,
        unpark: Sequence[int] = (),
    ) -> bool:
        mark = self._marking(seen, ttl=seen_ttl, now=now) if seen else None

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
                outbox.queue(db, message, now)
            if mark is not None:
                mark(db)
            if unpark:
                parking.unpark(db, unpark)
            return True

        return await self._run(self._tx(op))

    async def park(self, *, group: str, source: str, body: str, now: float) -> int:
        return await self._parks.park((group, source, body, now))

    async def parked(self, *, before: float, after: int = 0, limit: int) -> list[Parked]:
        if limit <= 0:
            return []
        return await self._run(
            lambda: parking.parked(self._db, before=before, after=after, limit=limit)
        )

    async def unpark(self, ids: Sequence[int]) -> None:
        if ids:
            await self._run(self._tx(lambda db: parking.unpark(db, ids)))

    async def message(self, key: str) -> MessageRecord | None:
        return await self._run(lambda: outbox.message(self._db, key))

    async def claim(
        self, *, owner: str, lease_seconds: float, now: float, exclude_channels: Sequence[str]
    ) -> OutboxItem | None:
        lease = f"{owner}:{uuid.uuid4().hex}"
        return await self._run(
            self._tx(
                lambda db: outbox.claim(
                    db,
                    lease=lease,
                    lease_seconds=lease_seconds,
                    now=now,
                    exclude_channels=exclude_channels,
                )
            )
        )

    async def complete(
        self, item: OutboxItem, *, channel_id: str, ts: str, reply_ids: Sequence[int]
    ) -> None:
        await self._run(
            self._tx(
                lambda db: outbox.complete(
                    db, item, channel_id=channel_id, ts=ts, reply_ids=reply_ids
                )
            )
        )

    async def retry_later(
        self, item: OutboxItem, *, at: float, error: str, uncertain: bool = False
    ) -> None:
        # An expired lease is what makes a claim `uncertain`; UNCERTAIN stands in for one.
        lease = UNCERTAIN if uncertain else None
        await self._run(
            self._tx(lambda db: outbox.retry_later(db, item, at=at, error=error, lease=lease))
        )

    async def renew_lease(self, item: OutboxItem, *, lease_seconds: float, now: float) -> bool:
        until = now + lease_seconds
        return await self._run(self._tx(lambda db: outbox.renew_lease(db, item, until=until)))

    async def reserve_channel(self, channel: str, *, interval: float, now: float) -> float:
        return await self._run(
            self._tx(lambda db: outbox.reserve_channel(db, channel, interval=interval, now=now))
        )

    async def next_due(self, *, now: float) -> float | None:
        return await self._run(lambda: outbox.next_due(self._db))

    async def outbox_stats(self) -> OutboxStats:
        return await self._run(lambda: outbox.stats(self._db))

    async def append_audit(self, entry: AuditEntry) -> None:
        await self._run(self._tx(lambda db: audit.append(db, entry)))

    async def recent_audit(self, *, model: str | None, limit: int) -> list[AuditEntry]:
        return await self._run(lambda: audit.recent(self._db, model=model, limit=limit))
