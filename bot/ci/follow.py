"""Follow a pipeline run until it finishes, reporting each status change.

Provider-agnostic and Slack-free: the caller passes the provider, the run `start`
returned, and an async callback (which updates the Slack message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import structlog

from bot.ci.provider import PipelineProvider, PipelineRun, PipelineTarget
from bot.errors import ProviderTimeout, ProviderUnavailable

log = structlog.get_logger(__name__)

OnChange = Callable[[PipelineRun], Awaitable[None]]

BACKOFF = 1.5  # each poll waits this much longer than the one before, up to poll_max
MAX_TRANSIENT_FAILURES = 5  # consecutive timeouts/5xx tolerated while following


def backoff(initial: float, maximum: float, factor: float = BACKOFF) -> Iterator[float]:
    """Successive waits between polls: `initial`, growing by `factor`, capped at `maximum`."""
    wait = initial
    while True:
        yield min(wait, maximum)
        wait = min(wait * factor, maximum)


async def follow_run(
    provider: PipelineProvider,
    run: PipelineRun,
    on_change: OnChange,
    *,
    target: PipelineTarget,
    poll_initial: float = 5.0,
    poll_max: float = 60.0,
    deadline: float = 6 * 3600.0,
) -> PipelineRun:
    """Poll `run` until its status is final or `deadline` seconds have passed.

    Waits grow from `poll_initial` to `poll_max` seconds. `on_change` is awaited with
    the new run each time the status differs from the last one seen. Returns the last
    run seen: final, or not (the caller says "stopped following") when the deadline
    passed. A few consecutive timeouts or 5xx answers are waited out; other provider
    errors (auth, not found) are raised.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    waits = backoff(poll_initial, poll_max)
    failures = 0
    current = run
    while not current.status.is_final:
        remaining = end - loop.time()
        if remaining <= 0:
            log.info("pipeline_follow_expired", provider=provider.name, run_id=run.id)
            return current
        await asyncio.sleep(min(next(waits), remaining))
        latest, failures = await _poll(provider, current, target=target, failures=failures)
        if latest.status != current.status:
            await on_change(latest)
        current = latest
    return current


async def _poll(
    provider: PipelineProvider, current: PipelineRun, *, target: PipelineTarget, failures: int
) -> tuple[PipelineRun, int]:
    """The run's latest state and no failures; after a timeout or 5xx, the run as it was and
    one failure more (raised once there are `MAX_TRANSIENT_FAILURES` in a row)."""
    try:
        return await provider.get_run(target=target, run_id=current.id), 0
    except (ProviderTimeout, ProviderUnavailable) as e:
        failures += 1
        log.warning("pipeline_poll_failed", run_id=current.id, failures=failures, error=str(e))
        if failures >= MAX_TRANSIENT_FAILURES:
            raise
        return current, failures
