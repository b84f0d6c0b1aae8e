"""GitLab pipelines behind `PipelineProvider`; the only module that imports python-gitlab.

python-gitlab is synchronous, so every call runs in a worker thread with a timeout
(the SDK's own per-request timeout, and an overall guard around the thread).
Rate-limit sleeps and transient retries inside the SDK are turned off: the bot
reports a provider error at once instead of hanging a Slack command for minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import gitlab
import gitlab.exceptions
import requests
import structlog
from pydantic import SecretStr

from bot.ci.provider import (
    Deployment,
    DeploymentStatus,
    JobFailure,
    PipelineRequest,
    PipelineRun,
    PipelineStatus,
    PipelineTarget,
    check_model,
    pipeline_variables,
)
from bot.errors import (
    PipelineIncomplete,
    ProviderError,
    ProviderNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
)
from bot.threads import SdkThreads

log = structlog.get_logger(__name__)

T = TypeVar("T")

DISPLAY_NAME = "GitLab"

_PIPELINE_STATUS = {
    "created": PipelineStatus.PENDING,
    "waiting_for_resource": PipelineStatus.PENDING,
    "preparing": PipelineStatus.PENDING,
    "pending": PipelineStatus.PENDING,
    "scheduled": PipelineStatus.PENDING,
    "running": PipelineStatus.RUNNING,
    "canceling": PipelineStatus.RUNNING,
    "manual": PipelineStatus.MANUAL,
    "success": PipelineStatus.SUCCESS,
    "failed": PipelineStatus.FAILED,
    "canceled": PipelineStatus.CANCELLED,
    "skipped": PipelineStatus.SKIPPED,
}

_DEPLOYMENT_STATUS = {
    "created": DeploymentStatus.PENDING,
    "blocked": DeploymentStatus.PENDING,
    "running": DeploymentStatus.RUNNING,
    "success": DeploymentStatus.SUCCESS,
    "failed": DeploymentStatus.FAILED,
    "canceled": DeploymentStatus.CANCELLED,
    "skipped": DeploymentStatus.CANCELLED,
}

# SDK keyword arguments for every request: no 429 sleeping, no transient retries.
_NO_RETRY: dict[str, Any] = {"obey_rate_limit": False, "retry_transient_errors": False}

DEPLOYMENTS_PAGE = 100  # one page of deployment history (GitLab's maximum page size)
VERSION_LOOKUPS = 10  # successful deployments whose pipeline variables are read for MODEL_VERSION
SHORT_SHA = 8  # GitLab's short_id length
_EPOCH = datetime.fromtimestamp(0, UTC)
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


class GitLabCI:
    """`PipelineProvider` for GitLab: one pipeline per request, variables carry the action.

    Deployment versions: the ``MODEL_VERSION`` (or, for a rollback, ``ROLLBACK_TO``)
    variable of the pipeline that made the deployment, which is how this bot starts
    deploys; else the tag when a tag was deployed; else the short commit sha. Only the
    newest `VERSION_LOOKUPS` successful deployments get the variable lookup; one whose
    pipeline is gone (404: deleted, e.g. by pipeline retention) keeps its tag or sha.
    """

    name = "gitlab"

    def __init__(self, *, url: str, token: SecretStr, timeout: float = 10.0) -> None:
        """Build the SDK client; no network I/O here."""
        self._timeout = timeout
        self._threads = SdkThreads("gitlab")
        self._gl = gitlab.Gitlab(
            url=url,
            private_token=token.get_secret_value(),
            timeout=timeout,
            retry_transient_errors=False,
        )

    async def close(self) -> None:
        """Close the SDK's HTTP session."""
        await self._threads.run(self._gl.session.close)
        self._threads.close()

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        """Create a pipeline on the request's (or the model's) ref with the merged variables."""
        check_model(target, request)
        variables = pipeline_variables(target, request)
        ref = request.ref or target.ref
        data = {
            "ref": ref,
            "variables": [{"key": k, "value": v} for k, v in variables.items()],
        }

        def create() -> dict[str, Any]:
            pipeline = self._project(target).pipelines.create(data, **_NO_RETRY)
            return dict(pipeline.attributes)

        attrs = await self._call(target, create)
        run = _run(attrs)
        log.info("pipeline_created", provider=self.name, model=target.model, run_id=run.id)
        return run

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        """Fetch one pipeline."""

        def get() -> dict[str, Any]:
            return dict(self._project(target).pipelines.get(run_id, **_NO_RETRY).attributes)

        return _run(await self._call(target, get))

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The pipeline's failed jobs (first page), with stage and failure reason."""

        def jobs() -> list[dict[str, Any]]:
            pipeline = self._project(target).pipelines.get(run_id, lazy=True)
            found = pipeline.jobs.list(scope="failed", get_all=False, **_NO_RETRY)
            return [dict(job.attributes) for job in found]

        return [
            JobFailure(
                name=str(job.get("name", "?")),
                url=str(job.get("web_url", "")),
                stage=job.get("stage"),
                reason=job.get("failure_reason"),
            )
            for job in await self._call(target, jobs)
        ]

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        """The environment's latest deployments, newest first (GitLab deployments API)."""

        def listing() -> list[dict[str, Any]]:
            found = self._project(target).deployments.list(
                environment=environment,
                order_by="id",
                sort="desc",
                per_page=DEPLOYMENTS_PAGE,
                get_all=False,
                **_NO_RETRY,
            )
            return [dict(d.attributes) for d in found]

        raw = await self._call(target, listing)
        versions = await self._model_versions(target, raw)
        return [_deployment(d, environment, versions.get(d.get("id"))) for d in raw]

    async def _model_versions(
        self, target: PipelineTarget, raw: list[dict[str, Any]]
    ) -> dict[Any, str]:
        """The version the pipelines behind the newest successful deployments deployed.

        That is their MODEL_VERSION variable, or ROLLBACK_TO for a rollback pipeline.
        """
        versions: dict[Any, str] = {}
        successes = [d for d in raw if d.get("status") == "success"][:VERSION_LOOKUPS]
        for dep in successes:
            pipeline_id = ((dep.get("deployable") or {}).get("pipeline") or {}).get("id")
            if pipeline_id is None:
                continue

            def variables(pid: Any = pipeline_id) -> list[dict[str, Any]]:
                pipeline = self._project(target).pipelines.get(pid, lazy=True)
                found = pipeline.variables.list(get_all=False, **_NO_RETRY)
                return [dict(v.attributes) for v in found]

            try:
                found = await self._call(target, variables)
            except ProviderNotFound:  # pipeline deleted (retention): use the tag or sha
                log.warning(
                    "pipeline_variables_missing", model=target.model, pipeline_id=pipeline_id
                )
                continue
            values = {v.get("key"): v.get("value") for v in found}
            version = values.get("MODEL_VERSION") or values.get("ROLLBACK_TO")
            if version:
                versions[dep.get("id")] = str(version)
        return versions

    async def token(self) -> GitLabToken:
        """Who the token is (GET /user), with its scopes from personal_access_tokens/self."""

        def get() -> GitLabToken:
            scopes = None
            try:
                pat = self._gl.http_get("/personal_access_tokens/self", **_NO_RETRY)
                if isinstance(pat, dict) and isinstance(pat.get("scopes"), list):
                    scopes = frozenset(str(scope) for scope in pat["scopes"])
            except gitlab.exceptions.GitlabHttpError as e:
                if e.response_code not in (403, 404):  # older GitLab, or not a personal token
                    raise
            user = self._gl.http_get("/user", **_NO_RETRY)
            username = str(user.get("username", "")) if isinstance(user, dict) else ""
            return GitLabToken(username=username, scopes=scopes)

        return await self._call(_TOKEN, get)

    async def project_access(self, target: PipelineTarget) -> ProjectAccess:
        """GET the project: the token user's access level and its pipeline-variable settings."""

        def get() -> dict[str, Any]:
            self._project(target)  # PipelineIncomplete without a project
            project = self._gl.projects.get(str(target.project), **_NO_RETRY)
            return dict(project.attributes)

        attrs = await self._call(target, get)
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

    def _project(self, target: PipelineTarget) -> Any:
        if not target.project:
            raise PipelineIncomplete(f"model {target.model} has no GitLab project configured")
        return self._gl.projects.get(target.project, lazy=True)

    async def _call(self, target: PipelineTarget, fn: Callable[[], T]) -> T:
        """Run one SDK call in a thread, translating its errors into ours."""
        try:
            return await asyncio.wait_for(self._threads.run(fn), timeout=self._timeout + 1.0)
        except (TimeoutError, requests.Timeout) as e:
            raise self._error(
                ProviderTimeout, target, f"no answer within {self._timeout:g} s"
            ) from e
        except requests.RequestException as e:
            raise self._error(ProviderUnavailable, target, f"cannot reach GitLab ({e})") from e
        except gitlab.exceptions.GitlabError as e:
            raise _translate(e, target) from e

    @staticmethod
    def _error(cls: type[ProviderError], target: PipelineTarget, answer: str) -> ProviderError:
        return cls(provider=DISPLAY_NAME, target=target, answer=answer)


def _translate(e: gitlab.exceptions.GitlabError, target: PipelineTarget) -> ProviderError:
    status = e.response_code
    message = e.error_message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    answer = str(message)
    if status is not None and not answer.startswith(str(status)):
        answer = f"{status} {answer}"
    return error_for_status(status)(
        provider=DISPLAY_NAME, target=target, answer=answer, status=status
    )


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _run(attrs: dict[str, Any]) -> PipelineRun:
    raw_status = str(attrs.get("status", ""))
    return PipelineRun(
        id=str(attrs["id"]),
        url=str(attrs.get("web_url", "")),
        status=_PIPELINE_STATUS.get(raw_status, PipelineStatus.PENDING),
        ref=str(attrs.get("ref", "")),
        started_at=_time(attrs.get("started_at")),
        finished_at=_time(attrs.get("finished_at")),
        provider_status=raw_status,
    )


def _deployment(raw: dict[str, Any], environment: str, version: str | None) -> Deployment:
    deployable = raw.get("deployable") or {}
    sha = str(raw.get("sha", ""))
    ref = str(raw.get("ref", ""))
    commit_only = version is None and not deployable.get("tag")
    if version is None:
        version = ref if deployable.get("tag") else sha[:SHORT_SHA]
    return Deployment(
        id=str(raw["id"]),
        environment=str((raw.get("environment") or {}).get("name", environment)),
        status=_DEPLOYMENT_STATUS.get(str(raw.get("status")), DeploymentStatus.PENDING),
        version=version,
        ref=ref,
        sha=sha,
        created_at=_time(raw.get("created_at")) or _EPOCH,
        url=(deployable.get("pipeline") or {}).get("web_url") or deployable.get("web_url"),
        commit_only=commit_only,
    )
