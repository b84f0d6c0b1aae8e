"""Wiring of the bot side into `create_app`: one cleanup context (the route is in
`chatops.slack_events`, the bot's slice of the config in `chatops.bot_config`).

`create_app` adds it after the outbox sender's context (the bot needs the store, the shared
HTTP session and the sender):

    app.cleanup_ctx.append(bot_ctx)
    add_bot_routes(app)

Providers are built from the environment: GitLab when GITLAB_TOKEN is set, GitHub when
GITHUB_TOKEN is set; Prometheus from PROMETHEUS_URL, Alertmanager from ALERTMANAGER_URL. With no
bot token (console mode) the bot still runs without a Bolt app. Clicks on gateway messages are
recorded through `gateway.records.GatewayRecords` (or the `message_actions` given to
`create_app`), those on promotion cards by the gateway's `RegistryEvents`, which also implements
the bot's `PromotionCards`; the bot gets the registry adapter that `RegistryEvents` holds
(`MLFLOW_TRACKING_URI`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.alerts.alertmanager import Alertmanager
from bot.alerts.grafana import Grafana
from bot.buttons import MessageActions
from bot.ci.github import GitHubActions
from bot.ci.gitlab import GitLabCI
from bot.ci.provider import PipelineProvider
from bot.drift.prometheus import PrometheusClient
from bot.options import BotOptions, Tuning
from bot.service import Bot, BotDeps
from bot.slack.app import build_slack_app
from bot.tasks import TaskSet
from chatops.bot_config import bot_options, promote_targets
from chatops.drift_states import StoreDriftStates
from chatops.keys import CONFIG, HTTP, METRICS, SENDER, SETTINGS, STORE
from chatops.settings import Settings, secret_value
from chatops.slack_events import SLACK_APP, signing_secret
from gateway.records import GatewayRecords
from gateway.registry_events import RegistryEvents
from gateway.routes import GATEWAY, REGISTRY_EVENTS

log = structlog.get_logger("chatops.bot")

BOT = web.AppKey("bot", Bot)


@dataclass(frozen=True)
class BotWiring:
    """What `create_app` was asked for, beyond settings and config, to build the bot with.

    `socket_mode`: also connect to Slack over Socket Mode (`serve --socket-mode`). `tuning`:
    timings (production defaults; tests shorten them). `message_actions`: who records clicks
    on gateway messages; None, the gateway's own records.
    """

    socket_mode: bool = False
    tuning: Tuning = field(default_factory=Tuning)
    message_actions: MessageActions | None = None


BOT_WIRING = web.AppKey("bot_wiring", BotWiring)


def build_providers(settings: Settings, *, timeout: float = 10.0) -> dict[str, PipelineProvider]:
    """One client per configured CI system (no network I/O here)."""
    providers: dict[str, PipelineProvider] = {}
    if secret_value(settings.gitlab_token):
        assert settings.gitlab_token is not None
        providers["gitlab"] = GitLabCI(
            url=settings.gitlab_url, token=settings.gitlab_token, timeout=timeout
        )
    if secret_value(settings.github_token):
        assert settings.github_token is not None
        providers["github"] = GitHubActions(
            url=settings.github_api_url, token=settings.github_token, timeout=timeout
        )
    return providers


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the bot, its clients and the Bolt app; on shutdown drain and close them."""
    settings = app[SETTINGS]
    wiring = app[BOT_WIRING]
    options = bot_options(app[CONFIG], wiring.tuning)
    if not options.policy.configured:
        log.warning(
            "policy_missing",
            risk="no policy section: anyone may run retrain, deploy and rollback without approval",
        )
    providers = build_providers(settings, timeout=options.tuning.http_timeout)
    prometheus = _prometheus(settings)
    bot = Bot(_bot_deps(app, options, providers, prometheus))
    app[BOT] = bot
    slack = _slack_app(settings, bot, app[HTTP], app[CONFIG].slack.team_ids or ())
    if slack is not None:
        app[SLACK_APP] = slack
    socket = _socket_mode(settings, slack) if wiring.socket_mode else None
    await bot.start()
    try:
        yield
    finally:
        if socket is not None:
            await socket.close()
        await bot.close()
        for provider in providers.values():
            await provider.close()
        if prometheus is not None:
            await prometheus.close()


def _bot_deps(
    app: web.Application,
    options: BotOptions,
    providers: dict[str, PipelineProvider],
    prometheus: PrometheusClient | None,
) -> BotDeps:
    """The bot's object graph, from what the app holds and the environment."""
    settings, session, events = app[SETTINGS], app[HTTP], app[REGISTRY_EVENTS]
    return BotDeps(
        store=app[STORE],
        options=options,
        metrics=app[METRICS],
        session=session,
        wake_sender=app[SENDER].notify,
        providers=providers,
        prometheus=prometheus,
        prometheus_url=settings.prometheus_url,
        alertmanager=_alertmanager(settings, session),
        grafana=_grafana(settings, session),
        message_actions=_message_actions(app),
        registry=events.registry,
        promotion_cards=events,
        promote_targets=promote_targets(app[CONFIG]),
        drift_states=StoreDriftStates(app[STORE]),
    )


def _slack_app(
    settings: Settings, bot: Bot, session: aiohttp.ClientSession, team_ids: Sequence[str]
) -> AsyncApp | None:
    token = secret_value(settings.slack_bot_token)
    if token is None:
        return None
    secret = signing_secret(settings)
    if secret is None:
        log.warning("slack_events_disabled", reason="SLACK_SIGNING_SECRET is not set")
    return build_slack_app(
        bot=bot,
        bot_token=token,
        # No secret: Socket Mode only; POST /slack/events never reaches Bolt (404).
        signing_secret=secret or "",
        api_url=settings.slack_api_url,
        session=session,
        team_ids=team_ids,
        on_refused=bot.record_refusal,
    )


class SocketMode:
    """A Socket Mode connection: connected (and reconnected) by the SDK in an owned task."""

    def __init__(self, slack: AsyncApp, app_token: str) -> None:
        self._handler = AsyncSocketModeHandler(slack, app_token)
        self._tasks = TaskSet("socket-mode")

    def start(self) -> None:
        # The SDK retries a failed connect by itself, so this may take a while: not at start-up.
        self._tasks.spawn(self._connect(), name="connect")

    async def _connect(self) -> None:
        await self._handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("socket_mode_connected")

    async def close(self) -> None:
        await self._tasks.cancel()
        await self._handler.close_async()  # type: ignore[no-untyped-call]


def _socket_mode(settings: Settings, slack: AsyncApp | None) -> SocketMode | None:
    app_token = secret_value(settings.slack_app_token)
    if slack is None or app_token is None:
        log.error(
            "socket_mode_unavailable", reason="SLACK_BOT_TOKEN and SLACK_APP_TOKEN are needed"
        )
        return None
    socket = SocketMode(slack, app_token)
    socket.start()
    return socket


def _message_actions(app: web.Application) -> MessageActions | None:
    """Who-did-what records on gateway messages: the gateway's, unless `create_app` was given
    others; records on promotion cards go to the registry events either way."""
    actions = app[BOT_WIRING].message_actions or GatewayRecords(app[GATEWAY])
    return CardRecords(actions, app[REGISTRY_EVENTS])


class CardRecords:
    """`MessageActions` that sends records on promotion cards (`promotion:` keys) to the
    registry events, and every other record to the gateway's."""

    def __init__(self, others: MessageActions, cards: RegistryEvents) -> None:
        self._others = others
        self._cards = cards

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        target = self._cards if message_key.startswith("promotion:") else self._others
        return await target.record(
            message_key=message_key, actor=actor, action=action, detail=detail, link=link
        )


def _prometheus(settings: Settings) -> PrometheusClient | None:
    return PrometheusClient(url=settings.prometheus_url) if settings.prometheus_url else None


def _grafana(settings: Settings, session: aiohttp.ClientSession) -> Grafana | None:
    if not settings.grafana_silences or settings.grafana_url is None:
        return None
    token = secret_value(settings.grafana_token)
    return Grafana(url=settings.grafana_url.strip(), token=token, session=session)


def _alertmanager(settings: Settings, session: aiohttp.ClientSession) -> Alertmanager | None:
    if not settings.alertmanager_url:
        return None
    return Alertmanager(url=settings.alertmanager_url, session=session)
