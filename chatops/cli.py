"""The `chatops` command: serve, check-config, config-schema, demo, doctor, manifest.

This module parses the command line; `chatops.serve` runs the service and `chatops.commands`
holds the other commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from pydantic import ValidationError

from bot.slack.manifest import manifest_yaml
from chatops.commands import check_config, config_schema, demo_command, doctor
from chatops.demo import DEFAULT_URL
from chatops.preflight import environment_errors
from chatops.serve import (
    EXIT_CONFIG,
    print_problems,
    serve,
    unauthenticated_bind,
    with_serve_flags,
)
from chatops.settings import Settings

_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatops",
        description="Pipeline ChatOps for ML teams: alerts and drift to Slack, Slack to CI.",
    )
    _add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_check_config(sub)
    _add_config_schema(sub)
    _add_demo(sub)
    _add_manifest(sub)
    doctor_cmd = sub.add_parser("doctor", help="check Slack, GitLab, GitHub, Prometheus live")
    doctor_cmd.add_argument("--config", type=Path, help="YAML config file (or CHATOPS_CONFIG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = command_parser().parse_args(argv)
    if args.command == "config-schema":
        return config_schema(args.chart)
    try:
        settings = Settings()
    except ValidationError as e:
        print_problems(environment_errors(e))
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


def _add_serve(sub: _Commands) -> None:
    serve_cmd = sub.add_parser("serve", help="run the gateway and bot (one aiohttp server)")
    serve_cmd.add_argument("--config", type=Path, help="YAML config file (or CHATOPS_CONFIG)")
    serve_cmd.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; a container needs --host 0.0.0.0 and a token)",
    )
    serve_cmd.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve_cmd.add_argument(
        "--socket-mode",
        action="store_true",
        help="also connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)",
    )
    serve_cmd.add_argument(
        "--show-blocks",
        action="store_true",
        help="without SLACK_BOT_TOKEN, also print each message's Block Kit JSON and a preview "
        "link (or CHATOPS_SHOW_BLOCKS=1)",
    )
    serve_cmd.add_argument(
        "--allow-unauthenticated-webhooks",
        action="store_true",
        help="accept webhooks without CHATOPS_WEBHOOK_TOKEN on a non-loopback address (unsafe)",
    )


def _add_demo(sub: _Commands) -> None:
    demo = sub.add_parser(
        "demo", help="play the example alert and drift bodies against a running chatops"
    )
    demo.add_argument(
        "--url", default=DEFAULT_URL, help=f"chatops base URL (default {DEFAULT_URL})"
    )


def _add_manifest(sub: _Commands) -> None:
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--public-url", help="external base URL (or CHATOPS_PUBLIC_URL)")
    manifest.add_argument(
        "--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)"
    )


def _add_config_schema(sub: _Commands) -> None:
    schema = sub.add_parser(
        "config-schema", help="print the config file's JSON Schema (from its pydantic model)"
    )
    schema.add_argument(
        "--chart",
        type=Path,
        metavar="VALUES_SCHEMA_JSON",
        help="instead, write it into this Helm values.schema.json under properties.config",
    )


def _add_check_config(sub: _Commands) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
