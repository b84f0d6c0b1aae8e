"""Buttons appear only when a click can work, decided by the composition root (create_app).

Silence needs ALERTMANAGER_URL (the bot creates the silence there); Rollback and Retrain need
the model's pipeline and its provider's token (GITLAB_TOKEN, GITHUB_TOKEN). Drawn without
them, a button could only answer "not configured" after someone clicked it during an incident.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.app import DEFAULT_CONFIG, bearer
from tests.fakes.slack import FakeSlack

BOTH = {"retrain": "retrain.yml", "rollback": "rollback.yml"}


async def buttons_on(fake_slack: FakeSlack, channel: str) -> list[str]:
    await fake_slack.wait_for(lambda f: len(f.messages(channel)) == 1)
    (message,) = fake_slack.messages(channel)
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


async def post_alert(client: Any, body: bytes) -> None:
    response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status == 202


async def test_without_alertmanager_or_pipeline_token_only_ack(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()  # fraud-detector has a gitlab pipeline, but no GITLAB_TOKEN
    await post_alert(client, am_fixture("api_firing_single-alert"))
    assert await buttons_on(fake_slack, "#fraud-ml") == ["chatops.ack"]


async def test_alertmanager_url_brings_silence_and_gitlab_token_brings_rollback(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app(alertmanager_url="http://127.0.0.1:9093", gitlab_token="glpat-x")
    await post_alert(client, am_fixture("api_firing_single-alert"))
    buttons = await buttons_on(fake_slack, "#fraud-ml")
    assert buttons == ["chatops.ack", "chatops.silence", "chatops.rollback"]


async def test_a_github_pipeline_needs_the_github_token(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    config = github_model(workflows=BOTH)
    client = await make_app(config, gitlab_token="glpat-x")  # the wrong provider's token
    await post_alert(client, am_fixture("api_firing_single-alert"))
    assert "chatops.rollback" not in await buttons_on(fake_slack, "#fraud-ml")


async def test_a_github_pipeline_with_its_token_gets_rollback(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    config = github_model(workflows=BOTH)
    client = await make_app(config, github_token="ghp_x")
    await post_alert(client, am_fixture("api_firing_single-alert"))
    assert "chatops.rollback" in await buttons_on(fake_slack, "#fraud-ml")


async def test_drift_without_the_pipeline_token_says_which_setting_is_missing(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    body = drift_fixture("drift-script_event-drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    assert await buttons_on(fake_slack, "#fraud-ml") == ["chatops.dismiss"]
    rendered = json.dumps(fake_slack.messages("#fraud-ml")[0].blocks)
    assert "No Retrain button: GITLAB_TOKEN is not set" in rendered
    assert "glpat" not in rendered


async def test_drift_with_the_pipeline_token_offers_retrain(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app(gitlab_token="glpat-x")
    body = drift_fixture("drift-script_event-drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    assert await buttons_on(fake_slack, "#fraud-ml") == ["chatops.retrain", "chatops.dismiss"]


def github_model(**actions: dict[str, str]) -> dict[str, Any]:
    pipeline = {"provider": "github", "repo": "ml/fraud-detector"} | actions
    return DEFAULT_CONFIG | {
        "models": {"fraud-detector": {"channel": "#fraud-ml", "pipeline": pipeline}}
    }


async def test_a_github_pipeline_without_a_rollback_workflow_gets_no_rollback(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any, drift_fixture: Any
) -> None:
    client = await make_app(github_model(workflows={"retrain": "retrain.yml"}), github_token="g")
    await post_alert(client, am_fixture("api_firing_single-alert"))
    assert await buttons_on(fake_slack, "#fraud-ml") == ["chatops.ack"]
    body = drift_fixture("drift-script_event-drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    await fake_slack.wait_for(lambda f: len(f.messages("#fraud-ml")) == 2)
    drift = fake_slack.messages("#fraud-ml")[1]
    assert "chatops.retrain" in json.dumps(drift.blocks)


async def test_a_github_pipeline_without_a_retrain_workflow_says_so_on_drift(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any, drift_fixture: Any
) -> None:
    config = github_model(dispatch={"rollback": "rollback-requested"})
    client = await make_app(config, github_token="g")
    body = drift_fixture("drift-script_event-drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    assert await buttons_on(fake_slack, "#fraud-ml") == ["chatops.dismiss"]
    rendered = json.dumps(fake_slack.messages("#fraud-ml")[0].blocks)
    assert "No Retrain button: its GitHub pipeline has no retrain workflow" in rendered
    await post_alert(client, am_fixture("api_firing_single-alert"))
    await fake_slack.wait_for(lambda f: len(f.messages("#fraud-ml")) == 2)
    alert = fake_slack.messages("#fraud-ml")[1]
    assert "chatops.rollback" in json.dumps(alert.blocks), "a dispatch event is enough"
