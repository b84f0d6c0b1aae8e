"""Alertmanager-format bodies as other senders write them, through create_app() to fake Slack.

vmalert-style senders and hand-made bodies give two alerts one fingerprint, post groups the
gateway never saw firing, and send relative `generatorURL`s; none of it may be lost silently.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.fakes.app import DEFAULT_CONFIG, bearer, outbox_drained
from tests.fakes.slack import FakeSlack


def _body(am_fixture: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(am_fixture(name))
    return data


async def _post(client: Any, body: dict[str, Any]) -> Any:
    return await client.post(
        "/webhooks/alertmanager", data=json.dumps(body).encode(), headers=bearer()
    )


def _top(fake: FakeSlack, channel: str) -> list[Any]:
    return [m for m in fake.messages(channel) if not m.thread_ts]


async def test_same_fingerprint_different_labels_are_two_alerts(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    body = _body(am_fixture, "api_firing_single-alert")
    warning = body["alerts"][0]
    critical = copy.deepcopy(warning)
    warning["labels"]["severity"] = "warning"
    critical["labels"].update(severity="critical", instance="replica-2")
    critical["annotations"]["summary"] = "Critical drift on replica-2"
    body["alerts"] = [warning, critical]
    body["commonLabels"].pop("severity", None)
    assert (await _post(client, body)).status == 202
    await outbox_drained(client)
    (message,) = _top(fake_slack, "#fraud-ml")
    rendered = message.text + json.dumps(message.blocks)
    assert "Critical drift on replica-2" in rendered
    assert "2 of 2 alerts" in rendered
    assert "(critical)" in message.text, "the worse alert sets the message's severity"

    # the same two again are a repeat; the critical one resolving is one change
    again = await _post(client, body)
    assert (await again.json())["status"] == "duplicate"
    critical.update(status="resolved", endsAt="2026-11-22T19:50:00Z")
    assert (await _post(client, body)).status == 202
    await outbox_drained(client)
    (message,) = _top(fake_slack, "#fraud-ml")
    assert "1 of 2 alerts" in json.dumps(message.blocks)
    (reply,) = fake_slack.thread_replies("#fraud-ml", message.ts)
    assert "Resolved" in reply.text
    assert "replica-2" in reply.text


async def test_a_group_first_seen_resolved_says_so(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    body = _body(am_fixture, "api_resolved_single-alert")
    assert (await _post(client, body)).status == 202
    await outbox_drained(client)
    (message,) = _top(fake_slack, "#fraud-ml")
    assert "resolved before it was seen firing" in message.text
    assert "resolved before it was seen firing" in json.dumps(message.blocks)


async def test_resolved_only_groups_can_be_left_unposted(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    config = {**DEFAULT_CONFIG, "gateway": {"post_resolved_only_groups": False}}
    client = await make_app(config=config)
    resolved = await _post(client, _body(am_fixture, "api_resolved_single-alert"))
    assert resolved.status == 200
    assert (await resolved.json())["status"] == "ignored"
    await outbox_drained(client)
    assert fake_slack.calls("chat.postMessage") == []

    # a group seen firing is still posted, and its resolution too
    assert (await _post(client, _body(am_fixture, "api_firing_single-alert"))).status == 202
    assert (await _post(client, _body(am_fixture, "api_resolved_single-alert"))).status == 202
    await outbox_drained(client)
    (message,) = _top(fake_slack, "#fraud-ml")
    assert message.text.startswith("✅ RESOLVED:")
    assert "before it was seen firing" not in message.text


async def test_a_relative_generator_url_is_shown_with_its_sender(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    body = _body(am_fixture, "api_firing_single-alert")
    body["alerts"][0]["generatorURL"] = "/graph?g0.expr=model_drift_score+%3E+0.3"
    body["externalURL"] = "http://vmalert.monitoring:8880"
    assert (await _post(client, body)).status == 202
    await outbox_drained(client)
    (message,) = _top(fake_slack, "#fraud-ml")
    rendered = json.dumps(message.blocks)
    assert "Source from vmalert.monitoring: `/graph?g0.expr=model_drift_score+%3E+0.3`" in rendered
    assert "<//graph" not in rendered
    assert "|Source>" not in rendered
