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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from gateway import actions
from gateway.drift import ColumnDrift, DriftEvent, DriftIncident
from gateway.incidents import ActionRecord, AlertSnapshot, Change, ChangeKind, Incident, Status

_Block = dict[str, Any]

_MAX_BLOCKS: Final = 50
_MAX_SECTION: Final = 3000
_MAX_HEADER: Final = 150
_MAX_FIELDS: Final = 10
_MAX_FIELD: Final = 2000
_MAX_BUTTON: Final = 75
_MAX_TEXT: Final = 4000
_MAX_CONTEXT: Final = 10
_MAX_VISIBLE: Final = 11_000
_MAX_REPLY: Final = 1000
_MAX_ALERTS_SHOWN: Final = 10
_MAX_COLUMNS_SHOWN: Final = 15
_MAX_LABELS_SHOWN: Final = 10
_MAX_URL: Final = 1000

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


@dataclass(frozen=True)
class Rendered:
    """A message ready to post: notification fallback `text` plus _Block Kit `blocks`."""

    text: str
    blocks: list[dict[str, Any]]


# --- text primitives ---------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Neutralise mrkdwn control characters (so `<!channel>` shows as text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters; cut text ends with `…`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_mrkdwn(text: str, limit: int) -> str:
    """`_clip` that never leaves half a `<link|label>` or half an `&amp;` entity behind."""
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


def _safe_url(url: str) -> str | None:
    """An http(s) URL usable inside `<url|label>`, or None."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > _MAX_URL:
        return None
    return "".join(urllib.parse.quote(c) if c in '|<> \t\r\n"`' else c for c in url)


def _link(url: str | None, label: str) -> str:
    target = _safe_url(url) if url else None
    return f"<{target}|{_escape(label)}>" if target else _escape(label)


def _date(when: datetime) -> str:
    """A Slack date token: shown in the reader's time zone, ISO UTC as the fallback."""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    iso = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"


def _actor(actor: str) -> str:
    return f"<@{actor}>" if _USER_ID.match(actor) else _escape(_clip(actor, 80))


def _labels_text(labels: Mapping[str, str], skip: Iterable[str] = (), limit: int = 600) -> str:
    """`model=x` `feature=y` (as code spans): the labels that matter, as many as fit."""
    hidden = _HIDDEN_LABELS | set(skip)
    shown = [(k, v) for k, v in sorted(labels.items()) if k not in hidden]
    parts: list[str] = []
    for key, value in shown[:_MAX_LABELS_SHOWN]:
        part = f"`{_code(key, 40)}={_code(value, 80)}`"
        if sum(len(p) + 1 for p in parts) + len(part) > limit - 20:
            break
        parts.append(part)
    if len(shown) > len(parts):
        parts.append(f"+{len(shown) - len(parts)} more labels")
    return " ".join(parts)


def _code(text: str, limit: int) -> str:
    """Text for inside a code span: escaped, one line, no backticks."""
    return _escape(_one_line(_clip(text, limit)).replace("`", "'"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- _Block Kit primitives (limits enforced here) -----------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str, limit: int = _MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip_mrkdwn(text, limit) or " "}


def _header(text: str) -> _Block:
    return {"type": "header", "block_id": "chatops.header", "text": _plain(text, _MAX_HEADER)}


def _section(block_id: str, text: str, limit: int = _MAX_SECTION) -> _Block:
    return {"type": "section", "block_id": block_id, "text": _mrkdwn(text, limit)}


def _fields(block_id: str, pairs: Sequence[tuple[str, str]]) -> _Block:
    fields = [_mrkdwn(f"*{name}*\n{value}", _MAX_FIELD) for name, value in pairs[:_MAX_FIELDS]]
    return {"type": "section", "block_id": block_id, "fields": fields}


def _context(block_id: str, texts: Sequence[str], limit: int = _MAX_SECTION) -> _Block:
    """A context block; past 10 elements the oldest are summed up as `+N earlier`."""
    if len(texts) > _MAX_CONTEXT:
        texts = [f"+{len(texts) - _MAX_CONTEXT + 1} earlier", *texts[-(_MAX_CONTEXT - 1) :]]
    elements = [_mrkdwn(t, limit) for t in texts]
    return {"type": "context", "block_id": block_id, "elements": elements}


def _button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: _Block | None = None,
) -> _Block:
    button: _Block = {"type": "button", "action_id": action_id, "value": value}
    button["text"] = _plain(text, _MAX_BUTTON)
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _actions_block(key: str, buttons: Sequence[_Block]) -> _Block:
    block_id = actions.block_id(actions.ACTIONS_BLOCK, key)
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def _record_block(key: str, records: Sequence[ActionRecord]) -> list[_Block]:
    """Who did what, newest last: `✔ Acked by @ana at 10:02`."""
    lines = []
    for record in records:
        name = record.action.removeprefix(actions.BLOCK_PREFIX)
        icon, verb = _RECORD_VERBS.get(name, ("•", _clip(name, 40).capitalize() or "Action"))
        line = f"{icon} {_escape(verb)} by {_actor(record.actor)} at {_date(record.at)}"
        line += f" — {_escape(_clip(record.detail, 200))}" if record.detail else ""
        line += f" · {_link(record.link, 'details')}" if _safe_url(record.link) else ""
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
    room = max(_MAX_BLOCKS - len(head) - len(tail), 0)
    return [*head, *body[:room], *tail][:_MAX_BLOCKS]


def _text(text: str) -> str:
    return _clip_mrkdwn(text, _MAX_TEXT)


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
    base = _safe_url(incident.external_url)
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
    pairs.append(("Severity", _escape(_clip(_severity(incident)[1] or "unknown", 40))))
    if models:
        shown = ", ".join(_escape(_clip(m, 80)) for m in models[:10])
        more = f" +{len(models) - 10} more" if len(models) > 10 else ""
        pairs.append(("Model" if len(models) == 1 else "Models", _clip_mrkdwn(shown + more, 600)))
    pairs.append(("Started", _date(_started(incident))))
    ends = [a.ends_at for a in incident.alerts if a.ends_at is not None]
    resolved = max(ends, default=incident.resolved_at)
    if incident.status is Status.RESOLVED and resolved:
        pairs.append(("Resolved", _date(resolved)))
    labels = _labels_text(incident.common_labels, skip={"model"})
    if labels:
        pairs.append(("Labels", _clip_mrkdwn(labels, 600)))
    return pairs


def _alert_title(alert: AlertSnapshot, *, single: bool, several_names: bool) -> str:
    firing = alert.status is Status.FIRING
    mark = "" if single else f"{_EMOJI[_rank(alert.labels)] if firing else _RESOLVED} "
    summary = _one_line(alert.annotations.get("summary", ""))
    if several_names and summary:
        return f"{mark}*{_escape(_clip(alert.name, 100))}* — {_escape(_clip(summary, 200))}"
    return f"{mark}*{_escape(_clip(summary or alert.name, 200))}*"


def _alert_facts(alert: AlertSnapshot, incident: Incident, *, single: bool) -> list[str]:
    """Labels not shared by the group, own times (in a group), runbook and source links."""
    common = {k for k, v in incident.common_labels.items() if alert.labels.get(k) == v}
    facts = [_labels_text(alert.labels, skip=common)]
    if not single:
        if alert.starts_at != _started(incident):
            facts.append(f"since {_date(alert.starts_at)}")
        if alert.status is Status.RESOLVED and alert.ends_at:
            facts.append(f"resolved {_date(alert.ends_at)}")
    runbook = alert.annotations.get("runbook_url", "")
    if _safe_url(runbook) and runbook != incident.common_annotations.get("runbook_url"):
        facts.append(_link(runbook, "Runbook"))
    if _safe_url(alert.generator_url):
        facts.append(_link(alert.generator_url, "Source"))
    return [f for f in facts if f]


def _alert_text(alert: AlertSnapshot, incident: Incident, *, several_names: bool) -> str:
    single = len(incident.alerts) == 1
    lines = [_alert_title(alert, single=single, several_names=several_names)]
    description = alert.annotations.get("description", "").strip()
    if description:
        lines.append(_escape(_clip(description, 1500 if single else 400)))
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
        limit = min(_MAX_SECTION, max(remaining, 300))
        blocks.append(_section(f"chatops.alert.{index}", text, limit))
    hidden = len(incident.alerts) - len(blocks)
    if hidden > 0:
        blocks.append(_context("chatops.more", [f"+{hidden} more alerts in this group"]))
    return blocks


def _links(incident: Incident) -> list[_Block]:
    runbook = incident.common_annotations.get("runbook_url", "")
    links = [_link(runbook, "📖 Runbook")] if _safe_url(runbook) else []
    url = _silence_url(incident) if incident.status is Status.FIRING else None
    if url and _safe_url(url):
        links.append(_link(url, "🔕 Silence in Alertmanager"))
    if _safe_url(incident.external_url):
        links.append(_link(incident.external_url, "Alertmanager"))
    return [_context("chatops.links", [" · ".join(links)])] if links else []


def _incident_buttons(incident: Incident, pipeline_models: frozenset[str]) -> list[_Block]:
    key, model = incident.message_key, _button_model(incident.model)
    buttons = [_button("Ack", actions.ACK, actions.button_value(actions.ACK, key=key, model=model))]
    labels = _silence_labels(incident)
    try:
        silence = actions.button_value(actions.SILENCE, key=key, model=model, labels=labels)
        buttons.append(_button(f"Silence {actions.SILENCE_DURATION}", actions.SILENCE, silence))
    except actions.BadButtonValue:
        pass  # no labels to match (or none that fit): Alertmanager's own link still works
    if model and model in pipeline_models:
        value = actions.button_value(actions.ROLLBACK, key=key, model=model)
        confirm = _confirm(
            f"Roll back {model}?",
            f"This starts the rollback pipeline for *{_escape(model)}* (to its previous "
            "successful deployment). Approval rules apply.",
            "Roll back",
        )
        buttons.append(
            _button("Rollback", actions.ROLLBACK, value, style="danger", confirm=confirm)
        )
    return [_actions_block(key, buttons)]


def _button_model(model: str | None) -> str | None:
    return model if model and len(model) <= actions.MAX_KEY else None


def _confirm(title: str, text: str, yes: str) -> _Block:
    return {
        "title": _plain(title, 100),
        "text": _mrkdwn(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain("Cancel", 30),
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
    text = f"{emoji} {'FIRING' if firing else 'RESOLVED'}: {_escape(_subject(incident))}"
    text += f" ({_escape(_clip(severity, 40))})" if severity and firing else ""
    total = len(incident.alerts)
    if total == 1:
        detail = _one_line(incident.alerts[0].annotations.get("summary", ""))
    elif firing:
        detail = f"{len(incident.firing)} of {total} alerts firing"
    else:
        detail = f"{total} alerts resolved"
    detail += f", +{incident.truncated} not shown" if incident.truncated else ""
    return _text(f"{text} — {_escape(detail)}" if detail else text)


# --- thread replies ----------------------------------------------------------------------------


def _ident(alert: AlertSnapshot) -> str:
    parts = [alert.name]
    parts += [alert.labels["model"]] if "model" in alert.labels else []
    parts += [f"{k}={alert.labels[k]}" for k in ("feature", "instance") if k in alert.labels]
    return _escape(" · ".join(_clip(p, 80) for p in parts))


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
        counts = ", ".join(f"{_escape(_clip(n, 80))} ({c})" for n, c in names[:5])
        more = f", +{len(names) - 5} more" if len(names) > 5 else ""
        lines.append(f"{icon} {word}: {len(of_kind)} alerts ({counts}{more})")
    return _clip_mrkdwn("\n".join(lines), _MAX_REPLY) if lines else None


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
    test = f" {_escape(_clip(column.test, 40))}" if column.test else ""
    threshold = f" (threshold {_num(column.threshold)})" if column.threshold is not None else ""
    verdict = " — drifted" if column.detected else ""
    name = _code(column.column, 60)
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
    seen = f"{incident.count} times since {_date(incident.first_at)}"
    pairs = [("Model", _escape(_clip(incident.model, 200)))]
    if latest.model_version:
        pairs.append(("Version", _escape(_clip(latest.model_version, 100))))
    pairs.append(("Source", _escape(_clip(latest.source, 60))))
    pairs.append(("Seen", "once" if incident.count == 1 else seen))
    pairs.append(("Latest", _date(latest.timestamp or incident.last_at)))
    return pairs


def _dismissed(incident: DriftIncident) -> bool:
    return any(r.action.removeprefix(actions.BLOCK_PREFIX) == "dismiss" for r in incident.actions)


def _drift_buttons(incident: DriftIncident, pipeline_models: frozenset[str]) -> list[_Block]:
    """Retrain (when the model has a pipeline) and Dismiss; else say why Retrain is missing."""
    key, model = incident.message_key, _button_model(incident.model)
    blocks, buttons = [], []
    if model and model in pipeline_models:
        value = actions.button_value(actions.RETRAIN, key=key, model=model)
        buttons.append(_button("Retrain", actions.RETRAIN, value, style="primary"))
    else:
        note = f"No pipeline configured for {_escape(incident.model)}, so no Retrain button"
        blocks.append(_context("chatops.pipeline", [note]))
    value = actions.button_value(actions.DISMISS, key=key, model=model)
    buttons.append(_button("Dismiss", actions.DISMISS, value))
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
    if latest.report_url and _safe_url(latest.report_url):
        blocks.append(_context("chatops.links", [_link(latest.report_url, "📊 Open drift report")]))
    blocks += _record_block(incident.message_key, incident.actions)
    blocks += [] if dismissed else _drift_buttons(incident, pipeline_models)
    seen = f" · seen {incident.count} times" if incident.count > 1 else ""
    text = f"{emoji} {word} on {_escape(incident.model)}: {_escape(_evidence(latest))}{seen}"
    return Rendered(text=_text(text), blocks=blocks[:_MAX_BLOCKS])
