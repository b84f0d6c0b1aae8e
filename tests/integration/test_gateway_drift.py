"""Drift webhooks: both formats, model resolution, no-drift recorded not posted, repeats update."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.app import bearer, outbox_drained
from tests.fakes.slack import FakeSlack


async def test_script_format_posts_to_the_default_models_channel(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app(gitlab_token="glpat-test")  # Retrain needs the pipeline's token
    body = drift_fixture("drift-script_event-drift")
    response = await client.post("/webhooks/drift", data=body, headers=bearer())
    assert response.status == 202
    await fake_slack.wait_for(lambda f: len(f.messages("#fraud-ml")) == 1)
    (message,) = fake_slack.messages("#fraud-ml")
    rendered = json.dumps(message.blocks)
    assert "0.001" in rendered
    assert "chatops.retrain" in rendered


async def test_model_query_parameter_routes_the_event(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    body = drift_fixture("drift-script_event-drift")
    response = await client.post("/drift-webhook?model=credit-scorer", data=body, headers=bearer())
    assert response.status == 202
    await fake_slack.wait_for(lambda f: len(f.messages("#ml-alerts")) == 1)
    assert "credit-scorer" in fake_slack.messages("#ml-alerts")[0].text


async def test_evidently_summary_shows_drifted_columns(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    body = drift_fixture("evidently-style_drift-summary_drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    await fake_slack.wait_for(lambda f: len(f.messages("#fraud-ml")) == 1)
    rendered = json.dumps(fake_slack.messages("#fraud-ml")[0].blocks)
    for column in ("amount", "hour_of_day", "merchant_category"):
        assert column in rendered


async def test_no_drift_is_counted_but_not_posted(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    for name in ("drift-script_event-no-drift", "evidently-style_drift-summary_no-drift"):
        response = await client.post("/webhooks/drift", data=drift_fixture(name), headers=bearer())
        assert response.status == 200
        assert (await response.json())["status"] == "no_drift"
    await asyncio.sleep(0.3)
    assert fake_slack.calls("chat.postMessage") == []
    metrics = await (await client.get("/metrics")).text()
    assert 'chatops_webhooks_received_total{outcome="no_drift",source="drift"} 2.0' in metrics


async def test_repeated_drift_updates_the_models_message(
    make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
) -> None:
    client = await make_app()
    first = drift_fixture("drift-script_event-drift")
    second = first.replace(b"2024-01-01T12:00:00Z", b"2024-01-01T14:00:00Z")
    await client.post("/webhooks/drift", data=first, headers=bearer())
    await outbox_drained(client)
    again = await client.post("/webhooks/drift", data=first, headers=bearer())
    assert (await again.json())["status"] == "duplicate"
    await client.post("/webhooks/drift", data=second, headers=bearer())
    await outbox_drained(client)
    top = [m for m in fake_slack.messages("#fraud-ml") if not m.thread_ts]
    assert len(top) == 1
    assert top[0].updates == 1
    assert "2" in json.dumps(top[0].blocks)
    replies = fake_slack.thread_replies("#fraud-ml", top[0].ts)
    assert len(replies) == 1
    assert "seen 2 times" in replies[0].text
