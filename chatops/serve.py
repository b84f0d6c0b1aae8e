"""`chatops serve`: refuse to start on a config or environment problem, else run the app.

Exit codes: `EXIT_CONFIG` (2) when the config or environment is wrong, `EXIT_STARTUP` (1) when
starting failed (port taken, store unreachable); a problem is one line each, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import sys
from pathlib import Path

from aiohttp import web

from chatops.app import create_app
from chatops.config import AppConfig, ConfigError, load_config
from chatops.logs import configure_logging
from chatops.preflight import (
    bind_problem,
    config_problems,
    port_problem,
    store_problem,
    token_problems,
)
from chatops.settings import Settings, secret_value
from storage import StoreError

# `serve` exit codes: refused to start on a config/environment problem; failed while starting
EXIT_CONFIG = 2
EXIT_STARTUP = 1


def with_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings with the `serve` flags that override the environment applied."""
    if getattr(args, "show_blocks", False):
        return settings.model_copy(update={"chatops_show_blocks": True})
    return settings


def unauthenticated_bind(settings: Settings, host: str, allowed: bool) -> str | None:
    """Why serving webhooks without a token on `host` is refused (None: it is not)."""
    if allowed or secret_value(settings.chatops_webhook_token) or _loopback(host):
        return None
    return (
        f"refusing to accept unauthenticated webhooks on {host or 'every address'}: set "
        "CHATOPS_WEBHOOK_TOKEN, bind --host 127.0.0.1, or pass --allow-unauthenticated-webhooks"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or an empty host: maybe every address


def serve(
    settings: Settings,
    config_path: Path | None,
    *,
    host: str,
    port: int,
    socket_mode: bool = False,
) -> int:
    try:
        config = load_config(config_path or settings.chatops_config)
    except ConfigError as e:
        print_problems(e.problems + environment_problems(settings, None, socket_mode))
        return EXIT_CONFIG
    problems = environment_problems(settings, config, socket_mode)
    if problems:
        print_problems(problems)
        return EXIT_CONFIG
    failure = port_problem(host, port) or store_problem(settings.chatops_store_url)
    if failure:
        print(failure, file=sys.stderr)
        return EXIT_STARTUP
    configure_logging(fmt=settings.chatops_log_format, secrets=settings.secret_values())
    app = create_app(settings, config, socket_mode=socket_mode)
    return run_server(app, host=host, port=port)


def run_server(app: web.Application, *, host: str, port: int) -> int:
    """Serve until stopped; a start-up failure is one line on stderr, not a traceback."""
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            print=lambda text: print(text, file=sys.stderr),
            access_log=None,
            shutdown_timeout=10.0,
        )
    except StoreError as e:
        print(f"CHATOPS_STORE_URL: cannot open the store ({e})", file=sys.stderr)
        return EXIT_STARTUP
    except OSError as e:  # the port was taken between the check and the bind
        if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        print(bind_problem(host, port, e), file=sys.stderr)
        return EXIT_STARTUP
    return 0


def environment_problems(
    settings: Settings, config: AppConfig | None, socket_mode: bool
) -> list[str]:
    """What the environment lacks or gets wrong; with `config`, also what the config needs."""
    problems = settings.problems(socket_mode=socket_mode)
    problems += token_problems(settings, socket_mode=socket_mode)
    if config is not None:
        problems += config_problems(config, settings)
    return problems


def print_problems(problems: list[str]) -> None:
    print(f"{len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
