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
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from gateway.alertmanager import _MAX_ALERTS, Alert, AlertmanagerPayload, parse_alertmanager
from gateway.dedup import occurrence

DEFAULT_CAPACITY = 10_000  # alerts remembered over all groups
LARGE_BODY = 1024 * 1024  # larger bodies (whole groups of thousands) are read by `_large`
_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
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


class Intake:
    """A typed body: the event key of each alert, the payload on demand, what to remember."""

    def __init__(
        self,
        envelope: AlertmanagerPayload,
        parts: list[tuple[Known, _Strings | None]],
        fresh: int,
    ) -> None:
        self._envelope = envelope
        self._parts = parts  # each alert's entry, and its new annotations if they changed
        self.keys = tuple(known.key for known, _ in parts)
        self.group_key = envelope.group_key
        self.fresh = fresh  # alerts validated into models (not reused from the last body)

    @functools.cached_property
    def payload(self) -> AlertmanagerPayload:
        alerts = [k.alert if a is None else _with_annotations(k.alert, a) for k, a in self._parts]
        return self._envelope.model_copy(update={"alerts": alerts})

    @property
    def known(self) -> dict[Hashable, Known]:
        """What to remember of this body (an alert with new annotations: as it was before)."""
        return {_ident(k.rest): k for k, _ in self._parts if k.rest}


def read(body: bytes, known_alerts: KnownAlerts) -> Intake:
    """Validate `body` reusing what the group's last body validated; BadPayload if invalid."""
    try:
        if len(body) <= LARGE_BODY:
            return _typed(_TYPED.validate_json(body), known_alerts)
        if not _SURROGATE.search(body):  # json.loads would take what pydantic refuses
            return _large(json.loads(body))
    except (ValueError, TypeError, RecursionError):
        pass
    payload = parse_alertmanager(body)  # raises BadPayload naming the fields
    parts: list[tuple[Known, _Strings | None]] = [
        (Known({}, a, _key(payload, a)), None) for a in payload.alerts
    ]
    return Intake(payload.model_copy(update={"alerts": []}), parts, len(parts))


def _large(doc: Any) -> Intake:
    """A whole large group, alert by alert: pydantic-core holds the GIL for its whole parse of a
    body (70 ms for 10,000 alerts), json.loads for less, and the models are then validated one
    at a time, so a worker thread reading it lets the event loop in between. Not remembered."""
    if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
        raise ValueError("not an Alertmanager body")
    if len(doc["alerts"]) > _MAX_ALERTS:
        raise ValueError("too many alerts")
    envelope = AlertmanagerPayload.model_validate({**doc, "alerts": []})
    parts: list[tuple[Known, _Strings | None]] = []
    for raw in doc["alerts"]:
        alert = Alert.model_validate(raw)
        parts.append((Known({}, alert, _key(envelope, alert)), None))
    return Intake(envelope, parts, len(parts))


def _typed(doc: _TypedBody, known_alerts: KnownAlerts) -> Intake:
    raws = cast(list[dict[str, Any]], doc["alerts"])  # typed, then edited in place
    envelope = AlertmanagerPayload.model_validate({**doc, "alerts": []})
    group = known_alerts.of(envelope.group_key)
    parts: list[tuple[Known, _Strings | None]] = []
    fresh = 0
    for raw in raws:
        annotations = raw.pop("annotations", {})  # `raw` is ours: compared without them
        old = group.get(_ident(raw)) if group else None
        if old is not None and old.rest == raw:
            changed = old.alert.annotations != annotations
            parts.append((old, annotations if changed else None))
            continue
        fresh += 1
        alert = Alert.model_validate({**raw, "annotations": annotations})
        rest = {**raw, "labels": alert.labels}  # equal content, one dict held (memory)
        parts.append((Known(rest, alert, _key(envelope, alert)), None))
    return Intake(envelope, parts, fresh)


def _ident(rest: dict[str, Any]) -> Hashable:
    """Where a typed alert is looked up; equality of the rest of it decides reuse."""
    fingerprint = rest.get("fingerprint")
    if fingerprint:
        return (fingerprint, rest["startsAt"])
    return (frozenset(rest["labels"].items()), rest["startsAt"])  # other senders


def _key(payload: AlertmanagerPayload, alert: Alert) -> str:
    return occurrence(payload.group_key, alert.key, alert.starts_at, alert.status)


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
        self._capacity = capacity
        self._groups: OrderedDict[str, dict[Hashable, Known]] = OrderedDict()
        self._size = 0

    def of(self, group_key: str) -> dict[Hashable, Known]:
        """The group's remembered alerts (read only; empty when none)."""
        return self._groups.get(group_key) or {}

    def remember(self, group_key: str, known: dict[Hashable, Known]) -> None:
        """The body these alerts came in was folded (or found already folded)."""
        self.forget(group_key)
        if not known or len(known) > self._capacity:
            return
        self._groups[group_key] = known
        self._size += len(known)
        while self._size > self._capacity:
            self.forget(next(iter(self._groups)))

    def forget(self, group_key: str) -> None:
        dropped = self._groups.pop(group_key, None)
        self._size -= len(dropped) if dropped is not None else 0

    def __len__(self) -> int:
        return self._size
