"""The service's Prometheus metrics (docs/operations.md), one registry per app, no globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase


@dataclass
class Metrics:
    """Every counter the gateway, the bot and the sender update."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set (the webhook hot path)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def __post_init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.webhooks_received = Counter(
            "chatops_webhooks_received_total",
            "Webhooks received, by source and outcome.",
            ["source", "outcome"],
            registry=r,
        )
        self.notifications_deduplicated = Counter(
            "chatops_notifications_deduplicated_total",
            "Webhook notifications that repeated an occurrence already handled.",
            ["source"],
            registry=r,
        )
        self.slack_requests = Counter(
            "chatops_slack_requests_total",
            "Slack Web API calls, by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "chatops_outbox_pending", "Slack messages waiting in the outbox.", registry=r
        )
        self.outbox_lag = Gauge(
            "chatops_outbox_oldest_age_seconds",
            "Age of the oldest pending outbox message (send lag).",
            registry=r,
        )
        self.send_lag = Histogram(
            "chatops_slack_send_lag_seconds",
            "Time from a message being queued to it reaching Slack.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.commands = Counter(
            "chatops_commands_total",
            "Slash commands and button actions, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.approvals = Counter(
            "chatops_approvals_total",
            "Approval decisions, by action and decision.",
            ["action", "decision"],
            registry=r,
        )
        self.pipelines = Counter(
            "chatops_pipelines_total",
            "Pipelines started and finished, by provider, action and outcome.",
            ["provider", "action", "outcome"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "chatops_webhook_duration_seconds",
            "Time to handle one webhook request.",
            ["source"],
            registry=r,
        )
        self.slack_refused = Counter(
            "chatops_slack_requests_refused_total",
            "Slack requests refused before dispatch, by reason (e.g. workspace_not_allowed).",
            ["reason"],
            registry=r,
        )
        self.errors = Counter(
            "chatops_errors_total",
            "Unexpected errors caught by the error handler, by where they happened.",
            ["where"],
            registry=r,
        )
