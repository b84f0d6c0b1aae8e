"""Reading the config file: YAML, then the models; every problem reported by its path."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.policy import PolicyError
from chatops.config.hints import did_you_mean, yaml_problem
from chatops.config.sections import AppConfig, policy_of


class ConfigError(Exception):
    """The config file is unreadable or invalid; `problems` lists each one by path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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
