"""Redis replies decoded into the store's values (outbox items, audit entries, parked bodies)."""

from __future__ import annotations

import json
from typing import Any

from storage.base import AuditEntry, OutboxItem, Parked


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


# A parked body is kept as a JSON header line, [group, source, at], then the body as received:
# JSON never has a raw newline in it, so the first one ends the header, and a large body is
# neither escaped on the way in nor parsed on the way out.


def parked_record(*, group: str, source: str, at: float, body: str) -> str:
    return json.dumps([group, source, at], ensure_ascii=False) + "\n" + body


def parked(id_: int, record: str) -> Parked:
    header, _, body = record.partition("\n")
    group, source, at = json.loads(header)
    return Parked(id=id_, group=str(group), source=str(source), body=body, at=float(at))


def parked_member(id_: int, at: float) -> str:
    """The entry in the `parked_at` sorted set (scored by id): its id and when it was parked,
    so `parked` picks the old enough ones without reading their bodies."""
    return f"{id_}:{float(at)!r}"


def parked_id_at(member: str) -> tuple[int, float]:
    id_, _, at = member.partition(":")
    return int(id_), float(at)
