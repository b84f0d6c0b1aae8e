"""Evidently's own exports posted as-is to /webhooks/drift (tests/fixtures/evidently/README.md).

Legacy Report and TestSuite JSON (0.4-0.6) and 0.7 snapshots: dataset drift, its share and the
drifted columns with their test and score reach Slack; a body that is none of the accepted
formats is refused naming them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.app import bearer, outbox_drained
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.slack import FakeSlack

DRIFTED = ("amount", "hour_of_day", "merchant_category")


def evidently(name: str) -> bytes:
    return fixture_bytes(f"evidently/{name}.json")


@pytest.mark.parametrize(
    ("name", "test", "score"),
    [
        ("legacy-report_data-drift-preset_drift", "Wasserstein distance (normed)", "0.274"),
        ("legacy-test-suite_data-drift-test-preset_drift", "K-S p_value", "0.003"),
        ("snapshot-0.7_data-drift-preset_drift", "K-S p_value", "0.0031"),
    ],
)
async def test_an_evidently_export_posts_its_drift(
    make_app: Any, fake_slack: FakeSlack, name: str, test: str, score: str
) -> None:
    client = await make_app()
    response = await client.post(
        "/webhooks/drift?model=credit-scorer", data=evidently(name), headers=bearer()
    )
    assert response.status == 202, await response.text()
    await outbox_drained(client)
    (message,) = fake_slack.messages("#ml-alerts")
    assert "credit-scorer" in message.text
    rendered = json.dumps(message.blocks)
    assert "3 of 5 columns drifted (60%)" in rendered
    for column in DRIFTED:
        assert f"`{column}`" in rendered
    assert test in rendered
    assert score in rendered


@pytest.mark.parametrize(
    "name", ["legacy-report_as-dict_no-drift", "snapshot-0.7_metric-name-config_no-drift"]
)
async def test_an_evidently_export_without_dataset_drift_posts_nothing(
    make_app: Any, fake_slack: FakeSlack, name: str
) -> None:
    client = await make_app()
    response = await client.post(
        "/webhooks/drift?model=credit-scorer", data=evidently(name), headers=bearer()
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "no_drift"
    await outbox_drained(client)
    assert fake_slack.calls("chat.postMessage") == []


async def test_an_export_without_model_uses_the_default_model(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app()  # drift.default_model: fraud-detector
    body = evidently("snapshot-0.7_data-drift-preset_drift")
    assert (await client.post("/webhooks/drift", data=body, headers=bearer())).status == 202
    await outbox_drained(client)
    assert len(fake_slack.messages("#fraud-ml")) == 1


async def test_a_refused_body_names_the_accepted_formats(make_app: Any) -> None:
    client = await make_app()
    response = await client.post(
        "/webhooks/drift", data=b'{"payload": {"p_val": 0.01}}', headers=bearer()
    )
    assert response.status == 400
    details = " ".join((await response.json())["details"])
    assert "event: field required" in details
    assert "Evidently Report, TestSuite or snapshot JSON" in details
    assert "README.md, Supported senders" in details


async def test_an_evidently_report_without_drift_metrics_is_refused(make_app: Any) -> None:
    client = await make_app()
    body = {"version": "0.4.40", "metrics": [{"metric": "ColumnSummaryMetric", "result": {}}]}
    response = await client.post(
        "/webhooks/drift?model=credit-scorer", data=json.dumps(body), headers=bearer()
    )
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "no data drift result in this Evidently report"
    assert "DataDriftTable" in answer["details"][0]
