"""The compare-and-set retry loop, once: read a state, compute its successor, write if unchanged.

Every read-modify-write of a `Store` state goes through `update`. Its give-up behaviour is
the only one: after `attempts` lost races it raises `Contention` (a `StoreError` naming the
key). Callers whose users should see something gentler (a False, a short answer) catch
`Contention` at their edge; any other `StoreError` (the store is down) passes through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from storage.base import MessageUpdate, Store, StoreError, Versioned

ATTEMPTS = 20


class Contention(StoreError):
    """Every attempt to write a key lost the race to another writer."""

    def __init__(self, key: str) -> None:
        super().__init__(f"too much contention on {key}")
        self.key = key


@dataclass(frozen=True)
class Write:
    """The successor of a state: its data, the messages to queue and the dedup keys to mark
    in the same write."""

    data: str
    messages: Sequence[MessageUpdate] = ()
    seen: Sequence[str] = ()  # dedup keys marked with the write (`Store.save`)
    seen_ttl: float = 0.0
    unpark: Sequence[int] = ()  # parked bodies this write folds (`Store.park`)


# `current` is the stored state (None: the key does not exist yet); the answer is the new
# state, or None for "no change" (nothing is written). It may be a coroutine function.
Change = Callable[[Versioned | None], Write | Awaitable[Write | None] | None]


async def update(
    store: Store, key: str, change: Change, *, now: float, attempts: int = ATTEMPTS
) -> Write | None:
    """Apply `change` to `key` until the write wins: the write made, or None if no change.

    `change` runs again on the fresh state after every lost race, so it must not have
    effects of its own beyond deciding. Raises `Contention` after `attempts` lost races.
    """
    for _ in range(attempts):
        current = await store.get_state(key)
        answer = change(current)
        write = answer if answer is None or isinstance(answer, Write) else await answer
        if write is None:
            return None
        if await store.save(
            key=key,
            data=write.data,
            expected_version=current.version if current is not None else 0,
            messages=write.messages,
            now=now,
            seen=write.seen,
            seen_ttl=write.seen_ttl,
            unpark=write.unpark,
        ):
            return write
    raise Contention(key)
