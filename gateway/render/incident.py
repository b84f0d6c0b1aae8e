"""The alert-group message and its thread replies."""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from gateway.incidents import AlertSnapshot, Change, ChangeKind, Incident, Status
from gateway.render import grafana
from gateway.render.parts import (
    Block,
    actions_block,
    button_model,
    confirm_dialog,
    context_block,
    fallback_text,
    fields_block,
    fit_blocks,
    header_block,
    labels_text,
    record_block,
    section_block,
    visible_size,
)
from slackio.blocks import (
    MAX_SECTION,
    Rendered,
    button,
    clip,
    clip_mrkdwn,
    code,
    date_token,
    escape,
    link,
    one_line,
    safe_url,
)
from slackio.buttons import (
    ACK,
    ALERTMANAGER,
    GRAFANA,
    ROLLBACK,
    SILENCE,
    SILENCE_DURATION,
    BadButtonValue,
    button_value,
)

_MAX_VISIBLE: Final = 11_000
_MAX_REPLY: Final = 1000
_MAX_ALERTS_SHOWN: Final = 10
_SEVERITY_RANK: Final = {
    **dict.fromkeys(("critical", "page", "error", "high"), 3),
    **dict.fromkeys(("warning", "medium"), 2),
    **dict.fromkeys(("info", "informational", "low", "none"), 1),
}
_EMOJI: Final = {3: "🔴", 2: "🟠", 1: "🔵"}
_RESOLVED: Final = "✅"
_UNSEEN: Final = "resolved before it was seen firing"
_CHANGE_WORDS: Final = {
    ChangeKind.NEW: ("🔥", "New"),
    ChangeKind.REFIRED: ("🔁", "Firing again"),
    ChangeKind.RESOLVED: ("✅", "Resolved"),
}


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
    return f"{_total(incident) + incident.truncated} alerts"


def _total(incident: Incident) -> int:
    """Alerts of the group known here: the kept ones and those only counted."""
    return len(incident.alerts) + incident.omitted


def _firing_count(incident: Incident) -> int:
    return len(incident.firing) + incident.omitted_firing


def _subject(incident: Incident) -> str:
    """`ModelPSIHigh · fraud-detector`, or `ModelPSIHigh · 3 models`."""
    models = _models(incident)
    many = f"{len(models)}{'+' if incident.omitted else ''} models"
    scope = models[0] if len(models) == 1 else many if models else ""
    return f"{_title(incident)} · {scope}" if scope else _title(incident)


def _silence_labels(incident: Incident) -> dict[str, str]:
    """The matchers that silence this group: its group labels, else its common labels.

    An empty value means "label absent" to a matcher, so it is left out (Grafana sends
    `{"alertname": ""}` for a group whose alerts lack the label)."""
    group = {k: v for k, v in incident.group_labels.items() if v}
    return group or {k: v for k, v in incident.common_labels.items() if v}


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
    total, firing = _total(incident), _firing_count(incident)
    if incident.status is Status.FIRING:
        text = "🔥 Firing" + (f" · {firing} of {total} alerts" if total > 1 else "")
    else:
        text = f"{_RESOLVED} Resolved" + (f" · {total} alerts" if total > 1 else "")
        text += f" · {_UNSEEN}" if incident.first_seen_resolved else ""
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
    labels = labels_text(incident.common_labels, skip={"model"})
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
    facts = [labels_text(alert.labels, skip=common)]
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
    elif alert.generator_url.strip():  # relative (`/graph?g0.expr=…`): no host to link to
        facts.append(f"Source from {_sender(incident)}: `{code(alert.generator_url, 200)}`")
    facts += grafana.alert_links(alert)
    return [f for f in facts if f]


def _sender(incident: Incident) -> str:
    """Who sent the group, for a link that cannot be followed: its external URL's host,
    else its receiver's name."""
    host = urllib.parse.urlsplit(safe_url(incident.external_url) or "").hostname
    if host:
        return escape(clip(host, 80))
    return f"receiver {escape(clip(incident.receiver, 80))}" if incident.receiver else "the sender"


def _alert_text(alert: AlertSnapshot, incident: Incident, *, several_names: bool) -> str:
    single = len(incident.alerts) == 1
    lines = [_alert_title(alert, single=single, several_names=several_names)]
    description = alert.annotations.get("description", "").strip()
    if description:
        lines.append(escape(clip(description, 1500 if single else 400)))
    lines.append(grafana.value_text(alert))
    lines.append(" · ".join(_alert_facts(alert, incident, single=single)))
    return "\n".join(line for line in lines if line)


def _alert_blocks(incident: Incident, budget: int) -> list[Block]:
    """Per-alert sections, as many as fit (at most 10 and `budget` visible chars), then `+N`."""
    blocks: list[Block] = []
    several_names = len({a.name for a in incident.alerts}) > 1
    for index, alert in enumerate(incident.alerts[:_MAX_ALERTS_SHOWN]):
        remaining = budget - sum(visible_size(b) for b in blocks)
        if blocks and remaining < 300:
            break
        text = _alert_text(alert, incident, several_names=several_names)
        limit = min(MAX_SECTION, max(remaining, 300))
        blocks.append(section_block(f"chatops.alert.{index}", text, limit))
    hidden = _total(incident) - len(blocks)
    if hidden > 0:
        blocks.append(context_block("chatops.more", [f"+{hidden} more alerts in this group"]))
    return blocks


def _links(incident: Incident) -> list[Block]:
    runbook = incident.common_annotations.get("runbook_url", "")
    links = [link(runbook, "📖 Runbook")] if safe_url(runbook) else []
    if incident.grafana is not None:  # Grafana's own silence page, not Alertmanager's
        links += grafana.source_links(incident, _silence_labels(incident))
        return [context_block("chatops.links", [" · ".join(links)])] if links else []
    url = _silence_url(incident) if incident.status is Status.FIRING else None
    if url and safe_url(url):
        links.append(link(url, "🔕 Silence in Alertmanager"))
    if safe_url(incident.external_url):
        links.append(link(incident.external_url, "Alertmanager"))
    return [context_block("chatops.links", [" · ".join(links)])] if links else []


def _rollback_environment(incident: Incident, default: str | None) -> str | None:
    """The alert's `environment` (else `env`) label, else the model's default; None if neither."""
    for labels in (incident.group_labels, incident.common_labels):
        for name in ("environment", "env"):
            if labels.get(name):
                return labels[name]
    return default


def _rollback_button(key: str, model: str, environment: str | None) -> Block:
    try:
        value = button_value(ROLLBACK, key=key, model=model, environment=environment)
    except BadButtonValue:  # an environment label too long to carry
        environment = None
        value = button_value(ROLLBACK, key=key, model=model)
    if environment is None:
        title = f"Roll back {model}?"
        text = (
            f"The alert names no environment of *{escape(model)}* and it has no default one: "
            f"the bot will ask you to use `{escape(f'/rollback {model} <environment>')}`."
        )
    else:
        title = f"Roll back {model} in {environment}?"
        text = (
            f"This starts the rollback pipeline for *{escape(model)}* in "
            f"*{escape(environment)}*, to the previous successful deployment. "
            "Approval rules apply."
        )
    confirm = confirm_dialog(title, text, "Roll back")
    return button("Rollback", ROLLBACK, value, style="danger", confirm=confirm)


def _incident_buttons(
    incident: Incident,
    pipeline_models: frozenset[str],
    rollback_environments: Mapping[str, str],
    *,
    silence: bool,
) -> list[Block]:
    """Ack; Silence when the bot can reach Alertmanager; Rollback when the pipeline can start."""
    key, model = incident.message_key, button_model(incident.model)
    buttons = [button("Ack", ACK, button_value(ACK, key=key, model=model))]
    labels = _silence_labels(incident)
    try:
        if silence:
            source = GRAFANA if incident.grafana is not None else ALERTMANAGER
            value = button_value(SILENCE, key=key, model=model, labels=labels, source=source)
            buttons.append(button(f"Silence {SILENCE_DURATION}", SILENCE, value))
    except BadButtonValue:
        pass  # no labels to match (or none that fit): Alertmanager's own link still works
    if model and model in pipeline_models:
        environment = _rollback_environment(incident, rollback_environments.get(model))
        buttons.append(_rollback_button(key, model, environment))
    return [actions_block(key, buttons)]


def render_incident(
    incident: Incident,
    *,
    pipeline_models: frozenset[str] = frozenset(),
    silence: bool = False,
    rollback_environments: Mapping[str, str] | None = None,
    grafana_silence: bool = False,
) -> Rendered:
    """The living message of one alert group: what fires, where to look, what to do.

    Only buttons that can work are drawn: Rollback for `pipeline_models` (whose pipeline can
    start), Silence when `silence` (the bot can reach Alertmanager) or, for a group Grafana
    sent, when `grafana_silence` (the bot can reach Grafana).
    """
    if incident.grafana is not None:
        if incident.grafana.test:
            return grafana.render_test_notification(incident)
        silence = grafana_silence
    firing = incident.status is Status.FIRING
    rank, severity = _severity(incident)
    emoji = _EMOJI[rank] if firing else _RESOLVED
    word = "Firing" if firing else "Resolved"
    head = [header_block(f"{emoji} {word}: {_subject(incident)}")]
    head.append(fields_block("chatops.status", _status_fields(incident)))
    tail: list[Block] = []
    if incident.truncated:
        limit = "the contact point's max alerts" if incident.grafana else "Alertmanager max_alerts"
        note = f"⚠️ +{incident.truncated} more alerts not shown ({limit})"
        note += "" if firing else "; their state is not known here"
        tail.append(context_block("chatops.truncated", [note]))
    if incident.omitted:
        tail.append(context_block("chatops.omitted", [_omitted_note(incident)]))
    if incident.first_seen_resolved and not firing:
        note = f"🕓 This group was {_UNSEEN}: its first notification here came after it resolved"
        tail.append(context_block("chatops.unseen", [note]))
    tail += grafana.image_blocks(incident) + _links(incident)
    tail += record_block(incident.message_key, incident.actions)
    defaults = rollback_environments or {}
    buttons = _incident_buttons(incident, pipeline_models, defaults, silence=silence)
    tail += buttons if firing else []
    budget = _MAX_VISIBLE - visible_size(head) - visible_size(tail)
    blocks = fit_blocks(head, _alert_blocks(incident, budget), tail)
    return Rendered(text=_fallback(incident, emoji, severity), blocks=blocks)


def _omitted_note(incident: Incident) -> str:
    counts = f"{incident.omitted_firing} firing, {incident.omitted_resolved} resolved"
    return (
        f"⚠️ +{incident.omitted} more alerts not shown ({counts}): this message keeps "
        f"{len(incident.alerts)} alerts of the group, firing first, then the newest"
    )


def _fallback(incident: Incident, emoji: str, severity: str) -> str:
    """The notification line: `🔴 FIRING: ModelDriftDetected · fraud-detector (critical) — …`."""
    firing = incident.status is Status.FIRING
    word = "FIRING" if firing else "RESOLVED"
    word += f" ({_UNSEEN})" if incident.first_seen_resolved and not firing else ""
    text = f"{emoji} {word}: {escape(_subject(incident))}"
    text += f" ({escape(clip(severity, 40))})" if severity and firing else ""
    total = _total(incident)
    if total == 1 and incident.alerts:
        detail = one_line(incident.alerts[0].annotations.get("summary", ""))
    elif firing:
        detail = f"{_firing_count(incident)} of {total} alerts firing"
    else:
        detail = f"{total} alerts resolved"
    detail += f", +{incident.truncated} not shown" if incident.truncated else ""
    return fallback_text(f"{text} — {escape(detail)}" if detail else text)


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
