"""The read-only answers: `/chatops help` and `/chatops audit [model]`, rendered for Slack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.commands import help_text
from bot.render import section
from slackio.blocks import Rendered, clip, code, escape
from storage import AuditEntry

AUDIT_LIMIT = 20


def help_message(topic: str | None = None) -> Rendered:
    """Usage of every command, or of one."""
    text = help_text(topic)
    return Rendered(clip(text.replace("`", ""), 3000), [section(text)])


def usage_message(problem: str, usage: str) -> Rendered:
    """A bad command: what was wrong, then how to use it."""
    text = f"⚠️ {problem}\n\n{usage}"
    return Rendered(clip(f"{problem}", 3000), [section(text)])


def audit_message(entries: Sequence[AuditEntry], model: str | None) -> Rendered:
    """The newest audit entries, one line each, newest first."""
    scope = f" for {escape(model)}" if model else ""
    if not entries:
        text = f"No audit entries{scope} yet."
        return Rendered(text, [section(text)])
    lines = [f"*Last {len(entries)} audit entries{scope}* (newest first)"]
    lines += [_line(e) for e in entries[:AUDIT_LIMIT]]
    blocks = [section(clip("\n".join(lines[i : i + 10]), 3000)) for i in range(0, len(lines), 10)]
    return Rendered(f"Audit{scope}: {len(entries)} entries", blocks)


def _line(entry: AuditEntry) -> str:
    when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    actor = f"<@{entry.actor}>" if entry.actor.startswith(("U", "W")) else escape(entry.actor)
    what = f"*{escape(entry.action)}* {escape(entry.model)}"
    line = f"`{when}` {actor} {what} → {code(entry.outcome, 40)}"
    if entry.detail:
        line += f" · {escape(clip(entry.detail, 200))}"
    return line
