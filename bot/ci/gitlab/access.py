"""What `chatops doctor` reads from GitLab: who the token is, and what it may do in a project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gitlab.exceptions

from bot.ci.gitlab.client import NO_RETRY, GitLabClient
from bot.ci.provider import PipelineTarget

_TOKEN = PipelineTarget(model="-", provider="gitlab", project="(the token)")  # for token errors


@dataclass(frozen=True)
class GitLabToken:
    """The token's user, and its scopes when GitLab says (personal_access_tokens/self)."""

    username: str
    scopes: frozenset[str] | None  # None: this GitLab (or token type) does not tell


@dataclass(frozen=True)
class ProjectAccess:
    """A project as the token's user sees it: its access level and the variable settings.

    `access_level` is the higher of the project and group membership (GitLab's numbers:
    30 Developer, 40 Maintainer, 50 Owner); None when the project did not report it.
    The two variable settings are None when this GitLab does not report them.
    """

    path: str
    access_level: int | None
    restrict_user_defined_variables: bool | None
    minimum_override_role: str | None


async def token(client: GitLabClient) -> GitLabToken:
    """Who the token is (GET /user), with its scopes from personal_access_tokens/self."""
    gl = client.gl

    def get() -> GitLabToken:
        scopes = None
        try:
            pat = gl.http_get("/personal_access_tokens/self", **NO_RETRY)
            if isinstance(pat, dict) and isinstance(pat.get("scopes"), list):
                scopes = frozenset(str(scope) for scope in pat["scopes"])
        except gitlab.exceptions.GitlabHttpError as e:
            if e.response_code not in (403, 404):  # older GitLab, or not a personal token
                raise
        user = gl.http_get("/user", **NO_RETRY)
        username = str(user.get("username", "")) if isinstance(user, dict) else ""
        return GitLabToken(username=username, scopes=scopes)

    return await client.call(_TOKEN, get)


async def project_access(client: GitLabClient, target: PipelineTarget) -> ProjectAccess:
    """GET the project: the token user's access level and its pipeline-variable settings."""

    def get() -> dict[str, Any]:
        client.project(target)  # PipelineIncomplete without a project
        project = client.gl.projects.get(str(target.project), **NO_RETRY)
        return dict(project.attributes)

    attrs = await client.call(target, get)
    permissions = attrs.get("permissions") or {}
    levels = [
        (permissions.get(kind) or {}).get("access_level")
        for kind in ("project_access", "group_access")
    ]
    known = [level for level in levels if isinstance(level, int)]
    restrict = attrs.get("restrict_user_defined_variables")
    role = attrs.get("ci_pipeline_variables_minimum_override_role")
    return ProjectAccess(
        path=str(attrs.get("path_with_namespace", target.project)),
        access_level=max(known) if known else None,
        restrict_user_defined_variables=restrict if isinstance(restrict, bool) else None,
        minimum_override_role=role if isinstance(role, str) else None,
    )
