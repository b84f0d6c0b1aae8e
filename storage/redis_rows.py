"""Redis replies decoded into the store's values (outbox items, audit entries)."""

from __future__ import annotations

from typing import Any

from storage.base import AuditEntry, OutboxItem


def text(value: bytes | str) -> str:
    """Replies are decoded (decode_responses=True); redis-py's types also allow bytes."""
    return value.decode() if isinstance(value, bytes) else value


def pairs(flat: list[str]) -> dict[str, str]:
    """A Lua HGETALL reply (k1, v1, k2, v2, ...) as a dict."""
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def outbox_item(key: str, row: dict[str, str], replies: dict[str, str], lease: str) -> OutboxItem:
    meta = row.get("metadata_json")
    return OutboxItem(
        key=key,
        channel=row["channel"],
        channel_id=row.get("channel_id"),
        ts=row.get("ts"),
        version=int(row["version"]),
        sent_version=int(row["sent_version"]),
        text=row["text"],
        blocks_json=row["blocks_json"],
        metadata_json=meta,
        replies=tuple(sorted((int(i), text) for i, text in replies.items())),
        attempts=int(row["attempts"]),
        lease=lease,
        first_queued_at=float(row["queued_at"]),
    )


def audit_entry(raw: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        at=float(raw["at"]),
        actor=str(raw["actor"]),
        action=str(raw["action"]),
        model=str(raw["model"]),
        outcome=str(raw["outcome"]),
        detail=str(raw["detail"]),
        extra={str(k): str(v) for k, v in raw["extra"].items()},
    )
