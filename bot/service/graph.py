"""The bot's object graph: what the composition root gives (`BotDeps`), what is built from it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from bot.alerts.alertmanager import Alertmanager, SilenceTarget
from bot.alerts.buttons import AlertButtons
from bot.approvals.decisions import Decisions
from bot.approvals.deps import ApprovalDeps
from bot.approvals.runs import Runs
from bot.approvals.store import TicketStore
from bot.approvals.workflow import Requests
from bot.audit.trail import Auditor
from bot.audit.view import AuditView
from bot.buttons import MessageActions
from bot.ci.provider import PipelineProvider
from bot.deployments.ledger import Ledger
from bot.drift.prometheus import MetricsSource
from bot.options import BotOptions
from bot.releases.overview import DriftStates, ModelsView
from bot.releases.promote import PromoteTarget, PromotionCards, Promotions
from registry import ModelRegistry
from slackio.metrics import Metrics
from storage import Store


@dataclass
class BotDeps:
    """What the composition root gives the bot: store, config slice, clients."""

    store: Store
    options: BotOptions
    metrics: Metrics
    session: aiohttp.ClientSession
    wake_sender: Callable[[], None]
    providers: Mapping[str, PipelineProvider] = field(default_factory=dict)
    prometheus: MetricsSource | None = None
    prometheus_url: str | None = None
    alertmanager: Alertmanager | None = None
    grafana: SilenceTarget | None = None  # silences for alerts Grafana sent
    message_actions: MessageActions | None = None
    registry: ModelRegistry | None = None
    promotion_cards: PromotionCards | None = None
    promote_targets: Mapping[str, PromoteTarget] = field(default_factory=dict)
    drift_states: DriftStates | None = None
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class UseCases:
    """Every use case, built once by `build`; the service's dispatchers and sweeper share them."""

    approvals: ApprovalDeps
    runs: Runs
    requests: Requests
    decisions: Decisions
    audit: AuditView
    alert_buttons: AlertButtons
    promotions: Promotions
    models: ModelsView


def build(deps: BotDeps) -> UseCases:
    """The approvals core first, then what stands on it."""
    approvals = ApprovalDeps(
        tickets=TicketStore(
            deps.store, deps.options, wake_sender=deps.wake_sender, clock=deps.clock
        ),
        options=deps.options,
        auditor=Auditor(deps.store, clock=deps.clock),
        metrics=deps.metrics,
        ledger=Ledger(deps.store),
        clock=deps.clock,
    )
    runs = Runs(approvals, providers=deps.providers)
    requests = Requests(approvals, runs=runs)
    return UseCases(
        approvals=approvals,
        runs=runs,
        requests=requests,
        decisions=Decisions(approvals, runs=runs, start=requests.start),
        audit=AuditView(approvals.auditor, deps.options),
        alert_buttons=_alert_buttons(deps, approvals, requests),
        promotions=_promotions(deps, approvals, runs, requests),
        models=ModelsView(
            options=deps.options,
            ledger=approvals.ledger,
            provider_for=runs.provider_for,
            targets=deps.promote_targets,
            registry=deps.registry,
            drift=deps.drift_states,
        ),
    )


def _alert_buttons(deps: BotDeps, approvals: ApprovalDeps, requests: Requests) -> AlertButtons:
    return AlertButtons(
        store=deps.store,
        requests=requests,
        options=deps.options,
        auditor=approvals.auditor,
        actions=deps.message_actions,
        alertmanager=deps.alertmanager,
        grafana=deps.grafana,
        clock=deps.clock,
    )


def _promotions(
    deps: BotDeps, approvals: ApprovalDeps, runs: Runs, requests: Requests
) -> Promotions:
    return Promotions(
        store=deps.store,
        requests=requests,
        tickets=approvals.tickets,
        runs=runs,
        options=deps.options,
        auditor=approvals.auditor,
        targets=deps.promote_targets,
        registry=deps.registry,
        cards=deps.promotion_cards,
        actions=deps.message_actions,
        clock=deps.clock,
    )
