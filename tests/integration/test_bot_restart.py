"""A restart does not lose a run: the next process resumes following it and updates the message."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.approvals.machine import ApprovalRequest, ApprovalState
from bot.approvals.tickets import Ticket
from tests.fakes.bot_app import BotAppFactory, until

CHANNEL = "#fraud-ml"


async def test_following_resumes_after_a_restart(bot_app: BotAppFactory) -> None:
    first = await bot_app()
    assert "Started retrain" in await first.answer(
        await first.command("/retrain", "fraud-detector")
    )
    (pipeline_id,) = first.gitlab.pipelines
    first.gitlab.advance(pipeline_id, "running")
    await first.message_with(CHANNEL, "running")
    await first.client.close()  # shutdown: followers stop, their leases are released

    first.gitlab.advance(pipeline_id, "success")
    second = await bot_app()
    message = await second.message_with(CHANNEL, "succeeded")
    assert len(second.messages(CHANNEL)) == 1, "the same message, updated in place"
    assert message.updates >= 2
    await until(lambda: second.bot.runs.following == frozenset(), what="nothing left to follow")
    metrics = await (await second.client.get("/metrics")).text()
    assert 'chatops_pipelines_total{action="retrain",outcome="success",provider="gitlab"} 1.0' in (
        metrics
    )


async def test_a_start_interrupted_by_a_crash_is_not_retried(bot_app: BotAppFactory) -> None:
    """An approved request whose starter died (lease run out, no run) is closed, not restarted."""
    h = await bot_app()
    created = datetime.now(UTC)
    request = ApprovalRequest(
        id="cmd-crashed",
        action="deploy",
        model="fraud-detector",
        environment="production",
        version="v3",
        variables={},
        requester="U0REQUESTER",
        created_at=created,
        expires_at=created + timedelta(hours=1),
        approvals_needed=1,
        approved_by=("U0APPROVER1",),
        state=ApprovalState.APPROVED,
        channel=CHANNEL,
    )
    crashed = Ticket(request=request, follower="gone-process", lease_until=time.time() - 1)
    await h.bot.tickets.add_open(crashed.id)
    assert await h.bot.tickets.save(crashed, version=0)
    await h.message_with(CHANNEL, "the bot stopped while starting the pipeline")
    assert h.pipelines() == []
    for _ in range(100):  # the next sweep drops it from the open index
        if "cmd-crashed" not in await h.bot.tickets.open_ids():
            break
        await asyncio.sleep(0.05)
    assert "cmd-crashed" not in await h.bot.tickets.open_ids()
