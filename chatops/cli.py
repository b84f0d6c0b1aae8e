"""The `chatops` command: serve, check-config, manifest."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from bot.manifest import manifest_yaml
from chatops.app import create_app
from chatops.bot_wiring import SOCKET_MODE
from chatops.config import AppConfig, ConfigError, load_config
from chatops.logs import configure_logging
from chatops.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatops",
        description="Pipeline ChatOps for ML teams: alerts and drift to Slack, Slack to CI.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway and bot (one aiohttp server)")
    serve.add_argument("--config", type=Path, help="YAML config file (or CHATOPS_CONFIG)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; a container needs --host 0.0.0.0 and a token)",
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument(
        "--socket-mode",
        action="store_true",
        help="also connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)",
    )
    serve.add_argument(
        "--allow-unauthenticated-webhooks",
        action="store_true",
        help="accept webhooks without CHATOPS_WEBHOOK_TOKEN on a non-loopback address (unsafe)",
    )
    check = sub.add_parser("check-config", help="validate a config file and the environment")
    check.add_argument("file", type=Path)
    # --- manifest (bot side) ---
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--public-url", help="external base URL (or CHATOPS_PUBLIC_URL)")
    manifest.add_argument(
        "--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as e:
        for err in e.errors():
            print(f"environment: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        return check_config(args.file, settings)
    if args.command == "manifest":
        public_url = args.public_url or settings.chatops_public_url
        print(manifest_yaml(public_url=public_url, socket_mode=args.socket_mode), end="")
        return 0
    refusal = unauthenticated_bind(settings, args.host, args.allow_unauthenticated_webhooks)
    if refusal:
        print(f"chatops serve: {refusal}", file=sys.stderr)
        return 2
    return serve(
        settings, args.config, host=args.host, port=args.port, socket_mode=args.socket_mode
    )


def unauthenticated_bind(settings: Settings, host: str, allowed: bool) -> str | None:
    """Why serving webhooks without a token on `host` is refused (None: it is not)."""
    token = settings.chatops_webhook_token
    if allowed or (token is not None and token.get_secret_value()) or _loopback(host):
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
    configure_logging(fmt=settings.chatops_log_format, secrets=settings.secret_values())
    try:
        config = load_config(config_path or settings.chatops_config)
    except ConfigError as e:
        _print_problems(e.problems)
        return 1
    problems = settings.problems(socket_mode=socket_mode)
    if problems:
        _print_problems(problems)
        return 1
    app = create_app(settings, config)
    if socket_mode:
        app[SOCKET_MODE] = True
    web.run_app(
        app,
        host=host,
        port=port,
        print=lambda text: print(text, file=sys.stderr),
        access_log=None,
        shutdown_timeout=10.0,
    )
    return 0


def check_config(path: Path, settings: Settings) -> int:
    try:
        config = load_config(path)
    except ConfigError as e:
        _print_problems(e.problems + settings.problems())
        return 1
    problems = settings.problems()
    if problems:
        _print_problems(problems)
        return 1
    print(_summary(path, config))
    return 0


def _summary(path: Path, config: AppConfig) -> str:
    lines = [f"{path}: OK", f"  default channel: {config.slack.default_channel}"]
    for name, model in sorted(config.models.items()):
        pipeline = model.pipeline.provider if model.pipeline else "no pipeline"
        envs = ", ".join(model.environments) or "no environments"
        lines.append(f"  model {name}: {pipeline}; {envs}; channel {config.channel_for(name)}")
    lines.append(f"  dedup window: {config.dedup.window:g}s")
    return "\n".join(lines)


def _print_problems(problems: list[str]) -> None:
    print(f"{len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
