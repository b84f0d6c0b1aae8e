"""The incidents this process last wrote, so a fold need not re-parse its own last write.

A group's stored incident is read at every notification (compare-and-set), and parsing the
whole stored JSON back into an `Incident` cost more than the change it was read for. This
keeps, per group, the incident written last with the version and a hash of the exact text it
was stored as; a read that returns that version and text is that incident. Anything else
(another replica wrote, a button click was recorded, the store was replaced) is parsed as
before, so replicas stay correct: the store, not this memory, is the truth.
"""

from __future__ import annotations

from gateway.bounded import BoundedLru
from gateway.incident_model import Incident
from gateway.incidents import load_incident
from storage import Versioned

DEFAULT_CAPACITY = 10_000  # alerts held over all incidents


class KnownIncidents:
    """State key -> (version, hash of the stored text, incident), least recently used first.

    The text's hash (not the text: 50 KB per group of 90 alerts) guards against a store that
    was replaced under the same versions; the version alone catches every other writer.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._held: BoundedLru[tuple[int, int, Incident]] = BoundedLru(
            capacity, lambda held: len(held[2].alerts) + 1
        )
        self.parsed = 0  # stored incidents parsed (not found here): for tests and profiles

    def load(self, key: str, stored: Versioned) -> Incident:
        """The incident `stored` holds: the one written here if it is unchanged, else parsed."""
        held = self._held.get(key)
        if held is not None and held[0] == stored.version and held[1] == hash(stored.data):
            self._held.get(key, touch=True)
            return held[2]
        self.parsed += 1
        return load_incident(stored.data)

    def wrote(self, key: str, version: int, data: str, incident: Incident) -> None:
        """`incident` was saved as `data`, now at `version`."""
        self._held.put(key, (version, hash(data), incident))

    def forget(self, key: str) -> None:
        self._held.forget(key)

    def __len__(self) -> int:
        return len(self._held)
