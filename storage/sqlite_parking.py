"""The SQLite store's parked webhook bodies (the `parked` table; see `Store.park`).

Plain functions on a connection, run by `SqliteStore` inside its transactions: `unpark` also
runs inside a winning `save`, so a body is forgotten in the very write that folds it.
AUTOINCREMENT keeps ids increasing even after the newest entries are deleted.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from storage.base import Parked

SCHEMA = """
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, source TEXT NOT NULL,
    body TEXT NOT NULL, at REAL NOT NULL
);
"""


_Row = tuple[str, str, str, float]  # group, source, body, parked at
Transaction = Callable[[Callable[[sqlite3.Connection], list[int]]], Awaitable[list[int]]]


class ParkBatcher:
    """Parks together what is parked together: one transaction (one commit) for every body
    parked while the previous transaction ran, instead of one each. The transactions run in
    a task of their own, so a caller that is cancelled (its client went away) does not leave
    the others of its batch waiting."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._queued: list[tuple[_Row, asyncio.Future[int]]] = []
        self._task: asyncio.Task[None] | None = None

    async def park(self, row: _Row) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((row, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="sqlite-park")
        return await asyncio.shield(future)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _flush(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                ids = await self._transaction(functools.partial(_park_all, [r for r, _ in batch]))
            except Exception as e:  # every caller of the batch gets the store's error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), id_ in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(id_)


def _park_all(rows: list[_Row], db: sqlite3.Connection) -> list[int]:
    return [park(db, *row) for row in rows]


def park(db: sqlite3.Connection, group: str, source: str, body: str, now: float) -> int:
    cursor = db.execute(
        "INSERT INTO parked (grp, source, body, at) VALUES (?, ?, ?, ?)",
        (group, source, body, now),
    )
    if cursor.lastrowid is None:  # pragma: no cover - an INSERT always sets it
        raise sqlite3.OperationalError("no id for the parked body")
    return cursor.lastrowid


def parked(db: sqlite3.Connection, *, before: float, after: int, limit: int) -> list[Parked]:
    """Oldest (lowest id) first; `limit` is positive (the store answers others itself)."""
    found = db.execute(
        "SELECT id, grp, source, body, at FROM parked WHERE at < ? AND id > ? ORDER BY id LIMIT ?",
        (before, after, limit),
    ).fetchall()
    return [Parked(id=r[0], group=r[1], source=r[2], body=r[3], at=r[4]) for r in found]


def unpark(db: sqlite3.Connection, ids: Sequence[int]) -> None:
    db.executemany("DELETE FROM parked WHERE id = ?", [(int(i),) for i in ids])
