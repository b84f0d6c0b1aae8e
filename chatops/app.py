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

from chatops.bot_wiring import add_bot_routes, bot_ctx
from chatops.config import AppConfig
from chatops.http import add_routes as add_service_routes
from chatops.http import edge
from chatops.keys import CONFIG, HTTP, METRICS, SENDER, SETTINGS, STORE, TRANSPORT
from chatops.settings import Settings
from gateway.routes import GATEWAY
from gateway.routes import add_routes as add_gateway_routes
from gateway.service import Gateway, GatewayOptions
from slackio.console import ConsoleTransport
from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.webapi import WebApiTransport, make_client
from storage import open_store

log = structlog.get_logger("chatops")


def create_app(settings: Settings, config: AppConfig | None = None) -> web.Application:
    """Build the aiohttp application with every route in docs/architecture.md."""
    # After answering a request whose body was not read (401, 408, 413), aiohttp reads and drops
    # what still arrives, so the client gets the answer before the close; 2 s, not 10.
    app = web.Application(
        middlewares=[edge], client_max_size=2 * 2**20, handler_args={"lingering_time": 2.0}
    )
    app[SETTINGS] = settings
    app[CONFIG] = config or AppConfig()
    app[METRICS] = Metrics()
    app.cleanup_ctx.extend([_store, _slack, _sender, _gateway])
    app.cleanup_ctx.append(bot_ctx)
    add_service_routes(app)
    add_gateway_routes(app)
    add_bot_routes(app)
    return app


def gateway_options(settings: Settings, config: AppConfig) -> GatewayOptions:
    """The gateway's slice of settings and config."""
    return GatewayOptions(
        default_channel=config.slack.default_channel,
        model_channels={name: m.channel for name, m in config.models.items() if m.channel},
        pipeline_models=frozenset(n for n, m in config.models.items() if m.pipeline is not None),
        dedup_window=config.dedup.window,
        default_drift_model=config.drift.default_model,
        webhook_token=_secret(settings.chatops_webhook_token),
        drift_secret=_secret(settings.chatops_drift_secret),
        body_timeout=settings.chatops_body_timeout,
    )


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None and getter() else None


async def _store(app: web.Application) -> AsyncIterator[None]:
    store = await open_store(app[SETTINGS].chatops_store_url)
    app[STORE] = store
    yield
    await store.close()


async def _slack(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    token = _secret(settings.slack_bot_token)
    # slack_sdk applies its own `timeout` only to sessions it makes: on ours, this one governs.
    seconds = settings.chatops_slack_timeout
    timeout = aiohttp.ClientTimeout(total=seconds, connect=min(5, seconds))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[HTTP] = session
        if token is None:
            log.warning("slack_console_sink", reason="SLACK_BOT_TOKEN is not set")
            app[TRANSPORT] = ConsoleTransport()
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
    app[GATEWAY] = Gateway(app[STORE], options, app[METRICS], wake_sender=app[SENDER].notify)
    yield
