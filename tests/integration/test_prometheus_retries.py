"""The Prometheus adapter makes one request per query: no retries behind the service's back.

`PrometheusConnect` would otherwise retry a 503 three times with backoff (a urllib3 `Retry` on
its session); against the loopback fake Prometheus, a 503 is asked once and becomes
`PrometheusUnavailable`'s one line for the user.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.drift.prometheus import PrometheusClient
from bot.errors import PrometheusQueryError, PrometheusUnavailable
from tests.fakes.bot_app import BotAppFactory, until
from tests.fakes.prometheus import FakePrometheus

QUERY = 'model_drift_score{model="fraud-detector"}'


async def test_a_503_is_asked_once_and_is_unavailable(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.unavailable = 1
    fake_prometheus.add_series(QUERY, 0.42, model="fraud-detector")
    client = PrometheusClient(url=fake_prometheus.url, timeout=5.0)
    try:
        with pytest.raises(PrometheusUnavailable) as raised:
            await client.instant(QUERY)
        assert fake_prometheus.statuses == [503], "one request, not retried"
        assert raised.value.message == (
            f"Prometheus at {fake_prometheus.url} answered 503 (query timed out)"
        )
        assert await client.instant(QUERY) == [0.42]  # the next query is answered
        assert fake_prometheus.statuses == [503, 200]
    finally:
        await client.close()


async def test_a_refused_query_stays_a_query_error(fake_prometheus: FakePrometheus) -> None:
    client = PrometheusClient(url=fake_prometheus.url, timeout=5.0)
    try:
        with pytest.raises(PrometheusQueryError, match="400"):
            await client.instant("sum(")
        assert fake_prometheus.statuses == [400]
    finally:
        await client.close()


async def test_drift_status_answers_a_503_once_with_the_unavailable_line(
    bot_app: BotAppFactory, fake_prometheus: FakePrometheus
) -> None:
    fake_prometheus.unavailable = 1
    h = await bot_app(prometheus_url=fake_prometheus.url)
    name = await h.command("/drift", "status fraud-detector")
    answer = await h.answer(name)
    await until(lambda: len(fake_prometheus.statuses) >= 5)  # score, p-value, events, 2 ranges
    await asyncio.sleep(0.3)  # a retry would come now
    assert sorted(fake_prometheus.statuses) == [200, 200, 200, 200, 503]
    (body,) = h.slack.responses(name)
    assert body["text"].count("\n") == 0
    assert f"Prometheus at {fake_prometheus.url} answered 503 (query timed out)" in answer
