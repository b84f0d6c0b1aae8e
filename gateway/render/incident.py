"""The alert-group message: header, status fields, alert sections, notes, links and buttons.

Its parts live beside it: `group` (severity, title, counts), `alerts` (one section per alert),
`controls` (links and buttons); the thread replies are in `changes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from gateway.incident_model import Incident, Status
from gateway.render import grafana
from gateway.render.alerts import alert_blocks
from gateway.render.controls import incident_buttons, links
from gateway.render.group import (
    EMOJI,
    RESOLVED,
    UNSEEN,
    firing_count,
    models,
    severity,
    started,
    subject,
    total,
)
from gateway.render.parts import labels_text, record_block
from slackio.blocks import (
    Block,
    Rendered,
    clip,
    clip_mrkdwn,
    context,
    date_token,
    escape,
    fallback_text,
    fields_block,
    fit_blocks,
    header_block,
    one_line,
    visible_size,
)

_MAX_VISIBLE: Final = 11_000


def _status_line(incident: Incident) -> str:
    count, firing = total(incident), firing_count(incident)
    if incident.status is Status.FIRING:
        text = "🔥 Firing" + (f" · {firing} of {count} alerts" if count > 1 else "")
    else:
        text = f"{RESOLVED} Resolved" + (f" · {count} alerts" if count > 1 else "")
        text += f" · {UNSEEN}" if incident.first_seen_resolved else ""
    return text + (f" · +{incident.truncated} not shown" if incident.truncated else "")


def _status_fields(incident: Incident) -> list[tuple[str, str]]:
    names = models(incident)
    pairs = [("Status", _status_line(incident))]
    pairs.append(("Severity", escape(clip(severity(incident)[1] or "unknown", 40))))
    if names:
        shown = ", ".join(escape(clip(m, 80)) for m in names[:10])
        more = f" +{len(names) - 10} more" if len(names) > 10 else ""
        pairs.append(("Model" if len(names) == 1 else "Models", clip_mrkdwn(shown + more, 600)))
    pairs.append(("Started", date_token(started(incident))))
    ends = [a.ends_at for a in incident.alerts if a.ends_at is not None]
    resolved = max(ends, default=incident.resolved_at)
    if incident.status is Status.RESOLVED and resolved:
        pairs.append(("Resolved", date_token(resolved)))
    labels = labels_text(incident.common_labels, skip={"model"})
    if labels:
        pairs.append(("Labels", clip_mrkdwn(labels, 600)))
    return pairs


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
    rank, worst = severity(incident)
    emoji = EMOJI[rank] if firing else RESOLVED
    word = "Firing" if firing else "Resolved"
    head = [header_block(f"{emoji} {word}: {subject(incident)}")]
    head.append(fields_block("chatops.status", _status_fields(incident)))
    tail = _notes(incident) + grafana.image_blocks(incident) + links(incident)
    tail += record_block(incident.message_key, incident.actions)
    defaults = rollback_environments or {}
    buttons = incident_buttons(incident, pipeline_models, defaults, silence=silence)
    tail += buttons if firing else []
    budget = _MAX_VISIBLE - visible_size(head) - visible_size(tail)
    blocks = fit_blocks(head, alert_blocks(incident, budget), tail)
    return Rendered(text=_fallback(incident, emoji, worst), blocks=blocks)


def _notes(incident: Incident) -> list[Block]:
    """What the message leaves out (truncated, omitted alerts) and a group first seen resolved."""
    firing = incident.status is Status.FIRING
    notes: list[Block] = []
    if incident.truncated:
        limit = "the contact point's max alerts" if incident.grafana else "Alertmanager max_alerts"
        note = f"⚠️ +{incident.truncated} more alerts not shown ({limit})"
        note += "" if firing else "; their state is not known here"
        notes.append(context([note], block_id="chatops.truncated"))
    if incident.omitted:
        notes.append(context([_omitted_note(incident)], block_id="chatops.omitted"))
    if incident.first_seen_resolved and not firing:
        note = f"🕓 This group was {UNSEEN}: its first notification here came after it resolved"
        notes.append(context([note], block_id="chatops.unseen"))
    return notes


def _omitted_note(incident: Incident) -> str:
    counts = f"{incident.omitted_firing} firing, {incident.omitted_resolved} resolved"
    return (
        f"⚠️ +{incident.omitted} more alerts not shown ({counts}): this message keeps "
        f"{len(incident.alerts)} alerts of the group, firing first, then the newest"
    )


def _fallback(incident: Incident, emoji: str, worst: str) -> str:
    """The notification line: `🔴 FIRING: ModelDriftDetected · fraud-detector (critical) — …`."""
    firing = incident.status is Status.FIRING
    word = "FIRING" if firing else "RESOLVED"
    word += f" ({UNSEEN})" if incident.first_seen_resolved and not firing else ""
    text = f"{emoji} {word}: {escape(subject(incident))}"
    text += f" ({escape(clip(worst, 40))})" if worst and firing else ""
    count = total(incident)
    if count == 1 and incident.alerts:
        detail = one_line(incident.alerts[0].annotations.get("summary", ""))
    elif firing:
        detail = f"{firing_count(incident)} of {count} alerts firing"
    else:
        detail = f"{count} alerts resolved"
    detail += f", +{incident.truncated} not shown" if incident.truncated else ""
    return fallback_text(f"{text} — {escape(detail)}" if detail else text)
