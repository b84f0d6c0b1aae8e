"""The YAML config file (docs/configuration.md), validated with pydantic; unknown keys are errors."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails


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


class GitLabPipeline(_Strict):
    provider: Literal["gitlab"]
    project: str | int
    ref: str = "main"
    variables: dict[str, str] = Field(default_factory=dict)


class GitHubPipeline(_Strict):
    provider: Literal["github"]
    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    ref: str = "main"
    variables: dict[str, str] = Field(default_factory=dict)
    workflows: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)
    dispatch: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something_to_run(self) -> GitHubPipeline:
        if not self.workflows and not self.dispatch:
            raise ValueError("a github pipeline needs `workflows` or `dispatch`")
        return self


Pipeline = Annotated[GitLabPipeline | GitHubPipeline, Field(discriminator="provider")]


class ModelConfig(_Strict):
    channel: str | None = None
    environments: list[str] = Field(default_factory=list)
    pipeline: Pipeline | None = None


class RuleConfig(_Strict):
    approvals: Annotated[int, Field(ge=0, le=10)] = 0
    requesters: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)


class DriftQueries(_Strict):
    score: str = 'model_drift_score{model="{model}"}'
    p_value: str = 'model_drift_p_value{model="{model}"}'
    events_24h: str = 'sum(increase(model_drift_events_total{model="{model}"}[24h]))'


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

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("window must be positive")
        return seconds


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
    policy: dict[Action, dict[str, RuleConfig]] = Field(default_factory=dict)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)

    def channel_for(self, model: str | None) -> str:
        """The model's channel, else the default one."""
        configured = self.models.get(model) if model else None
        if configured is not None and configured.channel:
            return configured.channel
        return self.slack.default_channel


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
        raise ConfigError([f"{path}: not valid YAML ({e})"]) from e
    return parse_config(raw or {})


def parse_config(raw: object) -> AppConfig:
    """Validate already-parsed YAML; every problem is reported with its path."""
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err) for err in e.errors()]) from e


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
    return f"{'.'.join(parts) or '(top level)'}: {message}"
