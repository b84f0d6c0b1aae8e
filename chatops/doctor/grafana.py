"""Grafana (the silences API the Silence button uses on Grafana alerts), when GRAFANA_URL is set."""

from __future__ import annotations

import aiohttp

from bot.alerts.grafana import Grafana
from bot.errors import SilenceError
from chatops.doctor.checks import Check, failed, passed, shown
from chatops.settings import Settings, secret_value

TIMEOUT = 5.0
_FIX = (
    "check GRAFANA_URL, and that GRAFANA_TOKEN is a service account token allowed to read "
    "and create silences"
)


async def grafana_checks(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """GET the Grafana Alertmanager's silences with the token; no line without GRAFANA_URL."""
    url = (settings.grafana_url or "").strip()
    if not url:
        return []
    where = shown(url)
    problems = settings.grafana_problems()
    if problems:
        return [failed("grafana", "; ".join(problems), _FIX)]
    grafana = Grafana(
        url=url, token=secret_value(settings.grafana_token), session=session, timeout=TIMEOUT
    )
    try:
        count = await grafana.silences()
    except SilenceError as e:
        return [failed("grafana", f"cannot use Grafana at GRAFANA_URL={where}: {e.message}", _FIX)]
    return [passed("grafana", f"silences API answers at {where} with the token ({count} listed)")]
