"""The registry loop against a real `mlflow server`: MLflow's own webhook deliveries drive a
promotion card, Promote goes through four eyes, the alias moves in MLflow and the deploy starts.

Slack and GitLab are the loopback fakes; MLflow is the real server from .tools/mlflow (see
mlflow_server.py). The service's own alias change comes back from MLflow as a webhook and must
change nothing; an alias moved directly in MLflow updates the card.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.buttons import APPROVE
from slackio.buttons import PROMOTE
from tests.e2e.mlflow_server import MlflowRest, MlflowServer, mlflow_server
from tests.fakes.bot_app import (
    APPROVER1,
    APPROVER2,
    BOT_CONFIG,
    REQUESTER,
    BotAppFactory,
    BotHarness,
    until,
    variables,
)
from tests.fakes.slack import FakeMessage

__all__ = ["mlflow_server"]  # the module-scoped fixture, used below

pytestmark = pytest.mark.e2e

SECRET = "e2e-mlflow-webhook-secret"  # a test value
NAME = "fraud-detector"
CHANNEL = "#fraud-ml"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(BOT_CONFIG))
    config["models"][NAME]["registry"] = {
        "name": NAME,
        "metrics": {"auc": "max", "latency_ms": "min"},
        "deploy_on_promote": ["staging"],
    }
    config["policy"]["promote"] = {"*": {"approvals": 1, "approvers": [APPROVER1, APPROVER2]}}
    return config


def _text(message: FakeMessage) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def _button(message: FakeMessage, action_id: str) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button on {message.text!r}")


async def test_a_new_version_is_compared_promoted_with_four_eyes_and_deployed(
    bot_app: BotAppFactory, mlflow_server: MlflowServer
) -> None:
    h = await bot_app(
        _config(),
        gateway_records=True,
        mlflow_tracking_uri=mlflow_server.url,
        chatops_mlflow_webhook_secret=SECRET,
    )
    async with aiohttp.ClientSession() as session:
        mlflow = MlflowRest(session, mlflow_server.url)
        # The webhook first: each MLflow worker caches the webhook list for a minute
        # (MLFLOW_WEBHOOK_CACHE_TTL), so a webhook created after an event may miss the next.
        await mlflow.webhook("chatops", str(h.client.make_url("/webhooks/mlflow")), SECRET)
        await mlflow.call("POST", "registered-models/create", name=NAME)
        champion_run = await mlflow.run_with_metrics(auc=0.91, latency_ms=40.0)
        await mlflow.set_alias(NAME, "champion", await mlflow.new_version(NAME, champion_run))
        # MLflow delivers from a thread pool: the alias event may come before the version's.
        first = await h.message_with(CHANNEL, f"{NAME} v1", timeout=60)
        await until(lambda: f"Champion: {NAME} v1" in _text(first), timeout=60, what="v1 crowned")

        # A data scientist registers a better-AUC, slower version: one card compares them.
        run = await mlflow.run_with_metrics(auc=0.93, latency_ms=45.0)
        version = await mlflow.new_version(NAME, run)
        assert version == "2"
        card = await h.message_with(CHANNEL, f"New version: {NAME} v2", timeout=60)
        shown = _text(card)
        assert "Compared with champion v1" in shown
        assert "*0.93* vs 0.91 (v1)" in shown
        assert "*45* vs 40 (v1)" in shown
        assert f"/#/experiments/0/runs/{run}" in shown

        # Four eyes: the requester cannot approve; a second person can.
        answer = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=REQUESTER))
        assert "Approval requested" in answer, answer
        approval = await h.message_with(CHANNEL, f"Promote {NAME} v2 to champion")
        ticket = _button(approval, APPROVE)
        own = await h.answer(await h.click(APPROVE, ticket, user=REQUESTER))
        assert "another person must approve" in own
        assert await mlflow.alias(NAME, "champion") == "1"
        answer = await h.answer(await h.click(APPROVE, ticket, user=APPROVER1))
        assert f"Promoted {NAME} v2 to champion" in answer, answer

        # The alias moved in MLflow itself, the card says so once, the deploy started.
        assert await mlflow.alias(NAME, "champion") == "2"
        await until(lambda: f"Champion: {NAME} v2" in _text(card), what="card shows champion")
        await until(lambda: len(h.pipelines()) == 1, what="deploy pipeline started")
        (pipeline,) = h.pipelines()
        assert variables(pipeline)["MODEL_VERSION"] == "2"
        assert variables(pipeline)["ENVIRONMENT"] == "staging"
        await until(lambda: "Deploy to staging" in _thread(h, card), what="deploy in thread")

        # MLflow's webhook for the service's own alias change arrives and changes nothing.
        await _until_async(lambda: _mlflow_outcomes(h, "duplicate"), what="MLflow echo seen")
        updates = _updates(h, card)

        # An alias moved directly in MLflow (the promotion undone there) updates the card once.
        await mlflow.set_alias(NAME, "champion", "1")
        await until(
            lambda: "alias moved to v1 in MLflow" in _text(card), timeout=60, what="card updated"
        )
        assert _updates(h, card) == updates + 1
        await until(lambda: f"Champion: {NAME} v1" in _text(first), timeout=60, what="v1 again")
        await until(lambda: "alias moved to v1 in MLflow" in _thread(h, card), what="reply")


def _updates(h: BotHarness, card: FakeMessage) -> int:
    return sum(1 for c in h.slack.calls("chat.update") if c.params.get("ts") == card.ts)


def _thread(h: BotHarness, card: FakeMessage) -> str:
    return "\n".join(m.text for m in h.slack.thread_replies(card.channel, card.ts))


async def _mlflow_outcomes(h: BotHarness, outcome: str) -> bool:
    metrics = await (await h.client.get("/metrics")).text()
    wanted = f'chatops_webhooks_received_total{{outcome="{outcome}",source="mlflow"}}'
    return any(
        line.startswith(wanted) and float(line.split()[-1]) >= 1 for line in metrics.splitlines()
    )


async def _until_async(
    predicate: Callable[[], Awaitable[bool]],
    *,
    what: str,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}")
        await asyncio.sleep(0.1)
