"""GitLab: the token (valid, `api` scope), every model's project, and pipeline variables.

The bot starts every pipeline with variables (ACTION, MODEL_NAME, ...), so a project that
does not let the token's role pass pipeline variables cannot run any request. GitLab decides
with two project settings: `restrict_user_defined_variables` (off: anyone who can run a
pipeline may) and, when it is on, `ci_pipeline_variables_minimum_override_role`
(developer/maintainer/owner/no_one_allowed; older GitLab: maintainer).
"""

from __future__ import annotations

from bot.ci.gitlab import GitLabCI, ProjectAccess
from bot.ci.provider import PipelineTarget
from bot.errors import ProviderAuthError, ProviderError, ProviderNotFound, ProviderRejected
from chatops.config import AppConfig, GitLabPipeline
from chatops.doctor.checks import Check, failed, passed, shown, skipped
from chatops.doctor.ci import CiService, ci_checks
from chatops.settings import Settings

TIMEOUT = 10.0
ROLES = {10: "Guest", 15: "Planner", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}
_ROLE_LEVELS = {"developer": 30, "maintainer": 40, "owner": 50}
GITLAB_ACCESS_FIX = (
    "create a token with the api scope whose user (or project access token) has the Developer "
    "role or higher on each project, and set GITLAB_TOKEN"
)


async def gitlab_checks(settings: Settings, config: AppConfig) -> list[Check]:
    """Token first; projects only with a working token."""
    service = CiService(
        name="gitlab",
        title="GitLab",
        variable="GITLAB_TOKEN",
        targets="projects",
        access_fix=GITLAB_ACCESS_FIX,
        pipeline_type=GitLabPipeline,
        connect=lambda token: GitLabCI(url=settings.gitlab_url, token=token, timeout=TIMEOUT),
        token_check=lambda gl: _token_check(gl, settings),
        target_checks=_project_checks,
    )
    return await ci_checks(service, settings.gitlab_token, config)


async def _token_check(gl: GitLabCI, settings: Settings) -> Check:
    name = "gitlab token"
    try:
        token = await gl.token()
    except ProviderAuthError as e:
        return failed(name, f"GITLAB_TOKEN is not valid ({e.answer})", GITLAB_ACCESS_FIX)
    except (ProviderNotFound, ProviderRejected) as e:
        where = shown(settings.gitlab_url)
        return failed(
            name, f"GITLAB_URL={where} does not answer as GitLab ({e.answer})", "check GITLAB_URL"
        )
    except ProviderError as e:
        where = shown(settings.gitlab_url)
        return failed(
            name,
            f"cannot reach GitLab at GITLAB_URL={where} ({e.answer})",
            "check GITLAB_URL and the network to GitLab",
        )
    who = f"user {token.username}"
    if token.scopes is None:
        return passed(name, f"valid ({who}); GitLab did not report its scopes")
    if "api" not in token.scopes:
        has = ", ".join(sorted(token.scopes)) or "none"
        fix = "create a new token with the api scope (scopes cannot be added to a token)"
        return failed(name, f"GITLAB_TOKEN lacks the api scope (it has {has})", fix)
    return passed(name, f"valid ({who}), api scope")


async def _project_checks(gl: GitLabCI, target: PipelineTarget) -> list[Check]:
    name = f"gitlab project {target.project}"
    config_key = f"models.{target.model}.pipeline.project"
    try:
        access = await gl.project_access(target)
    except ProviderNotFound:
        return [
            failed(
                name,
                f"not found, or the token cannot see it (model {target.model})",
                f"check {config_key}, and give the token's user the Developer role on it",
            )
        ]
    except ProviderError as e:
        return [
            failed(
                name, f"GitLab answered {e.answer} (model {target.model})", "run the doctor again"
            )
        ]
    level = access.access_level
    role = _role(level)
    if level is not None and level < _ROLE_LEVELS["developer"]:
        detail = f"the token's role is {role}; running pipelines needs Developer or higher"
        return [failed(name, detail, "give the token's user the Developer role on the project")]
    found = passed(name, f"reachable (model {target.model}; the token's role: {role})")
    return [found, _variables_check(access, target)]


def _variables_check(access: ProjectAccess, target: PipelineTarget) -> Check:
    name = f"gitlab variables {target.project}"
    restrict, minimum = access.restrict_user_defined_variables, access.minimum_override_role
    if restrict is None and minimum is None:
        return skipped(name, "the project does not report its pipeline variable settings")
    needed = "developer" if restrict is False else (minimum or "maintainer")
    role = _role(access.access_level) if access.access_level else "Developer"
    setting = (
        "in Settings > CI/CD > Variables set 'Minimum role to use pipeline variables' to "
        f"{role} or lower (API: ci_pipeline_variables_minimum_override_role)"
    )
    gitlab_com = "GitLab.com's default blocks pipeline variables for developers"
    if needed == "no_one_allowed":
        detail = (
            f"pipeline variables are disabled for every role (no_one_allowed; {gitlab_com}); "
            "the bot passes each request as variables"
        )
        return failed(name, detail, setting)
    required = _ROLE_LEVELS.get(needed)
    if required is None:
        return failed(name, f"unknown minimum role for pipeline variables: {needed}", setting)
    if access.access_level is None:
        return skipped(name, f"the token's role is not reported; variables need {needed}")
    if access.access_level < required:
        detail = (
            f"pipeline variables need the {needed} role, the token has "
            f"{_role(access.access_level)} ({gitlab_com})"
        )
        return failed(name, detail, f"{setting}, or give the token the {needed} role")
    return passed(name, f"pipeline variables allowed (minimum role {needed})")


def _role(level: int | None) -> str:
    if level is None:
        return "not reported"
    return ROLES.get(level, f"access level {level}")
