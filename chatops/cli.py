"""The `chatops` command: serve, check-config, config-schema, demo, doctor, manifest."""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from bot.slack.manifest import manifest_yaml
from chatops.app import create_app
from chatops.bot_wiring import SOCKET_MODE
from chatops.config import AppConfig, ConfigError, load_config, policy_of
from chatops.demo import DEFAULT_URL, run_demo
from chatops.doctor import report, run_doctor
from chatops.logs import configure_logging
from chatops.preflight import (
    bind_problem,
    config_problems,
    environment_errors,
    port_problem,
    store_problem,
    token_problems,
)
from chatops.schema import config_json_schema, write_chart_schema
from chatops.settings import Settings
from storage import StoreError

# `serve` exit codes: refused to start on a config/environment problem; failed while starting
EXIT_CONFIG = 2
EXIT_STARTUP = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatops",
        description="Pipeline ChatOps for ML teams: alerts and drift to Slack, Slack to CI.",
    )
    _add_version(parser)
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
        "--show-blocks",
        action="store_true",
        help="without SLACK_BOT_TOKEN, also print each message's Block Kit JSON and a preview "
        "link (or CHATOPS_SHOW_BLOCKS=1)",
    )
    serve.add_argument(
        "--allow-unauthenticated-webhooks",
        action="store_true",
        help="accept webhooks without CHATOPS_WEBHOOK_TOKEN on a non-loopback address (unsafe)",
    )
    _add_check_config(sub)
    _add_config_schema(sub)
    # --- demo ---
    demo = sub.add_parser(
        "demo", help="play the example alert and drift bodies against a running chatops"
    )
    demo.add_argument(
        "--url", default=DEFAULT_URL, help=f"chatops base URL (default {DEFAULT_URL})"
    )
    # --- manifest (bot side) ---
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--public-url", help="external base URL (or CHATOPS_PUBLIC_URL)")
    manifest.add_argument(
        "--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)"
    )
    # --- doctor ---
    doctor_cmd = sub.add_parser("doctor", help="check Slack, GitLab, GitHub, Prometheus live")
    doctor_cmd.add_argument("--config", type=Path, help="YAML config file (or CHATOPS_CONFIG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "config-schema":
        return config_schema(args.chart)
    try:
        settings = Settings()
    except ValidationError as e:
        _print_problems(environment_errors(e))
        return EXIT_CONFIG if args.command == "serve" else 1
    if args.command == "check-config":
        return check_config(
            args.file, settings, file_only=args.file_only, socket_mode=args.socket_mode
        )
    if args.command == "doctor":
        return doctor(settings, args.config)
    if args.command == "demo":
        return demo_command(settings, args.url)
    if args.command == "manifest":
        public_url = args.public_url or settings.chatops_public_url
        print(manifest_yaml(public_url=public_url, socket_mode=args.socket_mode), end="")
        return 0
    refusal = unauthenticated_bind(settings, args.host, args.allow_unauthenticated_webhooks)
    if refusal:
        print(f"chatops serve: {refusal}", file=sys.stderr)
        return 2
    return serve(
        with_serve_flags(settings, args),
        args.config,
        host=args.host,
        port=args.port,
        socket_mode=args.socket_mode,
    )


def with_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings with the `serve` flags that override the environment applied."""
    if getattr(args, "show_blocks", False):
        return settings.model_copy(update={"chatops_show_blocks": True})
    return settings


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
    try:
        config = load_config(config_path or settings.chatops_config)
    except ConfigError as e:
        _print_problems(e.problems + _environment_problems(settings, None, socket_mode))
        return EXIT_CONFIG
    problems = _environment_problems(settings, config, socket_mode)
    if problems:
        _print_problems(problems)
        return EXIT_CONFIG
    failure = port_problem(host, port) or store_problem(settings.chatops_store_url)
    if failure:
        print(failure, file=sys.stderr)
        return EXIT_STARTUP
    configure_logging(fmt=settings.chatops_log_format, secrets=settings.secret_values())
    app = create_app(settings, config)
    if socket_mode:
        app[SOCKET_MODE] = True
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


def demo_command(settings: Settings, url: str) -> int:
    """`chatops demo`: the webhook token and drift secret come from the same environment."""
    if not url.startswith(("http://", "https://")):
        print(f"demo: --url must be an http(s) URL, not {url[:80]!r}", file=sys.stderr)
        return 2
    token, secret = settings.chatops_webhook_token, settings.chatops_drift_secret
    return asyncio.run(
        run_demo(
            url,
            token=token.get_secret_value() if token else None,
            drift_secret=secret.get_secret_value() if secret else None,
        )
    )


def check_config(
    path: Path | None, settings: Settings, *, file_only: bool = False, socket_mode: bool = False
) -> int:
    """Exit 0 with a summary, or 1 with every problem (the file's, then the environment's)."""
    path = path or settings.chatops_config
    try:
        config = load_config(path)
    except ConfigError as e:
        env = [] if file_only else _environment_problems(settings, None, socket_mode)
        _print_problems(e.problems + env)
        return 1
    problems = [] if file_only else _environment_problems(settings, config, socket_mode)
    if problems:
        _print_problems(problems)
        return 1
    print(_summary(path, config))
    for warning in _policy_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def doctor(settings: Settings, config_path: Path | None) -> int:
    """Live preflight: one line per check; 1 when any check fails."""
    configure_logging(fmt=settings.chatops_log_format, secrets=settings.secret_values())
    try:
        config = load_config(config_path or settings.chatops_config)
    except ConfigError as e:
        _print_problems(e.problems)
        return 1
    checks = asyncio.run(run_doctor(settings, config))
    print(report(checks, settings.secret_values()))
    return 0 if all(check.ok for check in checks) else 1


def _policy_warnings(config: AppConfig) -> list[str]:
    """No policy is open to all; a policy's gaps are refused: both worth saying out loud."""
    policy = policy_of(config)
    if not policy.configured:
        return ["no `policy` section: anyone may retrain, deploy and roll back, no approval needed"]
    environments = {env for model in config.models.values() for env in model.environments}
    refused = policy.uncovered(environments)
    return [f"policy has no entry for {', '.join(refused)}: refused"] if refused else []


def _add_config_schema(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser(
        "config-schema", help="print the config file's JSON Schema (from its pydantic model)"
    )
    schema.add_argument(
        "--chart",
        type=Path,
        metavar="VALUES_SCHEMA_JSON",
        help="instead, write it into this Helm values.schema.json under properties.config",
    )


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


def _add_check_config(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("check-config", help="validate a config file and the environment")
    check.add_argument(
        "file", type=Path, nargs="?", help="YAML config file (default: CHATOPS_CONFIG)"
    )
    check.add_argument("--socket-mode", action="store_true", help="check for `serve --socket-mode`")
    check.add_argument(
        "--file-only",
        action="store_true",
        help="check the file alone, not the environment (e.g. in CI without the secrets)",
    )


def _add_version(parser: argparse.ArgumentParser) -> None:
    try:
        version = metadata.version("mlops-chatops")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        version = "unknown"
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")


def _environment_problems(
    settings: Settings, config: AppConfig | None, socket_mode: bool
) -> list[str]:
    """What the environment lacks or gets wrong; with `config`, also what the config needs."""
    problems = settings.problems(socket_mode=socket_mode)
    problems += token_problems(settings, socket_mode=socket_mode)
    if config is not None:
        problems += config_problems(config, settings)
    return problems


def _summary(path: Path | None, config: AppConfig) -> str:
    where = path or "built-in defaults (no FILE given, CHATOPS_CONFIG not set)"
    lines = [f"{where}: OK", f"  default channel: {config.slack.default_channel}"]
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
