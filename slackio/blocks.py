"""Block Kit primitives both the gateway and the bot render with, Slack's limits built in.

Text from alerts, users or providers goes through `escape` before it reaches mrkdwn, so
`<!channel>` or `<http://evil|x>` shows as text. The only links are made by `link`, from
http(s) URLs with `|`, `<`, `>` and whitespace percent-encoded. plain_text (headers, buttons)
is not parsed by Slack, so it is only clipped.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from urls import without_userinfo

Block = dict[str, Any]

MAX_BLOCKS: Final = 50
MAX_SECTION: Final = 3000
MAX_HEADER: Final = 150
MAX_FIELDS: Final = 10
MAX_FIELD: Final = 2000
MAX_BUTTON: Final = 75
MAX_TEXT: Final = 4000
MAX_CONTEXT: Final = 10
MAX_URL: Final = 1000

_UNSAFE_IN_LINK = re.compile(r'[|<> \t\r\n"`]')


@dataclass(frozen=True)
class Rendered:
    """A message ready to post: notification fallback `text` plus Block Kit `blocks`."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Neutralise mrkdwn control characters (so `<!channel>` shows as text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; cut text ends with `…`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """`clip` that never leaves half a `<link|label>` or half an `&amp;` entity behind."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    amp = cut.rfind("&")
    if amp > cut.rfind(">") and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def safe_url(url: str) -> str | None:
    """An http(s) URL usable inside `<url|label>`, or None; userinfo is never shown."""
    url = without_userinfo(url)
    if not url.lower().startswith(("http://", "https://")) or len(url) > MAX_URL:
        return None
    return _UNSAFE_IN_LINK.sub(lambda m: urllib.parse.quote(m.group()), url)


def link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) URL, else the escaped label alone."""
    target = safe_url(url) if url else None
    return f"<{target}|{escape(label)}>" if target else escape(label)


def date_token(when: datetime) -> str:
    """A Slack date token: shown in the reader's time zone, ISO UTC as the fallback."""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    iso = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(text.split())


def brief(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters: another service's answer quoted in an error."""
    return clip(one_line(text), limit)


def code(text: str, limit: int = 80) -> str:
    """Text for inside a code span: escaped, one line, no backticks."""
    return escape(one_line(clip(text, limit)).replace("`", "'"))


def plain(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION) -> Block:
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, limit) or " "}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    block: Block = {"type": "button", "action_id": action_id, "value": value}
    block["text"] = plain(text, MAX_BUTTON)
    if style:
        block["style"] = style
    if confirm:
        block["confirm"] = confirm
    return block


# --- blocks (Slack's limits enforced here) ----------------------------------------------------


def header_block(text: str) -> Block:
    return {"type": "header", "block_id": "chatops.header", "text": plain(text, MAX_HEADER)}


def section(text: str, *, block_id: str | None = None, limit: int = MAX_SECTION) -> Block:
    block: Block = {"type": "section"}
    if block_id:
        block["block_id"] = block_id
    block["text"] = mrkdwn(text, limit)
    return block


def fields_block(block_id: str, pairs: Sequence[tuple[str, str]]) -> Block:
    fields = [mrkdwn(f"*{name}*\n{value}", MAX_FIELD) for name, value in pairs[:MAX_FIELDS]]
    return {"type": "section", "block_id": block_id, "fields": fields}


def context(
    texts: Sequence[str], *, block_id: str | None = None, limit: int = MAX_SECTION
) -> Block:
    """A context block; past 10 elements the oldest are summed up as `+N earlier`."""
    if len(texts) > MAX_CONTEXT:
        texts = [f"+{len(texts) - MAX_CONTEXT + 1} earlier", *texts[-(MAX_CONTEXT - 1) :]]
    block: Block = {"type": "context"}
    if block_id:
        block["block_id"] = block_id
    block["elements"] = [mrkdwn(t, limit) for t in texts]
    return block


def message(text: str) -> Rendered:
    """A plain one-section message (ephemeral answers)."""
    return Rendered(clip(text, MAX_TEXT), [section(text)])


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


def confirm_dialog(title: str, text: str, yes: str) -> Block:
    return {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain("Cancel", 30),
        "style": "danger",
    }
