"""`models.<m>.pipeline.allowed_variables` / `allowed_refs`: what Slack users may change."""

from __future__ import annotations

from typing import Any

import pytest

from chatops.bot_config import bot_options
from chatops.config import ConfigError, parse_config


def pipeline(**settings: Any) -> dict[str, Any]:
    return {"models": {"m": {"pipeline": {"provider": "gitlab", "project": "ml/m", **settings}}}}


def problems(**settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(pipeline(**settings))
    return err.value.problems


def test_defaults_allow_no_variables_and_only_the_configured_ref() -> None:
    target = bot_options(parse_config(pipeline(ref="prod"))).target("m")
    assert target.allowed_variables == ()
    assert target.allowed_refs == ()
    assert target.ref == "prod"


def test_allowed_settings_reach_the_bot() -> None:
    config = parse_config(pipeline(allowed_variables=["EPOCHS", "OPT_*"], allowed_refs=["dev"]))
    target = bot_options(config).target("m")
    assert target.allowed_variables == ("EPOCHS", "OPT_*")
    assert target.allowed_refs == ("dev",)


@pytest.mark.parametrize(
    ("entry", "reserved"),
    [
        ("ACTION", "ACTION"),
        ("MODEL_*", "MODEL_NAME"),
        ("ROLLBACK_T?", "ROLLBACK_TO"),
        ("CI_DEBUG_TRACE", "CI_*"),
        ("*", "ACTION"),
        ("C*", "CI_*"),
        ("?I_*", "CI_*"),
        ("*_TRACE", "CI_*"),
        ("GITLAB_USER_ID", "GITLAB_*"),
        ("GITHUB_TOKEN", "GITHUB_*"),
        ("RUNNER_*", "RUNNER_*"),
    ],
)
def test_reserved_names_are_refused_in_allowed_variables(entry: str, reserved: str) -> None:
    (problem,) = problems(allowed_variables=[entry])
    assert problem.startswith("models.m.pipeline.allowed_variables:")
    assert f"{entry!r} would allow {reserved}, which is reserved" in problem


def test_names_that_only_look_close_are_accepted() -> None:
    config = parse_config(pipeline(allowed_variables=["GIT_DEPTH", "RUNNER", "C", "X*", "CI"]))
    assert bot_options(config).target("m").allowed_variables[0] == "GIT_DEPTH"


def test_a_configured_variable_cannot_be_allowed() -> None:
    (problem,) = problems(variables={"DATASET": "q1"}, allowed_variables=["DATASET"])
    assert "allowed_variables lists DATASET, which `variables` sets" in problem


@pytest.mark.parametrize("entry", ["lower", "A-B", "", "A B"])
def test_malformed_variable_patterns_are_refused(entry: str) -> None:
    (problem,) = problems(allowed_variables=[entry])
    assert "is not a variable name or glob" in problem


@pytest.mark.parametrize("entry", ["", "a b", "x\ny", "é"])
def test_malformed_ref_patterns_are_refused(entry: str) -> None:
    (problem,) = problems(allowed_refs=[entry])
    assert problem.startswith("models.m.pipeline.allowed_refs:")


def test_a_github_pipeline_has_the_same_settings() -> None:
    raw = {
        "models": {
            "m": {
                "pipeline": {
                    "provider": "github",
                    "repo": "acme/m",
                    "workflows": {"retrain": "r.yml"},
                    "allowed_variables": ["GITHUB_*"],
                }
            }
        }
    }
    with pytest.raises(ConfigError, match=r"'GITHUB_\*' would allow GITHUB_\*"):
        parse_config(raw)
