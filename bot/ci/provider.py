"""The CI seam: what the bot asks of a pipeline provider, and what it gets back.

GitLab and GitHub adapters (`bot.ci.gitlab`, `bot.ci.github`) implement
`PipelineProvider`; everything past them sees only the frozen dataclasses and the
exception tree defined here, never an SDK object.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from bot.errors import (
    InvalidPipelineRequest,
    NotPermitted,
)
from bot.policy import Action


class PipelineStatus(StrEnum):
    """Provider-neutral pipeline state (each adapter maps its own words onto these)."""

    PENDING = "pending"
    RUNNING = "running"
    MANUAL = "manual"  # waiting for a person (GitLab manual job, GitHub environment approval)
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """True when the run will not change any more; MANUAL is not final (a person may act)."""
        return self in _FINAL


_FINAL = frozenset(
    {
        PipelineStatus.SUCCESS,
        PipelineStatus.FAILED,
        PipelineStatus.CANCELLED,
        PipelineStatus.SKIPPED,
    }
)


class DeploymentStatus(StrEnum):
    """Outcome of one deployment to an environment."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Variables the bot sets itself; a user's KEY=VALUE may not override them, nor may a model's
# `allowed_variables` (whose errors name the first one a glob matches, in this order).
RESERVED_VARIABLES = ("ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION", "ROLLBACK_TO")
# The CI systems' own variables (CI_DEBUG_TRACE, GITLAB_USER_ID, ...): never from Slack. Others
# (GIT_STRATEGY, ...) are refused too unless the model's `allowed_variables` lists them.
RESERVED_PREFIXES = ("CI_", "GITLAB_", "GITHUB_", "RUNNER_")


def is_reserved(name: str) -> bool:
    """True for the bot's own variables and the CI systems' (`CI_*`, `GITLAB_*`, ...)."""
    return name in RESERVED_VARIABLES or name.startswith(RESERVED_PREFIXES)


_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PipelineTarget:
    """Where a model's pipelines run, built by the composition root from the model's config.

    Plain values only, so the adapters never import config code:
    ``PipelineTarget(model=name, provider=cfg.provider, project=cfg.project, repo=cfg.repo,
    ref=cfg.ref, variables=cfg.variables, workflows=cfg.workflows, dispatch=cfg.dispatch)``.

        `project` is the GitLab path or numeric id, `repo` the GitHub ``owner/name``.
        `workflows` maps an action to a workflow file (GitHub workflow_dispatch);
        `dispatch` maps an action to a repository_dispatch event type and wins over
        `workflows` for that action.
    """

    model: str
    provider: str
    ref: str = "main"
    project: str | None = None
    repo: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)
    workflows: Mapping[str, str] = field(default_factory=dict, hash=False)
    dispatch: Mapping[str, str] = field(default_factory=dict, hash=False)
    allowed_variables: tuple[str, ...] = ()  # names or globs a user may set; () = none
    allowed_refs: tuple[str, ...] = ()  # globs a user may run on; `ref` always allowed

    def __post_init__(self) -> None:
        for name in ("variables", "workflows", "dispatch"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        for name in ("allowed_variables", "allowed_refs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def location(self) -> str:
        """Human name of the place, for messages: ``project ml/x`` or ``repository acme/x``."""
        if self.repo:
            return f"repository {self.repo}"
        return f"project {self.project}"


@dataclass(frozen=True)
class PipelineRequest:
    """One request to start a pipeline, already parsed and allowed by policy."""

    action: Action
    model: str
    ref: str | None = None  # None: the target's configured ref
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)  # user's KEY=VALUE
    environment: str | None = None
    version: str | None = None
    rollback_to: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _frozen(self.variables))


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """A pipeline (GitLab) or workflow run (GitHub) as the bot tracks it."""

    id: str
    url: str
    status: PipelineStatus
    ref: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    provider_status: str = ""  # the provider's own word, e.g. "waiting_for_resource"

    @property
    def duration(self) -> timedelta | None:
        """Wall time from start to finish, once both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class JobFailure:
    """One failed job of a run: enough to say what failed and link to its log."""

    name: str
    url: str
    stage: str | None = None  # GitLab stage
    step: str | None = None  # GitHub: the first failed step of the job
    reason: str | None = None  # GitLab failure_reason ("script_failure"), GitHub conclusion


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment of a model to an environment.

    `version` is what a rollback pipeline is given as ``ROLLBACK_TO``; each adapter
    documents where it takes it from. `commit_only`: the provider recorded no model version,
    so `version` is the short commit sha (replies must say so, never call it a version).
    """

    id: str
    environment: str
    status: DeploymentStatus
    version: str
    ref: str
    sha: str
    created_at: datetime
    url: str | None = None
    commit_only: bool = False


class PipelineProvider(Protocol):
    """A CI system that can start, report on and list deployments of pipelines."""

    name: str  # "gitlab" / "github"

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        """Start the pipeline for `request`; all or nothing."""
        ...

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        """The current state of one run."""
        ...

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The jobs of a run that failed, as far as the provider tells."""
        ...

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        """Recent deployments of `environment`, newest first."""
        ...

    async def close(self) -> None:
        """Release the SDK client."""
        ...


def check_variables(target: PipelineTarget, variables: Mapping[str, str]) -> None:
    """Refuse (`NotPermitted`) any user variable the model's config does not allow.

    Reserved names (the bot's own, `CI_*`, `GITLAB_*`, `GITHUB_*`, `RUNNER_*`) and the model's
    configured `variables` are always refused; the others must match `allowed_variables`.
    """
    setting = f"models.{target.model}.pipeline"
    for name in sorted(variables):
        if is_reserved(name):
            raise NotPermitted(
                f"variable {name} is reserved (set by the bot or the CI system) "
                "and cannot be given from Slack"
            )
        if name in target.variables:
            raise NotPermitted(
                f"variable {name} is set in {setting}.variables and cannot be overridden from Slack"
            )
        if not any(fnmatch.fnmatchcase(name, p) for p in target.allowed_variables):
            allowed = ", ".join(target.allowed_variables) or "none"
            raise NotPermitted(
                f"variable {name} is not allowed for {target.model} "
                f"({setting}.allowed_variables: {allowed})"
            )


def allowed_refs(target: PipelineTarget) -> tuple[str, ...]:
    """The refs (globs) a user may run the model's pipeline on: its `ref`, then `allowed_refs`."""
    return (target.ref, *(r for r in target.allowed_refs if r != target.ref))


def check_ref(target: PipelineTarget, ref: str | None) -> None:
    """Refuse (`NotPermitted`) a ref other than the configured one unless `allowed_refs` has it."""
    if ref is None or ref == target.ref:
        return
    if any(fnmatch.fnmatchcase(ref, p) for p in target.allowed_refs):
        return
    raise NotPermitted(
        f"ref {ref} is not allowed for {target.model} "
        f"(models.{target.model}.pipeline.allowed_refs: {', '.join(allowed_refs(target))})"
    )


def pipeline_variables(target: PipelineTarget, request: PipelineRequest) -> dict[str, str]:
    """The variables/inputs a pipeline gets: the model's, the user's, then the bot's own.

    The bot's own (`RESERVED_VARIABLES`) always win, except that a MODEL_NAME set in
    the model's config is kept (the pipeline may know the model by another name).
    Unset optional values (no environment, no version) are left out, because GitHub
    rejects inputs a workflow does not declare.
    """
    clash = sorted(set(RESERVED_VARIABLES).intersection(request.variables))
    if clash:
        raise InvalidPipelineRequest(
            f"{', '.join(clash)} {'is' if len(clash) == 1 else 'are'} set by the bot; "
            "remove it from the command."
        )
    bad = sorted(k for k in request.variables if not _VARIABLE_NAME.match(k))
    if bad:
        raise InvalidPipelineRequest(f"not a valid variable name: {', '.join(bad)}")
    check_variables(target, request.variables)
    own = {
        "ACTION": request.action,
        "MODEL_NAME": target.variables.get("MODEL_NAME", request.model),
        "ENVIRONMENT": request.environment,
        "MODEL_VERSION": request.version,
        "ROLLBACK_TO": request.rollback_to,
    }
    merged = {**target.variables, **request.variables}
    merged.update({k: v for k, v in own.items() if v})
    return merged


def check_model(target: PipelineTarget, request: PipelineRequest) -> None:
    """Refuse a request whose model is not the target's (a wiring mistake, not a user's),
    or whose ref the model's config does not allow (`check_ref`)."""
    if request.model != target.model:
        raise InvalidPipelineRequest(
            f"request for model {request.model} sent to the pipeline of {target.model}"
        )
    check_ref(target, request.ref)


# ---------------------------------------------------------------- errors
