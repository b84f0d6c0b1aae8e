"""The shipped CI examples take exactly what the service sends them.

GitHub refuses a workflow_dispatch that carries an input the workflow does not declare,
and a workflow that requires an input the service leaves out fails the same way. The
values come from `pipeline_variables`, which is what the GitHub adapter dispatches, for
each action's fullest and emptiest request, with the targets built from the README's
config (examples/chatops.yaml) the way the app builds them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.ci.provider import RESERVED_VARIABLES, PipelineRequest, pipeline_variables
from chatops.bot_config import pipeline_target
from chatops.config import GitHubPipeline, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WORKFLOWS = EXAMPLES / "github" / "workflows"
GITLAB_CI = EXAMPLES / "gitlab" / ".gitlab-ci.yml"
README = (ROOT / "README.md").read_text()
CONFIG = load_config(EXAMPLES / "chatops.yaml")
GITHUB_MODELS = {
    name: model.pipeline
    for name, model in CONFIG.models.items()
    if isinstance(model.pipeline, GitHubPipeline)
}

# Per action: the request with every optional value the command can carry, and without.
FULLEST: dict[str, dict[str, str]] = {
    "retrain": {},
    "deploy": {"environment": "production", "version": "1.2.3"},
    "rollback": {"environment": "production", "rollback_to": "1.2.2"},
}
EMPTIEST: dict[str, dict[str, str]] = {
    "retrain": {},
    "deploy": {"environment": "production"},
    "rollback": {"environment": "production", "rollback_to": "1.2.2"},
}


def dispatch_inputs(path: Path) -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    inputs: dict[str, dict[str, Any]] = triggers["workflow_dispatch"]["inputs"]
    return inputs


def sent(model: str, action: str, values: dict[str, str]) -> set[str]:
    target = pipeline_target(model, GITHUB_MODELS[model])
    request = PipelineRequest(action=action, model=model, **values)  # type: ignore[arg-type]
    return set(pipeline_variables(target, request))


def readme_block(first_line: str) -> Any:
    match = re.search(rf"```yaml\n{re.escape(first_line)}\n(.*?)```", README, re.DOTALL)
    assert match, f"README has a yaml block starting with {first_line!r}"
    return yaml.safe_load(match.group(1))


def test_the_readme_config_has_a_github_model_with_workflows() -> None:
    assert GITHUB_MODELS
    assert any(p.workflows for p in GITHUB_MODELS.values())


@pytest.mark.parametrize("model", sorted(GITHUB_MODELS))
@pytest.mark.parametrize("action", ["retrain", "deploy", "rollback"])
def test_each_workflow_declares_every_input_the_service_sends(model: str, action: str) -> None:
    workflow = GITHUB_MODELS[model].workflows.get(action)
    assert workflow, f"{model} maps {action} to a workflow"
    path = WORKFLOWS / workflow
    assert path.is_file(), f"examples/github/workflows/{workflow} is missing"
    inputs = dispatch_inputs(path)
    fullest = sent(model, action, FULLEST[action])
    assert fullest <= set(inputs), f"{workflow} lacks inputs {sorted(fullest - set(inputs))}"
    required = {name for name, spec in inputs.items() if spec.get("required")}
    emptiest = sent(model, action, EMPTIEST[action])
    assert required <= emptiest, f"{workflow} requires inputs the service may not send"
    assert set(inputs) <= {*RESERVED_VARIABLES, *GITHUB_MODELS[model].variables}


def test_readme_deploy_workflow_is_the_shipped_one() -> None:
    shipped = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    assert readme_block("# .github/workflows/deploy.yml") == shipped


def test_readme_gitlab_ci_is_the_shipped_one() -> None:
    assert readme_block("# .gitlab-ci.yml") == yaml.safe_load(GITLAB_CI.read_text())


def test_every_gitlab_job_has_rules_on_action() -> None:
    """A job without rules runs in every pipeline the bot creates (and in every push)."""
    jobs = {
        name: job
        for name, job in yaml.safe_load(GITLAB_CI.read_text()).items()
        if isinstance(job, dict) and "script" in job and not name.startswith(".")
    }
    assert jobs
    for name, job in jobs.items():
        assert job.get("rules"), f"job {name} has no rules"
        assert all("$ACTION" in rule["if"] for rule in job["rules"]), name
    actions = " ".join(rule["if"] for job in jobs.values() for rule in job["rules"])
    for action in ("retrain", "deploy", "rollback"):
        assert f'"{action}"' in actions, f"no job runs for {action}"
