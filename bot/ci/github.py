"""GitHub Actions behind `PipelineProvider`; the only module that imports PyGithub.

A request becomes a ``workflow_dispatch`` of the action's workflow file, or, when the
model's config names a ``repository_dispatch`` event type for the action (existing drift
workflows listen for ``drift-detected``), that event with the values in
``client_payload``. The run it created is then identified: directly, when GitHub
answers the dispatch with the run id (``return_run_details``), otherwise by listing the
runs that appeared after the dispatch and were not there before it.

PyGithub is synchronous: each call runs in a worker thread with a timeout, and every
attribute of an SDK object is read inside that thread (lazy objects fetch on access).
PyGithub's own retries and request throttling (which sleep for minutes on rate limits)
are off; the bot reports the provider's answer instead.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

import requests
import structlog
from github import Auth, Github, GithubException, RateLimitExceededException
from github.Deployment import Deployment as SdkDeployment
from github.WorkflowRun import WorkflowRun
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
    InvalidPipelineRequest,
    PipelineIncomplete,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RunNotFound,
    error_for_status,
)
from bot.threads import SdkThreads

log = structlog.get_logger(__name__)

T = TypeVar("T")

DISPLAY_NAME = "GitHub"
DEFAULT_API_URL = "https://api.github.com"
MAX_DISPATCH_INPUTS = 25  # GitHub docs: "You can define up to 25 inputs for a workflow_dispatch"
MAX_PAYLOAD_PROPERTIES = 10  # REST API: client_payload has at most 10 top-level properties
DISCOVERY_SKEW = timedelta(seconds=5)  # clock difference tolerated when matching a new run
RUNS_PAGE = 30  # runs listed per discovery attempt
DEPLOYMENTS_LIMIT = 20  # deployments examined for a rollback
STATUSES_LIMIT = 10  # statuses read per deployment
SHORT_SHA = 7

_CONCLUSION = {
    "success": PipelineStatus.SUCCESS,
    "neutral": PipelineStatus.SUCCESS,
    "failure": PipelineStatus.FAILED,
    "timed_out": PipelineStatus.FAILED,
    "startup_failure": PipelineStatus.FAILED,
    "action_required": PipelineStatus.FAILED,
    "cancelled": PipelineStatus.CANCELLED,
    "stale": PipelineStatus.CANCELLED,
    "skipped": PipelineStatus.SKIPPED,
}
_RUN_STATUS = {
    "in_progress": PipelineStatus.RUNNING,
    "waiting": PipelineStatus.MANUAL,  # an environment's required reviewers
}
_DEPLOYMENT_STATE = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILED,
    "error": DeploymentStatus.FAILED,
    "in_progress": DeploymentStatus.RUNNING,
    "queued": DeploymentStatus.PENDING,
    "pending": DeploymentStatus.PENDING,
}
_VERSION_KEYS = ("MODEL_VERSION", "model_version", "version")


# Inputs the bot itself may send, per action, besides the model's configured variables
# (see `pipeline_variables`): MODEL_VERSION only when a deploy names a version.
_OWN_INPUTS: dict[str, tuple[str, ...]] = {
    "retrain": ("ACTION", "MODEL_NAME"),
    "deploy": ("ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION"),
    "rollback": ("ACTION", "MODEL_NAME", "ENVIRONMENT", "ROLLBACK_TO"),
}
_NO_REPO = PipelineTarget(model="-", provider="github", repo="(the token)")  # for token errors


def dispatch_inputs(target: PipelineTarget, action: str) -> frozenset[str]:
    """The workflow_dispatch inputs the bot may send for `action` (users' KEY=VALUE aside).

    GitHub rejects a dispatch with an input the workflow does not declare.
    """
    return frozenset(_OWN_INPUTS.get(action, ())) | frozenset(target.variables)


@dataclass(frozen=True)
class RepoAccess:
    """A repository as the token sees it; `push` is None when GitHub did not say."""

    full_name: str
    default_branch: str
    push: bool | None


@dataclass(frozen=True, slots=True)
class _SeenRun:
    created_at: datetime
    run: PipelineRun


class GitHubActions:
    """`PipelineProvider` for GitHub Actions.

    Deployment versions: ``MODEL_VERSION`` (or ``version``) from the deployment's
    payload when the deploy workflow sets one, else the short commit sha.
    """

    name = "github"

    def __init__(
        self,
        *,
        url: str = DEFAULT_API_URL,
        token: SecretStr,
        timeout: float = 10.0,
        discovery_timeout: float = 30.0,
        discovery_interval: float = 1.0,
    ) -> None:
        """Build the SDK client; no network I/O here."""
        self._timeout = max(1, math.ceil(timeout))  # PyGithub takes whole seconds
        self._threads = SdkThreads("github")
        self._discovery_timeout = discovery_timeout
        self._discovery_interval = discovery_interval
        self._gh = Github(
            base_url=url.rstrip("/"),
            auth=Auth.Token(token.get_secret_value()),
            timeout=self._timeout,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )

    async def close(self) -> None:
        """Close the SDK's HTTP connections."""
        await self._threads.run(self._gh.close)
        self._threads.close()

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        """Dispatch the action's workflow (or repository_dispatch event) and find its run."""
        check_model(target, request)
        values = pipeline_variables(target, request)
        event_type = target.dispatch.get(request.action)
        if event_type:
            return await self._repository_dispatch(target, event_type, values)
        workflow = target.workflows.get(request.action)
        if not workflow:
            raise PipelineIncomplete(
                f"model {target.model} has no {request.action} workflow configured "
                f"(pipeline.workflows.{request.action})"
            )
        if len(values) > MAX_DISPATCH_INPUTS:
            raise InvalidPipelineRequest(
                f"{len(values)} workflow inputs for {workflow}; GitHub accepts at most "
                f"{MAX_DISPATCH_INPUTS}: {', '.join(sorted(values))}"
            )
        return await self._workflow_dispatch(target, workflow, request.ref or target.ref, values)

    async def _workflow_dispatch(
        self, target: PipelineTarget, workflow: str, ref: str, inputs: dict[str, str]
    ) -> PipelineRun:
        what = f"workflow {workflow}"

        def runs() -> list[_SeenRun]:
            wf = self._repo(target).get_workflow(workflow)
            listed = wf.get_runs(event="workflow_dispatch", branch=ref)
            return [_seen(r) for r in islice(listed, RUNS_PAGE)]

        def dispatch() -> PipelineRun | None:
            wf = self._repo(target).get_workflow(workflow)
            answer: object = wf.create_dispatch(ref, inputs, throw=True, return_run_details=True)
            if not isinstance(answer, WorkflowRun):
                return None  # 204: a GitHub without run details
            status = PipelineStatus.PENDING
            return PipelineRun(id=str(answer.id), url=answer.html_url, status=status, ref=ref)

        known = {seen.run.id for seen in await self._call(target, runs, what)}
        since = datetime.now(UTC) - DISCOVERY_SKEW
        run = await self._call(target, dispatch, what)
        log.info("workflow_dispatched", model=target.model, workflow=workflow, run=run and run.id)
        return run or await self._discover(target, runs, known, since, what)

    async def _repository_dispatch(
        self, target: PipelineTarget, event_type: str, payload: dict[str, str]
    ) -> PipelineRun:
        what = f"repository_dispatch {event_type}"
        if len(payload) > MAX_PAYLOAD_PROPERTIES:
            raise InvalidPipelineRequest(
                f"{len(payload)} values for {what}; GitHub accepts at most "
                f"{MAX_PAYLOAD_PROPERTIES} in client_payload: {', '.join(sorted(payload))}"
            )

        def runs() -> list[_SeenRun]:
            listed = self._repo(target).get_workflow_runs(event="repository_dispatch")
            return [_seen(r) for r in islice(listed, RUNS_PAGE)]

        def dispatch() -> None:
            repo = self._repo(target)
            body = {"event_type": event_type, "client_payload": payload}
            repo.requester.requestJsonAndCheck("POST", f"{repo.url}/dispatches", input=body)

        known = {seen.run.id for seen in await self._call(target, runs, what)}
        since = datetime.now(UTC) - DISCOVERY_SKEW
        await self._call(target, dispatch, what)
        log.info("repository_dispatched", model=target.model, event_type=event_type)
        return await self._discover(target, runs, known, since, what)

    async def _discover(
        self,
        target: PipelineTarget,
        runs: Callable[[], list[_SeenRun]],
        known: set[str],
        since: datetime,
        what: str,
    ) -> PipelineRun:
        """Poll the run list until a run that was not there before the dispatch shows up.

        The dispatch already happened, so provider errors here are retried until the
        discovery timeout and end as `RunNotFound` (which says the run was started),
        never as an error a user would answer by starting it again.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + self._discovery_timeout
        interval = self._discovery_interval
        problem = "no run appeared"
        while True:
            try:
                listed = await self._call(target, runs, what)
            except ProviderError as e:
                problem, listed = f"listing runs failed: {e.answer}", []
            fresh = [s for s in listed if s.run.id not in known and s.created_at >= since]
            if fresh:
                return min(fresh, key=lambda s: (s.created_at, int(s.run.id))).run
            remaining = end - loop.time()
            if remaining <= 0:
                raise RunNotFound(
                    f"{DISPLAY_NAME} accepted the {what} for model {target.model} "
                    f"({target.location}), but its run could not be found within "
                    f"{self._discovery_timeout:g} s ({problem}); "
                    "check the repository's Actions tab before starting it again."
                )
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 2, 5.0)

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        """Fetch one workflow run."""

        def get() -> PipelineRun:
            return _seen(self._repo(target).get_workflow_run(int(run_id))).run

        return await self._call(target, get, f"run {run_id}")

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The run's failed jobs, each with its first failed step and its conclusion."""

        def jobs() -> list[JobFailure]:
            run = self._repo(target).get_workflow_run(int(run_id))
            return [
                JobFailure(
                    name=job.name,
                    url=job.html_url,
                    step=_failed_step(job.steps),
                    reason=job.conclusion,
                )
                for job in run.jobs()
                if job.conclusion in ("failure", "timed_out")
            ]

        # two requests: the run (for its jobs_url), then its jobs
        return await self._call(target, jobs, f"run {run_id}", requests_made=2)

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        """The environment's latest deployments, newest first, each with its outcome."""

        def listing() -> list[SdkDeployment]:
            found = self._repo(target).get_deployments(environment=environment)
            return list(islice(found, DEPLOYMENTS_LIMIT))

        result = []
        for dep in await self._call(target, listing, f"environment {environment}"):

            def convert(dep: SdkDeployment = dep) -> Deployment:
                return _deployment(dep, list(islice(dep.get_statuses(), STATUSES_LIMIT)))

            result.append(await self._call(target, convert, f"environment {environment}"))
        return result

    async def token_user(self) -> str:
        """The login of the token's user (GET /user)."""
        return await self._call(_NO_REPO, lambda: str(self._gh.get_user().login), "")

    async def repo_access(self, target: PipelineTarget) -> RepoAccess:
        """GET the repository: its name, default branch and the token's push permission."""

        def get() -> RepoAccess:
            repo = self._repo(target)
            permissions = repo.permissions
            push = getattr(permissions, "push", None) if permissions is not None else None
            return RepoAccess(repo.full_name, repo.default_branch, push)

        return await self._call(target, get, f"repository {target.repo}")

    async def workflow_text(self, target: PipelineTarget, workflow: str) -> str:
        """The text of `.github/workflows/<workflow>` on the target's ref (contents API)."""
        path = f".github/workflows/{workflow}"

        def get() -> str:
            found = self._repo(target).get_contents(path, ref=target.ref)
            if isinstance(found, list):  # a directory
                raise GithubException(404, {"message": "Not Found"}, None)
            return bytes(found.decoded_content).decode("utf-8", "replace")

        return await self._call(target, get, f"{path} on {target.ref}")

    def _repo(self, target: PipelineTarget) -> Any:
        if not target.repo:
            raise PipelineIncomplete(f"model {target.model} has no GitHub repository configured")
        return self._gh.get_repo(target.repo)

    async def _call(
        self, target: PipelineTarget, fn: Callable[[], T], what: str, *, requests_made: int = 1
    ) -> T:
        """Run SDK calls making `requests_made` requests in a thread; translate errors."""
        guard = self._timeout * requests_made + 1.0
        try:
            return await asyncio.wait_for(self._threads.run(fn), timeout=guard)
        except (TimeoutError, requests.Timeout) as e:
            answer = f"no answer within {self._timeout} s ({what})"
            raise ProviderTimeout(provider=DISPLAY_NAME, target=target, answer=answer) from e
        except requests.RequestException as e:
            answer = f"cannot reach {DISPLAY_NAME} ({e})"
            raise ProviderUnavailable(provider=DISPLAY_NAME, target=target, answer=answer) from e
        except GithubException as e:
            raise _translate(e, target, what) from e


def _translate(e: GithubException, target: PipelineTarget, what: str) -> ProviderError:
    data = e.data if isinstance(e.data, dict) else {}
    message = e.message or data.get("message") or ""
    answer = f"{e.status} {message}" + (f" ({what})" if what else "")
    answer = answer.replace("  ", " ")
    cls = ProviderUnavailable if isinstance(e, RateLimitExceededException) else None
    return (cls or error_for_status(e.status))(
        provider=DISPLAY_NAME, target=target, answer=answer, status=e.status
    )


def _run_status(status: str | None, conclusion: str | None) -> PipelineStatus:
    if status == "completed":
        return _CONCLUSION.get(conclusion or "", PipelineStatus.FAILED)
    return _RUN_STATUS.get(status or "", PipelineStatus.PENDING)


def _seen(run: WorkflowRun) -> _SeenRun:
    """Our view of an SDK run; reads its attributes (call inside the worker thread)."""
    status = run.status
    finished = run.updated_at if status == "completed" else None
    return _SeenRun(
        created_at=run.created_at,
        run=PipelineRun(
            id=str(run.id),
            url=run.html_url,
            status=_run_status(status, run.conclusion),
            ref=run.head_branch or "",
            started_at=run.run_started_at,
            finished_at=finished,
            provider_status=run.conclusion if status == "completed" else status,
        ),
    )


def _failed_step(steps: Any) -> str | None:
    return next((s.name for s in steps or [] if s.conclusion == "failure"), None)


def _deployment(dep: SdkDeployment, statuses: list[Any]) -> Deployment:
    """Our view of an SDK deployment and its statuses (newest first).

    GitHub marks a deployment ``inactive`` once a newer one to the same environment
    succeeds, so `inactive` is skipped: the state before it is the outcome.
    """
    states = [s.state for s in statuses if s.state != "inactive"]
    if states:
        status = _DEPLOYMENT_STATE.get(states[0], DeploymentStatus.PENDING)
    else:
        status = DeploymentStatus.CANCELLED if statuses else DeploymentStatus.PENDING
    payload = dep.payload if isinstance(dep.payload, dict) else {}
    version = next((str(payload[k]) for k in _VERSION_KEYS if payload.get(k)), None)
    url = next((s.log_url or s.target_url for s in statuses if s.log_url or s.target_url), None)
    return Deployment(
        id=str(dep.id),
        environment=dep.environment,
        status=status,
        version=version or dep.sha[:SHORT_SHA],
        ref=dep.ref,
        sha=dep.sha,
        created_at=dep.created_at,
        url=url,
        commit_only=version is None,
    )
