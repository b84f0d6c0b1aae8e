"""A ticket: one retrain/deploy/rollback/promote request from the command (or button) to its result.

It wraps the approval request (`machine.ApprovalRequest`; a request needing no approval is
stored as already approved by nobody) with what the pipeline side needs: the branch, the rollback
target, the run being followed and which replica follows it. Tickets live in the store under
`req:<id>`, and their Slack message under the same key, so a restart or another replica picks up
where this one stopped. Pure: dataclasses and their JSON codec (a TypeAdapter, see `codec`;
the layout is the one the earlier hand-written codec wrote).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, TypeAdapter, ValidationError

from bot.approvals.codec import Stored, Time
from bot.approvals.machine import ApprovalState, StoredRequest
from bot.ci.provider import JobFailure, PipelineRun, PipelineStatus
from bot.deployments.ledger import LedgerEntry, target_label

_FORMAT = 1
OPEN_STATES = frozenset({ApprovalState.PENDING, ApprovalState.APPROVED})


@dataclass(frozen=True)
class JobLink:
    """A failed job, as the message shows it: where it failed (GitLab stage, GitHub step) and why
    (GitLab's failure_reason, GitHub's conclusion), when the provider said."""

    name: str
    url: str
    stage: str | None = None
    step: str | None = None
    reason: str | None = None


_JOB_FIELDS = ("name", "url", "stage", "step", "reason")


def _pairs(jobs: tuple[JobLink, ...]) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for j in jobs:
        detail = [j.stage, j.step, j.reason]
        rows.append([j.name, j.url, *detail] if any(detail) else [j.name, j.url])
    return rows


def _from_pairs(raw: object) -> object:
    if isinstance(raw, list | tuple):
        return [
            dict(zip(_JOB_FIELDS, p, strict=False)) if isinstance(p, list | tuple) else p
            for p in raw
        ]
    return raw


# Failed jobs are stored as [name, url] pairs, followed by [stage, step, reason] when the
# provider named any (a reader that knows only the pair reads the first two).
JobLinks = Annotated[
    tuple[JobLink, ...],
    BeforeValidator(_from_pairs),
    PlainSerializer(_pairs, return_type=list[list[str | None]]),
]


@dataclass(frozen=True)
class RunInfo:
    """The pipeline run a ticket started, as last seen."""

    provider: str
    id: str
    url: str
    status: PipelineStatus
    provider_status: str = ""
    started_at: Time | None = None
    finished_at: Time | None = None
    failed_jobs: JobLinks = ()
    note: str = ""

    @classmethod
    def of(cls, provider: str, run: PipelineRun) -> RunInfo:
        """Our record of a provider run."""
        return cls(
            provider=provider,
            id=run.id,
            url=run.url,
            status=run.status,
            provider_status=run.provider_status,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )

    def updated(self, run: PipelineRun) -> RunInfo:
        """This record brought up to date with a newer view of the run."""
        return replace(
            self,
            status=run.status,
            provider_status=run.provider_status,
            url=run.url or self.url,
            started_at=run.started_at or self.started_at,
            finished_at=run.finished_at or self.finished_at,
        )

    def with_failures(self, jobs: list[JobFailure]) -> RunInfo:
        links = (JobLink(j.name, j.url, j.stage, j.step, j.reason) for j in jobs)
        return replace(self, failed_jobs=tuple(links))

    @property
    def final(self) -> bool:
        return self.status.is_final

    @property
    def as_run(self) -> PipelineRun:
        """The provider-neutral run, to resume following it."""
        return PipelineRun(
            id=self.id,
            url=self.url,
            status=self.status,
            ref="",
            started_at=self.started_at,
            finished_at=self.finished_at,
            provider_status=self.provider_status,
        )


@dataclass(frozen=True)
class Ticket:
    """One request and, once started, its pipeline run."""

    request: StoredRequest
    ref: str | None = None
    rollback_to: str | None = None
    rollback_commit: bool = False  # rollback_to is a commit sha: no model version was recorded
    origin: str | None = None  # key of the gateway message whose button made this request
    run: RunInfo | None = None
    error: str | None = None  # why the pipeline could not be started
    follower: str | None = None  # the process following the run
    lease_until: float = 0.0

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def key(self) -> str:
        """State key and message key: `req:<id>`."""
        return state_key(self.id)

    @property
    def rollback_label(self) -> str:
        """The rollback target as replies name it (a commit is never called a version)."""
        if self.rollback_commit:
            return target_label(None, self.rollback_to)
        return target_label(self.rollback_to)

    @property
    def is_open(self) -> bool:
        """Still needs attention: pending, about to start, or a run not yet finished."""
        if self.request.state in OPEN_STATES:
            return True
        if self.request.action == "promote":  # no run: done once the alias is set
            return False
        return self.request.state is ApprovalState.STARTED and not (
            self.run is not None and (self.run.final or bool(self.run.note))
        )

    @property
    def following(self) -> bool:
        """A run is started and not finished: someone should be polling it."""
        return self.run is not None and not self.run.final and not self.run.note


def state_key(ticket_id: str) -> str:
    return f"req:{ticket_id}"


_CODEC: TypeAdapter[Ticket] = TypeAdapter(Annotated[Ticket, Stored(_FORMAT)])


def dump_ticket(ticket: Ticket) -> str:
    """The JSON the store keeps."""
    return _CODEC.dump_json(ticket).decode()


def load_ticket(data: str) -> Ticket:
    """Read what `dump_ticket` wrote; `ValueError` if it is not that."""
    try:
        return _CODEC.validate_json(data)
    except ValidationError as e:
        raise ValueError(f"not a ticket: {e}") from e


def ledger_entry(ticket: Ticket, *, run_url: str, at: float) -> LedgerEntry | None:
    """The entry for a ticket whose run succeeded: deploys and rollbacks only."""
    r = ticket.request
    if r.action not in ("deploy", "rollback") or r.environment is None:
        return None
    commit = ticket.rollback_to if ticket.rollback_commit else None
    version = r.version if r.action == "deploy" else (None if commit else ticket.rollback_to)
    return LedgerEntry(
        model=r.model,
        environment=r.environment,
        action=r.action,
        version=version,
        run_url=run_url or (ticket.run.url if ticket.run is not None else ""),
        requester=r.requester,
        approvers=tuple(r.approved_by),
        at=at,
        commit=commit,
    )
