"""The sections of the config file, from `AppConfig` down (docs/configuration.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bot.options import DriftQueries as BotDriftQueries
from bot.policy import ACTIONS, Policy
from chatops.config.base import Strict
from chatops.config.durations import parse_duration
from chatops.config.pipelines import Pipeline

TeamId = Annotated[str, Field(pattern=r"^T[A-Z0-9]{2,}$")]


class SlackConfig(Strict):
    default_channel: str = "#ml-alerts"
    # Workspaces served; requests from any other are refused. None: every installed workspace.
    team_ids: Annotated[list[TeamId], Field(min_length=1)] | None = None


class RegistryConfig(Strict):
    """Where a model's versions live in the model registry (MLflow) and how to compare them."""

    name: Annotated[str, Field(min_length=1)]
    champion_alias: Annotated[str, Field(min_length=1)] = "champion"
    metrics: dict[str, Literal["max", "min"]] = Field(default_factory=dict)
    deploy_on_promote: list[str] = Field(default_factory=list)


class ModelConfig(Strict):
    channel: str | None = None
    environments: list[str] = Field(default_factory=list)
    pipeline: Pipeline | None = None
    registry: RegistryConfig | None = None

    @model_validator(mode="after")
    def _promote_targets_known(self) -> ModelConfig:
        unknown = [
            e
            for e in (self.registry.deploy_on_promote if self.registry else [])
            if e not in self.environments
        ]
        if unknown:
            raise ValueError(
                f"registry.deploy_on_promote: {', '.join(unknown)} is not in environments"
            )
        return self


class RuleConfig(Strict):
    approvals: Annotated[int, Field(ge=0, le=10)] = 0
    requesters: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)


_BOT_QUERIES = BotDriftQueries()


# `drift.queries`: the bot's `DriftQueries` in YAML, with its defaults. (No docstring: it would
# become a description in the JSON schema embedded in the chart.)
class DriftQueries(Strict):
    score: str = _BOT_QUERIES.score
    p_value: str = _BOT_QUERIES.p_value
    events_24h: str = _BOT_QUERIES.events_24h


class DriftConfig(Strict):
    default_model: str | None = None
    queries: DriftQueries = Field(default_factory=DriftQueries)


class DedupConfig(Strict):
    window: float = 4 * 3600
    # alerts kept per group message (firing first, then newest); the rest are only counted
    max_alerts_per_incident: Annotated[int, Field(ge=10, le=20_000, strict=True)] = 500

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("window must be positive")
        return seconds


class GatewayConfig(Strict):
    # post a group whose first notification is already resolved (the message says so)
    post_resolved_only_groups: Annotated[bool, Field(strict=True)] = True


class ApprovalsConfig(Strict):
    expire_after: float = 24 * 3600

    @field_validator("expire_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        seconds = parse_duration(value)
        if seconds < 0:
            raise ValueError("expire_after must not be negative")
        return seconds


Action = Literal["retrain", "deploy", "rollback"]


class AppConfig(Strict):
    slack: SlackConfig = Field(default_factory=SlackConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    # action keys are checked (with a did-you-mean) by `policy_of`, with the environment keys
    policy: dict[str, dict[str, RuleConfig]] = Field(
        default_factory=dict,
        # the chart's schema refuses an unknown action at `helm install` too
        json_schema_extra={"propertyNames": {"enum": list(ACTIONS)}},
    )
    drift: DriftConfig = Field(default_factory=DriftConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)

    def channel_for(self, model: str | None) -> str:
        """The model's channel, else the default one."""
        configured = self.models.get(model) if model else None
        if configured is not None and configured.channel:
            return configured.channel
        return self.slack.default_channel


def policy_of(config: AppConfig) -> Policy:
    """The policy; no `policy` section at all is the open default. `PolicyError` if invalid."""
    if "policy" not in config.model_fields_set:
        return Policy()
    environments = {env for model in config.models.values() for env in model.environments}
    data = {a: {e: r.model_dump() for e, r in envs.items()} for a, envs in config.policy.items()}
    return Policy.from_mapping(data, environments=environments)
