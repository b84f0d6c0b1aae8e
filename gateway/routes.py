"""HTTP edge of the gateway: read, authenticate, validate, call the use case, answer.

Inbound rules (docs/security.md): bearer token compared in constant time (401), bodies over
1 MiB (413), bad JSON or shape (400 naming the fields), store down (503, so Alertmanager
retries). A valid webhook is answered once it is durably recorded, before Slack is called.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gateway.alertmanager import read_alertmanager
from gateway.drift import parse_drift, valid_signature
from gateway.errors import BadPayload, Unauthorized
from gateway.mlflow import parse_registry_event, verify_delivery
from gateway.registry_events import RegistryEvents
from gateway.service import Gateway, Outcome
from storage import StoreError

log = structlog.get_logger("gateway.http")

GATEWAY = web.AppKey("gateway", Gateway)
REGISTRY_EVENTS = web.AppKey("registry_events", RegistryEvents)
MAX_BODY = 1024 * 1024


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/alertmanager", alertmanager_webhook)
    app.router.add_post("/webhooks/drift", drift_webhook)
    app.router.add_post("/drift-webhook", drift_webhook)
    app.router.add_post("/webhooks/mlflow", mlflow_webhook)


def error_response(status: int, error: str, details: list[str] | None = None) -> web.Response:
    return web.json_response({"error": error, "details": details or []}, status=status)


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing (413) anything over `limit` without buffering it all."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise _TooLarge(limit)
        return await request.read()  # bounded by the Content-Length just checked
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")


def _bearer_ok(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


Handler = Callable[[web.Request, Gateway, bytes], Awaitable[Outcome]]

_STATUS_BODIES = {o: json.dumps({"status": o.value}).encode() for o in Outcome}


async def _webhook(request: web.Request, source: str, handle: Handler) -> web.Response:
    gateway = request.app[GATEWAY]
    started = time.perf_counter()
    outcome = "error"
    try:
        body = await read_body(request)
        result = await handle(request, gateway, body)
        outcome = result.value
        return web.Response(
            body=_STATUS_BODIES[result],
            status=202 if result is Outcome.ACCEPTED else 200,
            content_type="application/json",
        )
    except _TooLarge as e:
        outcome = "too_large"
        return error_response(413, "payload too large", [str(e)])
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


async def _handle_alertmanager(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    if not _bearer_ok(request, gateway.options.webhook_token):
        raise Unauthorized("missing or invalid bearer token")
    payload = await read_alertmanager(body)
    structlog.contextvars.bind_contextvars(group_key=payload.group_key)
    return await gateway.ingest_alertmanager(payload)


async def _handle_drift(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    options = gateway.options
    signature = request.headers.get("X-Signature-256")
    signed = options.drift_secret is not None and valid_signature(
        options.drift_secret, body, signature
    )
    if signature is not None and options.drift_secret is not None and not signed:
        raise Unauthorized("invalid X-Signature-256")
    if options.drift_secret is not None and not signed:
        if options.webhook_token is None or not _bearer_ok(request, options.webhook_token):
            raise Unauthorized("drift webhooks need a valid X-Signature-256 or bearer token")
    elif not signed and not _bearer_ok(request, options.webhook_token):
        raise Unauthorized("missing or invalid bearer token")
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
    return await _webhook(request, "alertmanager", _handle_alertmanager)


async def drift_webhook(request: web.Request) -> web.Response:
    return await _webhook(request, "drift", _handle_drift)


async def _handle_mlflow(request: web.Request, gateway: Gateway, body: bytes) -> Outcome:
    events = request.app[REGISTRY_EVENTS]
    if events.secret is None:
        raise Unauthorized(
            "MLflow webhooks need CHATOPS_MLFLOW_WEBHOOK_SECRET (the MLflow webhook's secret)"
        )
    delivery = verify_delivery(
        events.secret, headers=dict(request.headers), body=body, now=time.time()
    )
    event = parse_registry_event(body)
    structlog.contextvars.bind_contextvars(registered_model=event.name, delivery_id=delivery)
    return await events.ingest(event, delivery_id=delivery)


async def mlflow_webhook(request: web.Request) -> web.Response:
    return await _webhook(request, "mlflow", _handle_mlflow)
