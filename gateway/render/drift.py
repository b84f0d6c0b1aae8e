"""The living drift message of one model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from gateway import actions
from gateway.drift import ColumnDrift, DriftEvent, DriftIncident
from gateway.render.parts import actions_block, button_model, record_block
from slackio.blocks import (
    MAX_BLOCKS,
    Block,
    Rendered,
    button,
    clip,
    code,
    context,
    date_token,
    escape,
    fallback_text,
    fields_block,
    header_block,
    link,
    safe_url,
    section,
)
from slackio.buttons import DISMISS, RETRAIN, button_value

_MAX_COLUMNS_SHOWN: Final = 15


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


def _drift_buttons(
    incident: DriftIncident, pipeline_models: frozenset[str], notes: Mapping[str, str]
) -> list[Block]:
    """Retrain (when the model's pipeline can start) and Dismiss; else say why no Retrain."""
    key, model = incident.message_key, button_model(incident.model)
    blocks, buttons = [], []
    if model and model in pipeline_models:
        value = button_value(RETRAIN, key=key, model=model)
        buttons.append(button("Retrain", RETRAIN, value, style="primary"))
    else:
        why = notes.get(incident.model)
        note = (
            f"No Retrain button: {escape(clip(why, 200))}"
            if why
            else f"No pipeline configured for {escape(incident.model)}, so no Retrain button"
        )
        blocks.append(context([note], block_id="chatops.pipeline"))
    value = button_value(DISMISS, key=key, model=model)
    buttons.append(button("Dismiss", DISMISS, value))
    return [*blocks, actions_block(key, buttons)]


def render_drift(
    incident: DriftIncident,
    *,
    pipeline_models: frozenset[str] = frozenset(),
    pipeline_notes: Mapping[str, str] | None = None,
) -> Rendered:
    """The living drift message of one model: the evidence, how often, Retrain / Dismiss.

    Retrain is drawn for `pipeline_models` (whose pipeline can start); for another model the
    message says why not: `pipeline_notes[model]` (e.g. a missing token), else no pipeline.
    """
    latest = incident.latest
    dismissed = _dismissed(incident)
    word = "Drift dismissed" if dismissed else "Drift detected"
    emoji = "☑️" if dismissed else "🟠"
    blocks = [header_block(f"{emoji} {word}: {incident.model}")]
    blocks.append(fields_block("chatops.drift", _drift_fields(incident)))
    evidence = f"*{_evidence(latest)}*"
    evidence += " — drift detected" if latest.p_value is not None else ""
    columns = _columns_text(latest)
    blocks.append(
        section(f"{evidence}\n{columns}" if columns else evidence, block_id="chatops.evidence")
    )
    if latest.report_url and safe_url(latest.report_url):
        blocks.append(
            context([link(latest.report_url, "📊 Open drift report")], block_id="chatops.links")
        )
    blocks += record_block(incident.message_key, incident.actions)
    notes = pipeline_notes or {}
    blocks += [] if dismissed else _drift_buttons(incident, pipeline_models, notes)
    seen = f" · seen {incident.count} times" if incident.count > 1 else ""
    text = f"{emoji} {word} on {escape(incident.model)}: {escape(_evidence(latest))}{seen}"
    return Rendered(text=fallback_text(text), blocks=blocks[:MAX_BLOCKS])
