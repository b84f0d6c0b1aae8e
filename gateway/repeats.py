"""Alertmanager's re-sends recognised before full validation.

Alertmanager repeats a group's whole body every `repeat_interval` (and each HA peer sends its
own copy); most webhooks are such repeats, and fully validating 90 alerts to learn that nothing
changed was most of their cost. Two cheaper looks come first:

- a byte-identical body: a hash of the body (blake2b) maps to the event keys the last body of
  its group had once it was folded (one body per group, at most `capacity` keys in all);
- a body whose annotations changed (`$value`): a plain JSON parse reads only what the event
  keys are made of (groupKey; per alert fingerprint, labels, startsAt, status).

Either way the body is answered `duplicate` only when every event key is still remembered by
`RecentEvents` (so, saved in the store): what a full validation would have concluded too.

Trade-off: the plain parse checks only the fields the keys use (and the version and the group
status), so a repeat of known events whose *other* fields are malformed (an annotation that is
a number) is answered `duplicate` instead of 400. Nothing of it would be folded either way; any
body that is not a pure repeat goes through full validation and gets its 400 naming the fields.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json

from gateway.alertmanager import _MAX_ALERTS, _checked, alert_key
from gateway.incidents import group_id

DEFAULT_CAPACITY = 50_000  # event keys held for the body hashes, over all groups
_STATUSES = frozenset(("firing", "resolved"))
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


@dataclass(frozen=True)
class Screened:
    """What the cheap looks found: the body's hash, and its event keys if they could be read
    without full validation (None: only full validation can tell)."""

    digest: bytes
    keys: tuple[str, ...] | None


def body_digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def screen(body: bytes, bodies: KnownBodies) -> Screened:
    """The body's hash, and its event keys: from a known identical body, else a plain parse.

    Pure CPU work (`bodies` is only read), so a large body can be screened in a worker thread.
    """
    digest = body_digest(body)
    known = bodies.keys_of(digest)
    return Screened(digest, known if known is not None else plain_keys(body))


def plain_keys(body: bytes) -> tuple[str, ...] | None:
    """The event keys (`gateway.dedup.occurrence`) of an Alertmanager body, from `json.loads`
    and the few fields they are made of; None when the body is not plainly a valid one."""
    try:
        doc = from_json(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("version", "4") != "4":
        return None
    group, alerts = doc.get("groupKey"), doc.get("alerts")
    if not isinstance(group, str) or not 0 < len(group) <= 10_000:
        return None
    if doc.get("status") not in _STATUSES or not isinstance(alerts, list):
        return None
    if not 0 < len(alerts) <= _MAX_ALERTS:
        return None
    prefix = f"am:{group_id(group)}:"
    keys = []
    for alert in alerts:
        key = _alert_event(alert)
        if key is None:
            return None
        keys.append(prefix + key)
    return tuple(keys)


def _alert_event(alert: Any) -> str | None:
    """`<alert key>:<startsAt>:<status>` of one alert, or None if it is not plainly valid."""
    if not isinstance(alert, dict):
        return None
    status, labels, stamp = alert.get("status"), alert.get("labels"), alert.get("startsAt")
    fingerprint = alert.get("fingerprint", "")
    if status not in _STATUSES or not isinstance(labels, dict) or not isinstance(stamp, str):
        return None
    if not isinstance(fingerprint, str):
        return None
    try:
        key = _key(fingerprint, tuple(labels.items()))
    except TypeError:  # a label value that is a list or an object
        return None
    stamp = _stamp(stamp)
    if key is None or stamp is None:
        return None
    return f"{key}:{stamp}:{status}"


@functools.lru_cache(maxsize=8192)  # an alert keeps its labels across re-sends: hashed once
def _key(fingerprint: str, labels: tuple[tuple[str, object], ...]) -> str | None:
    """`alert_key` as the full parse makes it (a missing fingerprint derived as `Alert` does);
    None when a label value is not a string."""
    if not all(isinstance(value, str) for _, value in labels):
        return None
    items = dict(labels)
    if not fingerprint:
        fingerprint = hashlib.sha256(repr(sorted(items.items())).encode()).hexdigest()[:16]
    return alert_key(fingerprint, items)  # type: ignore[arg-type]  # values checked above


@functools.lru_cache(maxsize=4096)  # the alerts of a group keep their startsAt across re-sends
def _stamp(text: str) -> str | None:
    """startsAt as the full parse keys it (pydantic-core's own parser, then `_checked`)."""
    try:
        parsed = _checked(_DATETIME.validate_python(text))
    except ValueError:
        return None
    return parsed.isoformat() if parsed is not None else None


class KnownBodies:
    """Body hash -> the event keys of that body, for the last folded body of each group."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._bodies: OrderedDict[str, tuple[bytes, tuple[str, ...]]] = OrderedDict()
        self._groups: dict[bytes, str] = {}
        self._size = 0

    def keys_of(self, digest: bytes) -> tuple[str, ...] | None:
        group = self._groups.get(digest)
        entry = self._bodies.get(group) if group is not None else None
        return entry[1] if entry is not None else None

    def remember(self, group_key: str, digest: bytes, keys: Sequence[str]) -> None:
        """The body with this hash, of this group, was folded (or found already folded)."""
        if len(keys) > self._capacity:
            return
        self._forget(group_key)
        self._bodies[group_key] = (digest, tuple(keys))
        self._groups[digest] = group_key
        self._size += len(keys)
        while self._size > self._capacity:
            self._forget(next(iter(self._bodies)))

    def _forget(self, group_key: str) -> None:
        entry = self._bodies.pop(group_key, None)
        if entry is not None:
            self._size -= len(entry[1])
            if self._groups.get(entry[0]) == group_key:
                del self._groups[entry[0]]

    def __len__(self) -> int:
        return len(self._bodies)
