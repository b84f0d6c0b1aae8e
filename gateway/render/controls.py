"""What an alert-group message offers to do: its links (runbook, silence, source) and buttons."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from gateway.incident_model import Incident, Status
from gateway.render import grafana
from gateway.render.group import silence_labels
from gateway.render.parts import actions_block, button_model
from slackio.blocks import Block, button, confirm_dialog, context, escape, link, safe_url
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


def _silence_url(incident: Incident) -> str | None:
    """Alertmanager's "new silence" page, pre-filled with the group's matchers."""
    base = safe_url(incident.external_url)
    labels = silence_labels(incident)
    if base is None or not labels:
        return None
    matchers = ",".join(f'{k}="{_go_quote(v)}"' for k, v in sorted(labels.items()))
    return f"{base.rstrip('/')}/#/silences/new?filter={urllib.parse.quote('{' + matchers + '}')}"


def _go_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def links(incident: Incident) -> list[Block]:
    runbook = incident.common_annotations.get("runbook_url", "")
    found = [link(runbook, "📖 Runbook")] if safe_url(runbook) else []
    if incident.grafana is not None:  # Grafana's own silence page, not Alertmanager's
        found += grafana.source_links(incident, silence_labels(incident))
        return [context([" · ".join(found)], block_id="chatops.links")] if found else []
    url = _silence_url(incident) if incident.status is Status.FIRING else None
    if url and safe_url(url):
        found.append(link(url, "🔕 Silence in Alertmanager"))
    if safe_url(incident.external_url):
        found.append(link(incident.external_url, "Alertmanager"))
    return [context([" · ".join(found)], block_id="chatops.links")] if found else []


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


def incident_buttons(
    incident: Incident,
    pipeline_models: frozenset[str],
    rollback_environments: Mapping[str, str],
    *,
    silence: bool,
) -> list[Block]:
    """Ack; Silence when the bot can reach Alertmanager; Rollback when the pipeline can start."""
    key, model = incident.message_key, button_model(incident.model)
    buttons = [button("Ack", ACK, button_value(ACK, key=key, model=model))]
    labels = silence_labels(incident)
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
