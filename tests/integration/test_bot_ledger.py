"""The deployment ledger through create_app: what it records, and `/rollback` going back
through it (or through the provider's history, naming a commit as a commit)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bot.buttons import APPROVE
from bot.deployments.ledger import LedgerEntry
from tests.fakes.bot_app import (
    APPROVER1,
    BOT_CONFIG,
    PROJECT,
    REPO,
    REQUESTER,
    BotAppFactory,
    BotHarness,
    variables,
)

CHANNEL = "#fraud-ml"
MODEL = "fraud-detector"


async def ledger(
    h: BotHarness,
    environment: str,
    count: int,
    model: str = MODEL,
    timeout: float = 10.0,  # noqa: ASYNC109 - a test helper: the timeout is the assertion
) -> list[LedgerEntry]:
    """The ledger of `model` in `environment` once it holds `count` entries."""
    deadline = time.monotonic() + timeout
    while True:
        entries: list[LedgerEntry] = await h.bot.ledger.entries(model, environment)
        if len(entries) >= count or time.monotonic() > deadline:
            assert len(entries) == count, entries
            return entries
        await asyncio.sleep(0.05)


async def deploy(h: BotHarness, text: str) -> None:
    assert "Started deploy" in await h.answer(await h.command("/deploy", text))


async def test_successful_deploys_are_recorded_and_failed_ones_are_not(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "failed"]
    await deploy(h, f"{MODEL} staging v2")
    await h.message_with(CHANNEL, "failed")
    h.gitlab.default_progression = ["running", "success"]
    await deploy(h, f"{MODEL} staging v3")
    (entry,) = await ledger(h, "staging", 1)
    assert (entry.model, entry.environment, entry.action) == (MODEL, "staging", "deploy")
    assert (entry.version, entry.commit, entry.requester) == ("v3", None, REQUESTER)
    assert entry.approvers == ()
    assert "/pipelines/" in entry.run_url
    assert abs(entry.at - time.time()) < 60
    assert await h.bot.ledger.entries(MODEL, "production") == []


async def test_an_approved_deploy_records_its_approvers(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "success"]
    assert "Approval requested" in await h.answer(
        await h.command("/deploy", f"{MODEL} production v12")
    )
    message = await h.message_with(CHANNEL, "Waiting for approval")
    ticket = next(
        e["value"]
        for b in message.blocks or []
        for e in b.get("elements", [])
        if e.get("action_id") == APPROVE
    )
    assert "Started deploy" in await h.answer(await h.click(APPROVE, ticket, user=APPROVER1))
    (entry,) = await ledger(h, "production", 1)
    assert (entry.version, entry.requester, entry.approvers) == ("v12", REQUESTER, (APPROVER1,))


async def test_the_ledger_keeps_the_newest_fifty(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    for i in range(53):
        await h.bot.ledger.record(
            LedgerEntry(MODEL, "staging", "deploy", f"v{i}", "", REQUESTER, (), at=float(i))
        )
    entries = await ledger(h, "staging", 50)
    assert [e.version for e in entries[:2]] == ["v52", "v51"]
    assert entries[-1].version == "v3"


async def test_rollback_goes_back_through_the_ledger_when_it_knows_two(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    add = h.gitlab.add_deployment
    add(PROJECT, "staging", "success", created_at="2024-05-01T10:00:00Z", model_version="v10")
    add(PROJECT, "staging", "success", created_at="2024-05-02T10:00:00Z", model_version="v12")
    h.gitlab.default_progression = ["running", "success"]
    await deploy(h, f"{MODEL} staging v3")
    await ledger(h, "staging", 1)

    # one ledger entry is not enough to choose from: the provider's history decides
    answer = await h.answer(await h.command("/rollback", f"{MODEL} staging"))
    assert "Started rollback of fraud-detector to v10" in answer
    await ledger(h, "staging", 2)  # the rollback to v10, recorded as it succeeded

    await deploy(h, f"{MODEL} staging v4")
    entries = await ledger(h, "staging", 3)
    assert [(e.action, e.version) for e in entries] == [
        ("deploy", "v4"),
        ("rollback", "v10"),
        ("deploy", "v3"),
    ]
    answer = await h.answer(await h.command("/rollback", f"{MODEL} staging"))
    assert "Started rollback of fraud-detector to v10" in answer
    assert variables(h.pipelines()[-1])["ROLLBACK_TO"] == "v10"
    await ledger(h, "staging", 4)
    # the ledger now says v10 is live after v4: back to v4, which the provider never showed
    answer = await h.answer(await h.command("/rollback", f"{MODEL} staging"))
    assert "Started rollback of fraud-detector to v4" in answer
    assert variables(h.pipelines()[-1])["ROLLBACK_TO"] == "v4"


def _github_rollback_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(BOT_CONFIG))
    config["models"]["churn-predictor"]["pipeline"]["workflows"]["rollback"] = "rollback.yml"
    return config


async def test_rollback_to_a_commit_never_calls_it_a_version(bot_app: BotAppFactory) -> None:
    """A GitHub deployment made by a job's `environment:` has no payload: only a commit."""
    h = await bot_app(_github_rollback_config())
    h.github.add_workflow(REPO, "rollback.yml")
    old, new = "abc1234" + "0" * 33, "def5678" + "0" * 33
    h.github.add_deployment(
        REPO, "production", ["success"], created_at="2024-05-01T10:00:00Z", sha=old
    )
    h.github.add_deployment(
        REPO, "production", ["success"], created_at="2024-05-02T10:00:00Z", sha=new
    )
    answer = await h.answer(await h.command("/rollback", "churn-predictor production"))
    assert "to commit abc1234 (no model version recorded)" in answer
    assert "version abc1234" not in answer
    (dispatch,) = [r for r in h.github.requests if r.path.endswith("/dispatches")]
    assert dispatch.json["inputs"]["ROLLBACK_TO"] == "abc1234"
    message = await h.message_with(
        "#ml-alerts", "Roll back churn-predictor in production to commit abc1234"
    )
    assert "(no model version recorded)" in message.text
