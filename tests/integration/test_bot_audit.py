"""`/chatops audit` through create_app: scoped to the channel, or to your own requests in a DM;
variable values only for the model's approvers."""

from __future__ import annotations

from bot.buttons import APPROVE
from storage import AuditEntry
from tests.fakes.bot_app import (
    APPROVER1,
    OUTSIDER,
    REPO,
    REQUESTER,
    BotAppFactory,
    BotHarness,
    until,
)
from tests.integration.test_bot_approvals import request_deploy

FRAUD_ML = ("C0FRAUDML", "fraud-ml")  # fraud-detector's channel
ML_ALERTS = ("C0MLALERTS", "ml-alerts")  # the default channel: churn-predictor, credit-scorer
RANDOM = ("C0RANDOM", "random")


def dm(user: str) -> tuple[str, str]:
    return (f"D0{user[1:]}", "directmessage")


async def audit(
    h: BotHarness, text: str = "audit", *, channel: tuple[str, str], user: str = REQUESTER
) -> str:
    return await h.answer(await h.command("/chatops", text, user=user, channel=channel))


async def retrain_both(h: BotHarness) -> None:
    h.github.add_workflow(REPO, "retrain.yml")
    assert "Started" in await h.answer(await h.command("/retrain", "fraud-detector"))
    assert "Started" in await h.answer(await h.command("/retrain", "churn-predictor"))


async def test_a_channel_sees_only_the_models_routed_to_it(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    await retrain_both(h)
    answer = await audit(h, channel=FRAUD_ML)
    assert "retrain.request* fraud-detector" in answer
    assert "churn-predictor" not in answer
    answer = await audit(h, channel=ML_ALERTS, user=OUTSIDER)
    assert "retrain.request* churn-predictor" in answer
    assert "fraud-detector" not in answer
    answer = await audit(h, channel=RANDOM)
    assert "No audit entries in this channel yet" in answer
    assert "fraud-detector" not in answer


async def test_a_model_routed_elsewhere_is_refused_naming_its_channel(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    await retrain_both(h)
    answer = await audit(h, "audit fraud-detector", channel=ML_ALERTS)
    assert "the audit of fraud-detector is shown only in #fraud-ml" in answer
    assert "retrain.request" not in answer
    answer = await audit(h, "audit fraud-detector", channel=FRAUD_ML)
    assert "retrain.request* fraud-detector" in answer


async def test_a_channel_configured_by_id_matches_by_id(bot_app: BotAppFactory) -> None:
    config = {"models": {"fraud-detector": {"channel": "C0FRAUDML"}}}
    h = await bot_app(config)
    entry = AuditEntry(
        at=1.0, actor=REQUESTER, action="deploy.request", model="fraud-detector", outcome="x"
    )
    await h.store.append_audit(entry)
    assert "deploy.request* fraud-detector" in await audit(h, channel=("C0FRAUDML", "renamed"))
    assert "fraud-detector" not in await audit(h, channel=("C0OTHER", "c0fraudml"))


async def test_a_dm_shows_only_the_callers_own_requests(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    ticket = await request_deploy(h)  # by REQUESTER
    await h.answer(await h.click(APPROVE, ticket, user=APPROVER1))
    await h.answer(await h.command("/retrain", "fraud-detector", user=OUTSIDER))
    await until(lambda: len(h.pipelines()) == 2, what="both pipelines start")
    mine = await audit(h, channel=dm(REQUESTER), user=REQUESTER)
    assert "of your requests" in mine
    assert "deploy.request" in mine
    assert f"<@{APPROVER1}> *deploy.approve*" in mine  # the approval of my request
    assert "retrain" not in mine
    theirs = await audit(h, channel=dm(OUTSIDER), user=OUTSIDER)
    assert "retrain.request" in theirs
    assert "deploy" not in theirs
    assert "No audit entries" in await audit(h, channel=dm(APPROVER1), user=APPROVER1)


async def test_variable_values_are_shown_to_the_models_approvers_only(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    await request_deploy(h, "fraud-detector production v12 NOTE=hunter2")
    for user in (OUTSIDER, REQUESTER):
        answer = await audit(h, channel=FRAUD_ML, user=user)
        assert "deploy.request" in answer
        assert "NOTE" in answer
        assert "hunter2" not in answer
        assert "values shown to approvers only" in answer
    answer = await audit(h, channel=FRAUD_ML, user=APPROVER1)
    assert "NOTE=hunter2" in answer
