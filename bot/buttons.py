"""Button ids and values: the bot's own (Approve/Deny) and the gateway's (Ack, Silence, ...).

The gateway draws Ack/Silence/Rollback/Retrain/Dismiss/Promote on its messages and documents their
`value` contract in `gateway/actions.py`; the bot must not import the gateway, so the parsing is
re-implemented here from that contract:

    value = compact JSON object; unknown keys ignored; at most 2000 characters
    k  message key of the gateway message (1-255 chars), always present
    m  model name (1-255 chars) or null, always present; required for rollback/retrain/promote
    l  silence only: a non-empty object of strings (the group's labels, equality matchers)
    d  silence only: a Prometheus-style duration (`30m`, `1h`, `1h30m`, `2d`), at most 30 days
    t  silence only: true when labels were dropped to fit (the silence matches more)
    s  silence only: `"alertmanager"` (default when absent) or `"grafana"`: where to silence
    e  rollback only: the environment the confirm dialog named (1-255 chars) or null; absent on
       buttons drawn before it existed. Null or absent: the click is refused, never guessed.

Also the `MessageActions` seam: how a click on a gateway message is recorded on it ("Ack by
@ana"). The composition root implements it with gateway code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol

APPROVE: Final = "chatops.approve"
DENY: Final = "chatops.deny"
ACK: Final = "chatops.ack"
SILENCE: Final = "chatops.silence"
ROLLBACK: Final = "chatops.rollback"
RETRAIN: Final = "chatops.retrain"
DISMISS: Final = "chatops.dismiss"
PROMOTE: Final = "chatops.promote"
ALERTMANAGER: Final = "alertmanager"
GRAFANA: Final = "grafana"
SILENCE_SOURCES: Final = (ALERTMANAGER, GRAFANA)
BOT_ACTIONS: Final = (APPROVE, DENY)
GATEWAY_ACTIONS: Final = (ACK, SILENCE, ROLLBACK, RETRAIN, DISMISS, PROMOTE)
_NEEDS_MODEL = frozenset({ROLLBACK, RETRAIN, PROMOTE})

MAX_VALUE: Final = 2000
MAX_KEY: Final = 255
MAX_SILENCE: Final = timedelta(days=30)
_DURATION = re.compile(
    r"^(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$"
)
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
_TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class BadButton(ValueError):
    """A click whose action id or value does not fit the contract (a stale or forged button)."""


@dataclass(frozen=True)
class GatewayButton:
    """A click on a gateway message button."""

    action_id: str
    key: str
    model: str | None
    labels: dict[str, str] = field(default_factory=dict)
    duration: timedelta | None = None
    truncated: bool = False
    environment: str | None = None  # rollback only
    source: str = "alertmanager"  # silence only: "alertmanager" or "grafana"


class MessageActions(Protocol):
    """Records on a gateway message who did what (the message then shows it)."""

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        """Add the record and queue the message update; False if the message is unknown."""
        ...


def parse_ticket_id(value: object) -> str:
    """The ticket id an Approve/Deny button carries."""
    if not isinstance(value, str) or not _TICKET_ID.match(value):
        raise BadButton("not a request id")
    return value


def parse_gateway_button(action_id: str, value: object) -> GatewayButton:
    """Read a gateway button's value back; `BadButton` for anything off-contract."""
    if action_id not in GATEWAY_ACTIONS:
        raise BadButton(f"unknown action {action_id[:60]!r}")
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadButton("button value must be a string of at most 2000 characters")
    try:
        raw = json.loads(value)
    except (ValueError, RecursionError) as e:
        raise BadButton("button value is not JSON") from e
    if not isinstance(raw, dict):
        raise BadButton("button value is not a JSON object")
    key = _string(raw, "k")
    if "m" not in raw:
        raise BadButton("m is required (null allowed)")
    model = None if raw["m"] is None else _string(raw, "m")
    if not 0 < len(key) <= MAX_KEY or (model is not None and not 0 < len(model) <= MAX_KEY):
        raise BadButton("k and m must be 1-255 characters")
    if action_id in _NEEDS_MODEL and model is None:
        raise BadButton(f"{action_id} needs a model")
    if action_id == ROLLBACK:
        environment = None if raw.get("e") is None else _string(raw, "e")
        if environment is not None and not 0 < len(environment) <= MAX_KEY:
            raise BadButton("e must be 1-255 characters")
        return GatewayButton(action_id, key, model, environment=environment)
    if action_id != SILENCE:
        return GatewayButton(action_id, key, model)
    source = _string(raw, "s") if "s" in raw else ALERTMANAGER
    if source not in SILENCE_SOURCES:
        raise BadButton(f"s must be one of {', '.join(sorted(SILENCE_SOURCES))}")
    duration = parse_duration(_string(raw, "d"))
    return GatewayButton(
        action_id, key, model, _labels(raw), duration, raw.get("t") is True, source=source
    )


def parse_duration(text: str) -> timedelta:
    """`1h`, `30m`, `1h30m`, `2d`: a positive duration of at most 30 days."""
    match = _DURATION.match(text) if text else None
    if match is None:
        raise BadButton(f"not a duration: {text[:20]!r}")
    amount = timedelta(**{u: int(v) for u, v in zip(_UNITS, match.groups(), strict=True) if v})
    if not timedelta(0) < amount <= MAX_SILENCE:
        raise BadButton(f"duration out of range: {text[:20]!r}")
    return amount


def _string(raw: dict[str, Any], name: str) -> str:
    found = raw.get(name)
    if not isinstance(found, str):
        raise BadButton(f"{name} must be a string")
    return found


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    found = raw.get("l")
    if not isinstance(found, dict) or not found:
        raise BadButton("l must be a non-empty object of strings")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise BadButton("l must be a non-empty object of strings")
    return dict(found)
