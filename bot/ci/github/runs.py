"""Starting a GitHub Actions run and finding it again: dispatches, run identification, jobs.

A workflow_dispatch (or a repository_dispatch event) does not say which run it created unless
GitHub answers with the run's details; otherwise the run is the one that appeared after the
dispatch and was not listed before it (`Runs._discover`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import structlog
from github.WorkflowRun import WorkflowRun

from bot.ci.github.client import DISPLAY_NAME, GitHubClient
from bot.ci.provider import (
    JobFailure,
    PipelineRequest,
    PipelineRun,
    PipelineStatus,
    PipelineTarget,
    check_model,
    pipeline_variables,
)
from bot.errors import InvalidPipelineRequest, PipelineIncomplete, ProviderError, RunNotFound

log = structlog.get_logger("bot.ci.github")

MAX_DISPATCH_INPUTS = 25  # GitHub docs: "You can define up to 25 inputs for a workflow_dispatch"
MAX_PAYLOAD_PROPERTIES = 10  # REST API: client_payload has at most 10 top-level properties
DISCOVERY_SKEW = timedelta(seconds=5)  # clock difference tolerated when matching a new run
RUNS_PAGE = 30  # runs listed per discovery attempt

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
_FAILED_JOB = ("failure", "timed_out")

# Inputs the bot itself may send, per action, besides the model's configured variables
# (see `pipeline_variables`): MODEL_VERSION only when a deploy names a version.
_OWN_INPUTS: dict[str, tuple[str, ...]] = {
    "retrain": ("ACTION", "MODEL_NAME"),
    "deploy": ("ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION"),
    "rollback": ("ACTION", "MODEL_NAME", "ENVIRONMENT", "ROLLBACK_TO"),
}


def dispatch_inputs(target: PipelineTarget, action: str) -> frozenset[str]:
    """The workflow_dispatch inputs the bot may send for `action` (users' KEY=VALUE aside).

    GitHub rejects a dispatch with an input the workflow does not declare.
    """
    return frozenset(_OWN_INPUTS.get(action, ())) | frozenset(target.variables)


@dataclass(frozen=True, slots=True)
class _SeenRun:
    created_at: datetime
    run: PipelineRun


_Lister = Callable[[], list[_SeenRun]]


class Runs:
    """Dispatch, identify, and read the runs of one GitHub client."""

    def __init__(
        self, client: GitHubClient, *, discovery_timeout: float, discovery_interval: float
    ) -> None:
        self._client = client
        self._discovery_timeout = discovery_timeout
        self._discovery_interval = discovery_interval

    async def start(self, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
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
            wf = self._client.repo(target).get_workflow(workflow)
            listed = wf.get_runs(event="workflow_dispatch", branch=ref)
            return [seen(r) for r in islice(listed, RUNS_PAGE)]

        def dispatch() -> PipelineRun | None:
            wf = self._client.repo(target).get_workflow(workflow)
            answer: object = wf.create_dispatch(ref, inputs, throw=True, return_run_details=True)
            if not isinstance(answer, WorkflowRun):
                return None  # 204: a GitHub without run details
            status = PipelineStatus.PENDING
            return PipelineRun(id=str(answer.id), url=answer.html_url, status=status, ref=ref)

        known, since = await self._before(target, runs, what)
        run = await self._client.call(target, dispatch, what)
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
            listed = self._client.repo(target).get_workflow_runs(event="repository_dispatch")
            return [seen(r) for r in islice(listed, RUNS_PAGE)]

        def dispatch() -> None:
            repo = self._client.repo(target)
            body = {"event_type": event_type, "client_payload": payload}
            repo.requester.requestJsonAndCheck("POST", f"{repo.url}/dispatches", input=body)

        known, since = await self._before(target, runs, what)
        await self._client.call(target, dispatch, what)
        log.info("repository_dispatched", model=target.model, event_type=event_type)
        return await self._discover(target, runs, known, since, what)

    async def _before(
        self, target: PipelineTarget, runs: _Lister, what: str
    ) -> tuple[set[str], datetime]:
        """The runs listed before a dispatch, and the earliest time a new one may carry."""
        known = {s.run.id for s in await self._client.call(target, runs, what)}
        return known, datetime.now(UTC) - DISCOVERY_SKEW

    async def _discover(
        self, target: PipelineTarget, runs: _Lister, known: set[str], since: datetime, what: str
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
                listed = await self._client.call(target, runs, what)
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

    async def get(self, target: PipelineTarget, run_id: str) -> PipelineRun:
        """Fetch one workflow run."""

        def get() -> PipelineRun:
            return seen(self._client.repo(target).get_workflow_run(int(run_id))).run

        return await self._client.call(target, get, f"run {run_id}")

    async def failed_jobs(self, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The run's failed jobs, each with its first failed step and its conclusion."""

        def jobs() -> list[JobFailure]:
            run = self._client.repo(target).get_workflow_run(int(run_id))
            return [
                JobFailure(
                    name=job.name,
                    url=job.html_url,
                    step=_failed_step(job.steps),
                    reason=job.conclusion,
                )
                for job in run.jobs()
                if job.conclusion in _FAILED_JOB
            ]

        # two requests: the run (for its jobs_url), then its jobs
        return await self._client.call(target, jobs, f"run {run_id}", requests_made=2)


def _run_status(status: str | None, conclusion: str | None) -> PipelineStatus:
    if status == "completed":
        return _CONCLUSION.get(conclusion or "", PipelineStatus.FAILED)
    return _RUN_STATUS.get(status or "", PipelineStatus.PENDING)


def seen(run: WorkflowRun) -> _SeenRun:
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
