"""Starting a ticket's pipeline: all or nothing, under a lease so only one process starts it.

`start` is all or nothing: the provider either answers with a run (the ticket is saved as
started, its message shows the link) or with an error (the ticket is saved as failed with the
provider's answer; nothing runs). A started run is then followed (`bot.approvals.following`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import replace

import structlog

from bot.approvals.deps import ApprovalDeps
from bot.approvals.following import Followers
from bot.approvals.machine import ApprovalState, mark_failed, mark_started
from bot.approvals.store import with_status_reply
from bot.approvals.tickets import RunInfo, Ticket
from bot.ci.provider import PipelineProvider, PipelineRequest, PipelineRun
from bot.errors import PipelineError, ProviderMissing

log = structlog.get_logger("bot.approvals.runs")

_TOKENS = {"gitlab": "GITLAB_TOKEN", "github": "GITHUB_TOKEN"}
_INTERRUPTED = {
    "promote": "the bot stopped while setting the alias; click Promote to champion to retry",
}
_INTERRUPTED_START = (
    "the bot stopped while starting the pipeline; check the CI system before asking again"
)


class Runs:
    """Starts pipelines for approved tickets; `followers` follows them."""

    def __init__(self, deps: ApprovalDeps, *, providers: Mapping[str, PipelineProvider]) -> None:
        self._deps = deps
        self._providers = providers
        self.followers = Followers(deps, providers=providers)
        self.owner = self.followers.owner
        self._starting: set[str] = set()

    def provider_for(self, model: str) -> PipelineProvider:
        """The provider that runs `model`'s pipeline, or a clear error naming what is missing."""
        target = self._deps.options.target(model)
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
        return replace(ticket, follower=self.owner, lease_until=self._deps.lease_until)

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
        tickets, clock = self._deps.tickets, self._deps.clock
        if ticket.id in self._starting:  # still waiting for the provider: keep the lease
            lease = self._deps.lease_until
            await tickets.change(ticket.id, lambda t: replace(t, lease_until=lease), quiet=True)
            return False
        if ticket.lease_until > clock():
            return False
        note = _INTERRUPTED.get(ticket.request.action, _INTERRUPTED_START)

        def failed(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED or t.lease_until > clock():
                return None
            return replace(t, request=mark_failed(t.request), error=note, follower=None)

        return await tickets.change(ticket.id, failed) is not None

    async def start(self, ticket: Ticket) -> Ticket:
        """Start the approved ticket's pipeline; the saved ticket (started, or failed)."""
        r = ticket.request
        target = self._deps.options.target(r.model)
        with self.starting(ticket.id):
            try:
                provider = self.provider_for(r.model)
                run = await provider.start(target=target, request=_pipeline_request(ticket))
            except PipelineError as e:
                return await self._start_failed(ticket, target.provider, e)
        return await self._started(ticket, provider.name, run)

    async def _started(self, ticket: Ticket, provider: str, run: PipelineRun) -> Ticket:
        info = RunInfo.of(provider, run)
        lease = self._deps.lease_until

        def started(t: Ticket) -> Ticket | None:
            if t.run is not None:
                return None
            # FAILED here means a sweeper gave the start up for lost; the run exists, so say so.
            request = replace(t.request, state=ApprovalState.STARTED)
            return replace(
                t, request=request, run=info, error=None, follower=self.owner, lease_until=lease
            )

        saved = await self._deps.tickets.change(ticket.id, started, reply=with_status_reply)
        detail = f"{ticket.request.action} {provider} run {run.id} {run.url}"
        await self._deps.pipeline_event(
            ticket,
            provider=provider,
            step="start",
            outcome="started",
            detail=detail,
            counted="started",
        )
        if saved is None:  # the store lost the ticket: say what we know, follow nothing
            log.error("ticket_vanished_after_start", ticket=ticket.id, run_id=run.id)
            return replace(ticket, request=mark_started(ticket.request), run=info)
        self.followers.follow(saved)
        return saved

    async def _start_failed(self, ticket: Ticket, provider: str, error: PipelineError) -> Ticket:
        def failed(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED:
                return None
            return replace(t, request=mark_failed(t.request), error=error.message)

        saved = await self._deps.tickets.change(ticket.id, failed)
        await self._deps.pipeline_event(
            ticket,
            provider=provider,
            step="start",
            outcome="failed",
            detail=error.message,
            counted="start_failed",
        )
        return saved or replace(ticket, request=mark_failed(ticket.request), error=error.message)

    # --- following, delegated -----------------------------------------------------------------

    @property
    def following(self) -> frozenset[str]:
        """Ids of the tickets this process is following now."""
        return self.followers.following

    async def keep(self, ticket: Ticket) -> None:
        """Sweeper step for a started ticket (`Followers.keep`)."""
        await self.followers.keep(ticket)

    async def close(self) -> None:
        """Stop following and release our leases (`Followers.close`)."""
        await self.followers.close()


def _pipeline_request(ticket: Ticket) -> PipelineRequest:
    r = ticket.request
    return PipelineRequest(
        action=r.action,
        model=r.model,
        ref=ticket.ref,
        variables=r.variables,
        environment=r.environment,
        version=r.version,
        rollback_to=ticket.rollback_to,
    )
