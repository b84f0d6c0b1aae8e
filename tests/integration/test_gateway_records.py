"""Button clicks recorded on gateway messages (the bot's MessageActions, gateway side)."""

from __future__ import annotations

import json
from typing import Any

from gateway import incident_model
from gateway.records import GatewayRecords
from gateway.routes import GATEWAY
from tests.fakes.app import bearer, outbox_drained
from tests.fakes.slack import FakeSlack

GROUP = '{}:{alertname="ModelDriftDetected", model="fraud-detector"}'


async def test_ack_is_shown_on_the_incident_message(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    await client.post(
        "/webhooks/alertmanager", data=am_fixture("api_firing_single-alert"), headers=bearer()
    )
    await outbox_drained(client)
    records = GatewayRecords(client.server.app[GATEWAY])
    key = incident_model.message_key(GROUP, 1)
    assert await records.record(message_key=key, actor="U0ONCALL1", action="chatops.ack")
    await outbox_drained(client)
    (message,) = [m for m in fake_slack.messages("#fraud-ml") if not m.thread_ts]
    assert message.updates == 1
    assert "U0ONCALL1" in json.dumps(message.blocks)

    # a later webhook change keeps the record on the message
    await client.post(
        "/webhooks/alertmanager", data=am_fixture("api_resolved_single-alert"), headers=bearer()
    )
    await outbox_drained(client)
    (message,) = [m for m in fake_slack.messages("#fraud-ml") if not m.thread_ts]
    assert "U0ONCALL1" in json.dumps(message.blocks)
    assert "resolved" in message.text.lower()


async def test_dismiss_on_a_drift_message(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    body = drift_fixture("drift-script_event-drift")
    await client.post("/webhooks/drift", data=body, headers=bearer())
    await outbox_drained(client)
    records = GatewayRecords(client.server.app[GATEWAY])
    assert await records.record(
        message_key="drift:fraud-detector:1", actor="U0ML", action="chatops.dismiss"
    )
    await outbox_drained(client)
    (message,) = fake_slack.messages("#fraud-ml")
    assert "chatops.retrain" not in json.dumps(message.blocks)
    assert "U0ML" in json.dumps(message.blocks)


async def test_unknown_or_stale_messages_are_refused(make_app: Any) -> None:
    client = await make_app()
    records = GatewayRecords(client.server.app[GATEWAY])
    for key in ("am:nope:1", "drift:fraud-detector:1", "garbage", "am::x", "req:123"):
        assert not await records.record(message_key=key, actor="U1", action="chatops.ack")
