"""`POST /slack/events` through create_app: signatures, fast acks, retries, console mode."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bot.service import CommandCall
from chatops.app import create_app
from chatops.bot_wiring import bot_ctx
from chatops.config import parse_config
from chatops.slack_events import add_bot_routes
from tests.fakes.app import make_settings
from tests.fakes.bot_app import BOT_CONFIG, BotAppFactory, until, variables
from tests.fakes.slack_requests import command_body, signed_headers

ACK_BUDGET_S = 3.0  # Slack's contract: an answer within 3 seconds, always


async def test_bad_signature_is_refused(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    body = command_body("/retrain", "fraud-detector", user="U1", response_url="http://x/")
    headers = signed_headers(body, secret="not-the-signing-secret")
    response = await h.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    assert h.pipelines() == []


async def test_stale_timestamp_is_refused(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    body = command_body("/retrain", "fraud-detector", user="U1", response_url="http://x/")
    headers = signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    response = await h.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401


async def test_unsigned_and_tampered_bodies_are_refused(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    body = command_body("/retrain", "fraud-detector", user="U1", response_url="http://x/")
    unsigned = await h.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status == 401
    headers = signed_headers(body)
    tampered = body.replace("fraud-detector", "credit-scorer")
    response = await h.client.post("/slack/events", data=tampered, headers=headers)
    assert response.status == 401


async def test_ack_is_fast_while_gitlab_takes_8_seconds(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.latency = 8.0
    body = command_body(
        "/retrain", "fraud-detector", user="U1", response_url=h.slack.response_url("slow")
    )
    started = time.monotonic()
    response = await h.client.post("/slack/events", data=body, headers=signed_headers(body))
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert elapsed < ACK_BUDGET_S, f"ack took {elapsed:.2f}s"
    # the work went on in the background: GitLab was asked (and is still answering)
    await until(lambda: bool(h.gitlab.requests_to("POST", "/pipeline")), 5, "GitLab was asked")


async def test_slack_retry_does_not_start_twice(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    name = "retried"
    body = command_body(
        "/retrain", "fraud-detector", user="U1", response_url=h.slack.response_url(name)
    )
    first = await h.client.post("/slack/events", data=body, headers=signed_headers(body))
    again = await h.client.post("/slack/events", data=body, headers=signed_headers(body, retry=1))
    assert (first.status, again.status) == (200, 200)
    await h.answer(name)
    await h.no_answer("unused", wait=0.5)
    assert len(h.pipelines()) == 1
    assert variables(h.pipelines()[0])["ACTION"] == "retrain"
    assert len(h.slack.responses(name)) == 1, "one answer for one command"


async def test_console_mode_answers_503_and_the_rest_works(
    aiohttp_client: Any, store_path: Path
) -> None:
    settings = make_settings(None, store_path)
    app = create_app(settings, parse_config(BOT_CONFIG))
    if bot_ctx not in app.cleanup_ctx:
        app.cleanup_ctx.append(bot_ctx)
        add_bot_routes(app)
    client = await aiohttp_client(app)
    body = command_body("/retrain", "fraud-detector", user="U1", response_url="http://x/")
    response = await client.post("/slack/events", data=body, headers=signed_headers(body))
    assert response.status == 503
    assert "Slack is not configured" in (await response.json())["error"]
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 200


async def test_a_request_received_again_past_the_retry_window_starts_nothing(
    bot_app: BotAppFactory,
) -> None:
    """Once the command id is forgotten its ticket is still there: the same request is
    recognised as already received, and nothing is stored, started, audited or answered."""
    h = await bot_app()
    call = CommandCall(
        team="T1",
        user="U1",
        channel="C0COMMANDS",
        command="/retrain",
        text="fraud-detector",
        trigger_id="trigger-1",
    )
    first = await h.bot.commands.run(call)
    again = await h.bot.commands.run(call)
    assert "Started retrain of fraud-detector" in str(first)
    assert again is None
    assert len(h.pipelines()) == 1
    entries = await h.bot.auditor.recent(model=None)
    assert [e.action for e in entries].count("retrain.request") == 1
