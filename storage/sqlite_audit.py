"""The SQLite store's audit log: append an entry, read the newest ones (the `audit` table)."""

from __future__ import annotations

import json
import sqlite3

from storage.base import AuditEntry

_SELECT = "SELECT at, actor, action, model, outcome, detail, extra_json FROM audit "


def append(db: sqlite3.Connection, entry: AuditEntry) -> None:
    db.execute(
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


def recent(db: sqlite3.Connection, *, model: str | None, limit: int) -> list[AuditEntry]:
    """Newest first; a negative limit means no limit (SQLite's LIMIT)."""
    args: tuple[str | int, ...]
    if model:
        sql, args = _SELECT + "WHERE model = ? ORDER BY id DESC LIMIT ?", (model, limit)
    else:
        sql, args = _SELECT + "ORDER BY id DESC LIMIT ?", (limit,)
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
        for r in db.execute(sql, args).fetchall()
    ]
