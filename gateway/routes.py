"""HTTP edge of the gateway: authenticate, read, validate, call the use case, answer.

Inbound rules (docs/security.md): the bearer token (compared in constant time) and the drift
signature header's presence are checked from the headers alone, before any of the body is read
(401); bodies over 1 MiB are refused (413; a whole Alertmanager or Grafana group that declares
its Content-Length is accepted up to 16 MiB, one such body at a time) and a body not received
within the body timeout is refused (408), so a stalled or trickled upload holds no memory and
no connection for long; bad JSON or shape (400 naming the fields), store down (503, so
Alertmanager retries). A valid webhook is answered once it is durably recorded, before Slack
is called.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gateway.alertmanager import OFF_LOOP_BYTES, read_alertmanager
from gateway.drift import parse_drift, valid_signature
from gateway.errors import BadPayload, Unauthorized
from gateway.grafana import looks_like_grafana, read_grafana
from gateway.mlflow import parse_registry_event, required_headers, verify_delivery
from gateway.options import GatewayOptions, Outcome
from gateway.registry_events import RegistryEvents
from gateway.service import Gateway
from storage import StoreError

log = structlog.get_logger("gateway.http")

GATEWAY = web.AppKey("gateway", Gateway)
REGISTRY_EVENTS = web.AppKey("registry_events", RegistryEvents)
MAX_BODY = 1024 * 1024
# Alertmanager without `max_alerts` sends a whole group in one body (10,000 alerts: about
# 6 MiB), and does not retry a 4xx: such a body is accepted up to this size when it declares its
# Content-Length, one at a time (`Gateway.large_bodies`), parsed and folded off the event loop.
MAX_GROUP_BODY = 16 * 1024 * 1024
_GROUP_SOURCES = frozenset({"alertmanager", "grafana"})
_MAX_ALERTS_HINT = (
    "a notification this large carries too many alerts: set max_alerts on the webhook receiver "
    "(Alertmanager webhook_configs max_alerts, Grafana contact point max alerts) so the group "
    "is sent within the limit; the rest is then counted in truncatedAlerts"
)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/alertmanager", alertmanager_webhook)
    app.router.add_post("/webhooks/grafana", grafana_webhook)
    app.router.add_post("/webhooks/drift", drift_webhook)
    app.router.add_post("/drift-webhook", drift_webhook)
    app.router.add_post("/webhooks/mlflow", mlflow_webhook)


def error_response(status: int, error: str, details: list[str] | None = None) -> web.Response:
    return web.json_response({"error": error, "details": details or []}, status=status)


async def read_body(request: web.Request, *, within: float, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing anything over `limit` (`BodyTooLarge`, without buffering it
    all) or not fully received `within` seconds (`BodyTimeout`)."""
    try:
        async with asyncio.timeout(within):
            return await _read(request, limit)
    except TimeoutError:
        raise BodyTimeout(within) from None


async def _read(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None:
        if request.content_length > limit:
            raise BodyTooLarge(limit)
        if request.content_length <= MAX_BODY:  # larger: past aiohttp's own client_max_size
            return await request.read()  # bounded by the Content-Length just checked
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")


class BodyTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"body not received within {seconds:g}s")


def _bearer_ok(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    # aiohttp keeps bytes that are not UTF-8 as surrogates: compare the raw bytes, never crash
    raw = presented.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(raw, token.encode())


_SIGNATURE = re.compile(r"sha256=[0-9A-Fa-f]{64}")


def _drift_needs_signature(request: web.Request, options: GatewayOptions) -> bool:
    """Drift auth from the headers alone; True when the body's signature is still to check."""
    signature = request.headers.get("X-Signature-256")
    if options.drift_secret is not None and signature is not None:
        if not _SIGNATURE.fullmatch(signature.strip()):
            raise Unauthorized("invalid X-Signature-256")
        return True
    if options.drift_secret is not None:
        if options.webhook_token is None or not _bearer_ok(request, options.webhook_token):
            raise Unauthorized("drift webhooks need a valid X-Signature-256 or bearer token")
    elif not _bearer_ok(request, options.webhook_token):
        raise Unauthorized("missing or invalid bearer token")
    return False


def _alertmanager_auth(request: web.Request, options: GatewayOptions) -> bool:
    if not _bearer_ok(request, options.webhook_token):
        raise Unauthorized("missing or invalid bearer token")
    return False


# Authentication from the headers alone (raises Unauthorized), run before the body is read.
Check = Callable[[web.Request, GatewayOptions], bool]
Handler = Callable[[web.Request, Gateway, bytes], Awaitable[Outcome]]

_STATUS_BODIES = {o: json.dumps({"status": o.value}).encode() for o in Outcome}


async def _webhook(
    request: web.Request, source: str, check: Check, handle: Handler
) -> web.Response:
    gateway = request.app[GATEWAY]
    started = time.perf_counter()
    outcome = "error"
    try:
        check(request, gateway.options)
        result = await _read_and_handle(request, gateway, source, handle)
        outcome = result.value
        return web.Response(
            body=_STATUS_BODIES[result],
            status=202 if result is Outcome.ACCEPTED else 200,
            content_type="application/json",
        )
    except BodyTooLarge as e:
        outcome = "too_large"
        hint = [_MAX_ALERTS_HINT] if source in _GROUP_SOURCES else []
        return error_response(413, "payload too large", [str(e), *hint])
    except BodyTimeout as e:
        outcome = "body_timeout"
        log.info("webhook_body_timed_out", source=source, error=str(e))
        return error_response(408, "request timeout", [str(e)])
    except Unauthorized as e:
        outcome = "unauthorized"
        return error_response(401, "unauthorized", [str(e)])
    except BadPayload as e:
        outcome = "invalid"
        log.info("webhook_rejected", source=source, error=e.message, details=e.details[:5])
        return error_response(400, e.message, e.details)
    except StoreError as e:
        outcome = "store_unavailable"
        log.error("webhook_store_failed", source=source, error=str(e))
        return error_response(503, "store unavailable, retry later", [str(e)])
    finally:
        metrics = gateway.metrics
        metrics.child(metrics.webhooks_received, source, outcome).inc()
        metrics.child(metrics.webhook_duration, source).observe(time.perf_counter() - started)


async def _read_and_handle(
    request: web.Request, gateway: Gateway, source: str, handle: Handler
) -> Outcome:
    """Read the body and handle it. A whole alert group over MAX_BODY (its Content-Length
    says so before any of it is read) waits for the one large-body slot, so however many
    arrive together, one is in memory at a time."""
    within, size = gateway.options.body_timeout, request.content_length
    if source not in _GROUP_SOURCES or size is None or size <= MAX_BODY:
        return await handle(request, gateway, await read_body(request, within=within))
    if size > MAX_GROUP_BODY:
        raise BodyTooLarge(MAX_GROUP_BODY)
    async with gateway.large_bodies:
        body = await read_body(request, within=within, limit=MAX_GROUP_BODY)
        return await handle(request, gateway, body)


async def _handle_alertmanager(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    screened, repeat = await gateway.screen_alertmanager(body, other=looks_like_grafana)
    if repeat is not None:  # a re-send of events already folded: not validated again
        return repeat
    if screened.other_sender:  # a Grafana contact point pointed at this URL: welcome too
        return await _handle_grafana(request, gateway, body)
    intake = screened.intake  # builds the payload only if the fold is not deferred
    notification = intake if intake is not None else await read_alertmanager(body)
    structlog.contextvars.bind_contextvars(group_key=notification.group_key)
    return await gateway.ingest_alertmanager(notification, screened, body=_parkable(body))


async def _handle_grafana(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    payload = await read_grafana(body)
    structlog.contextvars.bind_contextvars(group_key=payload.group_key, source="grafana")
    return await gateway.ingest_alertmanager(payload, body=_parkable(body), source="grafana")


def _parkable(body: bytes) -> bytes | None:
    """A body that may wait for its fold (`gateway.deferred`): one the event loop may parse
    again at the fold. A larger one (its parse goes to a worker thread) is folded at once."""
    return body if len(body) <= OFF_LOOP_BYTES else None


async def _handle_drift(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    options = gateway.options
    # The headers were checked before the body; a signature header still needs the body.
    secret = options.drift_secret
    if secret is not None and _drift_needs_signature(request, options):
        signature = request.headers.get("X-Signature-256", "").strip()
        if not valid_signature(secret, body, signature):
            raise Unauthorized("invalid X-Signature-256")
    event = parse_drift(
        body,
        model_param=request.query.get("model"),
        default_model=options.default_drift_model,
    )
    structlog.contextvars.bind_contextvars(model=event.model)
    outcome = await gateway.ingest_drift(event, body)
    if outcome is Outcome.NO_DRIFT:
        log.info("drift_event_without_drift", model=event.model)
    return outcome


async def alertmanager_webhook(request: web.Request) -> web.Response:
    return await _webhook(request, "alertmanager", _alertmanager_auth, _handle_alertmanager)


async def grafana_webhook(request: web.Request) -> web.Response:
    """Grafana Alerting's webhook contact point; the same bearer token as Alertmanager's."""
    return await _webhook(request, "grafana", _alertmanager_auth, _handle_grafana)


async def drift_webhook(request: web.Request) -> web.Response:
    return await _webhook(request, "drift", _drift_needs_signature, _handle_drift)


def _mlflow_headers(request: web.Request, _options: GatewayOptions) -> bool:
    """A secret is configured and the delivery carries MLflow's signature headers."""
    if request.app[REGISTRY_EVENTS].secret is None:
        raise Unauthorized(
            "MLflow webhooks need CHATOPS_MLFLOW_WEBHOOK_SECRET (the MLflow webhook's secret)"
        )
    required_headers(dict(request.headers))
    return True


async def _handle_mlflow(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    events = request.app[REGISTRY_EVENTS]
    assert events.secret is not None  # checked with the headers, before the body
    delivery = verify_delivery(
        events.secret, headers=dict(request.headers), body=body, now=time.time()
    )
    event = parse_registry_event(body)
    structlog.contextvars.bind_contextvars(registered_model=event.name, delivery_id=delivery)
    return await events.ingest(event, delivery_id=delivery)


async def mlflow_webhook(request: web.Request) -> web.Response:
    return await _webhook(request, "mlflow", _mlflow_headers, _handle_mlflow)
