"""The buttons on gateway messages: action ids and the format of a button's `value`.

This is the contract between the gateway, which draws the buttons, and the bot, which handles
the clicks; both import it from here (the gateway must not import the bot, nor the bot the
gateway). The gateway's block ids and records are in `gateway.actions`.

Action ids (the Block Kit `action_id` of each button; value keys it carries):
    chatops.ack       Ack: record that someone is on it.                       k, m
    chatops.silence   Silence: a silence matching `l` for `d`, in source `s`.  k, m, l, d (, t, s)
    chatops.rollback  Roll back model `m` in `e` (danger style, confirm).      k, m (not null), e
    chatops.retrain   Retrain model `m` (drift messages).                      k, m (m not null)
    chatops.dismiss   Dismiss a drift message or a promotion card.             k, m
    chatops.promote   Promote a registry version to champion (promotion cards). k, m (m not null)

Button value: compact JSON (separators `,` and `:`, UTF-8, not ASCII-escaped), at most 2000
characters (Slack's limit), e.g. `{"k":"am:3f2a…:1","m":"fraud-detector","l":{...},"d":"1h"}`:
    k  the message key, 1-255 chars: `am:<first 20 hex of sha256(groupKey)>:<generation>` for an
       alert group, `drift:<model>:<generation>` for drift, `promotion:<registered name>:
       <version>` for a promotion card (the outbox `MessageUpdate.key`; for a promotion card the
       version is the part after the last `:`).
    m  the model name (1-255 chars) or null; always present.
    l  silence only: the group's labels (Alertmanager `groupLabels`, else `commonLabels`), to
       be used as equality matchers; a non-empty object of strings.
    d  silence only: how long, units w/d/h/m/s largest first (`30m`, `1h`, `1h30m`, `2d`),
       more than 0 and at most 30d.
    t  silence only, `true` when labels other than `alertname` and `model` were dropped to fit
       2000 chars: the silence would then match more than the group, and the handler says so.
    s  silence only: where to create the silence, `"alertmanager"` (the default when absent) or
       `"grafana"` (a group Grafana Alerting sent: Grafana's own Alertmanager-compatible API,
       never ALERTMANAGER_URL). Any other value is refused.
    e  rollback only: the environment to roll back, 1-255 chars, or null when unknown; always
       present. It is the alert's `environment` (else `env`) label, else the model's default
       (its production-like environment, else its only one): the one the confirm dialog names.
       The handler rolls back exactly this environment, and refuses (asking for `/rollback`)
       when it is null or absent (a button drawn before `e` existed).
Unknown keys are ignored, so a newer gateway may add some. `parse_button_value` checks all this
and raises `BadButtonValue` (and nothing else) for anything that does not fit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Final

ACK: Final = "chatops.ack"
SILENCE: Final = "chatops.silence"
ROLLBACK: Final = "chatops.rollback"
RETRAIN: Final = "chatops.retrain"
DISMISS: Final = "chatops.dismiss"
PROMOTE: Final = "chatops.promote"
ACTION_IDS: Final = (ACK, SILENCE, ROLLBACK, RETRAIN, DISMISS, PROMOTE)
NEEDS_MODEL: Final = frozenset({ROLLBACK, RETRAIN, PROMOTE})

MAX_VALUE: Final = 2000
MAX_KEY: Final = 255
SILENCE_DURATION: Final = "1h"
MAX_SILENCE: Final = timedelta(days=30)
KEPT_LABELS: Final = ("alertname", "model")
ALERTMANAGER: Final = "alertmanager"
GRAFANA: Final = "grafana"
SILENCE_SOURCES: Final = (ALERTMANAGER, GRAFANA)

_DURATION = re.compile(
    r"^(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$"
)
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


class BadButtonValue(ValueError):
    """A button value (or the inputs to build one) that breaks the contract above."""


@dataclass(frozen=True)
class ButtonValue:
    """What a click carries: enough for the handler to act without reading gateway state."""

    action_id: str
    key: str
    model: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    duration: str | None = None
    truncated: bool = False
    environment: str | None = None  # rollback only
    source: str = ALERTMANAGER  # silence only: where the silence is created

    @property
    def silence_for(self) -> timedelta | None:
        """The silence length as a timedelta (silence buttons only)."""
        return parse_duration(self.duration) if self.duration is not None else None


def parse_duration(text: str) -> timedelta:
    """`1h`, `30m`, `1h30m`, `2d`...: a positive duration of at most 30 days."""
    match = _DURATION.match(text) if text else None
    if match is None:
        raise BadButtonValue(f"not a duration: {text[:20]!r}")
    amount = timedelta(**{u: int(v) for u, v in zip(_UNITS, match.groups(), strict=True) if v})
    if not timedelta(0) < amount <= MAX_SILENCE:
        raise BadButtonValue(f"duration out of range (0, 30d]: {text!r}")
    return amount


def button_value(
    action_id: str,
    *,
    key: str,
    model: str | None = None,
    labels: Mapping[str, str] | None = None,
    duration: str = SILENCE_DURATION,
    environment: str | None = None,
    source: str = ALERTMANAGER,
) -> str:
    """The compact JSON `value` of one button; raises BadButtonValue if it cannot be built."""
    value = ButtonValue(action_id, key, model)
    if action_id == ROLLBACK:
        value = ButtonValue(action_id, key, model, environment=environment)
    if action_id == SILENCE:
        value = ButtonValue(action_id, key, model, dict(labels or {}), duration, source=source)
    _check(value)
    encoded = _encode(value)
    if len(encoded) > MAX_VALUE and action_id == SILENCE:
        kept = {k: v for k, v in value.labels.items() if k in KEPT_LABELS}
        encoded = _encode(replace(value, labels=kept, truncated=True))
        if not kept:
            raise BadButtonValue("silence labels do not fit in a button value")
    if len(encoded) > MAX_VALUE:
        raise BadButtonValue(f"button value over {MAX_VALUE} characters")
    return encoded


def parse_button_value(action_id: object, value: object) -> ButtonValue:
    """Read a clicked button's value back; BadButtonValue for anything off-contract."""
    if not isinstance(action_id, str) or action_id not in ACTION_IDS:
        raise BadButtonValue(f"unknown action_id {str(action_id)[:60]!r}")
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadButtonValue(f"value must be a string of at most {MAX_VALUE} characters")
    try:
        raw = json.loads(value)
    except (ValueError, RecursionError) as e:
        raise BadButtonValue("value is not JSON") from e
    if not isinstance(raw, dict):
        raise BadButtonValue("value is not a JSON object")
    parsed = ButtonValue(action_id, _str(raw, "k"), _opt_str(raw, "m"))
    if action_id == ROLLBACK:
        environment = _opt_str(raw, "e") if "e" in raw else None
        parsed = ButtonValue(action_id, parsed.key, parsed.model, environment=environment)
    if action_id == SILENCE:
        parsed = ButtonValue(
            action_id, parsed.key, parsed.model, _labels(raw), _str(raw, "d"), raw.get("t") is True
        )
        if "s" in raw:
            parsed = replace(parsed, source=_str(raw, "s"))
    _check(parsed)
    return parsed


def _check(value: ButtonValue) -> None:
    if value.action_id not in ACTION_IDS:
        raise BadButtonValue(f"unknown action_id {value.action_id[:60]!r}")
    if not 0 < len(value.key) <= MAX_KEY:
        raise BadButtonValue(f"k must be 1-{MAX_KEY} characters")
    if value.model is not None and not 0 < len(value.model) <= MAX_KEY:
        raise BadButtonValue(f"m must be null or 1-{MAX_KEY} characters")
    if value.action_id in NEEDS_MODEL and value.model is None:
        raise BadButtonValue(f"{value.action_id} needs a model")
    if value.environment is not None and not 0 < len(value.environment) <= MAX_KEY:
        raise BadButtonValue(f"e must be null or 1-{MAX_KEY} characters")
    if value.action_id == SILENCE:
        if not value.labels:
            raise BadButtonValue("a silence needs at least one label to match")
        parse_duration(value.duration or "")
        if value.source not in SILENCE_SOURCES:
            raise BadButtonValue(f"s must be one of {sorted(SILENCE_SOURCES)}")


def _encode(value: ButtonValue) -> str:
    data: dict[str, Any] = {"k": value.key, "m": value.model}
    if value.action_id == ROLLBACK:
        data["e"] = value.environment
    if value.action_id == SILENCE:
        data |= {"l": value.labels, "d": value.duration}
        if value.truncated:
            data["t"] = True
        if value.source != ALERTMANAGER:
            data["s"] = value.source
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _str(raw: dict[str, Any], name: str) -> str:
    found = raw.get(name)
    if not isinstance(found, str):
        raise BadButtonValue(f"{name} must be a string")
    return found


def _opt_str(raw: dict[str, Any], name: str) -> str | None:
    if name not in raw:
        raise BadButtonValue(f"{name} is required (null allowed)")
    return None if raw[name] is None else _str(raw, name)


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    found = raw.get("l")
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise BadButtonValue("l must be an object of strings")
    return dict(found)
