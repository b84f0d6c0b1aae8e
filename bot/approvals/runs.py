"""Starting a ticket's pipeline and following it until it finishes, updating its message.

`start` is all or nothing: the provider either answers with a run (the ticket is saved as
started, its message shows the link) or with an error (the ticket is saved as failed with the
provider's answer; nothing runs). Following is a task per run that polls the provider
(`bot.ci.follow`) and saves each status change, which re-renders the message and adds a thread
reply. The follower holds a lease on the ticket that the sweeper renews; when a process stops,
its leases are released (or expire), and the next sweep of any replica resumes the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

import structlog

from bot.approvals.machine import ApprovalState, mark_failed, mark_started
from bot.approvals.store import TicketStore, with_status_reply
from bot.approvals.tickets import RunInfo, Ticket
from bot.audit.trail import Auditor
from bot.ci.follow import follow_run
from bot.ci.provider import PipelineProvider, PipelineRequest, PipelineRun, PipelineStatus
from bot.deployments.ledger import Ledger, LedgerEntry
from bot.errors import PipelineError, ProviderMissing
from bot.options import BotOptions
from bot.tasks import TaskSet
from slackio.metrics import Metrics

log = structlog.get_logger("bot.approvals.runs")


_TOKENS = {"gitlab": "GITLAB_TOKEN", "github": "GITHUB_TOKEN"}


class Runs:
    """Starts pipelines for approved tickets and follows them."""

    def __init__(
        self,
        *,
        tickets: TicketStore,
        options: BotOptions,
        providers: Mapping[str, PipelineProvider],
        auditor: Auditor,
        metrics: Metrics,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self._tickets = tickets
        self._options = options
        self._providers = providers
        self._auditor = auditor
        self._metrics = metrics
        self._clock = clock
        self.owner = uuid.uuid4().hex[:12]
        self._followers = TaskSet("follow")
        self._following: dict[str, asyncio.Task[None]] = {}
        self._starting: set[str] = set()

    def provider_for(self, model: str) -> PipelineProvider:
        """The provider that runs `model`'s pipeline, or a clear error naming what is missing."""
        target = self._options.target(model)
        provider = self._providers.get(target.provider)
        if provider is None:
            token = _TOKENS.get(target.provider, "its token")
            raise ProviderMissing(
                f"model {model} runs on {target.provider}, but {token} is not set, "
                "so the bot cannot start its pipeline"
            )
        return provider

    def claim(self, ticket: Ticket) -> Ticket:
        """The ticket leased to this process, to be saved before its pipeline is started.

        Only the write that wins the approval (or creates a direct request) carries the lease, so
        only one process starts the pipeline; a lease that runs out with no run means the start
        was interrupted (see `interrupted`).
        """
        lease = self._clock() + self._options.tuning.lease_seconds
        return replace(ticket, follower=self.owner, lease_until=lease)

    @contextlib.contextmanager
    def starting(self, ticket_id: str) -> Iterator[None]:
        """While held, the sweeper keeps renewing the ticket's lease: its start is in flight."""
        self._starting.add(ticket_id)
        try:
            yield
        finally:
            self._starting.discard(ticket_id)

    async def interrupted(self, ticket: Ticket) -> bool:
        """Sweeper step: an approved ticket whose starter's lease ran out is marked failed.

        The start may or may not have reached the provider; saying so is better than starting a
        second pipeline.
        """
        if ticket.request.state is not ApprovalState.APPROVED:
            return False
        if ticket.id in self._starting:  # still waiting for the provider: keep the lease
            lease = self._clock() + self._options.tuning.lease_seconds
            await self._tickets.change(
                ticket.id, lambda t: replace(t, lease_until=lease), quiet=True
            )
            return False
        if ticket.lease_until > self._clock():
            return False
        note = (
            "the bot stopped while starting the pipeline; check the CI system before asking again"
        )
        if ticket.request.action == "promote":
            note = "the bot stopped while setting the alias; click Promote to champion to retry"

        def failed(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED or t.lease_until > self._clock():
                return None
            return replace(t, request=mark_failed(t.request), error=note, follower=None)

        return await self._tickets.change(ticket.id, failed) is not None

    async def start(self, ticket: Ticket) -> Ticket:
        """Start the approved ticket's pipeline; the saved ticket (started, or failed)."""
        r = ticket.request
        target = self._options.target(r.model)
        request = PipelineRequest(
            action=r.action,
            model=r.model,
            ref=ticket.ref,
            variables=r.variables,
            environment=r.environment,
            version=r.version,
            rollback_to=ticket.rollback_to,
        )
        self._starting.add(ticket.id)
        try:
            provider = self.provider_for(r.model)
            run = await provider.start(target=target, request=request)
        except PipelineError as e:
            return await self._start_failed(ticket, target.provider, e)
        finally:
            self._starting.discard(ticket.id)
        info = RunInfo.of(provider.name, run)
        lease = self._clock() + self._options.tuning.lease_seconds

        def started(t: Ticket) -> Ticket | None:
            if t.run is not None:
                return None
            # FAILED here means a sweeper gave the start up for lost; the run exists, so say so.
            request = replace(t.request, state=ApprovalState.STARTED)
            return replace(
                t, request=request, run=info, error=None, follower=self.owner, lease_until=lease
            )

        saved = await self._tickets.change(ticket.id, started, reply=with_status_reply)
        self._metrics.pipelines.labels(
            provider=provider.name, action=r.action, outcome="started"
        ).inc()
        await self._auditor.record(
            actor=r.requester,
            action="pipeline.start",
            model=r.model,
            outcome="started",
            detail=f"{r.action} {provider.name} run {run.id} {run.url}",
            ticket=ticket.id,
        )
        if saved is None:  # the store lost the ticket: say what we know, follow nothing
            log.error("ticket_vanished_after_start", ticket=ticket.id, run_id=run.id)
            return replace(ticket, request=mark_started(ticket.request), run=info)
        self.follow(saved)
        return saved

    async def _start_failed(self, ticket: Ticket, provider: str, error: PipelineError) -> Ticket:
        r = ticket.request

        def failed(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED:
                return None
            return replace(t, request=mark_failed(t.request), error=error.message)

        saved = await self._tickets.change(ticket.id, failed)
        self._metrics.pipelines.labels(
            provider=provider, action=r.action, outcome="start_failed"
        ).inc()
        await self._auditor.record(
            actor=r.requester,
            action="pipeline.start",
            model=r.model,
            outcome="failed",
            detail=error.message,
            ticket=ticket.id,
        )
        return saved or replace(ticket, request=mark_failed(r), error=error.message)

    # --- following -----------------------------------------------------------------------------

    def follow(self, ticket: Ticket) -> None:
        """Follow the ticket's run in an owned task (once per process)."""
        if ticket.id in self._following or ticket.run is None:
            return
        task = self._followers.spawn(self._follow(ticket), name=ticket.id)
        if task is not None:
            self._following[ticket.id] = task
            task.add_done_callback(lambda _: self._following.pop(ticket.id, None))

    @property
    def following(self) -> frozenset[str]:
        """Ids of the tickets this process is following now."""
        return frozenset(self._following)

    async def _follow(self, ticket: Ticket) -> None:
        assert ticket.run is not None
        provider = self._providers.get(ticket.run.provider)
        target = self._options.target(ticket.request.model)
        if provider is None:
            await self._note(ticket, "stopped following: this process has no provider token")
            return
        tuning = self._options.tuning

        async def on_change(run: PipelineRun) -> None:
            if not run.status.is_final:
                await self._record(ticket.id, run)

        try:
            last = await follow_run(
                provider,
                ticket.run.as_run,
                on_change,
                target=target,
                poll_initial=tuning.poll_initial,
                poll_max=tuning.poll_max,
                deadline=tuning.follow_deadline,
            )
        except PipelineError as e:
            await self._note(ticket, f"stopped following the run: {e.message}")
            return
        if not last.status.is_final:
            hours = tuning.follow_deadline / 3600
            await self._note(ticket, f"stopped following after {hours:g} h; see the link")
            return
        await self._finish(ticket, provider, last)

    async def _record(self, ticket_id: str, run: PipelineRun) -> Ticket | None:
        def updated(t: Ticket) -> Ticket | None:
            if t.run is None or t.follower != self.owner:
                return None
            return replace(t, run=t.run.updated(run))

        return await self._tickets.change(ticket_id, updated, reply=with_status_reply)

    async def _finish(self, ticket: Ticket, provider: PipelineProvider, run: PipelineRun) -> None:
        r = ticket.request
        target = self._options.target(r.model)
        jobs = []
        if run.status.value == "failed":
            try:
                jobs = await provider.failed_jobs(target=target, run_id=run.id)
            except PipelineError as e:
                log.warning("failed_jobs_unavailable", ticket=ticket.id, error=e.message)

        def finished(t: Ticket) -> Ticket | None:
            if t.run is None or t.run.final:
                return None
            return replace(t, run=t.run.updated(run).with_failures(jobs), follower=None)

        saved = await self._tickets.change(ticket.id, finished, reply=with_status_reply)
        if saved is None:
            return  # another replica recorded the end already
        outcome = run.status.value
        self._metrics.pipelines.labels(
            provider=provider.name, action=r.action, outcome=outcome
        ).inc()
        await self._auditor.record(
            actor=r.requester,
            action="pipeline.finish",
            model=r.model,
            outcome=outcome,
            detail=f"{r.action} {provider.name} run {run.id}"
            + (f"; failed jobs: {', '.join(j.name for j in jobs)}" if jobs else ""),
            ticket=ticket.id,
        )
        if run.status is PipelineStatus.SUCCESS:
            await self._record_deployment(saved, run)

    async def _record_deployment(self, ticket: Ticket, run: PipelineRun) -> None:
        """A deploy or rollback that succeeded goes into the ledger."""
        entry = ledger_entry(ticket, run_url=run.url, at=self._clock())
        if entry is not None:
            await self.ledger.record(entry)

    async def _note(self, ticket: Ticket, note: str) -> None:
        def noted(t: Ticket) -> Ticket | None:
            if t.run is None or t.run.final:
                return None
            return replace(t, run=replace(t.run, note=note), follower=None)

        await self._tickets.change(ticket.id, noted)
        log.warning("pipeline_follow_stopped", ticket=ticket.id, note=note)

    # --- leases --------------------------------------------------------------------------------

    async def keep(self, ticket: Ticket) -> None:
        """Sweeper step for a started ticket: renew our lease, or take over an expired one."""
        now = self._clock()
        lease = now + self._options.tuning.lease_seconds
        ours = ticket.follower == self.owner and ticket.id in self._following
        if not ours and ticket.lease_until > now:
            return

        def leased(t: Ticket) -> Ticket | None:
            if not t.following:
                return None
            if t.follower not in (self.owner, None) and t.lease_until > self._clock():
                return None
            return replace(t, follower=self.owner, lease_until=lease)

        saved = await self._tickets.change(ticket.id, leased, quiet=True)
        if saved is not None and not ours:
            log.info("pipeline_follow_resumed", ticket=ticket.id, run_id=saved.run and saved.run.id)
            self.follow(saved)

    async def close(self) -> None:
        """Stop following and release our leases so another process resumes at once."""
        ids = list(self._following)
        await self._followers.cancel()

        def released(t: Ticket) -> Ticket | None:
            if t.follower != self.owner:
                return None
            return replace(t, follower=None, lease_until=0.0)

        for ticket_id in ids:
            await self._tickets.change(ticket_id, released, quiet=True)


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
