"""Four-eyes deploys through create_app: signed commands and clicks, fake GitLab, fake Slack."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from bot.buttons import APPROVE, DENY
from tests.fakes.bot_app import (
    APPROVER1,
    APPROVER2,
    BOT_CONFIG,
    FAST,
    OUTSIDER,
    REQUESTER,
    BotAppFactory,
    BotHarness,
    variables,
)

CHANNEL = "#fraud-ml"
FRAUD_ML = ("C0FRAUDML", "fraud-ml")  # the channel's ID and name, as slash commands carry them


async def request_deploy(h: BotHarness, text: str = "fraud-detector production v12") -> str:
    """Ask for a production deploy; returns the ticket id shown on the Approve button."""
    name = await h.command("/deploy", text, user=REQUESTER)
    assert "Approval requested" in await h.answer(name)
    message = await h.message_with(CHANNEL, "Waiting for approval")
    return approve_value(message.blocks or [])


def approve_value(blocks: list[dict[str, Any]]) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == APPROVE:
                return str(element["value"])
    raise AssertionError(f"no Approve button in {json.dumps(blocks)}")


async def test_approver_approves_and_exactly_one_pipeline_runs_to_success(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["pending", "running", "running", "success"]
    ticket = await request_deploy(h)
    assert h.pipelines() == [], "nothing starts before approval"

    name = await h.click(APPROVE, ticket, user=APPROVER1)
    assert "Started deploy of fraud-detector" in await h.answer(name)
    (pipeline,) = h.pipelines()
    assert variables(pipeline) == {
        "ACTION": "deploy",
        "MODEL_NAME": "fraud-detector",
        "ENVIRONMENT": "production",
        "MODEL_VERSION": "v12",
    }
    done = await h.message_with(CHANNEL, "succeeded")
    shown = json.dumps(done.blocks)
    assert "/ml/fraud-detector/-/pipelines/" in shown, "the message links the pipeline"
    assert f"Approved by <@{APPROVER1}>" in shown
    assert APPROVE not in shown, "no buttons once decided"
    await h.slack.wait_for(
        lambda s: any("succeeded" in r.text for r in s.thread_replies(CHANNEL, done.ts))
    )
    replies = [r.text for r in h.slack.thread_replies(CHANNEL, done.ts)]
    assert any("running" in r for r in replies), replies
    assert len(h.messages(CHANNEL)) == 1, "one living message, updated in place"

    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_approvals_total{action="deploy",decision="now_approved"} 1.0' in metrics
    assert 'chatops_pipelines_total{action="deploy",outcome="started",provider="gitlab"} 1.0' in (
        metrics
    )
    assert 'chatops_pipelines_total{action="deploy",outcome="success",provider="gitlab"} 1.0' in (
        metrics
    )
    assert 'chatops_commands_total{command="/deploy",outcome="ok"} 1.0' in metrics


async def test_requester_cannot_approve_own_request(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    name = await h.click(APPROVE, ticket, user=REQUESTER)
    assert "another person must approve" in await h.answer(name)
    await asyncio.sleep(0.3)
    assert h.pipelines() == []
    (message,) = h.messages(CHANNEL)
    assert "Waiting for approval* (0 of 1)" in json.dumps(message.blocks)
    assert message.updates == 0, "a refused click changes nothing"


async def test_non_approver_is_refused_naming_the_rule(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    name = await h.click(APPROVE, ticket, user=OUTSIDER)
    answer = await h.answer(name)
    assert "not allowed to approve deploy to production" in answer
    assert f"<@{APPROVER1}>" in answer
    deny = await h.click(DENY, ticket, user=OUTSIDER)
    assert "not allowed to deny deploy to production" in await h.answer(deny)
    await asyncio.sleep(0.3)
    assert h.pipelines() == []
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_approvals_total{action="deploy",decision="refused"} 2.0' in metrics


async def test_duplicate_and_racing_clicks_start_one_pipeline(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    names = await asyncio.gather(
        h.click(APPROVE, ticket, user=APPROVER1),
        h.click(APPROVE, ticket, user=APPROVER1),
        h.click(APPROVE, ticket, user=APPROVER2),
    )
    answers = [await h.answer(n) for n in names]
    assert sum("Started deploy" in a for a in answers) == 1, answers
    assert sum("Nothing changed" in a for a in answers) == 2, answers
    await asyncio.sleep(0.3)
    assert len(h.pipelines()) == 1


async def test_deny_cancels_and_later_approval_changes_nothing(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    name = await h.click(DENY, ticket, user=APPROVER2)
    assert "Denied" in await h.answer(name)
    await h.message_with(CHANNEL, f"*Denied* by <@{APPROVER2}>")
    late = await h.click(APPROVE, ticket, user=APPROVER1)
    assert "already denied" in await h.answer(late)
    assert h.pipelines() == []


async def test_requester_may_cancel(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    name = await h.click(DENY, ticket, user=REQUESTER)
    assert "cancelled" in await h.answer(name)
    await h.message_with(CHANNEL, "*Cancelled*")


async def test_pending_request_expires_and_the_message_says_so(bot_app: BotAppFactory) -> None:
    config = BOT_CONFIG | {"approvals": {"expire_after": "1s"}}
    h = await bot_app(config)
    ticket = await request_deploy(h)
    await h.message_with(CHANNEL, "*Expired*", timeout=5)  # the sweeper, every 0.2 s here
    name = await h.click(APPROVE, ticket, user=APPROVER1)
    assert "expired" in await h.answer(name)
    assert h.pipelines() == []
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_approvals_total{action="deploy",decision="expired"} 1.0' in metrics


async def test_a_click_after_the_deadline_expires_the_request(bot_app: BotAppFactory) -> None:
    config = BOT_CONFIG | {"approvals": {"expire_after": "1s"}}
    slow_sweeper = dataclasses.replace(FAST, sweep_interval=60.0)
    h = await bot_app(config, tuning=slow_sweeper)
    ticket = await request_deploy(h)
    await asyncio.sleep(1.2)
    name = await h.click(APPROVE, ticket, user=APPROVER1)
    assert "expired" in await h.answer(name)
    await h.message_with(CHANNEL, "*Expired*")
    assert h.pipelines() == []


async def test_a_late_click_audits_the_expiry_as_the_service(bot_app: BotAppFactory) -> None:
    config = BOT_CONFIG | {"approvals": {"expire_after": "1s"}}
    slow_sweeper = dataclasses.replace(FAST, sweep_interval=60.0)
    h = await bot_app(config, tuning=slow_sweeper)
    ticket = await request_deploy(h)
    await asyncio.sleep(1.2)
    assert "expired" in await h.answer(await h.click(APPROVE, ticket, user=APPROVER1))
    entries = await h.store.recent_audit(model="fraud-detector", limit=20)
    (expired,) = [e for e in entries if e.action == "deploy.expire"]
    assert (expired.actor, expired.outcome) == ("chatops", "expired")
    assert all(e.actor != APPROVER1 for e in entries)


async def test_pending_requests_survive_a_restart(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)
    await h.client.close()
    again = await bot_app()
    name = await again.click(APPROVE, ticket, user=APPROVER1)
    assert "Started deploy" in await again.answer(name)
    assert len(again.pipelines()) == 1


async def test_audit_lists_request_approval_and_pipeline(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "success"]
    ticket = await request_deploy(h)
    await h.answer(await h.click(APPROVE, ticket, user=APPROVER1))
    await h.message_with(CHANNEL, "succeeded")
    for _ in range(250):  # the finish is audited just after the message update is queued
        entries = await h.store.recent_audit(model="fraud-detector", limit=20)
        if any(e.action == "pipeline.finish" for e in entries):
            break
        await asyncio.sleep(0.02)
    answer = await h.answer(
        await h.command("/chatops", "audit fraud-detector", user=OUTSIDER, channel=FRAUD_ML)
    )
    for expected in ("deploy.request", "deploy.approve", "pipeline.start", "pipeline.finish"):
        assert expected in answer, answer
