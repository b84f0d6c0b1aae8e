"""Promote to champion from a promotion card, through create_app, with four eyes.

The app talks to the fake Slack, the fake GitLab and a fake MLflow (tests/fakes/mlflow.py);
MLflow's webhook deliveries are signed as MLflow signs them. Clicks are signed Slack requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from bot.buttons import APPROVE
from slackio.buttons import DISMISS, PROMOTE
from tests.fakes.bot_app import (
    APPROVER1,
    APPROVER2,
    BOT_CONFIG,
    OUTSIDER,
    REQUESTER,
    BotAppFactory,
    BotHarness,
    until,
    variables,
)
from tests.fakes.mlflow import FakeMlflow
from tests.fakes.slack import FakeMessage
from tests.fakes.slack_requests import action_body

SECRET = "mlflow-webhook-test-secret"  # a test value, not a secret
NAME = "fraud-detector"
CHANNEL = "#fraud-ml"


def _config(approvals: int = 1, deploy_on_promote: tuple[str, ...] = ("staging",)) -> Any:
    config = json.loads(json.dumps(BOT_CONFIG))
    config["models"][NAME]["registry"] = {
        "name": NAME,
        "metrics": {"auc": "max"},
        "deploy_on_promote": list(deploy_on_promote),
    }
    config["policy"]["promote"] = {
        "*": {"approvals": approvals, "approvers": [APPROVER1, APPROVER2]}
    }
    return config


async def _app(bot_app: BotAppFactory, mlflow: FakeMlflow, **config: Any) -> BotHarness:
    mlflow.add_version(NAME, "1", run_id="run1", metrics={"auc": 0.90})
    mlflow.add_version(NAME, "2", run_id="run2", metrics={"auc": 0.93})
    mlflow.aliases[NAME] = {"champion": "1"}
    return await bot_app(
        _config(**config),
        gateway_records=True,
        mlflow_tracking_uri=mlflow.url,
        chatops_mlflow_webhook_secret=SECRET,
    )


async def _deliver(h: BotHarness, entity: str, action: str, data: dict[str, Any]) -> str:
    """One MLflow webhook delivery, signed like MLflow signs it; the answer's status."""
    body = json.dumps({"entity": entity, "action": action, "timestamp": "", "data": data})
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"{delivery}.{stamp}.{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": "v1," + base64.b64encode(digest.digest()).decode(),
    }
    response = await h.client.post("/webhooks/mlflow", data=body, headers=headers)
    assert response.status in (200, 202), await response.text()
    return str((await response.json())["status"])


async def _card(h: BotHarness, version: str) -> FakeMessage:
    data = {"name": NAME, "version": version, "run_id": f"run{version}", "tags": {}}
    assert await _deliver(h, "model_version", "created", data) == "accepted"
    return await h.message_with(CHANNEL, f": {NAME} v{version}")  # new, or already champion


def _button(message: FakeMessage, action_id: str) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button on {message.text!r}")


def _shows(message: FakeMessage, text: str) -> bool:
    return text in message.text + json.dumps(message.blocks, ensure_ascii=False)


async def _request_promotion(h: BotHarness, card: FakeMessage) -> str:
    """REQUESTER clicks Promote; the ticket id the approval message's Approve button carries."""
    answer = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=REQUESTER))
    assert "Approval requested" in answer, answer
    approval = await h.message_with(CHANNEL, f"Promote {NAME} v2 to champion")
    return _button(approval, APPROVE)


async def test_promote_needs_another_person_then_sets_alias_updates_card_and_deploys(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    old = await _card(h, "1")
    champion = {"name": NAME, "alias": "champion", "version": "1"}
    assert await _deliver(h, "model_version_alias", "created", champion) == "accepted"
    await until(lambda: _shows(old, "Champion: "), what="v1 shown as champion")
    card = await _card(h, "2")
    assert "0.93" in json.dumps(card.blocks)
    assert "0.9 " in json.dumps(card.blocks)
    ticket_id = await _request_promotion(h, card)
    await until(lambda: _shows(card, "Promotion requested by"), what="request recorded")

    own = await h.answer(await h.click(APPROVE, ticket_id, user=REQUESTER))
    assert "another person must approve" in own
    outsider = await h.answer(await h.click(APPROVE, ticket_id, user=OUTSIDER))
    assert "not allowed" in outsider
    assert fake_mlflow.alias_sets() == []

    answer = await h.answer(await h.click(APPROVE, ticket_id, user=APPROVER1))
    assert f"Promoted {NAME} v2 to champion" in answer, answer
    assert fake_mlflow.alias_sets() == [{"name": NAME, "alias": "champion", "version": "2"}]
    await until(lambda: _shows(card, "Champion: fraud-detector v2"), what="card is champion")
    assert _shows(card, f"<@{REQUESTER}>")
    assert _shows(card, f"approved by <@{APPROVER1}>")
    assert _button_ids(card) == []  # no Promote/Dismiss on the champion's card
    await until(lambda: _shows(old, "Former champion"), what="v1 replaced")
    await until(lambda: len(h.pipelines()) == 1, what="deploy started")
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["ENVIRONMENT"] == "staging"
    assert variables(pipeline)["MODEL_VERSION"] == "2"
    assert variables(pipeline)["ACTION"] == "deploy"
    await until(lambda: "Deploy to staging" in _thread(h, card), what="deploy noted in thread")
    assert "Started deploy of fraud-detector" in _thread(h, card)

    # MLflow then reports the alias the service itself set: nothing changes any more.
    await asyncio.sleep(0.3)
    seen = (card.updates, old.updates, _replies(h, card), _replies(h, old))
    data = {"name": NAME, "alias": "champion", "version": "2"}
    assert await _deliver(h, "model_version_alias", "created", data) == "duplicate"
    await asyncio.sleep(0.5)
    assert (card.updates, old.updates, _replies(h, card), _replies(h, old)) == seen
    assert len(h.pipelines()) == 1


async def test_deploy_on_promote_to_an_environment_needing_approval_asks_for_it(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow, approvals=0, deploy_on_promote=("production",))
    card = await _card(h, "2")
    answer = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=REQUESTER))
    assert f"Promoted {NAME} v2 to champion" in answer, answer
    deploy = await h.message_with(CHANNEL, f"Deploy {NAME} 2 to production")
    assert _shows(deploy, "Waiting for approval")
    assert h.pipelines() == []
    await h.answer(await h.click(APPROVE, _button(deploy, APPROVE), user=APPROVER2))
    await until(lambda: len(h.pipelines()) == 1, what="production deploy started")
    assert variables(h.pipelines()[0])["MODEL_VERSION"] == "2"


async def test_mlflow_failure_is_said_in_the_thread_and_promote_again_retries(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    card = await _card(h, "2")
    ticket_id = await _request_promotion(h, card)
    fake_mlflow.fail(500, method="POST", path="registered-models/alias")

    answer = await h.answer(await h.click(APPROVE, ticket_id, user=APPROVER1))
    assert "Could not promote" in answer, answer
    assert "answered 500" in answer, answer
    await until(lambda: "answered 500" in _thread(h, card), what="failure said in the thread")
    assert "again to retry" in _thread(h, card)
    assert _shows(card, "New version")
    assert _button_ids(card) == [PROMOTE, DISMISS]
    assert fake_mlflow.aliases[NAME] == {"champion": "1"}
    assert h.pipelines() == []

    retry = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=APPROVER2))
    assert f"Promoted {NAME} v2 to champion" in retry, retry
    assert fake_mlflow.aliases[NAME] == {"champion": "2"}
    await until(lambda: _shows(card, "Champion: fraud-detector v2"), what="card is champion")
    assert _shows(card, f"approved by <@{APPROVER1}>")  # the approval that stood
    await until(lambda: len(h.pipelines()) == 1, what="deploy started once")


async def test_mlflow_refusing_the_token_fails_closed(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow, approvals=0)
    card = await _card(h, "2")
    fake_mlflow.fail(401, method="POST")
    answer = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=REQUESTER))
    assert "Could not promote" in answer, answer
    assert "MLFLOW_TRACKING_TOKEN" in answer, answer
    assert fake_mlflow.aliases[NAME] == {"champion": "1"}
    assert h.pipelines() == []
    await until(lambda: "MLFLOW_TRACKING_TOKEN" in _thread(h, card), what="said in the thread")
    assert _shows(card, "New version")


async def test_double_clicks_and_slack_retries_act_once(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    card = await _card(h, "2")
    value = _button(card, PROMOTE)
    first = await asyncio.gather(
        h.click(PROMOTE, value, user=REQUESTER), h.click(PROMOTE, value, user=OUTSIDER)
    )
    answers = [await h.answer(n) for n in first]
    assert sum("Approval requested" in a for a in answers) == 1, answers
    ticket_id = _button(await h.message_with(CHANNEL, f"Promote {NAME} v2"), APPROVE)

    # Both approvers at the same moment, one of them double-clicking: one alias change.
    name = f"approve-{uuid.uuid4().hex[:8]}"
    body = action_body(
        APPROVE,
        ticket_id,
        user=APPROVER1,
        response_url=h.slack.response_url(name),
        action_ts="1700000000.123456",
    )
    clicks = await asyncio.gather(
        h.post(body),
        h.click(APPROVE, ticket_id, user=APPROVER1),
        h.click(APPROVE, ticket_id, user=APPROVER2),
    )
    assert clicks[0].status == 200
    await until(lambda: len(h.pipelines()) == 1, what="deploy started")
    await h.answer(name)
    # Slack re-delivers the first click (its ack got lost): not acted on, not answered again.
    assert (await h.post(body, retry=1)).status == 200
    await asyncio.sleep(0.5)
    assert len(fake_mlflow.alias_sets()) == 1
    assert len(h.pipelines()) == 1
    assert len(h.slack.responses(name)) == 1
    again = await h.answer(await h.click(PROMOTE, value, user=OUTSIDER))
    assert "already promoted" in again, again


async def test_dismiss_records_who_on_the_card(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    card = await _card(h, "2")
    answer = await h.answer(await h.click(DISMISS, _button(card, DISMISS), user=OUTSIDER))
    assert "Dismissed" in answer
    await until(lambda: _shows(card, f"Dismissed by <@{OUTSIDER}>"), what="dismiss recorded")
    assert _button_ids(card) == []


def _button_ids(message: FakeMessage) -> list[str]:
    return [
        str(e.get("action_id"))
        for b in message.blocks or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def _replies(h: BotHarness, message: FakeMessage) -> int:
    return len(h.slack.thread_replies(message.channel, message.ts))


def _thread(h: BotHarness, message: FakeMessage) -> str:
    return "\n".join(r.text for r in h.slack.thread_replies(message.channel, message.ts))


async def test_a_slow_registry_outlasting_the_lease_is_not_given_up_for_lost(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow, deploy_on_promote=())
    card = await _card(h, "2")
    ticket_id = await _request_promotion(h, card)
    fake_mlflow.latency = 1.6  # the test lease is 1 s, swept every 0.2 s
    answer = await h.answer(await h.click(APPROVE, ticket_id, user=APPROVER1))
    assert f"Promoted {NAME} v2 to champion" in answer, answer
    approval = await h.message_with(CHANNEL, f"Promote {NAME} v2 to champion")
    await until(lambda: _shows(approval, "*Promoted*"), what="request shown as promoted")
    await asyncio.sleep(0.5)
    assert not _shows(approval, "Could not")


async def test_without_a_tracking_uri_promote_is_refused_before_any_request(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(_config(), gateway_records=True, chatops_mlflow_webhook_secret=SECRET)
    card = await _card(h, "2")
    assert _shows(card, "MLFLOW_TRACKING_URI is not set")
    answer = await h.answer(await h.click(PROMOTE, _button(card, PROMOTE), user=REQUESTER))
    assert "MLFLOW_TRACKING_URI is not set" in answer, answer
    await asyncio.sleep(0.3)
    assert [m for m in h.messages(CHANNEL) if "Promote" in m.text] == []


async def test_forged_promote_values_are_refused_without_a_request(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow, approvals=0)
    forged = [
        ('{"k":"promotion:fraud-detector:2","m":"churn-predictor"}', "no registry section"),
        ('{"k":"promotion:other-model:2","m":"fraud-detector"}', "no registry section"),
        ('{"k":"promotion:fraud-detector:latest","m":"fraud-detector"}', "registry version"),
        ('{"k":"promotion:fraud-detector:2","m":"<!channel>"}', "&lt;!channel&gt;"),
    ]
    for value, why in forged:
        answer = await h.answer(await h.click(PROMOTE, value, user=REQUESTER))
        assert why in answer, answer
    assert fake_mlflow.alias_sets() == []


async def test_when_mlflows_webhook_wins_the_race_the_card_still_names_who(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow, deploy_on_promote=())
    card = await _card(h, "2")
    ticket_id = await _request_promotion(h, card)
    moved = {"name": NAME, "alias": "champion", "version": "2"}
    assert await _deliver(h, "model_version_alias", "created", moved) == "accepted"
    await until(lambda: _shows(card, "Champion: fraud-detector v2"), what="moved by webhook")
    assert not _shows(card, "approved by")
    await h.answer(await h.click(APPROVE, ticket_id, user=APPROVER2))
    await until(lambda: _shows(card, f"approved by <@{APPROVER2}>"), what="who is shown")
