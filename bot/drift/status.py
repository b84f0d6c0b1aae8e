"""`/drift status [model]`: drift numbers per model from Prometheus, and their rendering.

Per model: the current drift score and p-value, drift events in the last 24 h (the configured
queries, `{model}` substituted), the time of the last drift event, and a text sparkline of the
score over 24 h. The last drift time is read from the events query as a range: the last minute
at which the 24-hour event count went up. A Prometheus that cannot be reached is one line.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.drift.prometheus import MetricsSource, Point
from bot.errors import PrometheusQueryError
from bot.options import DriftQueries
from slackio.blocks import Rendered, clip, code, escape, section
from urls import without_userinfo

DAY = timedelta(hours=24)
EVENT_STEP = 60.0  # seconds: resolution of "last drift"
SPARK_STEP = 3600.0  # seconds: one sparkline character per hour
SPARKS = "▁▂▃▄▅▆▇█"
MAX_MODELS = 40


@dataclass(frozen=True)
class DriftRow:
    """One model's drift numbers (None: Prometheus has no such series)."""

    model: str
    score: float | None = None
    p_value: float | None = None
    events_24h: float | None = None
    last_drift: datetime | None = None
    sparkline: str = ""
    problem: str | None = None


def substitute(query: str, model: str) -> str:
    """The query for one model (model names are validated: no quotes or braces)."""
    return query.replace("{model}", model)


async def drift_rows(
    source: MetricsSource, queries: DriftQueries, models: Sequence[str], *, now: datetime
) -> list[DriftRow]:
    """Every model's row, queried concurrently; `PrometheusUnavailable` if it cannot be reached."""
    return list(await asyncio.gather(*(_row(source, queries, m, now) for m in models[:MAX_MODELS])))


def window(now: datetime) -> tuple[datetime, datetime]:
    """The last 24 h, ending at the next whole second.

    Range queries take whole seconds; rounding the end down could leave out the newest sample,
    and a day is a whole number of steps, so the end itself is always evaluated.
    """
    end = datetime.fromtimestamp(math.ceil(now.timestamp()), now.tzinfo)
    return end - DAY, end


async def _row(source: MetricsSource, queries: DriftQueries, model: str, now: datetime) -> DriftRow:
    start, end = window(now)
    events_query = substitute(queries.events_24h, model)
    score_query = substitute(queries.score, model)
    try:
        score, p_value, events, event_series, score_series = await asyncio.gather(
            source.instant(score_query),
            source.instant(substitute(queries.p_value, model)),
            source.instant(events_query),
            source.series(events_query, start=start, end=end, step=EVENT_STEP),
            source.series(score_query, start=start, end=end, step=SPARK_STEP),
        )
    except PrometheusQueryError as e:
        return DriftRow(model, problem=e.message)
    return DriftRow(
        model=model,
        score=max(score) if score else None,
        p_value=min(p_value) if p_value else None,
        events_24h=sum(events) if events else None,
        last_drift=_not_after(last_increase(_summed(event_series)), now),
        sparkline=sparkline([v for _, v in _highest(score_series)]),
    )


def last_increase(points: Sequence[Point], threshold: float = 0.5) -> datetime | None:
    """When a count last went up by at least `threshold` (from nothing counts as from 0)."""
    previous = 0.0
    found = None
    for when, value in points:
        if value - previous >= threshold:
            found = when
        previous = value
    return found


def _not_after(when: datetime | None, now: datetime) -> datetime | None:
    return min(when, now) if when is not None else None


def sparkline(values: Sequence[float]) -> str:
    """`▁▃▅█`: one character per value, scaled between the smallest and the largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return SPARKS[3] * len(values)
    scale = (len(SPARKS) - 1) / (high - low)
    return "".join(SPARKS[round((v - low) * scale)] for v in values)


def _summed(series: list[list[Point]]) -> list[Point]:
    totals: dict[datetime, float] = {}
    for points in series:
        for when, value in points:
            totals[when] = totals.get(when, 0.0) + value
    return sorted(totals.items())


def _highest(series: list[list[Point]]) -> list[Point]:
    best: dict[datetime, float] = {}
    for points in series:
        for when, value in points:
            best[when] = max(best.get(when, value), value)
    return sorted(best.items())


# --- rendering ---------------------------------------------------------------------------------


def render_drift(rows: Sequence[DriftRow], *, prometheus_url: str) -> Rendered:
    """A monospaced table, one line per model, plus the sparkline legend."""
    if not rows:
        return Rendered("No models are configured.", [section("No models are configured.")])
    header = (
        f"{'model':<24} {'score':>7} {'p-value':>9} {'events 24h':>10}  "
        f"{'last drift (UTC)':<16}  24 h score"
    )
    lines = [header]
    problems = []
    for row in rows:
        if row.problem:
            problems.append(f"• {escape(row.model)}: {escape(clip(row.problem, 300))}")
        last = row.last_drift.strftime("%Y-%m-%d %H:%M") if row.last_drift else "none in 24 h"
        lines.append(
            f"{clip(row.model, 24):<24} {_num(row.score):>7} {_num(row.p_value):>9} "
            f"{_count(row.events_24h):>10}  {last:<16}  {row.sparkline or '-'}"
        )
    table = "```\n" + escape("\n".join(lines)) + "\n```"
    text = f"*Drift status* (from {code(without_userinfo(prometheus_url), 100)})\n{table}"
    blocks = [section(clip(text, 2900))]
    if problems:
        blocks.append(section("\n".join(problems)))
    return Rendered(f"Drift status for {len(rows)} model(s)", blocks)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
