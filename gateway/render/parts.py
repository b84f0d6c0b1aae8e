"""What the gateway's messages share beyond Block Kit: labels, who did what, the buttons' row.

The Block Kit builders (`header_block`, `context`, ...) are in `slackio.blocks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from gateway import actions
from gateway.incident_model import ActionRecord
from slackio.blocks import (
    Block,
    clip,
    code,
    context,
    date_token,
    escape,
    link,
    safe_url,
)
from slackio.buttons import MAX_KEY

_MAX_LABELS_SHOWN: Final = 10
_HIDDEN_LABELS: Final = frozenset({"alertname", "severity", "__name__", "job"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_RECORD_VERBS: Final = {
    "ack": ("✔", "Acked"),
    "silence": ("🔕", "Silenced"),
    "rollback": ("⏪", "Rollback requested"),
    "retrain": ("🔁", "Retrain requested"),
    "dismiss": ("🙈", "Dismissed"),
    "promote": ("🏆", "Promotion requested"),
}


def actor_mention(actor: str) -> str:
    return f"<@{actor}>" if _USER_ID.match(actor) else escape(clip(actor, 80))


def labels_text(labels: Mapping[str, str], skip: Iterable[str] = (), limit: int = 600) -> str:
    """`model=x` `feature=y` (as code spans): the labels that matter, as many as fit."""
    hidden = _HIDDEN_LABELS | set(skip)
    shown = [(k, v) for k, v in sorted(labels.items()) if k not in hidden]
    parts: list[str] = []
    for key, value in shown[:_MAX_LABELS_SHOWN]:
        part = f"`{code(key, 40)}={code(value, 80)}`"
        if sum(len(p) + 1 for p in parts) + len(part) > limit - 20:
            break
        parts.append(part)
    if len(shown) > len(parts):
        parts.append(f"+{len(shown) - len(parts)} more labels")
    return " ".join(parts)


def actions_block(key: str, buttons: Sequence[Block]) -> Block:
    block_id = actions.block_id(actions.ACTIONS_BLOCK, key)
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def record_block(key: str, records: Sequence[ActionRecord]) -> list[Block]:
    """Who did what, newest last: `✔ Acked by @ana at 10:02`."""
    lines = []
    for record in records:
        name = record.action.removeprefix(actions.BLOCK_PREFIX)
        icon, verb = _RECORD_VERBS.get(name, ("•", clip(name, 40).capitalize() or "Action"))
        line = f"{icon} {escape(verb)} by {actor_mention(record.actor)} at {date_token(record.at)}"
        line += f" — {escape(clip(record.detail, 200))}" if record.detail else ""
        line += f" · {link(record.link, 'details')}" if safe_url(record.link) else ""
        lines.append(line)
    return (
        [context(lines, block_id=actions.block_id(actions.RECORD_BLOCK, key), limit=400)]
        if lines
        else []
    )


def button_model(model: str | None) -> str | None:
    return model if model and len(model) <= MAX_KEY else None
