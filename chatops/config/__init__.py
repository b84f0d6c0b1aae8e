"""The YAML config file (docs/configuration.md), checked by pydantic; unknown keys are errors.

`sections` holds the models from `AppConfig` down, `pipelines` a model's pipeline section,
`durations` the `4h`-style values, `loading` reading and validating a file (with `hints` for
friendlier errors).
"""

from chatops.config.durations import DURATION, parse_duration
from chatops.config.loading import ConfigError, load_config, parse_config
from chatops.config.pipelines import GitHubPipeline, GitLabPipeline
from chatops.config.sections import AppConfig, policy_of

__all__ = [
    "DURATION",
    "AppConfig",
    "ConfigError",
    "GitHubPipeline",
    "GitLabPipeline",
    "load_config",
    "parse_config",
    "parse_duration",
    "policy_of",
]
