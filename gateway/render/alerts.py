"""The per-alert sections of an alert-group message: title, description, value, facts, links."""

from __future__ import annotations

import urllib.parse
from typing import Final

from gateway.incident_model import AlertSnapshot, Incident, Status
from gateway.render import grafana
from gateway.render.group import EMOJI, RESOLVED, rank, started, total
from gateway.render.parts import labels_text
from slackio.blocks import (
    MAX_SECTION,
    Block,
    clip,
    code,
    context,
    date_token,
    escape,
    link,
    one_line,
    safe_url,
    section,
    visible_size,
)

_MAX_ALERTS_SHOWN: Final = 10


def _alert_title(alert: AlertSnapshot, *, single: bool, several_names: bool) -> str:
    firing = alert.status is Status.FIRING
    mark = "" if single else f"{EMOJI[rank(alert.labels)] if firing else RESOLVED} "
    summary = one_line(alert.annotations.get("summary", ""))
    if several_names and summary:
        return f"{mark}*{escape(clip(alert.name, 100))}* — {escape(clip(summary, 200))}"
    return f"{mark}*{escape(clip(summary or alert.name, 200))}*"


def _alert_facts(alert: AlertSnapshot, incident: Incident, *, single: bool) -> list[str]:
    """Labels not shared by the group, own times (in a group), runbook and source links."""
    common = {k for k, v in incident.common_labels.items() if alert.labels.get(k) == v}
    facts = [labels_text(alert.labels, skip=common)]
    if not single:
        if alert.starts_at != started(incident):
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


def alert_blocks(incident: Incident, budget: int) -> list[Block]:
    """Per-alert sections, as many as fit (at most 10 and `budget` visible chars), then `+N`."""
    blocks: list[Block] = []
    several_names = len({a.name for a in incident.alerts}) > 1
    for index, alert in enumerate(incident.alerts[:_MAX_ALERTS_SHOWN]):
        remaining = budget - sum(visible_size(b) for b in blocks)
        if blocks and remaining < 300:
            break
        text = _alert_text(alert, incident, several_names=several_names)
        limit = min(MAX_SECTION, max(remaining, 300))
        blocks.append(section(text, block_id=f"chatops.alert.{index}", limit=limit))
    hidden = total(incident) - len(blocks)
    if hidden > 0:
        blocks.append(context([f"+{hidden} more alerts in this group"], block_id="chatops.more"))
    return blocks
