"""GitHub: the token, every model's repository, its workflow files and repository_dispatch.

A workflow file must exist on the model's ref, have a `workflow_dispatch` trigger, and declare
every input the bot sends (GitHub answers 422 to an undeclared one). repository_dispatch
needs Contents: write; GitHub reports `permissions.push` on the repository, which is what
decides for a classic token (a fine-grained token needs Contents: write on top).
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.ci.github import GitHubActions, dispatch_inputs
from bot.ci.provider import PipelineTarget
from bot.errors import ProviderAuthError, ProviderError, ProviderNotFound
from chatops.config import AppConfig, GitHubPipeline
from chatops.doctor.checks import Check, failed, passed, shown, skipped
from chatops.doctor.ci import CiService, ci_checks
from chatops.settings import Settings

TIMEOUT = 10.0
GITHUB_ACCESS_FIX = (
    "create a token with access to the models' repositories (fine-grained: Actions read and "
    "write, Contents read, Deployments read; Contents write for repository_dispatch) and set "
    "GITHUB_TOKEN"
)


async def github_checks(settings: Settings, config: AppConfig) -> list[Check]:
    """Token first; repositories and workflows only with a working token."""
    service = CiService(
        name="github",
        title="GitHub",
        variable="GITHUB_TOKEN",
        targets="repositories",
        access_fix=GITHUB_ACCESS_FIX,
        pipeline_type=GitHubPipeline,
        connect=lambda token: GitHubActions(
            url=settings.github_api_url, token=token, timeout=TIMEOUT
        ),
        token_check=lambda gh: _token_check(gh, settings),
        target_checks=_repo_checks,
    )
    return await ci_checks(service, settings.github_token, config)


async def _token_check(gh: GitHubActions, settings: Settings) -> Check:
    name = "github token"
    try:
        login = await gh.token_user()
    except ProviderAuthError as e:
        return failed(name, f"GITHUB_TOKEN is not valid ({e.answer})", GITHUB_ACCESS_FIX)
    except ProviderError as e:
        where = shown(settings.github_api_url)
        detail = f"cannot use GitHub at GITHUB_API_URL={where} ({e.answer})"
        return failed(name, detail, "check GITHUB_API_URL and the network to GitHub")
    return passed(name, f"valid (user {login})")


async def _repo_checks(gh: GitHubActions, target: PipelineTarget) -> list[Check]:
    name = f"github repository {target.repo}"
    try:
        access = await gh.repo_access(target)
    except ProviderNotFound:
        fix = f"check models.{target.model}.pipeline.repo and give the token access to it"
        return [failed(name, f"not found, or the token cannot see it (model {target.model})", fix)]
    except ProviderError as e:
        return [failed(name, f"GitHub answered {e.answer}", "run the doctor again")]
    checks = [passed(name, f"reachable (model {target.model})")]
    for action, workflow in sorted(target.workflows.items()):
        if action not in target.dispatch:  # a dispatch event wins over the workflow file
            checks.append(await _workflow_check(gh, target, action, workflow))
    if target.dispatch:
        checks.append(_dispatch_check(target, access.push))
    return checks


async def _workflow_check(
    gh: GitHubActions, target: PipelineTarget, action: str, workflow: str
) -> Check:
    name = f"github workflow {target.repo}/{workflow}"
    path = f".github/workflows/{workflow}"
    try:
        text = await gh.workflow_text(target, workflow)
    except ProviderNotFound:
        detail = f"{path} not found on {target.ref} (model {target.model}, {action})"
        fix = f"check models.{target.model}.pipeline.workflows.{action} and the model's ref"
        return failed(name, detail, fix)
    except ProviderError as e:
        return failed(name, f"GitHub answered {e.answer}", "run the doctor again")
    needed = dispatch_inputs(target, action)
    try:
        declared = workflow_dispatch_inputs(text)
    except ValueError as e:
        return failed(name, f"{path} cannot be read: {e}", "fix the workflow file")
    if declared is None:
        fix = f"add `on: workflow_dispatch:` with inputs {', '.join(sorted(needed))}"
        return failed(name, f"has no workflow_dispatch trigger ({action})", fix)
    missing = sorted(needed - declared)
    if missing:
        detail = (
            f"does not declare input(s) {', '.join(missing)} that {action} sends; "
            "GitHub rejects the dispatch (422)"
        )
        return failed(name, detail, "declare them under on.workflow_dispatch.inputs")
    return passed(name, f"workflow_dispatch declares {', '.join(sorted(needed))} ({action})")


def _dispatch_check(target: PipelineTarget, push: bool | None) -> Check:
    name = f"github dispatch {target.repo}"
    events = ", ".join(sorted(set(target.dispatch.values())))
    needs = f"repository_dispatch ({events}) needs Contents: write"
    if push is None:
        return skipped(name, f"GitHub did not report the token's permission; {needs}")
    if not push:
        fix = (
            "give the token Contents: read and write (fine-grained), or use a classic token "
            "with the repo scope of a user with write access"
        )
        return failed(name, f"{needs}; the token has read-only access", fix)
    return passed(name, f"push access for repository_dispatch ({events})")


def workflow_dispatch_inputs(text: str) -> frozenset[str] | None:
    """The inputs a workflow's `workflow_dispatch` declares; None when it has no such trigger.

    ValueError when the text is not a YAML mapping. YAML 1.1 reads the key `on` as true.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError("not valid YAML") from e
    if not isinstance(doc, dict):
        raise ValueError("not a workflow (no mapping at the top)")
    triggers: Any = doc.get("on", doc.get(True))
    if isinstance(triggers, str):
        triggers = [triggers]
    if isinstance(triggers, list):
        return frozenset() if "workflow_dispatch" in triggers else None
    if not isinstance(triggers, dict) or "workflow_dispatch" not in triggers:
        return None
    spec = triggers["workflow_dispatch"]
    inputs = spec.get("inputs") if isinstance(spec, dict) else None
    return frozenset(str(k) for k in inputs) if isinstance(inputs, dict) else frozenset()
