"""The bot's slice of the configuration, as plain frozen values built by the composition root.

The bot never imports the config package: `chatops.bot_config` turns the validated YAML into a
`BotOptions`, and everything in `bot/` reads only this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.ci.provider import PipelineTarget
from bot.errors import NoPipelineConfigured, UnknownEnvironment, UnknownModel
from bot.policy import Policy

PRODUCTION_NAMES = ("production", "prod", "prd", "live")
ENVIRONMENT_LABELS = ("environment", "env")


@dataclass(frozen=True)
class ModelOptions:
    """One configured model: where its messages go, its environments, its pipeline."""

    name: str
    channel: str
    environments: tuple[str, ...] = ()
    target: PipelineTarget | None = None


@dataclass(frozen=True)
class DriftQueries:
    """PromQL for `/drift status`; `{model}` is replaced by the model name."""

    score: str = 'model_drift_score{model="{model}"}'
    p_value: str = 'model_drift_p_value{model="{model}"}'
    events_24h: str = 'sum(increase(model_drift_events_total{model="{model}"}[24h]))'


@dataclass(frozen=True)
class Tuning:
    """Timings: production defaults; tests shorten them."""

    poll_initial: float = 5.0
    poll_max: float = 60.0
    follow_deadline: float = 6 * 3600.0
    sweep_interval: float = 30.0
    lease_seconds: float = 120.0
    drain_timeout: float = 10.0
    http_timeout: float = 10.0


@dataclass(frozen=True)
class BotOptions:
    """Everything the bot needs to know about models, policy and drift queries."""

    default_channel: str = "#ml-alerts"
    models: Mapping[str, ModelOptions] = field(default_factory=dict, hash=False)
    policy: Policy = field(default_factory=Policy)
    queries: DriftQueries = field(default_factory=DriftQueries)
    default_drift_model: str | None = None
    expire_after: float = 24 * 3600.0
    tuning: Tuning = field(default_factory=Tuning)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))

    def model(self, name: str) -> ModelOptions:
        """The configured model; `UnknownModel` naming the ones that exist.

        With no models configured at all (zero-config start), every model is one without a
        pipeline: `NoPipelineConfigured`, which is what the user needs to hear.
        """
        found = self.models.get(name)
        if found is None:
            if not self.models:
                raise NoPipelineConfigured(name)
            raise UnknownModel(name, self.models)
        return found

    def target(self, name: str) -> PipelineTarget:
        """The model's pipeline, or `NoPipelineConfigured`."""
        target = self.model(name).target
        if target is None:
            raise NoPipelineConfigured(name)
        return target

    def environment(self, model: str, environment: str) -> str:
        """`environment` if the model lists it, else `UnknownEnvironment`."""
        known = self.model(model).environments
        if environment not in known:
            raise UnknownEnvironment(model, environment, known)
        return environment

    def channel_for(self, model: str | None) -> str:
        """The model's channel, else the default one."""
        found = self.models.get(model) if model else None
        return found.channel if found is not None else self.default_channel

    def drift_models(self, model: str | None) -> list[str]:
        """The models `/drift status [model]` reports on."""
        if model is not None:
            if self.models:
                self.model(model)
            return [model]
        names = sorted(self.models)
        if not names and self.default_drift_model:
            names = [self.default_drift_model]
        return names


def rollback_environment(model: ModelOptions, labels: Mapping[str, str]) -> str | None:
    """The environment a Rollback button on an alert acts on, or None when it is unclear.

    An `environment`/`env` label naming one of the model's environments wins; else the first
    production-like environment (production, prod, prd, live); else the only environment.
    """
    for key in ENVIRONMENT_LABELS:
        value = labels.get(key)
        if value and value in model.environments:
            return value
    for environment in model.environments:
        if environment.lower() in PRODUCTION_NAMES:
            return environment
    if len(model.environments) == 1:
        return model.environments[0]
    return None
