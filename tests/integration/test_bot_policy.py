"""The policy fails closed through create_app: what a configured policy leaves out is refused."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from bot.buttons import APPROVE, DENY
from tests.fakes.bot_app import APPROVER1, BOT_CONFIG, REQUESTER, BotAppFactory, until
from tests.integration.test_bot_approvals import request_deploy

STAGING_ONLY: dict[str, Any] = BOT_CONFIG | {"policy": {"deploy": {"staging": {"approvals": 0}}}}


async def test_deploy_to_an_environment_the_policy_leaves_out_is_refused(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(STAGING_ONLY)
    answer = await h.answer(await h.command("/deploy", "fraud-detector production v12"))
    assert 'no policy for deploy to production: add policy.deploy.production (or \\"*\\")' in answer
    answer = await h.answer(await h.command("/retrain", "fraud-detector"))
    assert 'no policy for retrain: add policy.retrain.\\"*\\"' in answer
    assert h.pipelines() == []
    answer = await h.answer(await h.command("/deploy", "fraud-detector staging v12"))
    assert "Started deploy of fraud-detector" in answer
    await until(lambda: len(h.pipelines()) == 1, what="the covered deploy starts")
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_commands_total{command="/deploy",outcome="refused"} 1.0' in metrics


async def test_without_a_policy_section_start_up_warns_and_anyone_may_deploy(
    bot_app: BotAppFactory,
) -> None:
    config = {key: value for key, value in BOT_CONFIG.items() if key != "policy"}
    with capture_logs() as logs:
        h = await bot_app(config)
    (warning,) = [e for e in logs if e["event"] == "policy_missing"]
    assert warning["log_level"] == "warning"
    answer = await h.answer(await h.command("/deploy", "fraud-detector production v12"))
    assert "Started deploy of fraud-detector" in answer


async def test_a_configured_policy_logs_no_warning(bot_app: BotAppFactory) -> None:
    with capture_logs() as logs:
        await bot_app()
    assert not [e for e in logs if e["event"] == "policy_missing"]


async def test_a_pending_request_the_new_policy_leaves_out_cannot_be_approved(
    bot_app: BotAppFactory,
) -> None:
    ticket = await request_deploy(await bot_app())
    again = await bot_app(STAGING_ONLY)  # restarted with production's entry gone
    answer = await again.answer(await again.click(APPROVE, ticket, user=APPROVER1))
    assert "no policy for deploy to production" in answer
    answer = await again.answer(await again.click(DENY, ticket, user=REQUESTER))
    assert "You cancelled your request" in answer
    assert again.pipelines() == []
