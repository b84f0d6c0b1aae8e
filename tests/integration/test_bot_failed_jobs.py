"""A failed pipeline's message names each failed job with where it failed and why.

Through create_app: the fake GitLab answers its jobs API with each job's `stage` and
`failure_reason`, the fake GitHub its jobs API with each job's `conclusion` and `steps`; the
message posted to the fake Slack shows them.
"""

from __future__ import annotations

import json

from tests.fakes.bot_app import REPO, BotAppFactory


async def test_gitlab_failed_job_shows_its_stage_and_failure_reason(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    h.gitlab.default_progression = ["running", "running", "running", "failed"]
    assert "Started deploy" in await h.answer(await h.command("/deploy", "fraud-detector staging"))
    (pipeline_id,) = h.gitlab.pipelines
    h.gitlab.add_job(pipeline_id, "prepare-data", stage="prepare", status="success")
    job = h.gitlab.add_job(
        pipeline_id, "evaluate-model", stage="evaluate", failure_reason="stuck_or_timeout_failure"
    )
    message = await h.message_with("#fraud-ml", "Failed jobs")
    section = next(b["text"]["text"] for b in message.blocks if "Failed jobs" in json.dumps(b))
    assert section == (
        f"*Failed jobs*\n• <{job['web_url']}|evaluate-model> · stage `evaluate`"
        " · `stuck_or_timeout_failure`"
    )


async def test_github_failed_job_shows_its_step_and_conclusion(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.github.add_workflow(REPO, "retrain.yml")
    h.github.default_progression = [
        ("in_progress", None),
        ("in_progress", None),
        ("in_progress", None),
        ("completed", "failure"),
    ]
    assert "Started retrain" in await h.answer(await h.command("/retrain", "churn-predictor"))
    (run_id,) = h.github.runs
    h.github.add_job(run_id, "lint", conclusion="success")
    job = h.github.add_job(run_id, "train", conclusion="timed_out", failed_step="Train <model>")
    message = await h.message_with("#ml-alerts", "Failed jobs")
    section = next(b["text"]["text"] for b in message.blocks if "Failed jobs" in json.dumps(b))
    assert section == (
        f"*Failed jobs*\n• <{job['html_url']}|train> · step `Train &lt;model&gt;` · `timed_out`"
    )
