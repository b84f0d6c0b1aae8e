"""The thread reply under an alert-group message saying which alerts changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from gateway.incident_model import AlertSnapshot, Change, ChangeKind
from slackio.blocks import clip, clip_mrkdwn, escape

_MAX_REPLY: Final = 1000
_CHANGE_WORDS: Final = {
    ChangeKind.NEW: ("🔥", "New"),
    ChangeKind.REFIRED: ("🔁", "Firing again"),
    ChangeKind.RESOLVED: ("✅", "Resolved"),
}


def _ident(alert: AlertSnapshot) -> str:
    parts = [alert.name]
    parts += [alert.labels["model"]] if "model" in alert.labels else []
    parts += [f"{k}={alert.labels[k]}" for k in ("feature", "instance") if k in alert.labels]
    return escape(" · ".join(clip(p, 80) for p in parts))


def render_changes(changes: Sequence[Change]) -> str | None:
    """The short thread reply saying what changed; many changes coalesce into counts."""
    lines = []
    for kind in (ChangeKind.NEW, ChangeKind.REFIRED, ChangeKind.RESOLVED):
        icon, word = _CHANGE_WORDS[kind]
        of_kind = [c.alert for c in changes if c.kind is kind]
        if len(of_kind) <= 5:
            lines += [f"{icon} {word}: {_ident(a)}" for a in of_kind]
            continue
        names = Counter(a.name for a in of_kind).most_common()
        counts = ", ".join(f"{escape(clip(n, 80))} ({c})" for n, c in names[:5])
        more = f", +{len(names) - 5} more" if len(names) > 5 else ""
        lines.append(f"{icon} {word}: {len(of_kind)} alerts ({counts}{more})")
    return clip_mrkdwn("\n".join(lines), _MAX_REPLY) if lines else None
