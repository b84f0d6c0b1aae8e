"""The service's Prometheus metrics (docs/operations.md), one registry per app, no globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase


@dataclass(frozen=True)
class _Definition:
    """One metric: the `Metrics` attribute that holds it, its kind, name, help and labels."""

    attribute: str
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None

    def create(self, registry: CollectorRegistry) -> MetricWrapperBase:
        if self.buckets is not None:
            return Histogram(
                self.name, self.help, self.labels, registry=registry, buckets=self.buckets
            )
        return self.kind(self.name, self.help, self.labels, registry=registry)


# In registration order (the order /metrics shows them in).
_DEFINITIONS: Final = (
    _Definition(
        "webhooks_received",
        Counter,
        "chatops_webhooks_received_total",
        "Webhooks received, by source and outcome.",
        ("source", "outcome"),
    ),
    _Definition(
        "notifications_deduplicated",
        Counter,
        "chatops_notifications_deduplicated_total",
        "Webhook notifications that repeated an occurrence already handled.",
        ("source",),
    ),
    _Definition(
        "notifications_deferred",
        Counter,
        "chatops_notifications_deferred_total",
        "Notifications answered once parked, folded later with their group's next ones.",
        ("source",),
    ),
    _Definition(
        "notifications_waiting",
        Gauge,
        "chatops_notifications_waiting",
        "Deferred notifications waiting for their fold.",
    ),
    _Definition(
        "slack_requests",
        Counter,
        "chatops_slack_requests_total",
        "Slack Web API calls, by method and outcome.",
        ("method", "outcome"),
    ),
    _Definition(
        "outbox_pending", Gauge, "chatops_outbox_pending", "Slack messages waiting in the outbox."
    ),
    _Definition(
        "outbox_lag",
        Gauge,
        "chatops_outbox_oldest_age_seconds",
        "Age of the oldest pending outbox message (send lag).",
    ),
    _Definition(
        "send_lag",
        Histogram,
        "chatops_slack_send_lag_seconds",
        "Time from a message being queued to it reaching Slack.",
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    ),
    _Definition(
        "commands",
        Counter,
        "chatops_commands_total",
        "Slash commands and button actions, by command and outcome.",
        ("command", "outcome"),
    ),
    _Definition(
        "approvals",
        Counter,
        "chatops_approvals_total",
        "Approval decisions, by action and decision.",
        ("action", "decision"),
    ),
    _Definition(
        "pipelines",
        Counter,
        "chatops_pipelines_total",
        "Pipelines started and finished, by provider, action and outcome.",
        ("provider", "action", "outcome"),
    ),
    _Definition(
        "webhook_duration",
        Histogram,
        "chatops_webhook_duration_seconds",
        "Time to handle one webhook request.",
        ("source",),
    ),
    _Definition(
        "slack_refused",
        Counter,
        "chatops_slack_requests_refused_total",
        "Slack requests refused before dispatch, by reason (e.g. workspace_not_allowed).",
        ("reason",),
    ),
    _Definition(
        "errors",
        Counter,
        "chatops_errors_total",
        "Unexpected errors caught by the error handler, by where they happened.",
        ("where",),
    ),
)


@dataclass
class Metrics:
    """Every counter the gateway, the bot and the sender update (defined in `_DEFINITIONS`)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    webhooks_received: Counter = field(init=False)
    notifications_deduplicated: Counter = field(init=False)
    notifications_deferred: Counter = field(init=False)
    notifications_waiting: Gauge = field(init=False)
    slack_requests: Counter = field(init=False)
    outbox_pending: Gauge = field(init=False)
    outbox_lag: Gauge = field(init=False)
    send_lag: Histogram = field(init=False)
    commands: Counter = field(init=False)
    approvals: Counter = field(init=False)
    pipelines: Counter = field(init=False)
    webhook_duration: Histogram = field(init=False)
    slack_refused: Counter = field(init=False)
    errors: Counter = field(init=False)

    def __post_init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        for definition in _DEFINITIONS:
            setattr(self, definition.attribute, definition.create(self.registry))

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set (the webhook hot path)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found
