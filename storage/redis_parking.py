"""The Redis store's parked webhook bodies (see `Store.park`), under the store's prefix:

- `parked_seq`  the last id given (INCR), so ids increase across every replica
- `parked`      hash: id -> record (`redis_rows.parked_record`: a small header, then the body)
- `parked_at`   sorted set scored by id, members `<id>:<parked at>`, so `parked` picks the old
                enough entries oldest first without reading any body

A body and its `parked_at` entry are written and removed together (MULTI). `RedisStore` turns
Redis errors into StoreError around these calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from storage import redis_rows as rows
from storage.base import Parked

SCAN = 500  # `parked_at` members read per round trip while looking for old enough entries


class RedisParking:
    def __init__(self, client: Redis, prefix: str) -> None:
        self._r = client
        self._seq = f"{prefix}parked_seq"
        self._records = f"{prefix}parked"
        self._order = f"{prefix}parked_at"

    async def park(self, *, group: str, source: str, body: str, now: float) -> int:
        record = rows.parked_record(group=group, source=source, at=now, body=body)
        id_ = int(await self._r.incr(self._seq))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._records, str(id_), record)
            pipe.zadd(self._order, {rows.parked_member(id_, now): id_})
            await pipe.execute()
        return id_

    async def parked(self, *, before: float, after: int, limit: int) -> list[Parked]:
        ids = await self._old_enough(before=before, after=after, limit=limit)
        if not ids:
            return []
        records = await self._r.hmget(self._records, [str(i) for i in ids])
        # An id unparked since it was picked has no record any more: it is left out.
        return [
            rows.parked(i, rows.text(r)) for i, r in zip(ids, records, strict=True) if r is not None
        ]

    async def _old_enough(self, *, before: float, after: int, limit: int) -> list[int]:
        """Up to `limit` ids over `after` parked before `before`, lowest first, from
        `parked_at` alone."""
        ids: list[int] = []
        low = f"({after}"
        while len(ids) < limit:
            page = await self._r.zrangebyscore(self._order, low, "+inf", start=0, num=SCAN)
            # Without withscores every member is a string (redis-py's type allows pairs too).
            found = [rows.parked_id_at(rows.text(m)) for m in page if isinstance(m, str | bytes)]
            ids += [i for i, at in found if at < before][: limit - len(ids)]
            if len(page) < SCAN:
                break
            low = f"({found[-1][0]}"
        return ids

    async def unpark(self, ids: Sequence[int]) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(self._records, *(str(i) for i in ids))
            for i in ids:
                pipe.zremrangebyscore(self._order, i, i)
            await pipe.execute()
