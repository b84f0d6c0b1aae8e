"""`/drift status` through create_app against a real Prometheus scraping the test exporter."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.exporter import MetricsExporter
from tests.e2e.harness import run_prometheus
from tests.fakes.bot_app import BotAppFactory

MODEL = {"model": "fraud-detector"}
SCRAPED_TIMEOUT_S = 30.0


async def wait_for_series(prometheus_url: str, query: str, expected: float) -> None:
    """Until Prometheus answers `query` with `expected` (it scrapes every second)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        async with asyncio.timeout(SCRAPED_TIMEOUT_S):
            while True:
                async with session.get(
                    f"{prometheus_url}/api/v1/query", params={"query": query}
                ) as response:
                    result = (await response.json())["data"]["result"]
                if result and float(result[0]["value"][1]) == expected:
                    return
                await asyncio.sleep(0.2)


async def test_drift_status_from_a_real_prometheus(bot_app: BotAppFactory, tmp_path: Path) -> None:
    async with MetricsExporter() as exporter:
        exporter.set("model_drift_score", MODEL, 0.42)
        exporter.set("model_drift_p_value", MODEL, 0.003)
        exporter.set("model_drift_events_total", MODEL, 3)
        async with run_prometheus(
            tmp_path, scrape_targets=[exporter.target], alertmanager_target="127.0.0.1:9"
        ) as prometheus:
            await wait_for_series(
                prometheus.url, 'model_drift_events_total{model="fraud-detector"}', 3
            )
            exporter.set("model_drift_events_total", MODEL, 5)  # two drift events happen
            await wait_for_series(
                prometheus.url, 'model_drift_events_total{model="fraud-detector"}', 5
            )
            h = await bot_app(prometheus_url=prometheus.url)
            answer = await h.answer(await h.command("/drift", "status fraud-detector"))
    assert "fraud-detector" in answer
    row = next(line for line in answer.split("\\n") if line.startswith("fraud-detector"))
    cells = row.split()
    assert cells[1:3] == ["0.42", "0.003"], row
    assert int(cells[3]) >= 2, row  # increase() over the few seconds scraped: at least 2
    assert "none in 24 h" not in row, "the last drift time is known"
    assert any(c in row for c in "▁▂▃▄▅▆▇█"), "a sparkline of the score"


async def test_drift_status_for_all_models(bot_app: BotAppFactory, tmp_path: Path) -> None:
    async with MetricsExporter() as exporter:
        exporter.set("model_drift_score", MODEL, 0.1)
        async with run_prometheus(
            tmp_path, scrape_targets=[exporter.target], alertmanager_target="127.0.0.1:9"
        ) as prometheus:
            await wait_for_series(prometheus.url, 'model_drift_score{model="fraud-detector"}', 0.1)
            h = await bot_app(prometheus_url=prometheus.url)
            answer = await h.answer(await h.command("/drift", "status"))
    for model in ("fraud-detector", "churn-predictor", "credit-scorer"):
        assert model in answer
    assert "none in 24 h" in answer, "models without drift data say so"


async def test_unreachable_prometheus_is_one_line(bot_app: BotAppFactory) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    h = await bot_app(prometheus_url=url)
    name = await h.command("/drift", "status")
    await h.answer(name)
    (body,) = h.slack.responses(name)
    assert body["text"].count("\n") == 0
    assert f"Prometheus at {url} is unreachable" in body["text"]
    assert "Traceback" not in body["text"]


async def test_prometheus_credentials_are_never_shown(
    bot_app: BotAppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """PROMETHEUS_URL=http://user:pass@host: the error and the log name the host only."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    h = await bot_app(prometheus_url=f"http://user:prom-secret-pw@127.0.0.1:{port}")
    name = await h.command("/drift", "status")
    answer = await h.answer(name)
    assert f"Prometheus at http://127.0.0.1:{port} is unreachable" in answer
    shown = json.dumps(h.slack.responses(name)) + json.dumps([c.params for c in h.slack.calls()])
    assert "prom-secret-pw" not in shown
    assert "prom-secret-pw" not in capsys.readouterr().out


async def test_prometheus_credentials_are_sent_as_basic_auth(
    bot_app: BotAppFactory, aiohttp_server: Any
) -> None:
    """A Prometheus behind basic auth (401 without it) answers; the table names the host only."""
    expected = "Basic " + base64.b64encode(b"user:prom-secret-pw").decode()

    async def query(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="Unauthorized")
        kind = "matrix" if request.path.endswith("query_range") else "vector"
        return web.json_response({"status": "success", "data": {"resultType": kind, "result": []}})

    app = web.Application()
    app.router.add_route("*", "/api/v1/query", query)
    app.router.add_route("*", "/api/v1/query_range", query)
    server = await aiohttp_server(app)
    h = await bot_app(prometheus_url=f"http://user:prom-secret-pw@127.0.0.1:{server.port}")
    answer = await h.answer(await h.command("/drift", "status"))
    assert f"http://127.0.0.1:{server.port}" in answer
    assert "none in 24 h" in answer, "the queries were answered"
    assert "prom-secret-pw" not in answer


async def test_drift_status_without_prometheus_configured(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/drift", "status"))
    assert "PROMETHEUS_URL" in answer


async def test_drift_status_for_an_unknown_model(bot_app: BotAppFactory) -> None:
    h = await bot_app(prometheus_url="http://127.0.0.1:9")
    answer = await h.answer(await h.command("/drift", "status nope"))
    assert "unknown model nope" in answer
