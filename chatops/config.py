"""The YAML config file (docs/configuration.md), checked by pydantic; unknown keys are errors."""

from __future__ import annotations

import fnmatch
import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.ci.provider import RESERVED_PREFIXES, RESERVED_VARIABLES
from bot.options import DriftQueries as BotDriftQueries
from bot.policy import ACTIONS, Policy, PolicyError
from chatops.config_hints import did_you_mean, yaml_problem


class ConfigError(Exception):
    """The config file is unreadable or invalid; `problems` lists each one by path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TeamId = Annotated[str, Field(pattern=r"^T[A-Z0-9]{2,}$")]


class SlackConfig(_Strict):
    default_channel: str = "#ml-alerts"
    # Workspaces served; requests from any other are refused. None: every installed workspace.
    team_ids: Annotated[list[TeamId], Field(min_length=1)] | None = None


_VARIABLE_GLOB = re.compile(r"^[A-Z0-9_*?]+$")
_REF_GLOB = re.compile(r"^[A-Za-z0-9._/+*?\[\]-]{1,255}$")


def _may_match_prefix(pattern: str, prefix: str) -> bool:
    """True if the glob (`*`, `?` only) matches some name starting with `prefix`."""
    head = pattern.split("*", 1)[0]
    if "*" not in pattern and len(pattern) < len(prefix):
        return False
    return all(p in ("?", c) for p, c in zip(head, prefix, strict=False))


def _reserved_match(pattern: str) -> str | None:
    """The reserved name or prefix that the allowed_variables entry could let through."""
    for name in RESERVED_VARIABLES:
        if fnmatch.fnmatchcase(name, pattern):
            return name
    for prefix in RESERVED_PREFIXES:
        if _may_match_prefix(pattern, prefix):
            return prefix + "*"
    return None


class _Pipeline(_Strict):
    """What every provider's pipeline has: its ref and variables, and what Slack may change."""

    ref: str = "main"
    variables: dict[str, str] = Field(default_factory=dict)
    allowed_variables: list[str] = Field(default_factory=list)
    allowed_refs: list[str] = Field(default_factory=list)

    @field_validator("allowed_variables")
    @classmethod
    def _variables(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not _VARIABLE_GLOB.match(pattern):
                raise ValueError(
                    f"{pattern[:60]!r} is not a variable name or glob "
                    "(upper-case A-Z, 0-9, _, with * and ?)"
                )
            reserved = _reserved_match(pattern)
            if reserved is not None:
                raise ValueError(
                    f"{pattern!r} would allow {reserved}, which is reserved for the bot or the "
                    "CI system and is never accepted from Slack"
                )
        return patterns

    @field_validator("allowed_refs")
    @classmethod
    def _refs(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not _REF_GLOB.match(pattern):
                raise ValueError(f"{pattern[:60]!r} is not a branch/tag name or glob")
        return patterns

    @model_validator(mode="after")
    def _not_configured(self) -> _Pipeline:
        fixed = sorted(set(self.allowed_variables) & set(self.variables))
        if fixed:
            raise ValueError(
                f"allowed_variables lists {', '.join(fixed)}, which `variables` sets: "
                "configured variables cannot be overridden from Slack"
            )
        return self


class GitLabPipeline(_Pipeline):
    provider: Literal["gitlab"]
    project: str | int


class GitHubPipeline(_Pipeline):
    provider: Literal["github"]
    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    workflows: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)
    dispatch: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something_to_run(self) -> GitHubPipeline:
        if not self.workflows and not self.dispatch:
            raise ValueError("a github pipeline needs `workflows` or `dispatch`")
        return self


Pipeline = Annotated[GitLabPipeline | GitHubPipeline, Field(discriminator="provider")]


class RegistryConfig(_Strict):
    """Where a model's versions live in the model registry (MLflow) and how to compare them."""

    name: Annotated[str, Field(min_length=1)]
    champion_alias: Annotated[str, Field(min_length=1)] = "champion"
    metrics: dict[str, Literal["max", "min"]] = Field(default_factory=dict)
    deploy_on_promote: list[str] = Field(default_factory=list)


class ModelConfig(_Strict):
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


class RuleConfig(_Strict):
    approvals: Annotated[int, Field(ge=0, le=10)] = 0
    requesters: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)


_BOT_QUERIES = BotDriftQueries()


# `drift.queries`: the bot's `DriftQueries` in YAML, with its defaults. (No docstring: it would
# become a description in the JSON schema embedded in the chart.)
class DriftQueries(_Strict):
    score: str = _BOT_QUERIES.score
    p_value: str = _BOT_QUERIES.p_value
    events_24h: str = _BOT_QUERIES.events_24h


class DriftConfig(_Strict):
    default_model: str | None = None
    queries: DriftQueries = Field(default_factory=DriftQueries)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """'4h' -> 14400.0; plain numbers are seconds.

    Anything else (a list, a YAML date, a bool, NaN, a number too big for a float) raises
    ValueError, so pydantic reports it by path instead of the config load crashing.
    """
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value[:40]!r} (use e.g. 30s, 5m, 4h, 1d)")
        number, unit = match.group(1), _UNIT_SECONDS[match.group(2)]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number, unit = value, 1
    else:
        raise ValueError(f"not a duration: {str(value)[:40]!r} (use e.g. 30s, 5m, 4h, 1d)")
    try:
        seconds = float(number) * unit
    except OverflowError as e:
        raise ValueError("duration too large") from e
    if not math.isfinite(seconds):
        raise ValueError("duration must be a finite number of seconds")
    return seconds


class DedupConfig(_Strict):
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


class GatewayConfig(_Strict):
    # post a group whose first notification is already resolved (the message says so)
    post_resolved_only_groups: Annotated[bool, Field(strict=True)] = True


class ApprovalsConfig(_Strict):
    expire_after: float = 24 * 3600

    @field_validator("expire_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        seconds = parse_duration(value)
        if seconds < 0:
            raise ValueError("expire_after must not be negative")
        return seconds


Action = Literal["retrain", "deploy", "rollback"]


class AppConfig(_Strict):
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


def load_config(path: Path | None) -> AppConfig:
    """Read and validate the config file; no file means built-in defaults."""
    if path is None:
        return AppConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError([f"{path}: cannot read ({e.strerror})"]) from e
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        # PyYAML raises plain ValueError for impossible dates (2026-13-01) and bad hex (0x_)
        raise ConfigError([yaml_problem(path, e)]) from e
    return parse_config(raw or {})


def parse_config(raw: object) -> AppConfig:
    """Validate already-parsed YAML; every problem is reported with its path."""
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err) for err in e.errors()]) from e
    try:
        policy_of(config)
    except PolicyError as e:
        raise ConfigError(e.problems) from e
    return config


def _describe(err: ErrorDetails) -> str:
    parts: list[str] = []
    for part in err["loc"]:
        # drop the discriminator tag pydantic puts after `pipeline` (gitlab/github)
        if parts and parts[-1] == "pipeline" and part in ("gitlab", "github"):
            continue
        parts.append(str(part))
    message = err["msg"]
    if err["type"] == "missing":
        message = "field required"
    elif err["type"] == "extra_forbidden":
        message = "unknown key"
        suggestion = did_you_mean(AppConfig, err["loc"])
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
    return f"{'.'.join(parts) or '(top level)'}: {message}"
