"""`create_app(settings)`: the one place that builds and wires everything.

`chatops serve` and every integration test call this same factory. State hangs on typed
AppKeys; each long-lived resource is opened and closed in a cleanup context, in order:
store -> Slack transport -> outbox sender -> gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from bot.buttons import MessageActions
from bot.options import Tuning
from chatops.bot_config import rollback_defaults
from chatops.bot_wiring import BOT_WIRING, BotWiring, bot_ctx
from chatops.config import AppConfig, GitHubPipeline
from chatops.http import add_routes as add_service_routes
from chatops.http import edge
from chatops.keys import CONFIG, HTTP, METRICS, SENDER, SETTINGS, STORE, TRANSPORT
from chatops.settings import Settings, secret_value
from chatops.slack_events import add_bot_routes
from gateway.folder import Folder
from gateway.options import GatewayOptions
from gateway.promotions import WatchedModel
from gateway.registry_events import RegistryEvents
from gateway.routes import GATEWAY, REGISTRY_EVENTS
from gateway.routes import add_routes as add_gateway_routes
from gateway.service import Gateway
from registry.mlflow import MlflowRegistry
from slackio.console import ConsoleTransport
from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.webapi import WebApiTransport, make_client
from storage import open_store

log = structlog.get_logger("chatops")


def create_app(
    settings: Settings,
    config: AppConfig | None = None,
    *,
    socket_mode: bool = False,
    tuning: Tuning | None = None,
    message_actions: MessageActions | None = None,
) -> web.Application:
    """Build the aiohttp application with every route in docs/architecture.md.

    `socket_mode` also connects the bot to Slack over Socket Mode; `tuning` overrides the bot's
    timings; `message_actions` replaces the gateway's records of clicks (see `BotWiring`).
    """
    # After answering a request whose body was not read (401, 408, 413), aiohttp reads and drops
    # what still arrives, so the client gets the answer before the close; 2 s, not 10.
    app = web.Application(
        middlewares=[edge], client_max_size=2 * 2**20, handler_args={"lingering_time": 2.0}
    )
    app[SETTINGS] = settings
    app[CONFIG] = config or AppConfig()
    app[METRICS] = Metrics()
    app[BOT_WIRING] = BotWiring(socket_mode, tuning or Tuning(), message_actions)
    app.cleanup_ctx.extend([_store, _slack, _sender, _gateway, _registry])
    app.cleanup_ctx.append(bot_ctx)
    add_service_routes(app)
    add_gateway_routes(app)
    add_bot_routes(app)
    return app


def gateway_options(settings: Settings, config: AppConfig) -> GatewayOptions:
    """The gateway's slice of settings and config, and which buttons can work."""
    runnable, notes = _pipeline_actions(settings, config)
    return GatewayOptions(
        default_channel=config.slack.default_channel,
        model_channels={name: m.channel for name, m in config.models.items() if m.channel},
        pipeline_actions=runnable,
        pipeline_notes=notes,
        silence=bool(settings.alertmanager_url),
        grafana_silence=settings.grafana_silences,
        rollback_environments=rollback_defaults(config),
        dedup_window=config.dedup.window,
        max_alerts_per_incident=config.dedup.max_alerts_per_incident,
        default_drift_model=config.drift.default_model,
        webhook_token=secret_value(settings.chatops_webhook_token),
        drift_secret=secret_value(settings.chatops_drift_secret),
        body_timeout=settings.chatops_body_timeout,
        post_resolved_only_groups=config.gateway.post_resolved_only_groups,
        defer_after=settings.chatops_defer_after,
    )


_BUTTON_ACTIONS = ("rollback", "retrain")


def _pipeline_actions(
    settings: Settings, config: AppConfig
) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Per model, the button actions whose pipeline can start, and why Retrain cannot (for
    the drift message): a Rollback or Retrain button that could only fail is not drawn."""
    tokens = {
        "gitlab": (settings.gitlab_token, "GITLAB_TOKEN"),
        "github": (settings.github_token, "GITHUB_TOKEN"),
    }
    runnable: dict[str, frozenset[str]] = {}
    notes: dict[str, str] = {}
    for name, model in config.models.items():
        pipeline = model.pipeline
        if pipeline is None:
            continue
        token, variable = tokens[pipeline.provider]
        if secret_value(token) is None:
            notes[name] = f"{variable} is not set, so its pipeline cannot start"
            continue
        if isinstance(pipeline, GitHubPipeline):  # one workflow or event per action
            named = pipeline.workflows.keys() | pipeline.dispatch.keys()
            runnable[name] = frozenset(a for a in _BUTTON_ACTIONS if a in named)
        else:  # one GitLab pipeline runs every action (ACTION variable)
            runnable[name] = frozenset(_BUTTON_ACTIONS)
        if "retrain" not in runnable[name]:
            notes[name] = "its GitHub pipeline has no retrain workflow or dispatch event"
    return runnable, notes


async def _store(app: web.Application) -> AsyncIterator[None]:
    store = await open_store(app[SETTINGS].chatops_store_url)
    app[STORE] = store
    yield
    await store.close()


async def _slack(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    token = secret_value(settings.slack_bot_token)
    # slack_sdk applies its own `timeout` only to sessions it makes: on ours, this one governs.
    seconds = settings.chatops_slack_timeout
    timeout = aiohttp.ClientTimeout(total=seconds, connect=min(5, seconds))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[HTTP] = session
        if token is None:
            log.warning("slack_console_sink", reason="SLACK_BOT_TOKEN is not set")
            app[TRANSPORT] = ConsoleTransport(show_blocks=settings.chatops_show_blocks)
        else:
            client = make_client(
                token=token,
                base_url=settings.slack_api_url,
                session=session,
                timeout=settings.chatops_slack_timeout,
            )
            app[TRANSPORT] = WebApiTransport(client)
        yield


async def _sender(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    sender = OutboxSender(
        app[STORE],
        app[TRANSPORT],
        app[METRICS],
        pacing=settings.chatops_slack_pacing,
        max_backoff=settings.chatops_slack_max_backoff,
        lease_seconds=settings.chatops_outbox_lease,
    )
    app[SENDER] = sender
    sender.start()
    yield
    await sender.stop()


async def _gateway(app: web.Application) -> AsyncIterator[None]:
    options = gateway_options(app[SETTINGS], app[CONFIG])
    if options.webhook_token is None:
        log.warning("webhook_auth_disabled", reason="CHATOPS_WEBHOOK_TOKEN is not set")
    gateway = Gateway(app[STORE], options, app[METRICS], wake_sender=app[SENDER].notify)
    app[GATEWAY] = gateway
    folder = Folder(gateway, recover_after=app[SETTINGS].chatops_defer_recover_after)
    folder.start()
    yield
    await folder.stop()


def watched_models(config: AppConfig) -> dict[str, WatchedModel]:
    """Registered model name -> the configured model whose versions get promotion cards."""
    return {
        m.registry.name: WatchedModel(
            model=name,
            channel=config.channel_for(name),
            champion_alias=m.registry.champion_alias,
            metrics=dict(m.registry.metrics),
        )
        for name, m in config.models.items()
        if m.registry is not None
    }


async def _registry(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    registry = None
    if settings.mlflow_tracking_uri:
        registry = MlflowRegistry(
            app[HTTP],
            tracking_uri=settings.mlflow_tracking_uri,
            token=secret_value(settings.mlflow_tracking_token),
        )
    app[REGISTRY_EVENTS] = RegistryEvents(
        app[STORE],
        registry,
        watched_models(app[CONFIG]),
        secret=secret_value(settings.chatops_mlflow_webhook_secret),
        wake_sender=app[SENDER].notify,
    )
    yield
