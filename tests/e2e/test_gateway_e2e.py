"""End to end: exporter -> real Prometheus (shipped rules) -> real Alertmanager (shipped route,
bearer auth) -> the gateway (create_app) -> fake Slack. One message, updated to resolved, and no
duplicate across several repeat intervals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chatops.app import create_app
from chatops.config import parse_config
from tests.binaries import require_binary
from tests.e2e.exporter import MetricsExporter
from tests.e2e.harness import monitoring_stack
from tests.fakes.app import DEFAULT_CONFIG, WEBHOOK_TOKEN, make_settings
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.e2e

DRIFT = {"model": "fraud-detector"}


def top_level(fake: FakeSlack) -> list[Any]:
    return [m for m in fake.messages("#fraud-ml") if not m.thread_ts]


async def test_drift_alert_is_one_message_that_turns_resolved(
    tmp_path: Path, fake_slack: FakeSlack, aiohttp_server: Any
) -> None:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager", "alertmanager")
    settings = make_settings(fake_slack, tmp_path / "chatops.db")
    server = await aiohttp_server(create_app(settings, parse_config(DEFAULT_CONFIG)))
    webhook = str(server.make_url("/webhooks/alertmanager"))

    async with (
        MetricsExporter() as exporter,
        monitoring_stack(
            tmp_path, scrape_target=exporter.target, webhook_url=webhook, token=WEBHOOK_TOKEN
        ) as stack,
    ):
        exporter.set("model_drift_score", DRIFT, 0.42)
        try:
            await fake_slack.wait_for(lambda f: len(top_level(f)) == 1, timeout=40)
            # Alertmanager re-sends the unchanged group every ~6 s (repeat 5s, group_interval 2s).
            await asyncio.sleep(14)
            assert len(top_level(fake_slack)) == 1
            assert fake_slack.calls("chat.update") == []

            exporter.set("model_drift_score", DRIFT, 0.05)
            await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) >= 1, timeout=40)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{stack.logs()}") from None

    (message,) = top_level(fake_slack)
    assert "resolved" in message.text.lower()
    assert "0.420" in json.dumps(message.blocks) or "ModelDriftDetected" in message.text
    posts = [c for c in fake_slack.calls("chat.postMessage") if "thread_ts" not in c.params]
    assert len(posts) == 1, "no duplicate post across repeat intervals"
    metrics = await (await server_get(server, "/metrics")).text()
    duplicates = [
        line
        for line in metrics.splitlines()
        if line.startswith('chatops_webhooks_received_total{outcome="duplicate"')
    ]
    assert duplicates, "Alertmanager's re-sends arrived and were recognised as repeats"
    assert float(duplicates[0].split()[-1]) >= 1


async def server_get(server: Any, path: str) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(server.make_url(path)) as response:
        await response.read()
        return response
