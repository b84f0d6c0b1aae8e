"""Alertmanager's re-sends recognised before full validation.

Alertmanager repeats a group's whole body every `repeat_interval` (and each HA peer sends its
own copy); most webhooks are such repeats, and fully validating 90 alerts to learn that nothing
changed was most of their cost. Two cheaper looks come first:

- a body identical to a folded one but for its alerts' annotations (a byte-identical re-send,
  or one whose templated `$value` changed): a hash (SHA-256) of its shape, the body with each
  alert's annotations emptied (`shape`), maps to the event keys the last body of its group had
  once it was folded (one body per group, at most `capacity` keys in all). The annotations
  left out of the shape are still type-checked: each a JSON object of strings, in UTF-8;
- any other body: `gateway.intake` reads it, validating only the alerts that are not repeats
  of the group's last body (an alert whose only change is its annotations, a templated
  `$value`, needs no model built: its annotations are type-checked with the rest).

Either way the body is answered `duplicate` only when every event key is still remembered by
`RecentEvents` (so, saved in the store): what a full validation would have concluded too. Every
field of a body whose shape is not that of a folded one is type-checked, so a bad field in an
otherwise known re-send is answered 400 naming it, as without these looks; so is a bad
annotation, which makes `shape` give up. (`plain_keys`,
the slim parse of the event keys alone, remains for callers without an intake.)
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from gateway.alertmanager import _MAX_ALERTS, _checked, alert_key
from gateway.bounded import BoundedLru
from gateway.dedup import event_key, occurrence_prefix
from gateway.intake import Intake

DEFAULT_CAPACITY = 50_000  # event keys held for the body hashes, over all groups
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


@dataclass(frozen=True)
class Screened:
    """What the cheap looks found: the body's hash (None when no known body has its length),
    and its event keys if they could be read without full validation (None: only full
    validation can tell)."""

    body: bytes
    digest: bytes | None
    keys: tuple[str, ...] | None
    intake: Intake | None = field(default=None, compare=False)  # the body, validated
    shaped: bytes | None = field(default=None, compare=False)  # `shape(body)`, once computed
    other_sender: bool = field(default=False, compare=False)  # `other` recognised it

    @property
    def shape(self) -> bytes:
        return self.shaped if self.shaped is not None else shape(self.body)

    def body_digest(self) -> bytes:
        return self.digest if self.digest is not None else body_digest(self.body)


def body_digest(body: bytes) -> bytes:
    # SHA-256 (truncated): twice as fast as blake2b where the CPU has SHA instructions
    return hashlib.sha256(body).digest()[:16]


_ANNOTATIONS = b'"annotations":'
_NOTES: TypeAdapter[list[dict[str, str]]] = TypeAdapter(list[dict[str, str]])
_EMPTIED = _ANNOTATIONS + b"{}"


def shape(body: bytes) -> bytes:
    """The body with each alert's annotations emptied, if every one of them is a JSON object
    of strings (in UTF-8, no escaped surrogate): a body that differs from a validated one only
    there is as valid as it. Otherwise the body itself, so only an identical one matches it.

    `"annotations":` cannot occur inside a JSON string (its quotes would be escaped), so each
    split starts an object; one holding a `}` in a string is cut short, fails the check, and
    the body is kept whole. The objects are checked in one typed parse (pydantic-core: JSON
    objects of strings, valid UTF-8, no lone surrogate), as the full validation would.
    """
    parts = body.split(_ANNOTATIONS)
    if len(parts) == 1:
        return body
    kept, objects = [parts[0]], []
    for part in parts[1:]:
        start = len(part) - len(part.lstrip())  # json.dumps writes `": {`, Go `":{`
        end = part.find(b"}", start) + 1
        if not end or part[start : start + 1] != b"{":
            return body
        objects.append(part[start:end])
        kept.append(part[end:])
    try:
        _NOTES.validate_json(b"[%s]" % b",".join(objects))
    except ValueError:  # not JSON, not UTF-8, or not objects of strings
        return body
    return _EMPTIED.join(kept)


def screen(
    body: bytes,
    bodies: KnownBodies,
    read: Callable[[bytes], Intake] | None = None,
    other: Callable[[bytes], bool] | None = None,
) -> Screened:
    """The body's hash, and its event keys: from a known identical body (or one identical but
    for annotations), else from `read` (`gateway.intake.read`: the body validated, raising
    BadPayload) or a plain parse. A body that is not a known one and that `other` recognises
    (another sender's shape, posted to this route) comes back unread, `other_sender` set.

    Pure CPU work (`bodies` is only read), so a large body can be screened in a worker thread.
    """
    digest = body_digest(body) if bodies.has_length(len(body)) else None
    known = bodies.keys_of(digest) if digest is not None else None
    if known is not None:  # byte-identical to a folded body
        return Screened(body, digest, known)
    shaped = shape(body)
    if shaped is not body and bodies.has_length(len(shaped)):
        known = bodies.keys_of(body_digest(shaped))
        if known is not None:  # the same but for annotations
            return Screened(body, digest, known, shaped=shaped)
    if other is not None and other(body):
        return Screened(body, digest, None, shaped=shaped, other_sender=True)
    if read is None:
        return Screened(body, digest, plain_keys(body), shaped=shaped)
    intake = read(body)
    return Screened(body, digest, intake.keys, intake, shaped=shaped)


class _PlainAlert(TypedDict):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    startsAt: str
    fingerprint: NotRequired[str]


class _PlainBody(TypedDict):
    version: NotRequired[Literal["4"]]
    groupKey: Annotated[str, Field(min_length=1, max_length=10_000)]
    status: Literal["firing", "resolved"]
    alerts: Annotated[list[_PlainAlert], Field(min_length=1, max_length=_MAX_ALERTS)]


# Only the fields the event keys are made of: the rest of the body is skipped in Rust.
_PLAIN: TypeAdapter[_PlainBody] = TypeAdapter(_PlainBody)


def plain_keys(body: bytes) -> tuple[str, ...] | None:
    """The event keys (`gateway.dedup.occurrence`) of an Alertmanager body, read from the few
    fields they are made of; None when the body is not plainly a valid one."""
    try:
        doc = _PLAIN.validate_json(body)
    except ValueError:
        return None
    prefix = occurrence_prefix(doc["groupKey"])
    keys = []
    for alert in doc["alerts"]:
        starts_at = _starts_at(alert["startsAt"])
        if starts_at is None:
            return None
        fingerprint, labels = alert.get("fingerprint", ""), alert["labels"]
        if not fingerprint:  # other senders: derived from the labels, as `Alert` does
            fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
        keys.append(event_key(prefix, alert_key(fingerprint, labels), starts_at, alert["status"]))
    return tuple(keys)


@functools.lru_cache(maxsize=4096)  # alerts keep their startsAt across re-sends
def _starts_at(text: str) -> datetime | None:
    """startsAt as the full parse reads it (pydantic-core's own parser, then `_checked`)."""
    try:
        return _checked(_DATETIME.validate_python(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class _Body:
    """A group's last folded body: its hashes (the body's, its shape's), keys and lengths."""

    digests: tuple[bytes, ...]
    keys: tuple[str, ...]
    lengths: tuple[int, ...]


class KnownBodies:
    """Body hashes -> the event keys of that body, for the last folded body of each group: the
    hash of the body itself and, when it has annotations, that of its shape."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._bodies: BoundedLru[_Body] = BoundedLru(
            capacity, lambda body: len(body.keys), on_evict=self._unindex
        )
        self._groups: dict[bytes, str] = {}
        self._lengths: Counter[int] = Counter()  # a body of another length is not hashed

    def has_length(self, length: int) -> bool:
        """Whether a remembered body (or shape) has this length (else no need to hash one)."""
        return length in self._lengths

    def keys_of(self, digest: bytes) -> tuple[str, ...] | None:
        group = self._groups.get(digest)
        entry = self._bodies.get(group) if group is not None else None
        return entry.keys if entry is not None else None

    def remember(self, group_key: str, screened: Screened, keys: Sequence[str]) -> None:
        """The screened body, of this group, was folded (or found already folded)."""
        forms = [screened.body]
        shaped = screened.shape
        if shaped is not screened.body:
            forms.append(shaped)
        digests = (screened.body_digest(), *(body_digest(f) for f in forms[1:]))
        body = _Body(digests, tuple(keys), tuple(len(f) for f in forms))
        self._bodies.put(group_key, body)
        if self._bodies.get(group_key) is body:  # held (not larger than the capacity)
            self._lengths.update(body.lengths)
            self._groups.update(dict.fromkeys(digests, group_key))

    def _unindex(self, group_key: str, body: _Body) -> None:
        self._lengths.subtract(body.lengths)
        for length in body.lengths:
            if self._lengths[length] <= 0:
                del self._lengths[length]
        for digest in body.digests:
            if self._groups.get(digest) == group_key:
                del self._groups[digest]

    def __len__(self) -> int:
        return len(self._bodies)
