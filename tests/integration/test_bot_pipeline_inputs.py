"""What a Slack user may put into a pipeline, through create_app: variables, ref, hidden text.

Everything refused here is refused before anything is stored, posted or started: an ephemeral
answer naming the variable (or ref) and the setting, no approval request, no pipeline.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.fakes.bot_app import BOT_CONFIG, REQUESTER, BotAppFactory, BotHarness, variables

CHANNEL = "#fraud-ml"


def config_with(**pipeline: Any) -> dict[str, Any]:
    """BOT_CONFIG with fraud-detector's pipeline settings replaced by `pipeline`'s."""
    config = copy.deepcopy(BOT_CONFIG)
    config["models"]["fraud-detector"]["pipeline"].update(pipeline)
    return config


async def refused(h: BotHarness, command: str, text: str) -> str:
    answer = await h.answer(await h.command(command, text, user=REQUESTER))
    assert h.pipelines() == [], "nothing may start"
    assert h.messages(CHANNEL) == [], "no approval request may be posted"
    return answer


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/retrain", "fraud-detector CI_DEBUG_TRACE=true", "CI_DEBUG_TRACE is reserved"),
        ("/deploy", "fraud-detector production v1 CI_JOB_TOKEN=x", "CI_JOB_TOKEN is reserved"),
        ("/retrain", "fraud-detector GITLAB_USER_ID=1", "GITLAB_USER_ID is reserved"),
        ("/rollback", "fraud-detector staging RUNNER_TAGS=x", "RUNNER_TAGS is reserved"),
        ("/retrain", "fraud-detector GITHUB_TOKEN=x", "GITHUB_TOKEN is reserved"),
        (
            "/retrain",
            "fraud-detector GIT_STRATEGY=none",
            "variable GIT_STRATEGY is not allowed for fraud-detector "
            "(models.fraud-detector.pipeline.allowed_variables: DATASET, EPOCHS, NOTE)",
        ),
        (
            "/deploy",
            "fraud-detector production v1 FOO=1",
            "variable FOO is not allowed for fraud-detector",
        ),
    ],
)
async def test_a_variable_not_allowed_is_refused_and_nothing_starts(
    bot_app: BotAppFactory, command: str, text: str, expected: str
) -> None:
    h = await bot_app()
    answer = await refused(h, command, text)
    assert "🚫" in answer
    assert expected in answer


async def test_no_variables_are_allowed_by_default(bot_app: BotAppFactory) -> None:
    config = copy.deepcopy(BOT_CONFIG)
    del config["models"]["fraud-detector"]["pipeline"]["allowed_variables"]
    h = await bot_app(config)
    answer = await refused(h, "/retrain", "fraud-detector EPOCHS=3")
    assert "(models.fraud-detector.pipeline.allowed_variables: none)" in answer


async def test_configured_variables_cannot_be_overridden_even_by_a_glob(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(config_with(variables={"DATASET": "2024-q1"}, allowed_variables=["D*"]))
    answer = await refused(h, "/retrain", "fraud-detector DATASET=evil")
    assert "DATASET is set in models.fraud-detector.pipeline.variables" in answer
    name = await h.command("/retrain", "fraud-detector DROPOUT=0.2", user=REQUESTER)
    assert "Started retrain" in await h.answer(name)
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["DATASET"] == "2024-q1"
    assert variables(pipeline)["DROPOUT"] == "0.2"


@pytest.mark.parametrize("ref", ["refs/merge-requests/1/head", "feature/x", "v1.0", "release"])
async def test_a_ref_not_allowed_is_refused_with_the_allowed_list(
    bot_app: BotAppFactory, ref: str
) -> None:
    h = await bot_app()
    answer = await refused(h, "/retrain", f"fraud-detector ref={ref}")
    assert f"ref {ref} is not allowed for fraud-detector" in answer
    assert "(models.fraud-detector.pipeline.allowed_refs: main, dev, release/*)" in answer


async def test_only_the_configured_ref_by_default(bot_app: BotAppFactory) -> None:
    config = copy.deepcopy(BOT_CONFIG)
    del config["models"]["fraud-detector"]["pipeline"]["allowed_refs"]
    h = await bot_app(config)
    answer = await refused(h, "/retrain", "fraud-detector ref=dev")
    assert "(models.fraud-detector.pipeline.allowed_refs: main)" in answer
    name = await h.command("/retrain", "fraud-detector ref=main", user=REQUESTER)
    assert "Started retrain" in await h.answer(name)


async def test_an_allowed_ref_glob_runs(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    name = await h.command("/retrain", "fraud-detector ref=release/2.1", user=REQUESTER)
    assert "Started retrain" in await h.answer(name)
    (pipeline,) = h.pipelines()
    assert pipeline["ref"] == "release/2.1"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc\u202edcba", "U+202E"),  # right-to-left override
        ("a\u2066b", "U+2066"),  # left-to-right isolate
        ("pro\u200bduction", "U+200B"),  # zero-width space
        ("x\u200dy", "U+200D"),  # zero-width joiner
        ("\ufeffv1", "U+FEFF"),  # byte order mark / zero-width no-break space
        ("a\x1bb", "U+001B"),  # escape (control)
    ],
)
async def test_hidden_characters_in_a_value_are_a_usage_error(
    bot_app: BotAppFactory, value: str, code: str
) -> None:
    h = await bot_app()
    answer = await refused(h, "/deploy", f'fraud-detector production v1 NOTE="{value}"')
    assert "the value of NOTE contains invisible or control characters" in answer
    assert code in answer
    assert "/deploy &lt;model&gt;" in answer, "answered with the usage"


async def test_the_approval_request_shows_exactly_what_will_run(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    note = "a `b` <!here> & *c* " + "x" * 200 + "`"
    text = f"fraud-detector production v12 NOTE='{note}' EPOCHS=3"
    name = await h.command("/deploy", text, user=REQUESTER)
    assert "Approval requested" in await h.answer(name)
    message = await h.message_with(CHANNEL, "Waiting for approval")
    shown = "\n".join(
        b["text"]["text"] for b in message.blocks or [] if b.get("block_id", "").startswith("run.")
    )
    escaped = note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert shown == (
        f"*What will run*\n```ref: main\nversion: v12\nEPOCHS=3\nNOTE={escaped}\n```"
    ), json.dumps(message.blocks)
