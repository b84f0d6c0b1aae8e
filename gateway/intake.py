"""Alertmanager bodies validated in proportion to what changed since the group's last body.

Every notification carries the whole group, so most of a body's alerts are ones the group's
previous body already had. `KnownAlerts` remembers, per group, each alert of the last body folded
here: its JSON object as received, the validated `Alert` and its event key. A new body is read
with a typed parse (pydantic-core, in Rust: every field the service reads is type-checked, no
model is built); an alert equal to a remembered one but for its annotations (a templated
`$value`) reuses that `Alert`, with the new annotations swapped in; only the rest is validated
into `Alert` models (timestamps, fingerprint). The envelope (groupKey, status...) always is.
"Known" means equal in every field, so a bad field in an otherwise known alert is not known: it
is validated, and anything that fails is validated again in full (`parse_alertmanager`), which
answers 400 naming the bad fields, exactly as without this module.

The payload is built only when asked for: a re-send of events already folded needs only its
event keys. Pure CPU work that only reads `KnownAlerts`, so a large body can be read in a worker
thread; `remember` runs on the event loop after the fold.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from gateway.alertmanager import _MAX_ALERTS, Alert, AlertmanagerPayload, parse_alertmanager
from gateway.bounded import BoundedLru
from gateway.dedup import event_key, occurrence_prefix

DEFAULT_CAPACITY = 10_000  # alerts remembered over all groups
LARGE_BODY = 1024 * 1024  # larger bodies (whole groups of thousands) are read by `_large`
_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")  # json.loads takes it, pydantic refuses it
_Strings = dict[str, str]


class _TypedAlert(TypedDict):
    status: Literal["firing", "resolved"]
    labels: _Strings
    annotations: NotRequired[_Strings]
    startsAt: str
    endsAt: NotRequired[str | None]
    generatorURL: NotRequired[str]
    fingerprint: NotRequired[str]


class _TypedBody(TypedDict):
    version: NotRequired[str]
    groupKey: str
    truncatedAlerts: NotRequired[int]
    status: str
    receiver: NotRequired[str]
    groupLabels: NotRequired[_Strings]
    commonLabels: NotRequired[_Strings]
    commonAnnotations: NotRequired[_Strings]
    externalURL: NotRequired[str]
    alerts: Annotated[list[_TypedAlert], Field(max_length=_MAX_ALERTS)]


# Unknown fields are dropped here, as `Alert` ignores them; what is kept is type-checked.
_TYPED: TypeAdapter[_TypedBody] = TypeAdapter(_TypedBody)


@dataclass(frozen=True)
class Known:
    """One alert as last received (without its annotations), validated, and its event key."""

    rest: dict[str, Any]
    alert: Alert
    key: str


@dataclass(frozen=True)
class Remembered:
    """A group's last body: its alerts in order (`rests` for one comparison of the whole list,
    `entries` and `keys` to reuse), and the same entries by identity for a body that differs."""

    rests: list[dict[str, Any]]
    entries: tuple[Known, ...]
    keys: tuple[str, ...]

    @functools.cached_property
    def by_ident(self) -> dict[Hashable, Known]:
        """Built when first needed: a group that only grows never needs it."""
        return {_ident(k.rest): k for k in self.entries}


class Intake:
    """A typed body: the event key of each alert, the payload on demand, what to remember."""

    def __init__(
        self,
        envelope: AlertmanagerPayload,
        entries: Sequence[Known],
        annotations: Sequence[_Strings],
        fresh: int,
        same: Remembered | None = None,
    ) -> None:
        self._same = same  # the group's last body, when this one repeats all its alerts
        self._envelope = envelope
        self._entries = entries  # each alert's entry (validated before, or now)
        self._annotations = annotations  # each alert's annotations as received
        self.keys = same.keys if same is not None else tuple(k.key for k in entries)
        self.group_key = envelope.group_key
        self.status = envelope.status
        self.fresh = fresh  # alerts validated into models (not reused from the last body)

    @functools.cached_property
    def payload(self) -> AlertmanagerPayload:
        alerts = [
            k.alert if a == k.alert.annotations else _with_annotations(k.alert, a)
            for k, a in zip(self._entries, self._annotations, strict=True)
        ]
        return self._envelope.model_copy(update={"alerts": alerts})

    @property
    def known(self) -> Remembered | None:
        """What to remember of this body (an alert with new annotations: as it was before)."""
        if self._same is not None:
            return self._same
        entries = tuple(self._entries)
        if not entries or not all(k.rest for k in entries):
            return None
        return Remembered([k.rest for k in entries], entries, self.keys)


def read(body: bytes, known_alerts: KnownAlerts) -> Intake:
    """Validate `body` reusing what the group's last body validated; BadPayload if invalid."""
    try:
        if len(body) <= LARGE_BODY:
            return _typed(_TYPED.validate_json(body), known_alerts)
        if not escaped_surrogate(body):  # json.loads would take what pydantic refuses
            return _large(json.loads(body))
    except (ValueError, TypeError, RecursionError):
        pass
    payload = parse_alertmanager(body)  # raises BadPayload naming the fields
    prefix = occurrence_prefix(payload.group_key)
    entries = [Known({}, a, _key(prefix, a)) for a in payload.alerts]
    annotations = [a.annotations for a in payload.alerts]
    return Intake(payload.model_copy(update={"alerts": []}), entries, annotations, len(entries))


def escaped_surrogate(data: bytes) -> bool:
    """Whether JSON text escapes a UTF-16 surrogate (`\\ud800`): json.loads reads it into a
    str that pydantic refuses, so such a body must go through pydantic to get its 400."""
    return _SURROGATE.search(data) is not None


def _large(doc: Any) -> Intake:
    """A whole large group, alert by alert: pydantic-core holds the GIL for its whole parse of a
    body (70 ms for 10,000 alerts), json.loads for less, and the models are then validated one
    at a time, so a worker thread reading it lets the event loop in between. Not remembered."""
    if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
        raise ValueError("not an Alertmanager body")
    if len(doc["alerts"]) > _MAX_ALERTS:
        raise ValueError("too many alerts")
    envelope = AlertmanagerPayload.model_validate({**doc, "alerts": []})
    entries, prefix, raws = [], occurrence_prefix(envelope.group_key), doc["alerts"]
    for i, raw in enumerate(raws):
        raws[i] = None  # freed once validated: the parsed body and the models are not both held
        alert = Alert.model_validate(raw)
        entries.append(Known({}, alert, _key(prefix, alert)))
    return Intake(envelope, entries, [k.alert.annotations for k in entries], len(entries))


def _typed(doc: _TypedBody, known_alerts: KnownAlerts) -> Intake:
    raws = cast(list[dict[str, Any]], doc["alerts"])  # typed, then edited in place
    annotations = [raw.pop("annotations", {}) for raw in raws]  # compared apart
    envelope = AlertmanagerPayload.model_validate({**doc, "alerts": []})
    last = known_alerts.of(envelope.group_key)
    if last is not None and raws == last.rests:  # the last body's alerts again, in C
        return Intake(envelope, last.entries, annotations, 0, same=last)
    entries: list[Known] = []
    start = fresh = 0
    if last is not None and raws[: len(last.rests)] == last.rests:  # a group that grew
        entries, start = list(last.entries), len(last.rests)
    # the rest are new, unless the body moved known alerts: then look them up by identity
    group = last.by_ident if last is not None and not start else {}
    prefix = occurrence_prefix(envelope.group_key)
    for raw, notes in zip(raws[start:], annotations[start:], strict=True):
        old = group.get(_ident(raw)) if group else None
        if old is not None and old.rest == raw:
            entries.append(old)
            continue
        fresh += 1
        alert = Alert.model_validate({**raw, "annotations": notes})
        rest = {**raw, "labels": alert.labels}  # equal content, one dict held (memory)
        entries.append(Known(rest, alert, _key(prefix, alert)))
    return Intake(envelope, entries, annotations, fresh)


def _ident(rest: dict[str, Any]) -> Hashable:
    """Where a typed alert is looked up; equality of the rest of it decides reuse."""
    fingerprint = rest.get("fingerprint")
    if fingerprint:
        return (fingerprint, rest["startsAt"])
    return (frozenset(rest["labels"].items()), rest["startsAt"])  # other senders


def _key(prefix: str, alert: Alert) -> str:
    return event_key(prefix, alert.key, alert.starts_at, alert.status)


def _with_annotations(alert: Alert, annotations: _Strings) -> Alert:
    """`alert.model_copy(update={"annotations": annotations})` (already type-checked), for a
    third of its cost: every alert of a `$value` re-send goes through here."""
    new = Alert.__new__(Alert)
    fields = dict(alert.__dict__)
    fields["annotations"] = annotations
    object.__setattr__(new, "__dict__", fields)
    object.__setattr__(new, "__pydantic_fields_set__", alert.model_fields_set | {"annotations"})
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


class KnownAlerts:
    """Per group, the alerts of its last folded body; at most `capacity` alerts in all."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._groups: BoundedLru[Remembered] = BoundedLru(capacity, lambda r: len(r.entries))

    def of(self, group_key: str) -> Remembered | None:
        """The group's last body, if remembered (read only)."""
        return self._groups.get(group_key)

    def remember(self, group_key: str, known: Remembered | None) -> None:
        """The body these alerts came in was folded (or found already folded)."""
        if known is not None and self._groups.get(group_key) is known:
            self._groups.get(group_key, touch=True)  # the same body again
        elif known is None:
            self._groups.forget(group_key)
        else:
            self._groups.put(group_key, known)

    def forget(self, group_key: str) -> None:
        self._groups.forget(group_key)

    def __len__(self) -> int:
        return self._groups.size
