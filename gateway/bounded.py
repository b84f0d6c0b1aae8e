"""A least-recently-used map bounded by the total size of its values (alerts, event keys).

The gateway's in-process memories (`repeats.KnownBodies`, `intake.KnownAlerts`,
`known_incidents.KnownIncidents`) each hold one entry per group and must stay bounded however
many groups come: this is their one eviction rule. A value larger than the whole capacity is
not held at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedLru(Generic[V]):
    """Key -> value, oldest evicted first while the sizes add up to more than `capacity`."""

    def __init__(
        self,
        capacity: int,
        size: Callable[[V], int],
        on_evict: Callable[[str, V], None] = lambda key, value: None,
    ) -> None:
        self._capacity = capacity
        self._size_of = size
        self._on_evict = on_evict  # also called for a value replaced or forgotten
        self._items: OrderedDict[str, V] = OrderedDict()
        self.size = 0  # the sum of the held values' sizes

    def get(self, key: str, *, touch: bool = False) -> V | None:
        value = self._items.get(key)
        if value is not None and touch:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        """Hold `value` under `key` (replacing what was there) as the most recent entry."""
        self.forget(key)
        size = self._size_of(value)
        if size > self._capacity:
            return
        self._items[key] = value
        self.size += size
        while self.size > self._capacity:
            self.forget(next(iter(self._items)))

    def forget(self, key: str) -> None:
        value = self._items.pop(key, None)
        if value is not None:
            self.size -= self._size_of(value)
            self._on_evict(key, value)

    def __len__(self) -> int:
        return len(self._items)
