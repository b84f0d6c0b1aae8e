"""Checks run before `serve` starts and by `check-config`: what would otherwise pass and fail later.

Each check returns problems as `WHERE: what is wrong` lines, WHERE being a config path
(`drift.default_model`) or an environment variable as written (`GITLAB_TOKEN`).
"""

from __future__ import annotations

import difflib
import errno
import os
import socket
import tempfile
from pathlib import Path
from typing import get_args

from pydantic import SecretStr, ValidationError

from chatops.config import AppConfig
from chatops.settings import Settings, secret_value
from storage.sqlite import sqlite_path

PROVIDER_TOKENS = {"gitlab": "GITLAB_TOKEN", "github": "GITHUB_TOKEN"}
# (field, variable, accepted prefixes, what it should be); `xoxe.xoxb-` is a rotating bot token
_TOKEN_PREFIXES = (
    ("slack_bot_token", "SLACK_BOT_TOKEN", ("xoxb-", "xoxe.xoxb-"), "a bot token"),
    ("slack_app_token", "SLACK_APP_TOKEN", ("xapp-",), "an app-level token"),
)


def environment_errors(error: ValidationError) -> list[str]:
    """Settings() validation errors as `CHATOPS_SLACK_PACING: ...`, the variable as written.

    The value is shown for plain settings (it is what the user typed); never for secrets.
    """
    found = []
    for err in error.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = field.upper() or "environment"
        message = err["msg"]
        info = Settings.model_fields.get(field)
        secret = info is None or SecretStr in (info.annotation, *get_args(info.annotation))
        if not secret and "input" in err:
            shown = str(err["input"])
            message += f" (got {shown[:40]!r})"
        found.append(f"{name}: {message}")
    return found


def config_problems(config: AppConfig, settings: Settings) -> list[str]:
    """The config and the environment together: references and the tokens they need."""
    found = []
    default = config.drift.default_model
    if default is not None and default not in config.models:
        found.append(f"drift.default_model: {default!r} is not a model{_hint(default, config)}")
    users: dict[str, list[str]] = {}
    for name, model in sorted(config.models.items()):
        if model.pipeline is not None:
            users.setdefault(model.pipeline.provider, []).append(name)
    for provider, models in sorted(users.items()):
        variable = PROVIDER_TOKENS[provider]
        if secret_value(getattr(settings, variable.lower())) is None:
            found.append(
                f"{variable}: not set, but {provider} runs the pipelines of {', '.join(models)}"
            )
    return found + _registry_problems(config, settings)


def _registry_problems(config: AppConfig, settings: Settings) -> list[str]:
    """A model with a `registry` section needs the registry and the webhook's secret."""
    names = sorted(n for n, m in config.models.items() if m.registry is not None)
    if not names:
        return []
    models = f"{', '.join(names)} {'names' if len(names) == 1 else 'name'}"
    found = []
    if not settings.mlflow_tracking_uri:
        found.append(f"MLFLOW_TRACKING_URI: not set, but {models} a model registry")
    if secret_value(settings.chatops_mlflow_webhook_secret) is None:
        found.append(
            f"CHATOPS_MLFLOW_WEBHOOK_SECRET: not set, but {models} a model registry "
            "(MLflow's webhook deliveries are refused unsigned)"
        )
    return found


def token_problems(settings: Settings, *, socket_mode: bool = False) -> list[str]:
    """Slack tokens of the wrong kind (a user token as the bot token, ...)."""
    found = []
    for field, variable, prefixes, kind in _TOKEN_PREFIXES:
        value = secret_value(getattr(settings, field))
        if value is not None and not value.startswith(prefixes):
            found.append(f"{variable}: not {kind} (it should start with {prefixes[0]}...)")
    if socket_mode and secret_value(settings.slack_bot_token) is None:
        found.append("SLACK_BOT_TOKEN: required for --socket-mode")
    return found


def store_problem(url: str) -> str | None:
    """Why the SQLite store named by CHATOPS_STORE_URL cannot be opened for writing, if so."""
    if not url.startswith("sqlite:///"):
        return None  # redis: reachability is checked when it is opened
    try:
        path = Path(sqlite_path(url))
    except ValueError as e:
        return f"CHATOPS_STORE_URL: {e}"
    if str(path) == ":memory:":
        return None
    parent = path.parent
    if not parent.exists():
        if is_inside_cwd(parent):
            return None  # created on open, as `./data/chatops.db` expects
        return f"CHATOPS_STORE_URL: directory {parent} does not exist (create it first)"
    if not parent.is_dir():
        return f"CHATOPS_STORE_URL: {parent} is not a directory"
    try:
        if path.exists():
            with path.open("r+b"):
                pass
    except OSError as e:
        return f"CHATOPS_STORE_URL: cannot write {path} ({e.strerror})"
    try:  # SQLite also writes `-wal` and `-shm` files beside the database
        with tempfile.TemporaryFile(dir=parent, prefix=".chatops-probe-"):
            pass
    except OSError as e:
        return f"CHATOPS_STORE_URL: cannot create files in {parent} ({e.strerror})"
    return None


def is_inside_cwd(path: Path) -> bool:
    return path.resolve().is_relative_to(Path.cwd().resolve())


def port_problem(host: str, port: int) -> str | None:
    """Whether `host:port` can be listened on (as aiohttp would, with SO_REUSEADDR)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        return f"--host {host}: cannot resolve ({e.strerror})"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as e:
                return bind_problem(host, port, e)
    return None


def bind_problem(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is in use; another chatops? use --port"
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"cannot listen on {host}:{port} ({reason})"


def _hint(name: str, config: AppConfig) -> str:
    models = sorted(config.models)
    if not models:
        return " (no models are configured)"
    close = difflib.get_close_matches(name, models, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (models: {', '.join(models)})"
