"""`POST /webhooks/mlflow` through create_app: MLflow's signature, retries, refusals, ordering.

Bodies are MLflow's own (tests/fixtures/mlflow/deliveries.jsonl), re-signed with a fresh
timestamp the way MLflow signs them, since a captured timestamp is outside the 5-minute window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from tests.fakes.app import AppFactory, outbox_drained
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.slack import FakeSlack

SECRET = "route-test-secret"  # a test value
CONFIG: dict[str, Any] = {
    "slack": {"default_channel": "#ml-alerts"},
    "models": {
        "fraud-detector": {
            "channel": "#fraud-ml",
            "environments": ["production"],
            "registry": {"name": "fraud-detector", "metrics": {"auc": "max"}},
        }
    },
}


def bodies() -> list[str]:
    lines = fixture_bytes("mlflow/deliveries.jsonl").decode().splitlines()
    return [json.loads(line)["body"] for line in lines if line.strip()]


def signed(body: str, *, secret: str = SECRET, delivery: str | None = None) -> dict[str, str]:
    delivery, stamp = delivery or str(uuid.uuid4()), str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.{body}".encode(), hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": "v1," + base64.b64encode(digest.digest()).decode(),
    }


async def test_a_new_version_posts_one_card_and_a_retry_changes_nothing(
    make_app: AppFactory, fake_slack: FakeSlack
) -> None:
    client = await make_app(CONFIG, chatops_mlflow_webhook_secret=SECRET)
    created = bodies()[2]  # version 2 of fraud-detector
    headers = signed(created)
    response = await client.post("/webhooks/mlflow", data=created, headers=headers)
    assert response.status == 202, await response.text()
    retry = await client.post("/webhooks/mlflow", data=created, headers=headers)
    assert (retry.status, (await retry.json())["status"]) == (200, "duplicate")
    await outbox_drained(client)
    (card,) = fake_slack.messages("#fraud-ml")
    assert "New version: fraud-detector v2" in card.text
    # No MLFLOW_TRACKING_URI: the card says why there is nothing to compare, and still posts.
    assert "MLFLOW_TRACKING_URI is not set" in json.dumps(card.blocks)


async def test_refusals_are_clear_and_post_nothing(
    make_app: AppFactory, fake_slack: FakeSlack
) -> None:
    body = bodies()[0]
    unconfigured = await make_app(CONFIG)
    response = await unconfigured.post("/webhooks/mlflow", data=body, headers=signed(body))
    assert response.status == 401
    assert "CHATOPS_MLFLOW_WEBHOOK_SECRET" in json.dumps(await response.json())

    client = await make_app(CONFIG, chatops_mlflow_webhook_secret=SECRET)
    cases = [
        (signed(body, secret="wrong"), body, 401),
        ({"Content-Type": "application/json"}, body, 401),  # MLflow webhook without a secret
        ({**signed(body), "X-MLflow-Signature": "v1,\udce9"}, body, 401),
        (signed("{}"), "{}", 400),
        (signed("not json"), "not json", 400),
    ]
    for headers, data, status in cases:
        response = await client.post("/webhooks/mlflow", data=data, headers=headers)
        assert response.status == status, (headers, data, await response.text())
        assert "error" in await response.json()
    stale = signed(body)
    stale["X-MLflow-Timestamp"] = str(int(time.time()) - 600)
    response = await client.post("/webhooks/mlflow", data=body, headers=stale)
    assert response.status == 401
    await outbox_drained(client)
    assert fake_slack.messages("#fraud-ml") == []


async def test_events_of_other_models_and_prompts_are_ignored(
    make_app: AppFactory, fake_slack: FakeSlack
) -> None:
    client = await make_app(CONFIG, chatops_mlflow_webhook_secret=SECRET)
    other = bodies()[2].replace('"fraud-detector"', '"someone-elses-model"')
    prompt = json.dumps({"entity": "prompt", "action": "created", "data": {"name": "p"}})
    for body in (other, prompt):
        response = await client.post("/webhooks/mlflow", data=body, headers=signed(body))
        assert (response.status, (await response.json())["status"]) == (200, "ignored")
    await outbox_drained(client)
    assert fake_slack.messages("#fraud-ml") == []


async def test_an_alias_event_before_its_version_event_starts_the_card_as_champion(
    make_app: AppFactory, fake_slack: FakeSlack
) -> None:
    """MLflow delivers from a thread pool, so the alias event can overtake the version's."""
    client = await make_app(CONFIG, chatops_mlflow_webhook_secret=SECRET)
    alias = bodies()[1]  # champion -> version 1
    created = bodies()[0]  # version 1 created
    for body in (alias, created):
        response = await client.post("/webhooks/mlflow", data=body, headers=signed(body))
        assert response.status == 202, await response.text()
    await outbox_drained(client)
    (card,) = fake_slack.messages("#fraud-ml")
    assert card.text.startswith("🏆 Champion: fraud-detector v1 (the champion)")
    assert "Promote" not in json.dumps(card.blocks)
