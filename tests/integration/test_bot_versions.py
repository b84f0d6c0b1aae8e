"""`/deploy` against the model registry (fake MLflow) and `/chatops models`, through create_app."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from tests.fakes.app import bearer
from tests.fakes.bot_app import BOT_CONFIG, PROJECT, BotAppFactory, BotHarness, variables
from tests.fakes.mlflow import FakeMlflow
from tests.integration.test_bot_ledger import deploy, ledger

MODEL = "fraud-detector"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(BOT_CONFIG))
    config["models"][MODEL]["registry"] = {"name": "fraud-model", "metrics": {"auc": "max"}}
    return config


async def _app(bot_app: BotAppFactory, mlflow: FakeMlflow) -> BotHarness:
    mlflow.add_version("fraud-model", "1", run_id="run1")
    mlflow.add_version("fraud-model", "2", run_id="run2")
    mlflow.aliases["fraud-model"] = {"champion": "2"}
    return await bot_app(_config(), mlflow_tracking_uri=mlflow.url)


async def test_deploy_without_version_deploys_the_champion(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    answer = await h.answer(await h.command("/deploy", f"{MODEL} staging"))
    assert "deploying the registry's champion of fraud-detector, version 2" in answer
    assert "Started deploy of fraud-detector" in answer
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["MODEL_VERSION"] == "2"


async def test_deploy_of_a_version_the_registry_lacks_starts_nothing(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    answer = await h.answer(await h.command("/deploy", f"{MODEL} staging 9"))
    assert "the model registry has no version 9 of fraud-model" in answer
    assert "nothing was started" in answer
    assert "Started" not in answer
    answer = await h.answer(await h.command("/deploy", f"{MODEL} staging 1"))
    assert "Started deploy of fraud-detector" in answer
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["MODEL_VERSION"] == "1"


async def test_deploy_with_the_registry_unreachable_starts_nothing(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    fake_mlflow.fail(503, times=10)
    for text in (f"{MODEL} staging", f"{MODEL} staging 2"):
        answer = await h.answer(await h.command("/deploy", text))
        assert "the model registry could not be reached" in answer
        assert "nothing was started" in answer
    await asyncio.sleep(0.2)
    assert h.pipelines() == []


async def test_deploy_without_a_champion_asks_for_a_version(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    fake_mlflow.aliases["fraud-model"] = {}
    answer = await h.answer(await h.command("/deploy", f"{MODEL} staging"))
    assert "fraud-model has no `champion` version in the model registry" in answer
    assert h.pipelines() == []


async def test_deploy_of_a_model_without_registry_is_unchanged(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow
) -> None:
    h = await _app(bot_app, fake_mlflow)
    fake_mlflow.fail(503, times=10)  # not asked: churn-predictor has no registry
    h.github.add_workflow("acme/churn-predictor", "deploy.yml")
    answer = await h.answer(await h.command("/deploy", "churn-predictor staging"))
    assert "Started deploy of churn-predictor" in answer
    (dispatch,) = [r for r in h.github.requests if r.path.endswith("/dispatches")]
    assert "MODEL_VERSION" not in dispatch.json["inputs"]
    assert not [r for r in fake_mlflow.requests if "alias" in r.path]


async def test_models_shows_champion_live_versions_and_drift(
    bot_app: BotAppFactory, fake_mlflow: FakeMlflow, drift_fixture: Any
) -> None:
    h = await _app(bot_app, fake_mlflow)
    h.gitlab.add_deployment(
        PROJECT, "production", "success", created_at="2024-05-01T10:00:00Z", model_version="v7"
    )
    h.gitlab.default_progression = ["running", "success"]
    await deploy(h, f"{MODEL} staging 1")
    await ledger(h, "staging", 1)
    body = drift_fixture("drift-script_event-drift")
    response = await h.client.post(f"/webhooks/drift?model={MODEL}", data=body, headers=bearer())
    assert response.status < 300, await response.text()

    answer = await h.answer(await h.command("/chatops", f"models {MODEL}"))
    assert "champion: `2` (alias `champion`)" in answer
    assert re.search(r"staging: `1` since <!date[^>]*> \(ledger\)", answer), answer
    assert re.search(r"production: `v7` since <!date[^>]*> \(gitlab history\)", answer), answer
    assert "drift detected, 1 event(s)" in answer

    answer = await h.answer(await h.command("/chatops", "models"))
    assert "*churn-predictor*\\nchampion: no registry configured" in answer
    assert "*credit-scorer*" in answer
    assert "no drift check received yet" in answer

    body = drift_fixture("drift-script_event-no-drift")
    response = await h.client.post(f"/webhooks/drift?model={MODEL}", data=body, headers=bearer())
    assert response.status < 300, await response.text()
    answer = await h.answer(await h.command("/chatops", f"models {MODEL}"))
    assert "no drift at the last check" in answer


async def test_models_is_in_the_help(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.command("/chatops", "help"))
    assert "/chatops models [model]" in answer
    answer = await h.answer(await h.command("/chatops", "models nope"))
    assert "unknown model nope" in answer
