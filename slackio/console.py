"""Console sink: with no Slack token, print what would be posted instead of posting it.

Each message is shown as readable text, so a newcomer running `chatops serve` with nothing
configured sees what the product would do. Its Block Kit JSON and a Block Kit Builder preview
link (several KB per message) are added only with `show_blocks` (`chatops serve --show-blocks`
or `CHATOPS_SHOW_BLOCKS=1`).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from slackio.transport import Blocks, Posted

_BUILDER = "https://app.slack.com/block-kit-builder/#"


def blocks_as_text(blocks: Blocks) -> str:
    """A plain-text reading of Block Kit blocks, roughly as Slack would show them."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {block.get('text', {}).get('text', '')} ==")
        elif kind == "section":
            lines.extend(_section_lines(block))
        elif kind == "context":
            lines.append("  " + " | ".join(_text_of(e) for e in block.get("elements", [])))
        elif kind == "actions":
            labels = [_text_of(e.get("text", {})) for e in block.get("elements", [])]
            lines.append("  " + " ".join(f"[{label}]" for label in labels))
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines)


def _section_lines(block: dict[str, Any]) -> list[str]:
    lines = []
    if "text" in block:
        lines.append(_text_of(block["text"]))
    for field in block.get("fields", []):
        lines.append("  " + _text_of(field).replace("\n", " "))
    return lines


_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")


def _text_of(element: dict[str, Any]) -> str:
    """Element text with Slack's date tokens and links made readable in a terminal."""
    text = str(element.get("text", "")) if isinstance(element, dict) else ""
    text = _DATE.sub(r"\1", text)
    text = _LINK.sub(r"\2 (\1)", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def builder_link(blocks: Blocks) -> str:
    """A Block Kit Builder URL that previews `blocks`."""
    payload = json.dumps({"blocks": list(blocks)}, separators=(",", ":"))
    return _BUILDER + urllib.parse.quote(payload, safe="")


class ConsoleTransport:
    """SlackTransport that prints instead of sending; ts values are local counters."""

    def __init__(
        self, write: Callable[[str], Any] | None = None, *, show_blocks: bool = False
    ) -> None:
        self._write = write or _stdout
        self._show_blocks = show_blocks
        self._hinted = False
        self._counter = itertools.count(1)

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._counter):06d}"

    async def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: Blocks,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        ts = self._ts()
        where = f"thread {thread_ts} in {channel}" if thread_ts else channel
        self._show(f"POST to {where} (ts {ts})", text, blocks)
        return Posted(channel_id=channel, ts=ts)

    async def update(self, *, channel_id: str, ts: str, text: str, blocks: Blocks) -> None:
        self._show(f"UPDATE message {ts} in {channel_id}", text, blocks)

    async def join(self, *, channel: str) -> None:
        return None

    async def find_posted(
        self, *, channel: str, key: str, thread_ts: str | None = None
    ) -> Posted | None:
        return None

    def _show(self, title: str, text: str, blocks: Blocks) -> None:
        body = blocks_as_text(blocks) if blocks else text
        parts = [
            "",
            f"┌─ Slack (console sink, no SLACK_BOT_TOKEN): {title}",
            *(f"│ {line}" for line in body.splitlines()),
        ]
        if blocks and self._show_blocks:
            parts.append("│ Block Kit JSON: " + json.dumps(list(blocks), ensure_ascii=False))
            parts.append("│ Preview: " + builder_link(blocks))
        elif blocks and not self._hinted:
            self._hinted = True
            parts.append("│ (Block Kit JSON and a preview link: chatops serve --show-blocks)")
        parts.append("└─")
        self._write("\n".join(parts) + "\n")


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
