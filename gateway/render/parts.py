"""Building blocks shared by the incident and drift messages, Slack's limits enforced here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from gateway import actions
from gateway.incidents import ActionRecord
from slackio.blocks import (
    MAX_BLOCKS,
    MAX_CONTEXT,
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_SECTION,
    MAX_TEXT,
    clip,
    clip_mrkdwn,
    code,
    date_token,
    escape,
    link,
    mrkdwn,
    plain,
    safe_url,
)
from slackio.buttons import MAX_KEY

Block = dict[str, Any]

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


# --- Block Kit primitives (limits enforced here) -----------------------------------------------


def header_block(text: str) -> Block:
    return {"type": "header", "block_id": "chatops.header", "text": plain(text, MAX_HEADER)}


def section_block(block_id: str, text: str, limit: int = MAX_SECTION) -> Block:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(text, limit)}


def fields_block(block_id: str, pairs: Sequence[tuple[str, str]]) -> Block:
    fields = [mrkdwn(f"*{name}*\n{value}", MAX_FIELD) for name, value in pairs[:MAX_FIELDS]]
    return {"type": "section", "block_id": block_id, "fields": fields}


def context_block(block_id: str, texts: Sequence[str], limit: int = MAX_SECTION) -> Block:
    """A context block; past 10 elements the oldest are summed up as `+N earlier`."""
    if len(texts) > MAX_CONTEXT:
        texts = [f"+{len(texts) - MAX_CONTEXT + 1} earlier", *texts[-(MAX_CONTEXT - 1) :]]
    elements = [mrkdwn(t, limit) for t in texts]
    return {"type": "context", "block_id": block_id, "elements": elements}


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
    return [context_block(actions.block_id(actions.RECORD_BLOCK, key), lines, 400)] if lines else []


def visible_size(node: object) -> int:
    """Characters of text a reader sees in a block tree (what Slack's total limit counts)."""
    if isinstance(node, dict):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(visible_size(v) for v in node.values() if not isinstance(v, str))
    if isinstance(node, list):
        return sum(visible_size(v) for v in node)
    return 0


def fit_blocks(head: list[Block], body: list[Block], tail: list[Block]) -> list[Block]:
    """At most 50 blocks: trim the middle (alert details), never the header or the buttons."""
    room = max(MAX_BLOCKS - len(head) - len(tail), 0)
    return [*head, *body[:room], *tail][:MAX_BLOCKS]


def fallback_text(text: str) -> str:
    return clip_mrkdwn(text, MAX_TEXT)


def button_model(model: str | None) -> str | None:
    return model if model and len(model) <= MAX_KEY else None


def confirm_dialog(title: str, text: str, yes: str) -> Block:
    return {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain("Cancel", 30),
        "style": "danger",
    }
