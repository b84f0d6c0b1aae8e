"""The incidents this process saved last, kept decoded.

A growing group is folded again at every notification; decoding its stored form back into an
`Incident` each time was a fixed share of that work. The cache is keyed by the exact stored
text (a hash of it: the text itself would double the memory), so any other writer (an Ack,
another replica) simply misses it: what was read is decoded.
Incidents are frozen values and nothing mutates their parts, so handing one out twice is safe.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from gateway.incidents import Incident, load_incident

DEFAULT_CAPACITY = 128  # groups; a 90-alert incident is about 80 KB decoded


class DecodedIncidents:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, tuple[bytes, Incident]] = OrderedDict()

    def load(self, key: str, data: str) -> Incident:
        """`load_incident(data)`, without decoding when `data` is what was saved here last."""
        entry = self._items.get(key)
        if entry is not None and entry[0] == _digest(data):
            self._items.move_to_end(key)
            return entry[1]
        return load_incident(data)

    def saved(self, key: str, data: str, incident: Incident) -> None:
        self._items[key] = (_digest(data), incident)
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _digest(data: str) -> bytes:
    return hashlib.sha256(data.encode()).digest()
