"""`/chatops audit [model]` rendered for Slack: the newest entries, one line each."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from slackio.blocks import Rendered, clip, code, escape, section
from storage import AuditEntry

AUDIT_LIMIT = 20


def audit_message(
    entries: Sequence[AuditEntry],
    model: str | None,
    *,
    scope: str = "",
    reveal: Callable[[AuditEntry], bool] = lambda entry: False,
) -> Rendered:
    """The newest audit entries, one line each, newest first.

    `scope` says which entries these are ("in this channel"); pipeline variable values are shown
    only for entries `reveal` accepts, the names otherwise.
    """
    where = " ".join(part for part in (f"for {escape(model)}" if model else "", scope) if part)
    where = f" {where}" if where else ""
    if not entries:
        text = f"No audit entries{where} yet."
        return Rendered(text, [section(text)])
    lines = [f"*Last {len(entries)} audit entries{where}* (newest first)"]
    lines += [_line(e, reveal(e)) for e in entries[:AUDIT_LIMIT]]
    blocks = [section(clip("\n".join(lines[i : i + 10]), 3000)) for i in range(0, len(lines), 10)]
    return Rendered(f"Audit{where}: {len(entries)} entries", blocks)


def _line(entry: AuditEntry, reveal: bool) -> str:
    when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    actor = f"<@{entry.actor}>" if entry.actor.startswith(("U", "W")) else escape(entry.actor)
    what = f"*{escape(entry.action)}* {escape(entry.model)}"
    line = f"`{when}` {actor} {what} → {code(entry.outcome, 40)}"
    if entry.detail:
        line += f" · {escape(clip(entry.detail, 200))}"
    variables = _variables(entry)
    if variables and reveal:
        line += " · " + escape(clip(" ".join(f"{k}={v}" for k, v in variables.items()), 300))
    elif variables:
        line += f" · {escape(clip(' '.join(variables), 200))} (values shown to approvers only)"
    return line


def _variables(entry: AuditEntry) -> dict[str, str]:
    """The pipeline variables the entry recorded (`variables` extra, a JSON object)."""
    try:
        raw = json.loads(entry.extra.get("variables") or "{}")
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in sorted(raw.items())}
