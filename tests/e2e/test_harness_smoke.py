"""The e2e harness works: a gauge crossing a SHIPPED rule reaches a webhook through real binaries.

exporter -> Prometheus (shipped rules) -> Alertmanager (shipped config) ->
a recording receiver that insists on the Bearer token. The gateway e2e test
replaces the recorder with the real gateway.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.binaries import require_binary
from tests.e2e.exporter import MetricsExporter
from tests.e2e.harness import MonitoringStack, monitoring_stack

pytestmark = pytest.mark.e2e

TOKEN = "e2e-webhook-token"
DRIFT = {"model": "fraud-detector"}
ARRIVAL_TIMEOUT_S = 30.0

Body = dict[str, Any]


class WebhookRecorder:
    """A loopback aiohttp receiver that keeps every POST carrying the right Bearer token."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}"
        self.bodies: list[Body] = []
        self.unauthorized = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/alertmanager", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/webhooks/alertmanager"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, match: Callable[[Body], bool], stack: MonitoringStack) -> Body:
        """The first recorded body for which `match` is true, waiting up to ARRIVAL_TIMEOUT_S."""
        try:
            async with asyncio.timeout(ARRIVAL_TIMEOUT_S), self._changed:
                await self._changed.wait_for(lambda: any(map(match, self.bodies)))
        except TimeoutError:
            summary = [(b["status"], b["groupKey"]) for b in self.bodies]
            raise AssertionError(
                f"no matching webhook within {ARRIVAL_TIMEOUT_S}s; received {summary}, "
                f"{self.unauthorized} unauthorized\n{stack.logs()}"
            ) from None
        return next(b for b in self.bodies if match(b))

    async def _receive(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("Authorization", ""), self._expected):
            self.unauthorized += 1
            return web.Response(status=401)
        body = await request.json()
        async with self._changed:
            self.bodies.append(body)
            self._changed.notify_all()
        return web.Response(status=200)


def drift_alert(status: str) -> Callable[[Body], bool]:
    """Matches a webhook carrying ModelDriftDetected for fraud-detector with `status`."""

    def match(body: Body) -> bool:
        return any(
            alert["status"] == status
            and alert["labels"].get("alertname") == "ModelDriftDetected"
            and alert["labels"].get("model") == "fraud-detector"
            for alert in body["alerts"]
        )

    return match


async def test_drift_gauge_fires_and_resolves_through_real_binaries(tmp_path: Path) -> None:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager", "alertmanager")
    recorder = WebhookRecorder(TOKEN)
    await recorder.start()
    try:
        async with (
            MetricsExporter() as exporter,
            monitoring_stack(
                tmp_path, scrape_target=exporter.target, webhook_url=recorder.url, token=TOKEN
            ) as stack,
        ):
            exporter.set("model_drift_score", DRIFT, 0.42)
            firing = await recorder.wait_for(drift_alert("firing"), stack)

            exporter.set("model_drift_score", DRIFT, 0.05)
            resolved = await recorder.wait_for(drift_alert("resolved"), stack)
    finally:
        await recorder.close()

    assert recorder.unauthorized == 0
    assert firing["groupKey"] == '{}:{alertname="ModelDriftDetected", model="fraud-detector"}'
    alert = firing["alerts"][0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["description"] == (
        "model_drift_score for fraud-detector is 0.420 (threshold 0.3)."
    )
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.com/ml/model-drift"
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["alerts"][0]["startsAt"] == alert["startsAt"]
