"""The whole loop: webhook -> gateway message -> a click on its button -> the bot acts -> the
message says who did what (the gateway's own records, wired by the composition root)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.app import bearer
from tests.fakes.bot_app import OUTSIDER, REQUESTER, BotAppFactory, BotHarness, variables
from tests.fakes.slack import FakeMessage

CHANNEL = "#fraud-ml"


def button(message: FakeMessage, action_id: str) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {json.dumps(message.blocks)}")


async def post(h: BotHarness, path: str, body: bytes) -> None:
    response = await h.client.post(path, data=body, headers=bearer())
    assert response.status < 300, await response.text()


async def test_ack_on_an_alert_message_is_shown_on_it(
    bot_app: BotAppFactory, am_fixture: Any
) -> None:
    h = await bot_app(gateway_records=True)
    await post(
        h, "/webhooks/alertmanager", am_fixture("api_separate-groups_3-models_fraud-detector")
    )
    message = await h.message_with(CHANNEL, "chatops.ack")
    answer = await h.answer(
        await h.click("chatops.ack", button(message, "chatops.ack"), user=OUTSIDER)
    )
    assert "Acknowledged" in answer
    await h.message_with(CHANNEL, f"by <@{OUTSIDER}>")
    assert len(h.messages(CHANNEL)) == 1, "the alert message was updated, not reposted"


async def test_retrain_on_a_drift_message_starts_the_pipeline(
    bot_app: BotAppFactory, drift_fixture: Any
) -> None:
    h = await bot_app(gateway_records=True)
    await post(h, "/webhooks/drift?model=fraud-detector", drift_fixture("drift-script_event-drift"))
    message = await h.message_with(CHANNEL, "chatops.retrain")
    name = await h.click("chatops.retrain", button(message, "chatops.retrain"), user=REQUESTER)
    assert "Started retrain of fraud-detector" in await h.answer(name)
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["ACTION"] == "retrain"
    await h.message_with(CHANNEL, f"by <@{REQUESTER}>")
