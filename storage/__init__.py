"""Durable state shared by the gateway and the bot (see storage.base.Store)."""

from storage.base import (
    AuditEntry,
    MessageRecord,
    MessageUpdate,
    OutboxItem,
    OutboxStats,
    Parked,
    Store,
    StoreError,
    Versioned,
)

__all__ = [
    "AuditEntry",
    "MessageRecord",
    "MessageUpdate",
    "OutboxItem",
    "OutboxStats",
    "Parked",
    "Store",
    "StoreError",
    "Versioned",
    "cas",
    "open_store",
    "sqlite",
]


async def open_store(url: str) -> Store:
    """Open the store named by CHATOPS_STORE_URL (`sqlite:///...` or `redis://...`)."""
    if url.startswith("sqlite:///"):
        from storage.sqlite import SqliteStore

        return await SqliteStore.open(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from storage.redis import RedisStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = await RedisStore.open(url)
        return store
    raise ValueError(f"unsupported store URL scheme: {url.split(':', 1)[0]!r}")
