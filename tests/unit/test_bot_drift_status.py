"""Drift status: last-drift detection, sparklines and the table, with an in-memory source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.drift.prometheus import Point
from bot.drift.status import DriftRow, drift_rows, last_increase, render_drift, sparkline
from bot.errors import PrometheusQueryError, PrometheusUnavailable
from bot.options import DriftQueries

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Source:
    """A `MetricsSource` over fixed answers (our own seam, not a third-party client)."""

    def __init__(self, values: dict[str, list[float]], series: dict[str, list[list[Point]]]):
        self.values, self.series_by_query, self.queries = values, series, []

    async def instant(self, query: str) -> list[float]:
        self.queries.append(query)
        if "bad" in query:
            raise PrometheusQueryError("Prometheus refused a query: parse error")
        return self.values.get(query, [])

    async def series(
        self, query: str, *, start: datetime, end: datetime, step: float
    ) -> list[list[Point]]:
        return self.series_by_query.get(f"{query}@{step:g}", [])


class Down:
    async def instant(self, query: str) -> list[float]:
        raise PrometheusUnavailable("Prometheus at http://p is unreachable (ConnectionError)")

    async def series(self, query: str, **_: object) -> list[list[Point]]:
        raise PrometheusUnavailable("down")


def at(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_last_increase_finds_the_latest_step_up() -> None:
    points = [(at(30), 0.0), (at(20), 1.0), (at(10), 1.0), (at(5), 2.2), (at(1), 2.1)]
    assert last_increase(points) == at(5)
    assert last_increase([(at(3), 2.0)]) == at(3), "a first value above zero counts"
    assert last_increase([(at(3), 0.0), (at(2), 0.2)]) is None


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0.4, 0.4]) == "▄▄"
    assert sparkline([]) == ""


async def test_rows_substitute_the_model_and_aggregate_series() -> None:
    q = DriftQueries()
    score = 'model_drift_score{model="m1"}'
    source = Source(
        {score: [0.2, 0.5], 'model_drift_p_value{model="m1"}': [0.04, 0.01]},
        {f"{score}@3600": [[(at(120), 0.1), (at(60), 0.5)]]},
    )
    (row,) = await drift_rows(source, q, ["m1"], now=NOW)
    assert (row.score, row.p_value, row.events_24h) == (0.5, 0.01, None)
    assert row.sparkline == "▁█"
    assert all('"m1"' in query for query in source.queries)


async def test_a_refused_query_is_shown_per_model() -> None:
    q = DriftQueries(score="bad{model}")
    (row,) = await drift_rows(Source({}, {}), q, ["m1"], now=NOW)
    assert row.problem
    assert "parse error" in row.problem
    assert "parse error" in str(render_drift([row], prometheus_url="http://p").blocks)


async def test_unreachable_prometheus_raises_one_error() -> None:
    with pytest.raises(PrometheusUnavailable, match="unreachable"):
        await drift_rows(Down(), DriftQueries(), ["m1", "m2"], now=NOW)


def test_table_escapes_and_formats() -> None:
    rows = [DriftRow("m1", 0.4213, 0.00312, 2.6, at(5), "▁█"), DriftRow("m2")]
    rendered = render_drift(rows, prometheus_url="http://p<x>")
    shown = rendered.blocks[0]["text"]["text"]
    assert "0.421" in shown
    assert "0.00312" in shown
    assert "none in 24 h" in shown
    assert "p&lt;x&gt;" in shown
