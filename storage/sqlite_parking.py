"""The SQLite store's parked webhook bodies (the `parked` table; see `Store.park`).

Plain functions on a connection, run by `SqliteStore` inside its transactions: `unpark` also
runs inside a winning `save`, so a body is forgotten in the very write that folds it.
AUTOINCREMENT keeps ids increasing even after the newest entries are deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage.base import Parked

SCHEMA = """
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, source TEXT NOT NULL,
    body TEXT NOT NULL, at REAL NOT NULL
);
"""


def park(db: sqlite3.Connection, *, group: str, source: str, body: str, now: float) -> int:
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
