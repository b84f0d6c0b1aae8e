"""Redis store: for several replicas sharing one Redis. Same semantics as storage.sqlite.

Every multi-key step (compare-and-set plus queueing, claim, complete, retry) is one Lua
script, so it is atomic on the server and two replicas can never interleave inside it.

Key layout under a configurable prefix (default `chatops:`; `?prefix=...` in the URL), so
several installs can share one Redis:

- `seen:<key>`      deadline (epoch seconds) with a PX expiry, so old keys vanish by themselves
- `state:<key>`     hash: version, data, updated_at
- `msg:<key>`       hash: one living Slack message (the `messages` row of the SQLite store)
- `replies:<key>`   hash: unsent thread replies, id -> text; ids come from `reply_seq` (INCR)
- `due`             sorted set of pending message keys, scored max(due_at, lease_until)
- `queued`          sorted set of pending message keys, scored queued_at
- `audit:all`, `audit:model:<model>`  capped lists of JSON entries, newest first
- `pace:<channel>`  when the channel's next send slot starts (shared per-channel pacing)
- `parked`, `parked_at`, `parked_seq`  parked webhook bodies (see storage.redis_parking)

Scoring `due` by max(due_at, lease_until) makes `next_due` exact (the lowest score) and keeps
leased items behind the ones that can be claimed. Claim order is that score, then key, where
SQLite orders by due_at, then queued_at; the two differ only for items whose lease expired.
Claim looks at no more than CLAIM_SCAN due entries, so if more than that many due items all
belong to excluded channels, it returns None until those channels are free again.
The scripts touch keys derived from the prefix that they are not passed, and the client is
not cluster-aware, so this needs one Redis (a primary, with replicas or Sentinel if wanted);
Redis Cluster is not supported.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from storage import redis_rows as rows
from storage import redis_scripts as scripts
from storage.base import (
    AuditEntry,
    MessageRecord,
    MessageUpdate,
    OutboxItem,
    OutboxStats,
    Parked,
    StoreError,
    Versioned,
)
from storage.redis_parking import RedisParking

DEFAULT_PREFIX = "chatops:"
SOCKET_TIMEOUT = 2.0
AUDIT_CAP = 10_000
CLAIM_SCAN = 200


def split_prefix(url: str) -> tuple[str, str]:
    """`redis://h/0?prefix=a:` -> (`redis://h/0`, `a:`); the default prefix when absent.

    `prefix` is ours, not redis-py's, so it is taken out before the URL reaches redis-py.
    """
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    prefixes = [v for k, v in pairs if k == "prefix"]
    if not prefixes:
        return url, DEFAULT_PREFIX
    rest = urlencode([(k, v) for k, v in pairs if k != "prefix"])
    return (f"{base}?{rest}" if rest else base), prefixes[-1]


@contextmanager
def _translated() -> Iterator[None]:
    """Turn any Redis or socket failure into StoreError (readiness fails, webhooks get 503)."""
    try:
        yield
    except (RedisError, OSError) as e:
        raise StoreError(f"redis: {e}") from e


def _num(value: float) -> str:
    """A float as Redis and Lua read it back exactly (shortest round-trip repr)."""
    return repr(float(value))


class RedisStore:
    """Store backed by one Redis, safe for any number of replicas."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self._p = prefix
        self._save = client.register_script(scripts.SAVE_LUA)
        self._claim = client.register_script(scripts.CLAIM_LUA)
        self._complete = client.register_script(scripts.COMPLETE_LUA)
        self._retry = client.register_script(scripts.RETRY_LUA)
        self._renew = client.register_script(scripts.RENEW_LUA)
        self._reserve = client.register_script(scripts.RESERVE_LUA)
        self._parking = RedisParking(client, prefix)

    @classmethod
    async def open(cls, url: str, *, prefix: str | None = None) -> RedisStore:
        """Build the client; no I/O here, so a Redis that is down shows up in ping/readyz.

        Timeouts are short so a dead Redis fails fast; one immediate retry on a connection
        error replaces a pooled connection the server closed (e.g. after a Redis restart).
        """
        clean_url, url_prefix = split_prefix(url)
        client = Redis.from_url(
            clean_url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client, prefix=url_prefix if prefix is None else prefix)

    def _key(self, kind: str, name: str | None = None) -> str:
        return f"{self._p}{kind}" if name is None else f"{self._p}{kind}:{name}"

    async def ping(self) -> None:
        with _translated():
            await self._r.ping()

    async def close(self) -> None:
        with _translated():
            await self._r.aclose()

    async def seen(self, keys: Sequence[str], *, now: float) -> set[str]:
        if not keys:
            return set()
        with _translated():
            deadlines = await self._r.mget([self._key("seen", k) for k in keys])
        return {k for k, d in zip(keys, deadlines, strict=True) if d is not None and float(d) > now}

    async def mark_seen(self, keys: Sequence[str], *, ttl: float, now: float) -> None:
        """Store each key's deadline; the PX expiry (server clock) removes it afterwards."""
        if not keys:
            return
        px = max(1, math.ceil(ttl * 1000))
        with _translated():
            async with self._r.pipeline(transaction=False) as pipe:
                for k in keys:
                    pipe.set(self._key("seen", k), _num(now + ttl), px=px)
                await pipe.execute()

    async def get_state(self, key: str) -> Versioned | None:
        with _translated():
            version, data = await self._r.hmget(self._key("state", key), ["version", "data"])
        if version is None or data is None:
            return None
        return Versioned(version=int(version), data=rows.text(data))

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
        """The compare-and-set script; `seen` is marked and `unpark` forgotten right after a
        write that won (more round trips: a crash in between costs a later lookup or a body
        folded again, never a message)."""
        keys = [self._key("state", key), self._key("due"), self._key("queued")]
        keys.append(self._key("reply_seq"))
        args: list[str | int] = [expected_version, data, _num(now)]
        for m in messages:
            keys += [self._key("msg", m.key), self._key("replies", m.key)]
            meta = "" if m.metadata_json is None else "=" + m.metadata_json
            args += [m.key, m.channel, m.text, m.blocks_json, meta, m.reply or ""]
        with _translated():
            saved = await self._save(keys=keys, args=args)
        if saved and seen:
            await self.mark_seen(seen, ttl=seen_ttl, now=now)
        if saved and unpark:
            await self.unpark(unpark)
        return bool(saved)

    async def park(self, *, group: str, source: str, body: str, now: float) -> int:
        with _translated():
            return await self._parking.park(group=group, source=source, body=body, now=now)

    async def parked(self, *, before: float, after: int = 0, limit: int) -> list[Parked]:
        with _translated():
            return await self._parking.parked(before=before, after=after, limit=limit)

    async def unpark(self, ids: Sequence[int]) -> None:
        if ids:
            with _translated():
                await self._parking.unpark(ids)

    async def message(self, key: str) -> MessageRecord | None:
        fields = ["channel", "channel_id", "ts", "version", "sent_version"]
        with _translated():
            channel, channel_id, ts, version, sent = await self._r.hmget(
                self._key("msg", key), fields
            )
        if channel is None or version is None or sent is None:
            return None
        return MessageRecord(
            key=key,
            channel=rows.text(channel),
            channel_id=None if channel_id is None else rows.text(channel_id),
            ts=None if ts is None else rows.text(ts),
            version=int(version),
            sent_version=int(sent),
        )

    async def claim(
        self, *, owner: str, lease_seconds: float, now: float, exclude_channels: Sequence[str]
    ) -> OutboxItem | None:
        """Lease the lowest-scored claimable item among the first CLAIM_SCAN due entries."""
        lease = f"{owner}:{uuid.uuid4().hex}"
        args: list[str | int] = [_num(now), lease, _num(now + lease_seconds), self._p, CLAIM_SCAN]
        with _translated():
            row = await self._claim(keys=[self._key("due")], args=[*args, *exclude_channels])
        if not row:
            return None
        item = rows.outbox_item(row[0], rows.pairs(row[1]), rows.pairs(row[2]), lease)
        return replace(item, uncertain=bool(row[3]))

    async def complete(
        self, item: OutboxItem, *, channel_id: str, ts: str, reply_ids: Sequence[int]
    ) -> None:
        keys = [self._key("msg", item.key), self._key("replies", item.key)]
        keys += [self._key("due"), self._key("queued")]
        args: list[str | int] = [item.key, channel_id, ts, item.version, *reply_ids]
        with _translated():
            await self._complete(keys=keys, args=args)

    async def retry_later(
        self, item: OutboxItem, *, at: float, error: str, uncertain: bool = False
    ) -> None:
        keys = [self._key("msg", item.key), self._key("due")]
        args = [item.key, item.lease, _num(at), error[:500], "1" if uncertain else "0"]
        with _translated():
            await self._retry(keys=keys, args=args)

    async def renew_lease(self, item: OutboxItem, *, lease_seconds: float, now: float) -> bool:
        keys = [self._key("msg", item.key), self._key("due")]
        with _translated():
            renewed = await self._renew(
                keys=keys, args=[item.key, item.lease, _num(now + lease_seconds)]
            )
        return bool(renewed)

    async def reserve_channel(self, channel: str, *, interval: float, now: float) -> float:
        with _translated():
            at = await self._reserve(
                keys=[self._key("pace", channel)], args=[_num(now), _num(interval)]
            )
        return max(now, float(at))  # the script rounds to microseconds

    async def next_due(self, *, now: float) -> float | None:
        with _translated():
            first = await self._r.zrange(self._key("due"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def outbox_stats(self) -> OutboxStats:
        with _translated():
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.zcard(self._key("queued"))
                pipe.zrange(self._key("queued"), 0, 0, withscores=True)
                count, oldest = await pipe.execute()
        return OutboxStats(
            pending=int(count), oldest_queued_at=float(oldest[0][1]) if oldest else None
        )

    async def append_audit(self, entry: AuditEntry) -> None:
        body = json.dumps(
            {
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "model": entry.model,
                "outcome": entry.outcome,
                "detail": entry.detail,
                "extra": entry.extra,
            },
            sort_keys=True,
        )
        with _translated():
            async with self._r.pipeline(transaction=True) as pipe:
                for name in (self._key("audit", "all"), self._key("audit:model", entry.model)):
                    pipe.lpush(name, body)
                    pipe.ltrim(name, 0, AUDIT_CAP - 1)
                await pipe.execute()

    async def recent_audit(self, *, model: str | None, limit: int) -> list[AuditEntry]:
        """Newest first; like SQLite's LIMIT, a negative limit means no limit."""
        if limit == 0:
            return []
        name = self._key("audit:model", model) if model else self._key("audit", "all")
        with _translated():
            found = await self._r.lrange(name, 0, limit - 1 if limit > 0 else -1)
        return [rows.audit_entry(json.loads(r)) for r in found]
