"""The Rollback button end to end: an alert for staging -> its message -> a click rolls back
staging (not production), and the confirm dialog said so."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.app import bearer
from tests.fakes.bot_app import PROJECT, REQUESTER, BotAppFactory, variables
from tests.fakes.slack import FakeMessage

CHANNEL = "#fraud-ml"
ROLLBACK = "chatops.rollback"


def rollback_button(message: FakeMessage) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == ROLLBACK:
                return dict(element)
    raise AssertionError(f"no Rollback button in {json.dumps(message.blocks)}")


def alert_for(environment: str | None, body: bytes) -> bytes:
    """The captured fraud-detector alert group, labelled with `environment` (or as captured)."""
    data = json.loads(body)
    if environment is not None:
        data["commonLabels"]["environment"] = environment
        for alert in data["alerts"]:
            alert["labels"]["environment"] = environment
    return json.dumps(data).encode()


async def test_rollback_on_a_staging_alert_rolls_back_staging(
    bot_app: BotAppFactory, am_fixture: Any
) -> None:
    h = await bot_app(gateway_records=True)
    for env, day, version in [("staging", 1, "s1"), ("staging", 2, "s2"), ("production", 3, "p1")]:
        h.gitlab.add_deployment(
            PROJECT, env, "success", created_at=f"2024-05-0{day}T00:00:00Z", model_version=version
        )
    body = alert_for("staging", am_fixture("api_separate-groups_3-models_fraud-detector"))
    response = await h.client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status < 300, await response.text()
    message = await h.message_with(CHANNEL, ROLLBACK)
    button = rollback_button(message)
    assert button["confirm"]["title"]["text"] == "Roll back fraud-detector in staging?"
    assert "*staging*, to the previous successful deployment" in json.dumps(button["confirm"])

    name = await h.click(ROLLBACK, button["value"], user=REQUESTER)
    assert "Started rollback of fraud-detector" in await h.answer(name)
    (pipeline,) = h.pipelines()
    assert (variables(pipeline)["ENVIRONMENT"], variables(pipeline)["ROLLBACK_TO"]) == (
        "staging",
        "s1",
    )


async def test_an_alert_without_environment_label_names_the_default_one(
    bot_app: BotAppFactory, am_fixture: Any
) -> None:
    h = await bot_app(gateway_records=True)
    body = alert_for(None, am_fixture("api_separate-groups_3-models_fraud-detector"))
    response = await h.client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status < 300, await response.text()
    button = rollback_button(await h.message_with(CHANNEL, ROLLBACK))
    assert button["confirm"]["title"]["text"] == "Roll back fraud-detector in production?"
    assert json.loads(button["value"])["e"] == "production"
