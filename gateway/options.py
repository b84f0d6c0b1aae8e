"""What the gateway answers (`Outcome`) and the configuration it needs (`GatewayOptions`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gateway import incidents
from slackio.metrics import Metrics


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    NO_DRIFT = "no_drift"
    IGNORED = "ignored"


def deduplicated(metrics: Metrics, source: str) -> Outcome:
    """A notification that repeats what was already handled: counted by source, not folded."""
    metrics.child(metrics.notifications_deduplicated, source).inc()
    return Outcome.DUPLICATE


@dataclass(frozen=True)
class GatewayOptions:
    """The few configuration values the gateway needs, built by the composition root.

    Buttons are drawn only when a click can work, and the gateway cannot know that itself:
    `pipeline_actions` maps a model to the pipeline actions (`rollback`, `retrain`) that can
    start for it (pipeline configured, its provider's token set, and for GitHub a workflow or
    dispatch event for that action); `pipeline_notes` says, per model with a pipeline, why
    Retrain cannot start; `silence` is whether the bot can reach Alertmanager (Silence button).
    """

    default_channel: str = "#ml-alerts"
    model_channels: Mapping[str, str] = field(default_factory=dict)
    pipeline_actions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    pipeline_notes: Mapping[str, str] = field(default_factory=dict)
    silence: bool = False
    grafana_silence: bool = False  # the bot can create silences in Grafana (Grafana alerts)
    rollback_environments: Mapping[str, str] = field(default_factory=dict)  # model: default env
    dedup_window: float = 4 * 3600
    max_alerts_per_incident: int = incidents.DEFAULT_LIMIT
    default_drift_model: str | None = None
    webhook_token: str | None = None
    drift_secret: str | None = None
    body_timeout: float = 10.0  # seconds to receive a whole webhook body (408 after)
    # post a group whose first notification here is already resolved (said so in the message)
    post_resolved_only_groups: bool = True
    # folds in progress past which a notification is parked and folded later (None: never)
    defer_after: int | None = 4

    def channel_for(self, model: str | None) -> str:
        return self.model_channels.get(model or "", self.default_channel)

    def models_that_can(self, action: str) -> frozenset[str]:
        """The models whose `action` pipeline can start (their message gets its button)."""
        return frozenset(m for m, can in self.pipeline_actions.items() if action in can)
