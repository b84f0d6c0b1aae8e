"""Prometheus (the drift queries, per model) and Alertmanager (API v2 status)."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.alerts.alertmanager import Alertmanager
from bot.drift.prometheus import PrometheusClient
from bot.drift.status import substitute
from bot.errors import PrometheusQueryError, PrometheusUnavailable, SilenceError
from chatops.config import AppConfig
from chatops.doctor.checks import Check, failed, passed, shown, skipped
from chatops.settings import Settings

TIMEOUT = 5.0


async def prometheus_checks(settings: Settings, config: AppConfig) -> list[Check]:
    """Each drift query, for every model: it parses and returns a series (instant query)."""
    if not settings.prometheus_url:
        return [skipped("prometheus", "PROMETHEUS_URL is not set (/drift status is off)")]
    models = sorted(config.models)
    if not models:
        return [skipped("prometheus", "no models configured to query drift for")]
    client = PrometheusClient(url=settings.prometheus_url, timeout=TIMEOUT)
    queries = config.drift.queries.model_dump()
    checks: list[Check] = []
    try:
        for key, query in queries.items():
            checks.append(await _query_check(client, f"drift.queries.{key}", query, models))
    except PrometheusUnavailable as e:  # said once, not per query
        fix = "check PROMETHEUS_URL and that Prometheus is up"
        checks.append(failed("prometheus", f"PROMETHEUS_URL: {e.message}", fix))
    finally:
        await client.close()
    return checks


async def _query_check(client: PrometheusClient, key: str, query: str, models: list[str]) -> Check:
    name = f"prometheus {key}"
    try:
        found = await asyncio.gather(*(client.instant(substitute(query, m)) for m in models))
    except PrometheusQueryError as e:
        return failed(name, f"{query!r} is refused: {e.message}", f"fix {key} in the config")
    empty = [m for m, values in zip(models, found, strict=True) if not values]
    if empty:
        detail = f"no series for model(s) {', '.join(empty)} from {query!r}"
        fix = "check the metric name and its model label, and that the drift exporter is scraped"
        return failed(name, detail, fix)
    return passed(name, f"a series for each of {len(models)} model(s)")


async def alertmanager_checks(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """GET /api/v2/status when ALERTMANAGER_URL is set."""
    if not settings.alertmanager_url:
        why = "ALERTMANAGER_URL is not set (the Silence button is off)"
        return [skipped("alertmanager", why)]
    am = Alertmanager(url=settings.alertmanager_url, session=session, timeout=TIMEOUT)
    where = shown(settings.alertmanager_url)
    try:
        version = await am.version()
    except SilenceError as e:
        detail = f"cannot use Alertmanager at ALERTMANAGER_URL={where}: {e.message}"
        return [failed("alertmanager", detail, "check ALERTMANAGER_URL and that it is up")]
    return [passed("alertmanager", f"API v2 answers at {where} (version {version or 'unknown'})")]
