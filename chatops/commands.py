"""The commands beside `serve`: check-config, config-schema, doctor and demo."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from chatops.config import AppConfig, ConfigError, load_config, policy_of
from chatops.demo import run_demo
from chatops.doctor import report, run_doctor
from chatops.logs import configure_logging
from chatops.schema import config_json_schema, write_chart_schema
from chatops.serve import environment_problems, print_problems
from chatops.settings import Settings, secret_value


def demo_command(settings: Settings, url: str) -> int:
    """`chatops demo`: the webhook token and drift secret come from the same environment."""
    if not url.startswith(("http://", "https://")):
        print(f"demo: --url must be an http(s) URL, not {url[:80]!r}", file=sys.stderr)
        return 2
    token = secret_value(settings.chatops_webhook_token)
    drift_secret = secret_value(settings.chatops_drift_secret)
    return asyncio.run(run_demo(url, token=token, drift_secret=drift_secret))


def check_config(
    path: Path | None, settings: Settings, *, file_only: bool = False, socket_mode: bool = False
) -> int:
    """Exit 0 with a summary, or 1 with every problem (the file's, then the environment's)."""
    path = path or settings.chatops_config
    try:
        config = load_config(path)
    except ConfigError as e:
        env = [] if file_only else environment_problems(settings, None, socket_mode)
        print_problems(e.problems + env)
        return 1
    problems = [] if file_only else environment_problems(settings, config, socket_mode)
    if problems:
        print_problems(problems)
        return 1
    print(_summary(path, config))
    for warning in _policy_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _policy_warnings(config: AppConfig) -> list[str]:
    """No policy is open to all; a policy's gaps are refused: both worth saying out loud."""
    policy = policy_of(config)
    if not policy.configured:
        return ["no `policy` section: anyone may retrain, deploy and roll back, no approval needed"]
    environments = {env for model in config.models.values() for env in model.environments}
    refused = policy.uncovered(environments)
    return [f"policy has no entry for {', '.join(refused)}: refused"] if refused else []


def _summary(path: Path | None, config: AppConfig) -> str:
    where = path or "built-in defaults (no FILE given, CHATOPS_CONFIG not set)"
    lines = [f"{where}: OK", f"  default channel: {config.slack.default_channel}"]
    for name, model in sorted(config.models.items()):
        pipeline = model.pipeline.provider if model.pipeline else "no pipeline"
        envs = ", ".join(model.environments) or "no environments"
        lines.append(f"  model {name}: {pipeline}; {envs}; channel {config.channel_for(name)}")
    lines.append(f"  dedup window: {config.dedup.window:g}s")
    return "\n".join(lines)


def doctor(settings: Settings, config_path: Path | None) -> int:
    """Live preflight: one line per check; 1 when any check fails."""
    configure_logging(fmt=settings.chatops_log_format, secrets=settings.secret_values())
    try:
        config = load_config(config_path or settings.chatops_config)
    except ConfigError as e:
        print_problems(e.problems)
        return 1
    checks = asyncio.run(run_doctor(settings, config))
    print(report(checks, settings.secret_values()))
    return 0 if all(check.ok for check in checks) else 1


def config_schema(chart: Path | None) -> int:
    """Print the config JSON Schema, or embed it into a chart's values.schema.json."""
    if chart is None:
        print(json.dumps(config_json_schema(), indent=2))
        return 0
    try:
        changed = write_chart_schema(chart)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{chart}: cannot update the config schema ({e})", file=sys.stderr)
        return 1
    print(f"{chart}: {'updated' if changed else 'already current'}", file=sys.stderr)
    return 0
