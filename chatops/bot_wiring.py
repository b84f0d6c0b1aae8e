"""Wiring of the bot side into `create_app`: one cleanup context and one route.

`create_app` adds them after the outbox sender's context (the bot needs the store, the shared
HTTP session and the sender):

    app.cleanup_ctx.append(bot_ctx)
    add_bot_routes(app)

Providers are built from the environment: GitLab when GITLAB_TOKEN is set, GitHub when
GITHUB_TOKEN is set; Prometheus from PROMETHEUS_URL, Alertmanager from ALERTMANAGER_URL. With no
bot token (console mode) the bot still runs, and `POST /slack/events` answers 503; with no
signing secret (Socket Mode) it is not served (404) and nothing reaches Bolt. Otherwise the
signature headers must be there before the body is read (401), and the body must arrive within
CHATOPS_BODY_TIMEOUT (408) and fit in 1 MiB (413). Clicks on
gateway messages are recorded through `gateway.records.GatewayRecords` (or whatever
`MESSAGE_ACTIONS` holds before start-up), those on promotion cards by the gateway's
`RegistryEvents`, which also implements the bot's `PromotionCards`; the bot gets the registry
adapter that `RegistryEvents` holds (`MLFLOW_TRACKING_URI`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

import aiohttp
import structlog
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.alerts.alertmanager import Alertmanager
from bot.alerts.grafana import Grafana
from bot.buttons import MessageActions
from bot.ci.github import GitHubActions
from bot.ci.gitlab import GitLabCI
from bot.ci.provider import PipelineProvider, PipelineTarget
from bot.drift.prometheus import PrometheusClient
from bot.options import BotOptions, DriftQueries, ModelOptions, Tuning, rollback_environment
from bot.releases.promote import PromoteTarget
from bot.service import Bot, BotDeps
from bot.slack.app import build_slack_app, dispatch
from bot.tasks import TaskSet
from chatops.config import AppConfig, GitHubPipeline, GitLabPipeline, policy_of
from chatops.drift_states import StoreDriftStates
from chatops.keys import CONFIG, HTTP, METRICS, SENDER, SETTINGS, STORE
from chatops.settings import Settings
from gateway.records import GatewayRecords
from gateway.registry_events import RegistryEvents
from gateway.routes import (
    GATEWAY,
    REGISTRY_EVENTS,
    BodyTimeout,
    BodyTooLarge,
    error_response,
    read_body,
)

log = structlog.get_logger("chatops.bot")

BOT = web.AppKey("bot", Bot)
SLACK_APP = web.AppKey("slack_app", AsyncApp)
BOT_TUNING = web.AppKey("bot_tuning", Tuning)
SOCKET_MODE = web.AppKey("socket_mode", bool)
MESSAGE_ACTIONS = web.AppKey("message_actions", MessageActions)

EVENTS_PATH = "/slack/events"


def pipeline_target(model: str, pipeline: GitLabPipeline | GitHubPipeline) -> PipelineTarget:
    """The adapters' view of one model's pipeline config."""
    if isinstance(pipeline, GitLabPipeline):
        return PipelineTarget(
            model=model,
            provider="gitlab",
            project=str(pipeline.project),
            ref=pipeline.ref,
            variables=pipeline.variables,
            allowed_variables=tuple(pipeline.allowed_variables),
            allowed_refs=tuple(pipeline.allowed_refs),
        )
    return PipelineTarget(
        model=model,
        provider="github",
        repo=pipeline.repo,
        ref=pipeline.ref,
        variables=pipeline.variables,
        workflows={str(k): v for k, v in pipeline.workflows.items()},
        dispatch={str(k): v for k, v in pipeline.dispatch.items()},
        allowed_variables=tuple(pipeline.allowed_variables),
        allowed_refs=tuple(pipeline.allowed_refs),
    )


def bot_options(config: AppConfig, tuning: Tuning | None = None) -> BotOptions:
    """The bot's slice of the config file."""
    models = {
        name: ModelOptions(
            name=name,
            channel=config.channel_for(name),
            environments=tuple(model.environments),
            target=pipeline_target(name, model.pipeline) if model.pipeline else None,
        )
        for name, model in config.models.items()
    }
    policy = policy_of(config)
    q = config.drift.queries
    return BotOptions(
        default_channel=config.slack.default_channel,
        models=models,
        policy=policy,
        queries=DriftQueries(score=q.score, p_value=q.p_value, events_24h=q.events_24h),
        default_drift_model=config.drift.default_model,
        expire_after=config.approvals.expire_after,
        tuning=tuning or Tuning(),
    )


def rollback_defaults(config: AppConfig) -> dict[str, str]:
    """Each model's default Rollback environment (`bot.options.rollback_environment`)."""
    defaults: dict[str, str] = {}
    for name, model in config.models.items():
        options = ModelOptions(name=name, channel="", environments=tuple(model.environments))
        environment = rollback_environment(options, {})
        if environment is not None:
            defaults[name] = environment
    return defaults


def promote_targets(config: AppConfig) -> dict[str, PromoteTarget]:
    """Model name -> where it lives in the registry, for the Promote button."""
    return {
        name: PromoteTarget(
            model=name,
            registered_name=m.registry.name,
            alias=m.registry.champion_alias,
            deploy_on_promote=tuple(m.registry.deploy_on_promote),
        )
        for name, m in config.models.items()
        if m.registry is not None
    }


def build_providers(settings: Settings, *, timeout: float = 10.0) -> dict[str, PipelineProvider]:
    """One client per configured CI system (no network I/O here)."""
    providers: dict[str, PipelineProvider] = {}
    if _secret(settings.gitlab_token):
        assert settings.gitlab_token is not None
        providers["gitlab"] = GitLabCI(
            url=settings.gitlab_url, token=settings.gitlab_token, timeout=timeout
        )
    if _secret(settings.github_token):
        assert settings.github_token is not None
        providers["github"] = GitHubActions(
            url=settings.github_api_url, token=settings.github_token, timeout=timeout
        )
    return providers


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the bot, its clients and the Bolt app; on shutdown drain and close them."""

    settings, session = app[SETTINGS], app[HTTP]
    options = bot_options(app[CONFIG], app.get(BOT_TUNING))
    if not options.policy.configured:
        log.warning(
            "policy_missing",
            risk="no policy section: anyone may run retrain, deploy and rollback without approval",
        )
    providers = build_providers(settings, timeout=options.tuning.http_timeout)
    prometheus = _prometheus(settings)
    events = app.get(REGISTRY_EVENTS)
    bot = Bot(
        BotDeps(
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
            registry=events.registry if events is not None else None,
            promotion_cards=events,
            promote_targets=promote_targets(app[CONFIG]),
            drift_states=StoreDriftStates(app[STORE]),
        )
    )
    app[BOT] = bot
    slack = _slack_app(settings, bot, session, app[CONFIG].slack.team_ids or ())
    if slack is not None:
        app[SLACK_APP] = slack
    socket = _socket_mode(settings, slack) if app.get(SOCKET_MODE) else None
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


def add_bot_routes(app: web.Application) -> None:
    """`POST /slack/events`: commands and buttons, signature-verified by Bolt."""
    app.router.add_post(EVENTS_PATH, slack_events)


_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _signature_headers_ok(request: web.Request) -> bool:
    """Slack's signature headers are there and well-formed (checked before the body is read;
    malformed values would otherwise crash the verification: a 500)."""
    signature = request.headers.get("X-Slack-Signature", "")
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    return bool(_SIGNATURE.fullmatch(signature) and _TIMESTAMP.fullmatch(timestamp))


async def slack_events(request: web.Request) -> web.Response:
    slack = request.app.get(SLACK_APP)
    if slack is None:
        return error_response(
            503, "Slack is not configured", ["SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set"]
        )
    settings = request.app[SETTINGS]
    if _signing_secret(settings) is None:
        # Socket Mode only: a request could not be verified, so none is looked at.
        return error_response(404, "not found", ["Slack HTTP requests need SLACK_SIGNING_SECRET"])
    if not _signature_headers_ok(request):
        return error_response(401, "unauthorized", ["missing or malformed X-Slack-Signature"])
    try:
        body = await read_body(request, within=settings.chatops_body_timeout)
    except BodyTooLarge as e:
        return error_response(413, "payload too large", [str(e)])
    except BodyTimeout as e:
        return error_response(408, "request timeout", [str(e)])
    return await dispatch(slack, request, body)


def _slack_app(
    settings: Settings, bot: Bot, session: aiohttp.ClientSession, team_ids: Sequence[str]
) -> AsyncApp | None:
    token = _secret(settings.slack_bot_token)
    if token is None:
        return None
    signing_secret = _signing_secret(settings)
    if signing_secret is None:
        log.warning("slack_events_disabled", reason="SLACK_SIGNING_SECRET is not set")
    return build_slack_app(
        bot=bot,
        bot_token=token,
        # No secret: Socket Mode only; POST /slack/events never reaches Bolt (404).
        signing_secret=signing_secret or "",
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
    app_token = _secret(settings.slack_app_token)
    if slack is None or app_token is None:
        log.error(
            "socket_mode_unavailable", reason="SLACK_BOT_TOKEN and SLACK_APP_TOKEN are needed"
        )
        return None
    socket = SocketMode(slack, app_token)
    socket.start()
    return socket


def _message_actions(app: web.Application) -> MessageActions | None:
    """Who-did-what records on gateway messages: the gateway's, unless one was set already."""
    actions = app.get(MESSAGE_ACTIONS)
    if actions is None and GATEWAY in app:
        actions = GatewayRecords(app[GATEWAY])
    events = app.get(REGISTRY_EVENTS)
    if actions is not None and events is not None:
        actions = CardRecords(actions, events)
    return actions


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
    token = settings.grafana_token.get_secret_value() if settings.grafana_token else None
    return Grafana(url=settings.grafana_url.strip(), token=token or None, session=session)


def _alertmanager(settings: Settings, session: aiohttp.ClientSession) -> Alertmanager | None:
    if not settings.alertmanager_url:
        return None
    return Alertmanager(url=settings.alertmanager_url, session=session)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


def _signing_secret(settings: Settings) -> str | None:
    """The signing secret; None when unset or blank (Socket Mode only: HTTP is not served)."""
    secret = _secret(settings.slack_signing_secret)
    return secret if secret is not None and secret.strip() else None
