"""Domain objects -> Slack _Block Kit: the alert-group message, its thread replies, drift messages.

Pure and deterministic: no I/O, no clock (times come from the objects). Slack's limits are
enforced here so nothing downstream has to check them: header 150 chars, section text 3000,
10 fields of 2000, button text 75, 50 blocks, fallback text 4000, and a total of visible text
kept under 11,000 (Slack answers `msg_blocks_too_long` somewhere past 13,000, undocumented).

Alert and drift text is escaped (`&`, `<`, `>`) before it reaches mrkdwn, so an alert cannot
mention `@channel` or smuggle in a link. The only links are those built by `_link`, from http(s)
URLs with `|`, `<`, `>` and whitespace percent-encoded. plain_text (header, buttons) is not parsed
by Slack, so it is only clipped. Buttons follow the contract in `gateway.actions`.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from gateway import actions
from gateway.drift import ColumnDrift, DriftEvent, DriftIncident
from gateway.incidents import ActionRecord, AlertSnapshot, Change, ChangeKind, Incident, Status
from slackio.blocks import (
    MAX_BLOCKS,
    MAX_CONTEXT,
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_SECTION,
    MAX_TEXT,
    Rendered,
    button,
    clip,
    clip_mrkdwn,
    code,
    date_token,
    escape,
    link,
    mrkdwn,
    one_line,
    plain,
    safe_url,
)

_Block = dict[str, Any]

__all__ = ["Rendered", "render_changes", "render_drift", "render_incident"]

_MAX_VISIBLE: Final = 11_000
_MAX_REPLY: Final = 1000
_MAX_ALERTS_SHOWN: Final = 10
_MAX_COLUMNS_SHOWN: Final = 15
_MAX_LABELS_SHOWN: Final = 10

_HIDDEN_LABELS: Final = frozenset({"alertname", "severity", "__name__", "job"})
_SEVERITY_RANK: Final = {
    **dict.fromkeys(("critical", "page", "error", "high"), 3),
    **dict.fromkeys(("warning", "medium"), 2),
    **dict.fromkeys(("info", "informational", "low", "none"), 1),
}
_EMOJI: Final = {3: "🔴", 2: "🟠", 1: "🔵"}
_RESOLVED: Final = "✅"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_RECORD_VERBS: Final = {
    "ack": ("✔", "Acked"),
    "silence": ("🔕", "Silenced"),
    "rollback": ("⏪", "Rollback requested"),
    "retrain": ("🔁", "Retrain requested"),
    "dismiss": ("🙈", "Dismissed"),
}
_CHANGE_WORDS: Final = {
    ChangeKind.NEW: ("🔥", "New"),
    ChangeKind.REFIRED: ("🔁", "Firing again"),
    ChangeKind.RESOLVED: ("✅", "Resolved"),
}


def _actor(actor: str) -> str:
    return f"<@{actor}>" if _USER_ID.match(actor) else escape(clip(actor, 80))


def _labels_text(labels: Mapping[str, str], skip: Iterable[str] = (), limit: int = 600) -> str:
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


# --- _Block Kit primitives (limits enforced here) -----------------------------------------------


def _header(text: str) -> _Block:
    return {"type": "header", "block_id": "chatops.header", "text": plain(text, MAX_HEADER)}


def _section(block_id: str, text: str, limit: int = MAX_SECTION) -> _Block:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(text, limit)}


def _fields(block_id: str, pairs: Sequence[tuple[str, str]]) -> _Block:
    fields = [mrkdwn(f"*{name}*\n{value}", MAX_FIELD) for name, value in pairs[:MAX_FIELDS]]
    return {"type": "section", "block_id": block_id, "fields": fields}


def _context(block_id: str, texts: Sequence[str], limit: int = MAX_SECTION) -> _Block:
    """A context block; past 10 elements the oldest are summed up as `+N earlier`."""
    if len(texts) > MAX_CONTEXT:
        texts = [f"+{len(texts) - MAX_CONTEXT + 1} earlier", *texts[-(MAX_CONTEXT - 1) :]]
    elements = [mrkdwn(t, limit) for t in texts]
    return {"type": "context", "block_id": block_id, "elements": elements}


def _actions_block(key: str, buttons: Sequence[_Block]) -> _Block:
    block_id = actions.block_id(actions.ACTIONS_BLOCK, key)
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def _record_block(key: str, records: Sequence[ActionRecord]) -> list[_Block]:
    """Who did what, newest last: `✔ Acked by @ana at 10:02`."""
    lines = []
    for record in records:
        name = record.action.removeprefix(actions.BLOCK_PREFIX)
        icon, verb = _RECORD_VERBS.get(name, ("•", clip(name, 40).capitalize() or "Action"))
        line = f"{icon} {escape(verb)} by {_actor(record.actor)} at {date_token(record.at)}"
        line += f" — {escape(clip(record.detail, 200))}" if record.detail else ""
        line += f" · {link(record.link, 'details')}" if safe_url(record.link) else ""
        lines.append(line)
    return [_context(actions.block_id(actions.RECORD_BLOCK, key), lines, 400)] if lines else []


def _visible_size(node: object) -> int:
    """Characters of text a reader sees in a block tree (what Slack's total limit counts)."""
    if isinstance(node, dict):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(_visible_size(v) for v in node.values() if not isinstance(v, str))
    if isinstance(node, list):
        return sum(_visible_size(v) for v in node)
    return 0


def _fit(head: list[_Block], body: list[_Block], tail: list[_Block]) -> list[_Block]:
    """At most 50 blocks: trim the middle (alert details), never the header or the buttons."""
    room = max(MAX_BLOCKS - len(head) - len(tail), 0)
    return [*head, *body[:room], *tail][:MAX_BLOCKS]


def _text(text: str) -> str:
    return clip_mrkdwn(text, MAX_TEXT)


# --- alert groups ------------------------------------------------------------------------------


def _rank(labels: Mapping[str, str]) -> int:
    severity = labels.get("severity", "").lower()
    return _SEVERITY_RANK.get(severity, 2)


def _severity(incident: Incident) -> tuple[int, str]:
    """The worst severity among firing alerts (all alerts once resolved), with its label."""
    pool = incident.firing or incident.alerts
    if not pool:
        return _rank(incident.common_labels), incident.common_labels.get("severity", "")
    worst = max(pool, key=lambda a: _rank(a.labels))
    return _rank(worst.labels), worst.labels.get("severity", "")


def _models(incident: Incident) -> list[str]:
    if incident.model:
        return [incident.model]
    return sorted({a.labels["model"] for a in incident.alerts if "model" in a.labels})


def _title(incident: Incident) -> str:
    names = Counter(a.name for a in incident.alerts)
    if len(names) == 1:
        return next(iter(names))
    if not names:
        return incident.group_labels.get("alertname", "Alert group")
    return f"{len(incident.alerts) + incident.truncated} alerts"


def _subject(incident: Incident) -> str:
    """`ModelPSIHigh · fraud-detector`, or `ModelPSIHigh · 3 models`."""
    models = _models(incident)
    scope = models[0] if len(models) == 1 else f"{len(models)} models" if models else ""
    return f"{_title(incident)} · {scope}" if scope else _title(incident)


def _silence_labels(incident: Incident) -> dict[str, str]:
    """The matchers that silence this group: its group labels, else its common labels."""
    return dict(incident.group_labels or incident.common_labels)


def _silence_url(incident: Incident) -> str | None:
    """Alertmanager's "new silence" page, pre-filled with the group's matchers."""
    base = safe_url(incident.external_url)
    labels = _silence_labels(incident)
    if base is None or not labels:
        return None
    matchers = ",".join(f'{k}="{_go_quote(v)}"' for k, v in sorted(labels.items()))
    return f"{base.rstrip('/')}/#/silences/new?filter={urllib.parse.quote('{' + matchers + '}')}"


def _go_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _status_line(incident: Incident) -> str:
    total, firing = len(incident.alerts), len(incident.firing)
    if incident.status is Status.FIRING:
        text = "🔥 Firing" + (f" · {firing} of {total} alerts" if total > 1 else "")
    else:
        text = f"{_RESOLVED} Resolved" + (f" · {total} alerts" if total > 1 else "")
    return text + (f" · +{incident.truncated} not shown" if incident.truncated else "")


def _started(incident: Incident) -> datetime:
    return min((a.starts_at for a in incident.alerts), default=incident.opened_at)


def _status_fields(incident: Incident) -> list[tuple[str, str]]:
    models = _models(incident)
    pairs = [("Status", _status_line(incident))]
    pairs.append(("Severity", escape(clip(_severity(incident)[1] or "unknown", 40))))
    if models:
        shown = ", ".join(escape(clip(m, 80)) for m in models[:10])
        more = f" +{len(models) - 10} more" if len(models) > 10 else ""
        pairs.append(("Model" if len(models) == 1 else "Models", clip_mrkdwn(shown + more, 600)))
    pairs.append(("Started", date_token(_started(incident))))
    ends = [a.ends_at for a in incident.alerts if a.ends_at is not None]
    resolved = max(ends, default=incident.resolved_at)
    if incident.status is Status.RESOLVED and resolved:
        pairs.append(("Resolved", date_token(resolved)))
    labels = _labels_text(incident.common_labels, skip={"model"})
    if labels:
        pairs.append(("Labels", clip_mrkdwn(labels, 600)))
    return pairs


def _alert_title(alert: AlertSnapshot, *, single: bool, several_names: bool) -> str:
    firing = alert.status is Status.FIRING
    mark = "" if single else f"{_EMOJI[_rank(alert.labels)] if firing else _RESOLVED} "
    summary = one_line(alert.annotations.get("summary", ""))
    if several_names and summary:
        return f"{mark}*{escape(clip(alert.name, 100))}* — {escape(clip(summary, 200))}"
    return f"{mark}*{escape(clip(summary or alert.name, 200))}*"


def _alert_facts(alert: AlertSnapshot, incident: Incident, *, single: bool) -> list[str]:
    """Labels not shared by the group, own times (in a group), runbook and source links."""
    common = {k for k, v in incident.common_labels.items() if alert.labels.get(k) == v}
    facts = [_labels_text(alert.labels, skip=common)]
    if not single:
        if alert.starts_at != _started(incident):
            facts.append(f"since {date_token(alert.starts_at)}")
        if alert.status is Status.RESOLVED and alert.ends_at:
            facts.append(f"resolved {date_token(alert.ends_at)}")
    runbook = alert.annotations.get("runbook_url", "")
    if safe_url(runbook) and runbook != incident.common_annotations.get("runbook_url"):
        facts.append(link(runbook, "Runbook"))
    if safe_url(alert.generator_url):
        facts.append(link(alert.generator_url, "Source"))
    return [f for f in facts if f]


def _alert_text(alert: AlertSnapshot, incident: Incident, *, several_names: bool) -> str:
    single = len(incident.alerts) == 1
    lines = [_alert_title(alert, single=single, several_names=several_names)]
    description = alert.annotations.get("description", "").strip()
    if description:
        lines.append(escape(clip(description, 1500 if single else 400)))
    lines.append(" · ".join(_alert_facts(alert, incident, single=single)))
    return "\n".join(line for line in lines if line)


def _alert_blocks(incident: Incident, budget: int) -> list[_Block]:
    """Per-alert sections, as many as fit (at most 10 and `budget` visible chars), then `+N`."""
    blocks: list[_Block] = []
    several_names = len({a.name for a in incident.alerts}) > 1
    for index, alert in enumerate(incident.alerts[:_MAX_ALERTS_SHOWN]):
        remaining = budget - sum(_visible_size(b) for b in blocks)
        if blocks and remaining < 300:
            break
        text = _alert_text(alert, incident, several_names=several_names)
        limit = min(MAX_SECTION, max(remaining, 300))
        blocks.append(_section(f"chatops.alert.{index}", text, limit))
    hidden = len(incident.alerts) - len(blocks)
    if hidden > 0:
        blocks.append(_context("chatops.more", [f"+{hidden} more alerts in this group"]))
    return blocks


def _links(incident: Incident) -> list[_Block]:
    runbook = incident.common_annotations.get("runbook_url", "")
    links = [link(runbook, "📖 Runbook")] if safe_url(runbook) else []
    url = _silence_url(incident) if incident.status is Status.FIRING else None
    if url and safe_url(url):
        links.append(link(url, "🔕 Silence in Alertmanager"))
    if safe_url(incident.external_url):
        links.append(link(incident.external_url, "Alertmanager"))
    return [_context("chatops.links", [" · ".join(links)])] if links else []


def _incident_buttons(incident: Incident, pipeline_models: frozenset[str]) -> list[_Block]:
    key, model = incident.message_key, _button_model(incident.model)
    buttons = [button("Ack", actions.ACK, actions.button_value(actions.ACK, key=key, model=model))]
    labels = _silence_labels(incident)
    try:
        silence = actions.button_value(actions.SILENCE, key=key, model=model, labels=labels)
        buttons.append(button(f"Silence {actions.SILENCE_DURATION}", actions.SILENCE, silence))
    except actions.BadButtonValue:
        pass  # no labels to match (or none that fit): Alertmanager's own link still works
    if model and model in pipeline_models:
        value = actions.button_value(actions.ROLLBACK, key=key, model=model)
        confirm = _confirm(
            f"Roll back {model}?",
            f"This starts the rollback pipeline for *{escape(model)}* (to its previous "
            "successful deployment). Approval rules apply.",
            "Roll back",
        )
        buttons.append(button("Rollback", actions.ROLLBACK, value, style="danger", confirm=confirm))
    return [_actions_block(key, buttons)]


def _button_model(model: str | None) -> str | None:
    return model if model and len(model) <= actions.MAX_KEY else None


def _confirm(title: str, text: str, yes: str) -> _Block:
    return {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain("Cancel", 30),
        "style": "danger",
    }


def render_incident(
    incident: Incident, *, pipeline_models: frozenset[str] = frozenset()
) -> Rendered:
    """The living message of one alert group: what fires, where to look, what to do."""
    firing = incident.status is Status.FIRING
    rank, severity = _severity(incident)
    emoji = _EMOJI[rank] if firing else _RESOLVED
    word = "Firing" if firing else "Resolved"
    head = [_header(f"{emoji} {word}: {_subject(incident)}")]
    head.append(_fields("chatops.status", _status_fields(incident)))
    tail: list[_Block] = []
    if incident.truncated:
        note = f"⚠️ +{incident.truncated} more alerts not shown (Alertmanager max_alerts)"
        note += "" if firing else "; their state is not known here"
        tail.append(_context("chatops.truncated", [note]))
    tail += _links(incident) + _record_block(incident.message_key, incident.actions)
    tail += _incident_buttons(incident, pipeline_models) if firing else []
    budget = _MAX_VISIBLE - _visible_size(head) - _visible_size(tail)
    blocks = _fit(head, _alert_blocks(incident, budget), tail)
    return Rendered(text=_fallback(incident, emoji, severity), blocks=blocks)


def _fallback(incident: Incident, emoji: str, severity: str) -> str:
    """The notification line: `🔴 FIRING: ModelDriftDetected · fraud-detector (critical) — …`."""
    firing = incident.status is Status.FIRING
    text = f"{emoji} {'FIRING' if firing else 'RESOLVED'}: {escape(_subject(incident))}"
    text += f" ({escape(clip(severity, 40))})" if severity and firing else ""
    total = len(incident.alerts)
    if total == 1:
        detail = one_line(incident.alerts[0].annotations.get("summary", ""))
    elif firing:
        detail = f"{len(incident.firing)} of {total} alerts firing"
    else:
        detail = f"{total} alerts resolved"
    detail += f", +{incident.truncated} not shown" if incident.truncated else ""
    return _text(f"{text} — {escape(detail)}" if detail else text)


# --- thread replies ----------------------------------------------------------------------------


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


# --- drift -------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.3g}"


def _evidence(event: DriftEvent) -> str:
    """One line: `p-value 0.001` or `3 of 5 columns drifted (60%)`."""
    if event.p_value is not None:
        return f"p-value {_num(event.p_value)}"
    if event.drifted_columns is not None and event.total_columns:
        share = f" ({event.share_drifted:.0%})" if event.share_drifted is not None else ""
        return f"{event.drifted_columns} of {event.total_columns} columns drifted{share}"
    if event.share_drifted is not None:
        return f"{event.share_drifted:.0%} of columns drifted"
    return "drift detected"


def _column_line(column: ColumnDrift) -> str:
    mark = "🔺" if column.detected else "▫️"
    test = f" {escape(clip(column.test, 40))}" if column.test else ""
    threshold = f" (threshold {_num(column.threshold)})" if column.threshold is not None else ""
    verdict = " — drifted" if column.detected else ""
    name = code(column.column, 60)
    return f"{mark} `{name}`{test} {_num(column.score)}{threshold}{verdict}"


def _columns_text(event: DriftEvent) -> str:
    ordered = sorted(event.columns, key=lambda c: not c.detected)
    lines = [_column_line(c) for c in ordered[:_MAX_COLUMNS_SHOWN]]
    hidden = ordered[_MAX_COLUMNS_SHOWN:]
    if hidden:
        drifted = sum(c.detected for c in hidden)
        lines.append(f"+{len(hidden)} more columns ({drifted} drifted)")
    return "\n".join(lines)


def _drift_fields(incident: DriftIncident) -> list[tuple[str, str]]:
    latest = incident.latest
    seen = f"{incident.count} times since {date_token(incident.first_at)}"
    pairs = [("Model", escape(clip(incident.model, 200)))]
    if latest.model_version:
        pairs.append(("Version", escape(clip(latest.model_version, 100))))
    pairs.append(("Source", escape(clip(latest.source, 60))))
    pairs.append(("Seen", "once" if incident.count == 1 else seen))
    pairs.append(("Latest", date_token(latest.timestamp or incident.last_at)))
    return pairs


def _dismissed(incident: DriftIncident) -> bool:
    return any(r.action.removeprefix(actions.BLOCK_PREFIX) == "dismiss" for r in incident.actions)


def _drift_buttons(incident: DriftIncident, pipeline_models: frozenset[str]) -> list[_Block]:
    """Retrain (when the model has a pipeline) and Dismiss; else say why Retrain is missing."""
    key, model = incident.message_key, _button_model(incident.model)
    blocks, buttons = [], []
    if model and model in pipeline_models:
        value = actions.button_value(actions.RETRAIN, key=key, model=model)
        buttons.append(button("Retrain", actions.RETRAIN, value, style="primary"))
    else:
        note = f"No pipeline configured for {escape(incident.model)}, so no Retrain button"
        blocks.append(_context("chatops.pipeline", [note]))
    value = actions.button_value(actions.DISMISS, key=key, model=model)
    buttons.append(button("Dismiss", actions.DISMISS, value))
    return [*blocks, _actions_block(key, buttons)]


def render_drift(
    incident: DriftIncident, *, pipeline_models: frozenset[str] = frozenset()
) -> Rendered:
    """The living drift message of one model: the evidence, how often, Retrain / Dismiss."""
    latest = incident.latest
    dismissed = _dismissed(incident)
    word = "Drift dismissed" if dismissed else "Drift detected"
    emoji = "☑️" if dismissed else "🟠"
    blocks = [_header(f"{emoji} {word}: {incident.model}")]
    blocks.append(_fields("chatops.drift", _drift_fields(incident)))
    evidence = f"*{_evidence(latest)}*"
    evidence += " — drift detected" if latest.p_value is not None else ""
    columns = _columns_text(latest)
    blocks.append(_section("chatops.evidence", f"{evidence}\n{columns}" if columns else evidence))
    if latest.report_url and safe_url(latest.report_url):
        blocks.append(_context("chatops.links", [link(latest.report_url, "📊 Open drift report")]))
    blocks += _record_block(incident.message_key, incident.actions)
    blocks += [] if dismissed else _drift_buttons(incident, pipeline_models)
    seen = f" · seen {incident.count} times" if incident.count > 1 else ""
    text = f"{emoji} {word} on {escape(incident.model)}: {escape(_evidence(latest))}{seen}"
    return Rendered(text=_text(text), blocks=blocks[:MAX_BLOCKS])
