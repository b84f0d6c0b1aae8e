"""Each slash command through create_app: happy paths and the ways they go wrong."""

from __future__ import annotations

import asyncio
import json

from tests.fakes.bot_app import (
    BOT_CONFIG,
    ONCALL,
    PROJECT,
    REPO,
    BotAppFactory,
    until,
    variables,
)

CHANNEL = "#fraud-ml"


async def test_retrain_starts_the_pipeline_and_follows_it(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "running", "success"]
    name = await h.command("/retrain", 'fraud-detector ref=dev DATASET="2024 q2" EPOCHS=3')
    answer = await h.answer(name)
    assert "Started retrain of fraud-detector" in answer
    assert "GitLab pipeline #" in answer
    (pipeline,) = h.pipelines()
    assert pipeline["ref"] == "dev"
    assert variables(pipeline) == {
        "ACTION": "retrain",
        "MODEL_NAME": "fraud-detector",
        "DATASET": "2024 q2",
        "EPOCHS": "3",
    }
    message = await h.message_with(CHANNEL, "succeeded")
    assert "Retrain fraud-detector on dev" in json.dumps(message.blocks, ensure_ascii=False)


async def test_failed_pipeline_names_the_failed_jobs(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "failed"]
    name = await h.command("/deploy", "fraud-detector staging v3")
    assert "Started deploy" in await h.answer(name)
    (pipeline_id,) = h.gitlab.pipelines
    h.gitlab.add_job(pipeline_id, "evaluate-model", stage="test")
    message = await h.message_with(CHANNEL, "evaluate-model")
    shown = json.dumps(message.blocks)
    assert "failed" in shown
    assert "/-/jobs/" in shown
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_pipelines_total{action="deploy",outcome="failed",provider="gitlab"} 1.0' in (
        metrics
    )


async def test_bad_arguments_answer_the_usage(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/deploy", ""))
    assert "/deploy needs a model and an environment" in answer
    assert "/deploy &lt;model&gt; &lt;environment&gt;" in answer
    answer = await h.answer(await h.command("/retrain", "fraud-detector lowercase=1"))
    assert "variable names are upper-case" in answer
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_commands_total{command="/deploy",outcome="usage"} 1.0' in metrics


async def test_help(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/chatops", "help"))
    for command in ("/retrain", "/deploy", "/rollback", "/drift status", "/chatops"):
        assert command in answer


async def test_unknown_model_environment_and_missing_pipeline(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/retrain", "nope"))
    assert "unknown model nope" in answer
    assert "fraud-detector" in answer
    answer = await h.answer(await h.command("/deploy", "fraud-detector qa"))
    assert "model fraud-detector has no environment qa" in answer
    answer = await h.answer(await h.command("/deploy", "credit-scorer production"))
    assert "model credit-scorer has no pipeline configured" in answer
    await asyncio.sleep(0.2)
    assert h.pipelines() == []


async def test_gitlab_refusal_is_named_and_nothing_is_posted(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.fail(403, path="/pipeline", method="POST")
    answer = await h.answer(await h.command("/retrain", "fraud-detector"))
    assert "GitLab refused the request for model fraud-detector" in answer
    assert "403" in answer
    await asyncio.sleep(0.3)
    assert h.messages(CHANNEL) == [], "nothing half-started: no channel message"
    metrics = await (await h.client.get("/metrics")).text()
    assert 'chatops_commands_total{command="/retrain",outcome="failed"} 1.0' in metrics


async def test_provider_without_token_is_a_clear_answer(bot_app: BotAppFactory) -> None:
    h = await bot_app(gitlab_token=None)
    answer = await h.answer(await h.command("/retrain", "fraud-detector"))
    assert "GITLAB_TOKEN is not set" in answer


async def test_rollback_goes_to_the_previous_successful_deployment(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    add = h.gitlab.add_deployment
    add(PROJECT, "production", "success", created_at="2024-05-01T10:00:00Z", model_version="v10")
    add(PROJECT, "production", "failed", created_at="2024-05-02T10:00:00Z", model_version="v11")
    add(PROJECT, "production", "success", created_at="2024-05-03T10:00:00Z", model_version="v12")
    answer = await h.answer(await h.command("/rollback", "fraud-detector production"))
    assert "Started rollback of fraud-detector" in answer
    (pipeline,) = h.pipelines()
    assert variables(pipeline) | {} == {
        "ACTION": "rollback",
        "MODEL_NAME": "fraud-detector",
        "ENVIRONMENT": "production",
        "ROLLBACK_TO": "v10",
    }
    await h.message_with(CHANNEL, "Roll back fraud-detector in production to v10")


async def test_rollback_to_a_named_version(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/rollback", "fraud-detector staging to v7"))
    assert "Started rollback" in answer
    assert variables(h.pipelines()[0])["ROLLBACK_TO"] == "v7"


async def test_rollback_without_history_says_so(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/rollback", "fraud-detector production"))
    assert "no successful deployment in production" in answer
    assert h.pipelines() == []


async def test_rollback_requesters_rule_refuses_others(bot_app: BotAppFactory) -> None:
    config = BOT_CONFIG | {"policy": {"rollback": {"*": {"requesters": [ONCALL]}}}}
    h = await bot_app(config)
    answer = await h.answer(await h.command("/rollback", "fraud-detector production to v1"))
    assert "you are not allowed to request rollback of production" in answer
    assert f"<@{ONCALL}>" in answer
    assert h.pipelines() == []


async def test_github_retrain_dispatches_the_workflow(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.github.add_workflow(REPO, "retrain.yml")
    h.github.default_progression = [("in_progress", None), ("completed", "success")]
    answer = await h.answer(await h.command("/retrain", "churn-predictor"))
    assert "Started retrain of churn-predictor" in answer
    assert "GitHub run #" in answer
    (dispatch,) = [r for r in h.github.requests if r.path.endswith("/dispatches")]
    assert dispatch.json["inputs"]["ACTION"] == "retrain"
    await h.message_with("#ml-alerts", "succeeded")


async def test_github_missing_workflow_is_named(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/rollback", "churn-predictor production to v2"))
    assert "no rollback workflow configured" in answer


async def test_audit_is_ephemeral_and_limited(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    for _ in range(3):
        await h.answer(await h.command("/retrain", "fraud-detector"))
    await until(lambda: len(h.pipelines()) == 3)
    answer = await h.answer(await h.command("/chatops", "audit", channel=("C0FRAUD", "fraud-ml")))
    assert answer.count("retrain.request") == 3
    default = ("C0ALERTS", "ml-alerts")  # credit-scorer's messages go to the default channel
    answer = await h.answer(await h.command("/chatops", "audit credit-scorer", channel=default))
    assert "No audit entries for credit-scorer" in answer


async def test_zero_config_says_no_pipeline_is_configured(bot_app: BotAppFactory) -> None:
    h = await bot_app({})
    answer = await h.answer(await h.command("/retrain", "fraud-detector"))
    assert "model fraud-detector has no pipeline configured" in answer
    assert "models.fraud-detector.pipeline" in answer, "says where a pipeline goes"
    answer = await h.answer(await h.command("/deploy", "fraud-detector production"))
    assert "model fraud-detector has no pipeline configured" in answer
