"""`chatops doctor`: a live preflight of every outside service the config and environment use.

Each service module returns `Check`s (one per thing checked); the checks go through the same
adapters the service uses, each call with its timeout. Services are checked concurrently and
reported in a fixed order: Slack, GitLab, GitHub, Prometheus, Alertmanager, Grafana (only when
GRAFANA_URL is set).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import aiohttp
import structlog

from chatops.config import AppConfig
from chatops.doctor.checks import Check, failed, report
from chatops.doctor.github import github_checks
from chatops.doctor.gitlab import gitlab_checks
from chatops.doctor.grafana import grafana_checks
from chatops.doctor.prometheus import alertmanager_checks, prometheus_checks
from chatops.doctor.slack import slack_checks
from chatops.settings import Settings

__all__ = ["Check", "report", "run_doctor"]

log = structlog.get_logger("chatops.doctor")


async def run_doctor(settings: Settings, config: AppConfig) -> list[Check]:
    """Run every check; never raises for what a service answers."""
    seconds = settings.chatops_slack_timeout
    timeout = aiohttp.ClientTimeout(total=seconds, connect=min(5, seconds))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        groups = await asyncio.gather(
            _guarded("slack", slack_checks(settings, config, session)),
            _guarded("gitlab", gitlab_checks(settings, config)),
            _guarded("github", github_checks(settings, config)),
            _guarded("prometheus", prometheus_checks(settings, config)),
            _guarded("alertmanager", alertmanager_checks(settings, session)),
            _guarded("grafana", grafana_checks(settings, session)),
        )
    return [check for group in groups for check in group]


async def _guarded(service: str, checks: Awaitable[list[Check]]) -> list[Check]:
    """A bug in one service's checks fails that service, not the whole report."""
    try:
        return await checks
    except Exception as e:
        log.exception("doctor_check_crashed", service=service)
        return [failed(service, f"the check itself failed ({type(e).__name__})", "report a bug")]
