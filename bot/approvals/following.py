"""Following a ticket's run until it finishes, updating its message.

Following is a task per run that polls the provider (`bot.ci.follow`) and saves each status
change, which re-renders the message and adds a thread reply. The follower holds a lease on the
ticket that the sweeper renews; when a process stops, its leases are released (or expire), and
the next sweep of any replica resumes the run. A deploy or rollback that succeeds goes into the
deployment ledger.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import replace

import structlog

from bot.approvals.deps import ApprovalDeps
from bot.approvals.store import with_status_reply
from bot.approvals.tickets import Ticket, ledger_entry
from bot.ci.follow import follow_run
from bot.ci.provider import JobFailure, PipelineProvider, PipelineRun, PipelineStatus
from bot.errors import PipelineError
from bot.tasks import TaskSet

log = structlog.get_logger("bot.approvals.following")


class Followers:
    """One task per followed run, and the leases that say which process follows which run."""

    def __init__(self, deps: ApprovalDeps, *, providers: Mapping[str, PipelineProvider]) -> None:
        self._deps = deps
        self._providers = providers
        self.owner = uuid.uuid4().hex[:12]
        self._tasks = TaskSet("follow")
        self._following: dict[str, asyncio.Task[None]] = {}

    def follow(self, ticket: Ticket) -> None:
        """Follow the ticket's run in an owned task (once per process)."""
        if ticket.id in self._following or ticket.run is None:
            return
        task = self._tasks.spawn(self._follow(ticket), name=ticket.id)
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
        target = self._deps.options.target(ticket.request.model)
        if provider is None:
            await self._note(ticket, "stopped following: this process has no provider token")
            return
        tuning = self._deps.options.tuning

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

        return await self._deps.tickets.change(ticket_id, updated, reply=with_status_reply)

    async def _finish(self, ticket: Ticket, provider: PipelineProvider, run: PipelineRun) -> None:
        jobs = await self._failed_jobs(ticket, provider, run)

        def finished(t: Ticket) -> Ticket | None:
            if t.run is None or t.run.final:
                return None
            return replace(t, run=t.run.updated(run).with_failures(jobs), follower=None)

        saved = await self._deps.tickets.change(ticket.id, finished, reply=with_status_reply)
        if saved is None:
            return  # another replica recorded the end already
        failed = f"; failed jobs: {', '.join(j.name for j in jobs)}" if jobs else ""
        await self._deps.pipeline_event(
            ticket,
            provider=provider.name,
            step="finish",
            outcome=run.status.value,
            detail=f"{ticket.request.action} {provider.name} run {run.id}{failed}",
            counted=run.status.value,
        )
        if run.status is PipelineStatus.SUCCESS:
            await self._record_deployment(saved, run)

    async def _failed_jobs(
        self, ticket: Ticket, provider: PipelineProvider, run: PipelineRun
    ) -> list[JobFailure]:
        if run.status.value != "failed":
            return []
        target = self._deps.options.target(ticket.request.model)
        try:
            return await provider.failed_jobs(target=target, run_id=run.id)
        except PipelineError as e:
            log.warning("failed_jobs_unavailable", ticket=ticket.id, error=e.message)
            return []

    async def _record_deployment(self, ticket: Ticket, run: PipelineRun) -> None:
        """A deploy or rollback that succeeded goes into the ledger."""
        entry = ledger_entry(ticket, run_url=run.url, at=self._deps.clock())
        if entry is not None:
            await self._deps.ledger.record(entry)

    async def _note(self, ticket: Ticket, note: str) -> None:
        def noted(t: Ticket) -> Ticket | None:
            if t.run is None or t.run.final:
                return None
            return replace(t, run=replace(t.run, note=note), follower=None)

        await self._deps.tickets.change(ticket.id, noted)
        log.warning("pipeline_follow_stopped", ticket=ticket.id, note=note)

    # --- leases --------------------------------------------------------------------------------

    async def keep(self, ticket: Ticket) -> None:
        """Sweeper step for a started ticket: renew our lease, or take over an expired one."""
        clock = self._deps.clock
        lease = self._deps.lease_until
        ours = ticket.follower == self.owner and ticket.id in self._following
        if not ours and ticket.lease_until > clock():
            return

        def leased(t: Ticket) -> Ticket | None:
            if not t.following:
                return None
            if t.follower not in (self.owner, None) and t.lease_until > clock():
                return None
            return replace(t, follower=self.owner, lease_until=lease)

        saved = await self._deps.tickets.change(ticket.id, leased, quiet=True)
        if saved is not None and not ours:
            log.info("pipeline_follow_resumed", ticket=ticket.id, run_id=saved.run and saved.run.id)
            self.follow(saved)

    async def close(self) -> None:
        """Stop following and release our leases so another process resumes at once."""
        ids = list(self._following)
        await self._tasks.cancel()

        def released(t: Ticket) -> Ticket | None:
            if t.follower != self.owner:
                return None
            return replace(t, follower=None, lease_until=0.0)

        for ticket_id in ids:
            await self._deps.tickets.change(ticket_id, released, quiet=True)
