"""Rendering (gateway.render): JSON snapshots from the captured bodies, Slack limits, escaping.

Snapshots live in tests/snapshots/<name>.json and are compared exactly; after a deliberate
change to the messages, regenerate them with `UPDATE_SNAPSHOTS=1 pytest tests/unit/test_render.py`
and read the diff like any other code change.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.alertmanager import parse_alertmanager
from gateway.drift import DriftIncident, fold, parse_drift
from gateway.incident_model import ActionRecord, AlertSnapshot, Change, ChangeKind, Incident
from gateway.incidents import merge, open_incident, with_action
from gateway.render import Rendered, render_changes, render_drift, render_incident
from slackio.buttons import ROLLBACK, SILENCE, parse_button_value
from tests.fakes.fixtures import fixture_bytes

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
PIPELINES = frozenset({"fraud-detector", "credit-scorer"})
ROLLBACK_DEFAULTS = {"fraud-detector": "production"}  # credit-scorer: no default environment


def assert_snapshot(name: str, data: dict[str, Any]) -> None:
    """Compare with tests/snapshots/<name>.json exactly; rewrite it when UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing snapshot {path.name}: run with UPDATE_SNAPSHOTS=1"
    assert path.read_text(encoding="utf-8") == text


def as_data(rendered: Rendered, replies: list[str | None] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"text": rendered.text, "blocks": rendered.blocks}
    if replies is not None:
        data["replies"] = replies
    return data


def fold_bodies(*names: str) -> tuple[Incident, list[str | None]]:
    """Real Alertmanager bodies through parse -> open_incident -> merge, one minute apart."""
    incident: Incident | None = None
    replies: list[str | None] = []
    for step, name in enumerate(names):
        payload = parse_alertmanager(fixture_bytes(f"alertmanager/{name}.json"))
        now = NOW + timedelta(minutes=step)
        if incident is None:
            incident = open_incident(payload, generation=1, now=now)
        incident, changes = merge(incident, payload, now=now)
        replies.append(render_changes(changes))
    assert incident is not None
    return incident, replies


def drift_incident(name: str, *, times: int = 1, model: str | None = None) -> DriftIncident:
    body = fixture_bytes(f"drift/{name}.json")
    event = parse_drift(body, model_param=model, default_model="fraud-detector")
    incident = None
    for step in range(times):
        incident = fold(incident, event, now=NOW + timedelta(minutes=10 * step), window=4 * 3600)
    assert incident is not None
    return incident


def action_ids(rendered: Rendered) -> list[str]:
    return [
        e["action_id"] for b in rendered.blocks if b["type"] == "actions" for e in b["elements"]
    ]


def dumped(rendered: Rendered) -> str:
    return json.dumps(rendered.blocks, ensure_ascii=False)


# --- snapshots from the captured bodies --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bodies", "pipelines"),
    [
        # neither a runnable pipeline nor Alertmanager: Ack is the only button that can work
        ("am_firing_single", ["api_firing_single-alert"], frozenset()),
        ("am_firing_single_with_pipeline", ["api_firing_single-alert"], PIPELINES),
        (
            "am_firing_then_resolved",
            ["api_firing_single-alert", "api_resolved_single-alert"],
            PIPELINES,
        ),
        (
            "am_group_then_mixed",
            ["api_one-group_3-alerts", "api_mixed_2-firing_1-resolved"],
            PIPELINES,
        ),
        ("am_truncated_firing", ["api_truncated_max-alerts-2_of-5"], PIPELINES),
        (
            "am_truncated_resolved",
            ["api_truncated_max-alerts-2_of-5", "api_truncated_resolved_max-alerts-2_of-5"],
            PIPELINES,
        ),
        (
            "prometheus_error_rate",
            ["prometheus_firing_error-rate", "prometheus_firing_error-rate_resend"],
            PIPELINES,
        ),
    ],
)
def test_alert_group_snapshots(name: str, bodies: list[str], pipelines: frozenset[str]) -> None:
    incident, replies = fold_bodies(*bodies)
    rendered = render_incident(
        incident,
        pipeline_models=pipelines,
        silence=bool(pipelines),
        rollback_environments=ROLLBACK_DEFAULTS,
    )
    assert_within_limits(rendered)
    assert_snapshot(name, as_data(rendered, replies))


def test_incident_with_action_records_snapshot() -> None:
    incident, _ = fold_bodies("prometheus_firing_error-rate")
    incident = with_action(incident, ActionRecord("U0ONCALL1", "ack", NOW + timedelta(minutes=2)))
    silence = ActionRecord(
        "U0ONCALL2",
        "silence",
        NOW + timedelta(minutes=3),
        detail="for 1h",
        link="http://127.0.0.1:19093/#/silences/5b1c",
    )
    incident = with_action(incident, silence)
    firing = render_incident(
        incident, pipeline_models=PIPELINES, silence=True, rollback_environments=ROLLBACK_DEFAULTS
    )
    resolved_incident, _ = fold_bodies("api_firing_single-alert", "api_resolved_single-alert")
    resolved = render_incident(replace(resolved_incident, actions=incident.actions))
    for rendered in (firing, resolved):
        assert_within_limits(rendered)
    assert_snapshot("am_with_actions", as_data(firing))
    assert_snapshot("am_with_actions_resolved", as_data(resolved))
    for rendered in (firing, resolved):
        record = next(b for b in rendered.blocks if b["block_id"].startswith("chatops.record:"))
        text = " ".join(e["text"] for e in record["elements"])
        assert "Acked by <@U0ONCALL1>" in text
        assert "Silenced by <@U0ONCALL2>" in text
    assert action_ids(resolved) == []


@pytest.mark.parametrize(
    ("name", "body", "times", "pipelines"),
    [
        ("drift_script", "drift-script_event-drift", 1, PIPELINES),
        ("drift_script_repeated", "drift-script_event-drift", 3, PIPELINES),
        ("drift_evidently", "evidently-style_drift-summary_drift", 1, PIPELINES),
        ("drift_evidently_no_pipeline", "evidently-style_drift-summary_drift", 1, frozenset()),
    ],
)
def test_drift_snapshots(name: str, body: str, times: int, pipelines: frozenset[str]) -> None:
    rendered = render_drift(drift_incident(body, times=times), pipeline_models=pipelines)
    assert_within_limits(rendered)
    assert_snapshot(name, as_data(rendered))


# --- behaviour the snapshots show, asserted by name --------------------------------------------


def test_rollback_button_only_for_a_model_with_a_pipeline() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    assert action_ids(render_incident(incident, silence=True)) == ["chatops.ack", SILENCE]
    others = render_incident(incident, pipeline_models=frozenset({"churn-predictor"}))
    assert ROLLBACK not in action_ids(others)
    rendered = render_incident(incident, pipeline_models=PIPELINES, silence=True)
    assert action_ids(rendered) == ["chatops.ack", SILENCE, ROLLBACK]
    (rollback,) = [e for b in rendered.blocks if b["type"] == "actions" for e in b["elements"]][2:]
    assert rollback["style"] == "danger"
    assert rollback["confirm"]["confirm"]["text"] == "Roll back"
    assert parse_button_value(ROLLBACK, rollback["value"]).model == "fraud-detector"


def test_a_group_of_several_models_offers_no_rollback() -> None:
    incident, _ = fold_bodies("api_one-group_3-alerts")
    assert ROLLBACK not in action_ids(render_incident(incident, pipeline_models=PIPELINES))


def test_silence_button_only_when_the_bot_can_reach_alertmanager() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    without = render_incident(incident, pipeline_models=PIPELINES)
    assert action_ids(without) == ["chatops.ack", ROLLBACK]
    # Alertmanager's own "new silence" page stays linked: it works without the bot
    assert "Silence in Alertmanager" in dumped(without)
    with_am = render_incident(incident, pipeline_models=PIPELINES, silence=True)
    assert action_ids(with_am) == ["chatops.ack", SILENCE, ROLLBACK]


def test_silence_button_and_link_match_the_group_labels() -> None:
    incident, _ = fold_bodies("api_truncated_max-alerts-2_of-5")
    rendered = render_incident(incident, silence=True)
    silence = next(
        e
        for b in rendered.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == SILENCE
    )
    value = parse_button_value(SILENCE, silence["value"])
    assert value.labels == {"alertname": "FeatureDriftDetected", "model": "fraud-detector"}
    assert value.key == incident.message_key
    expected = "%7Balertname%3D%22FeatureDriftDetected%22%2Cmodel%3D%22fraud-detector%22%7D"
    assert f"<http://127.0.0.1:19093/#/silences/new?filter={expected}|" in dumped(rendered)


def test_links_never_show_url_credentials() -> None:
    incident, _ = fold_bodies("api_truncated_max-alerts-2_of-5")
    incident = replace(incident, external_url="http://am:s3cret-pw@127.0.0.1:19093")
    text = dumped(render_incident(incident))
    assert "<http://127.0.0.1:19093/#/silences/new?filter=" in text
    assert "s3cret-pw" not in text


def test_truncated_alerts_are_shown_never_as_resolved() -> None:
    firing, _ = fold_bodies("api_truncated_max-alerts-2_of-5")
    rendered = render_incident(firing)
    assert "+3 more alerts not shown (Alertmanager max_alerts)" in dumped(rendered)
    assert "FIRING" in rendered.text
    assert "+3 not shown" in rendered.text
    resolved, _ = fold_bodies(
        "api_truncated_max-alerts-2_of-5", "api_truncated_resolved_max-alerts-2_of-5"
    )
    text = dumped(render_incident(resolved))
    assert "2 alerts · +3 not shown" in text
    assert "their state is not known here" in text


def test_resolved_message_shows_resolved_time_and_no_buttons() -> None:
    incident, _ = fold_bodies("api_firing_single-alert", "api_resolved_single-alert")
    rendered = render_incident(incident, pipeline_models=PIPELINES)
    assert rendered.blocks[0]["text"]["text"].startswith("✅ Resolved: ModelDriftDetected")
    fields = [f["text"] for f in rendered.blocks[1]["fields"]]
    assert any(f.startswith("*Resolved*\n<!date^") for f in fields)
    assert action_ids(rendered) == []
    assert rendered.text.startswith("✅ RESOLVED")


def test_drift_without_pipeline_says_so_instead_of_retrain() -> None:
    incident = drift_incident("drift-script_event-drift", model="churn-predictor")
    assert incident.model == "churn-predictor"
    rendered = render_drift(incident)
    assert action_ids(rendered) == ["chatops.dismiss"]
    assert "No pipeline configured for churn-predictor" in dumped(rendered)
    with_pipeline = render_drift(incident, pipeline_models=frozenset({"churn-predictor"}))
    assert action_ids(with_pipeline) == ["chatops.retrain", "chatops.dismiss"]


def test_drift_with_a_pipeline_that_cannot_start_says_why() -> None:
    incident = drift_incident("drift-script_event-drift")
    why = {"fraud-detector": "GITLAB_TOKEN is not set, so its pipeline cannot start"}
    rendered = render_drift(incident, pipeline_notes=why)
    assert action_ids(rendered) == ["chatops.dismiss"]
    assert "No Retrain button: GITLAB_TOKEN is not set" in dumped(rendered)
    assert "No pipeline configured" not in dumped(rendered)


def test_evidently_columns_drifted_first_with_test_and_threshold() -> None:
    rendered = render_drift(drift_incident("evidently-style_drift-summary_drift"))
    evidence = next(b for b in rendered.blocks if b["block_id"] == "chatops.evidence")
    lines = evidence["text"]["text"].splitlines()
    assert lines[0] == "*3 of 5 columns drifted (60%)*"
    assert [line.split("`")[1] for line in lines[1:]] == [
        "amount",
        "hour_of_day",
        "merchant_category",
        "country",
        "device_type",
    ]
    assert "K-S p_value 0.0004 (threshold 0.05) — drifted" in lines[2]


def test_dismissed_drift_keeps_the_record_and_drops_the_buttons() -> None:
    incident = drift_incident("drift-script_event-drift")
    incident = replace(incident, actions=(ActionRecord("U0ONCALL1", "dismiss", NOW),))
    rendered = render_drift(incident, pipeline_models=PIPELINES)
    assert action_ids(rendered) == []
    assert "Dismissed by <@U0ONCALL1>" in dumped(rendered)


# --- Slack limits ------------------------------------------------------------------------------


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn"):
            yield node
        for value in node.values():
            yield from text_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from text_objects(value)


def assert_within_limits(rendered: Rendered) -> None:
    """Every Block Kit limit Slack enforces on a message, checked apart from gateway.render."""
    blocks = rendered.blocks
    assert 0 < len(rendered.text) <= 4000
    assert 0 < len(blocks) <= 50
    ids = [b["block_id"] for b in blocks]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= 255 for i in ids)
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
        elif block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
            for button in block["elements"]:
                assert_button(button)
    assert all(0 < len(t["text"]) <= 3000 for t in text_objects(blocks))
    visible = sum(len(t["text"]) for t in text_objects(blocks))
    assert visible <= 11_000, "Slack rejects ~13k characters of blocks (msg_blocks_too_long)"


def assert_button(button: dict[str, Any]) -> None:
    assert len(button["text"]["text"]) <= 75
    assert len(button["value"]) <= 2000
    assert len(button["action_id"]) <= 255
    confirm = button.get("confirm")
    if confirm:
        assert len(confirm["title"]["text"]) <= 100
        assert len(confirm["text"]["text"]) <= 300
        assert len(confirm["confirm"]["text"]) <= 30
        assert len(confirm["deny"]["text"]) <= 30
    parse_button_value(button["action_id"], button["value"])


def am_body(alerts: list[dict[str, Any]], group_labels: dict[str, str]) -> bytes:
    body = {
        "receiver": "ml-webhook",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": group_labels,
        "commonLabels": group_labels,
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:19093",
        "version": "4",
        "groupKey": '{}:{group="synthetic"}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


def am_alert(labels: dict[str, str], annotations: dict[str, str], index: int = 0) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-11-22T19:43:19.201Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://127.0.0.1:19090/graph?g0.expr=x&i={index}",
        "fingerprint": f"{index:016x}",
    }


def render_body(body: bytes, pipelines: frozenset[str] = PIPELINES) -> tuple[Incident, Rendered]:
    payload = parse_alertmanager(body)
    incident, _ = merge(open_incident(payload, generation=1, now=NOW), payload, now=NOW)
    return incident, render_incident(incident, pipeline_models=pipelines, silence=True)


def test_huge_alert_stays_within_every_limit() -> None:
    labels = {
        "alertname": "A" * 300,
        "model": "fraud-detector",
        "severity": "critical",
        **{f"label_{i:03}": "v" * 60 for i in range(500)},
    }
    annotations = {
        "summary": "S" * 5000,
        "description": "D" * 20_000,
        "runbook_url": "https://runbooks.example.com/" + "r" * 5000,
    }
    _, rendered = render_body(am_body([am_alert(labels, annotations)], labels))
    assert_within_limits(rendered)
    assert "D" * 500 in dumped(rendered), "a long description is clipped, not dropped"
    assert re.search(r"\+4\d\d more labels", dumped(rendered))
    silence = next(e for b in rendered.blocks if b["type"] == "actions" for e in b["elements"][1:2])
    value = parse_button_value(SILENCE, silence["value"])
    assert value.truncated
    assert set(value.labels) == {"alertname", "model"}


def test_group_of_ten_thousand_alerts_stays_within_every_limit() -> None:
    group = {"alertname": "ModelPSIHigh"}
    alerts = [
        am_alert(
            {"alertname": "ModelPSIHigh", "model": f"model-{i:05}", "severity": "warning"},
            {"summary": f"PSI of model-{i:05} above 0.2", "description": "x" * 1000},
            index=i,
        )
        for i in range(10_000)
    ]
    payload = parse_alertmanager(am_body(alerts, group))
    opened = open_incident(payload, generation=1, now=NOW)
    incident, changes = merge(opened, payload, now=NOW)  # the default limit: 500 kept
    rendered = render_incident(incident, pipeline_models=PIPELINES)
    assert_within_limits(rendered)
    shown = [b for b in rendered.blocks if b["block_id"].startswith("chatops.alert.")]
    assert 1 <= len(shown) <= 10
    assert f"+{10_000 - len(shown)} more alerts in this group" in dumped(rendered)
    assert "+9500 more alerts not shown (9500 firing, 0 resolved)" in dumped(rendered)
    assert "500+ models" in rendered.blocks[0]["text"]["text"]
    assert "10000 of 10000 alerts firing" in rendered.text
    assert len(incident.alerts) == 500
    assert len(changes) == 10_000, "every new alert is a change, kept or only counted"
    reply = render_changes(changes)
    assert reply is not None
    assert len(reply) <= 1000
    assert reply == "🔥 New: 10000 alerts (ModelPSIHigh (10000))"


def test_very_long_names_are_clipped_in_header_buttons_and_text() -> None:
    labels = {"alertname": "N" * 400, "model": "m" * 300, "severity": "critical"}
    _, rendered = render_body(am_body([am_alert(labels, {"summary": "s" * 9000})], labels))
    assert_within_limits(rendered)
    assert rendered.blocks[0]["text"]["text"].endswith("…")
    assert rendered.text.endswith("…")


def test_many_long_action_records_stay_within_every_limit() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    link = "https://alertmanager.example.com/#/silences/" + "s" * 900
    for i in range(30):
        at = NOW + timedelta(minutes=i)
        incident = with_action(incident, ActionRecord(f"U{i:08}", "silence", at, "d" * 900, link))
    rendered = render_incident(incident, pipeline_models=PIPELINES)
    assert_within_limits(rendered)
    record = next(b for b in rendered.blocks if b["block_id"].startswith("chatops.record:"))
    assert record["elements"][0]["text"] == "+21 earlier"
    assert "<@U00000029>" in record["elements"][-1]["text"]
    drift = replace(drift_incident("evidently-style_drift-summary_drift"), actions=incident.actions)
    assert_within_limits(render_drift(drift, pipeline_models=PIPELINES))


def test_empty_group_renders_without_crashing() -> None:
    _, rendered = render_body(am_body([], {"alertname": "Nothing"}))
    assert_within_limits(rendered)


# --- escaping ----------------------------------------------------------------------------------

HOSTILE = "<!channel> look <http://evil.example|click> & <@U0BOSS> *now*"


def mrkdwn_texts(rendered: Rendered) -> list[str]:
    texts = [t["text"] for t in text_objects(rendered.blocks) if t["type"] == "mrkdwn"]
    return [*texts, rendered.text]


def assert_only_our_own_markup(rendered: Rendered) -> None:
    """Every `<` left in mrkdwn opens a link, date or mention that gateway.render built itself."""
    for text in mrkdwn_texts(rendered):
        for match in re.finditer(r"<[^>]*>", text):
            token = match.group(0)
            assert token.startswith(("<http://127.0.0.1", "<https://", "<!date^", "<@U0ONCALL")), (
                token
            )
        assert "<!channel>" not in text
        assert "<http://evil" not in text


def test_alert_text_cannot_mention_or_link() -> None:
    labels = {"alertname": "Evil<!here>", "model": "fraud-detector", "note": HOSTILE}
    annotations = {
        "summary": HOSTILE,
        "description": HOSTILE,
        "runbook_url": "javascript:alert(1)",
    }
    alert = am_alert(labels, annotations) | {"generatorURL": "http://127.0.0.1:19090/a|b>c d"}
    _, rendered = render_body(am_body([alert], {"alertname": "Evil<!here>"}))
    assert_only_our_own_markup(rendered)
    body = dumped(rendered)
    assert "&lt;!channel&gt; look &lt;http://evil.example|click&gt; &amp; &lt;@U0BOSS&gt;" in body
    assert "javascript:" not in body
    assert "<http://127.0.0.1:19090/a%7Cb%3Ec%20d|Source>" in body
    assert "&lt;!here&gt;" in rendered.text


def test_drift_and_records_are_escaped_too() -> None:
    incident = drift_incident("evidently-style_drift-summary_drift")
    column = replace(incident.latest.columns[0], column=HOSTILE, test="<!everyone>")
    latest = replace(incident.latest, columns=(column,), report_url="ftp://example.com/r")
    record = ActionRecord("<!channel>", "ack", NOW, detail=HOSTILE, link="javascript:x")
    rendered = render_drift(replace(incident, latest=latest, actions=(record,)))
    assert_only_our_own_markup(rendered)
    assert "ftp://" not in dumped(rendered)


def test_changes_are_escaped() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    alert = replace(incident.alerts[0], labels={"alertname": HOSTILE, "model": "<!here>"})
    reply = render_changes([Change(ChangeKind.NEW, alert)])
    assert reply is not None
    assert "<" not in reply


# --- thread replies ----------------------------------------------------------------------------


def test_no_changes_no_reply() -> None:
    assert render_changes([]) is None


def test_few_changes_are_listed_one_per_line() -> None:
    _, replies = fold_bodies(
        "api_one-group_3-alerts", "api_mixed_2-firing_1-resolved", "api_resolved_one-group_2-alerts"
    )
    assert replies == [
        "🔥 New: ModelPSIHigh · churn-predictor\n"
        "🔥 New: ModelPSIHigh · credit-scorer\n"
        "🔥 New: ModelPSIHigh · fraud-detector",
        "✅ Resolved: ModelPSIHigh · churn-predictor",
        "✅ Resolved: ModelPSIHigh · credit-scorer\n✅ Resolved: ModelPSIHigh · fraud-detector",
    ]


def renamed(alert: AlertSnapshot, name: str, i: int) -> AlertSnapshot:
    return replace(alert, labels={"alertname": name, "model": f"m{i}"}, fingerprint=f"{name}{i}")


def test_many_changes_coalesce_into_counts() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    base = incident.alerts[0]
    changes = [Change(ChangeKind.NEW, renamed(base, "ModelPSIHigh", i)) for i in range(9)]
    changes += [Change(ChangeKind.NEW, renamed(base, "FeatureDriftDetected", i)) for i in range(3)]
    changes += [Change(ChangeKind.RESOLVED, renamed(base, "ModelLatencyHigh", i)) for i in range(2)]
    changes += [Change(ChangeKind.REFIRED, renamed(base, f"Name{i}", i)) for i in range(8)]
    assert render_changes(changes) == (
        "🔥 New: 12 alerts (ModelPSIHigh (9), FeatureDriftDetected (3))\n"
        "🔁 Firing again: 8 alerts (Name0 (1), Name1 (1), Name2 (1), Name3 (1), Name4 (1), "
        "+3 more)\n"
        "✅ Resolved: ModelLatencyHigh · m0\n"
        "✅ Resolved: ModelLatencyHigh · m1"
    )


def test_a_long_reply_is_clipped_to_a_thousand_characters() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    base = incident.alerts[0]
    changes = [
        Change(kind, renamed(base, f"{kind.value}{i}" * 20, i))
        for kind in ChangeKind
        for i in range(5)
    ]
    reply = render_changes(changes)
    assert reply is not None
    assert len(reply) == 1000
    assert reply.endswith("…")


def rollback_button(rendered: Rendered) -> dict[str, Any]:
    return next(
        e
        for b in rendered.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ROLLBACK
    )


@pytest.mark.parametrize("label", ["environment", "env"])
def test_rollback_button_carries_and_names_the_alerts_environment(label: str) -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    staging = replace(incident, common_labels={**incident.common_labels, label: "staging"})
    button = rollback_button(
        render_incident(staging, pipeline_models=PIPELINES, rollback_environments=ROLLBACK_DEFAULTS)
    )
    assert parse_button_value(ROLLBACK, button["value"]).environment == "staging"
    assert button["confirm"]["title"]["text"] == "Roll back fraud-detector in staging?"
    text = button["confirm"]["text"]["text"]
    assert "*fraud-detector* in *staging*, to the previous successful deployment" in text


def test_rollback_button_without_any_environment_says_so_and_carries_none() -> None:
    incident, _ = fold_bodies("api_firing_single-alert")
    button = rollback_button(render_incident(incident, pipeline_models=PIPELINES))
    assert parse_button_value(ROLLBACK, button["value"]).environment is None
    assert "names no environment" in button["confirm"]["text"]["text"]
