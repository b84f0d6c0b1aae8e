"""The pure parts of `chatops doctor`: reading a workflow's dispatch inputs, showing URLs."""

from __future__ import annotations

import pytest

from bot.ci.github import dispatch_inputs
from bot.ci.provider import PipelineTarget
from bot.drift.prometheus import without_userinfo
from chatops.doctor.checks import Check, shown
from chatops.doctor.github import workflow_dispatch_inputs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # PyYAML reads the key `on` as True (YAML 1.1); both spellings are triggers
        ("on:\n  workflow_dispatch:\n    inputs:\n      ACTION: {}\n", {"ACTION"}),
        ("'on':\n  workflow_dispatch:\n    inputs: {A: {}, B: {}}\n", {"A", "B"}),
        ("on: workflow_dispatch\n", set()),
        ("on: [push, workflow_dispatch]\n", set()),
        ("on:\n  workflow_dispatch:\n", set()),
        ("on: push\n", None),
        ("on: [push]\n", None),
        ("on:\n  repository_dispatch:\n    types: [x]\n", None),
        ("name: no triggers\n", None),
    ],
)
def test_workflow_dispatch_inputs(text: str, expected: set[str] | None) -> None:
    found = workflow_dispatch_inputs(text)
    assert (None if found is None else set(found)) == expected


@pytest.mark.parametrize("text", ["on: [push\n", "- a list\n", "just text"])
def test_unreadable_workflow_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"not valid YAML|not a workflow"):
        workflow_dispatch_inputs(text)


def test_dispatch_inputs_per_action_include_configured_variables() -> None:
    target = PipelineTarget(model="m", provider="github", repo="o/r", variables={"DATASET": "x"})
    assert dispatch_inputs(target, "retrain") == {"ACTION", "MODEL_NAME", "DATASET"}
    assert dispatch_inputs(target, "deploy") == {
        "ACTION",
        "MODEL_NAME",
        "ENVIRONMENT",
        "MODEL_VERSION",
        "DATASET",
    }
    assert dispatch_inputs(target, "rollback") == {
        "ACTION",
        "MODEL_NAME",
        "ENVIRONMENT",
        "ROLLBACK_TO",
        "DATASET",
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pw@prom:9090/x", "http://prom:9090/x"),
        ("https://token@[::1]:9090", "https://[::1]:9090"),
        ("http://prom:9090", "http://prom:9090"),
    ],
)
def test_without_userinfo(url: str, expected: str) -> None:
    assert without_userinfo(url) == expected


def test_shown_drops_userinfo_and_query() -> None:
    assert shown("https://u:p@am.example/?token=abc") == "https://am.example/"


def test_check_lines() -> None:
    assert Check("x", True, "fine", "unused").line == "✓ x: fine"
    assert Check("x", False, "broken", "do this").line == "✗ x: broken → do this"
    assert Check("x", True, "not set", skipped=True).line == "\u2013  x: skipped: not set"
