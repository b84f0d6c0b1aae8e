"""Cross-cutting HTTP pieces: request ids, JSON errors (never a trace), health and metrics."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatops.keys import METRICS, STORE
from storage import StoreError

log = structlog.get_logger("chatops.http")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Request ids: a random prefix per process and a counter (unique across replicas and restarts,
# and cheaper than a uuid4 per request, which showed up in the ingest profile).
_ID_PREFIX = uuid.uuid4().hex[:16]
_ids = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):016x}"


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one middleware (each layer costs every request something):

    - a request id (the caller's X-Request-Id or a new one) on every log line of the request
      and echoed on its response;
    - routing errors (404/405) answered as JSON;
    - anything unexpected logged, counted and answered 500 as JSON, never a trace.
    """
    request_id = request.headers.get("X-Request-Id", "")[:64] or _new_request_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, path=request.path)
    response: web.StreamResponse
    try:
        response = await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = web.json_response(
            {"error": e.reason.lower(), "details": [f"{request.method} {request.path}"]},
            status=e.status,
            headers={k: v for k, v in e.headers.items() if k == "Allow"},
        )
    except Exception:
        log.exception("request_failed", method=request.method)
        request.app[METRICS].errors.labels(where="http").inc()
        response = web.json_response({"error": "internal error", "details": []}, status=500)
    response.headers["X-Request-Id"] = request_id
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[STORE].ping()
    except StoreError as e:
        return web.json_response(
            {"status": "unavailable", "failing": ["store"], "details": [str(e)]}, status=503
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    await _refresh_outbox(request.app)
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _refresh_outbox(app: web.Application) -> None:
    """Read the outbox gauges from the store at scrape time, so they are current mid-storm.

    The store is shared, so every replica reports the same backlog. When the store is down
    the last values stay (readiness already says so).
    """
    try:
        stats = await app[STORE].outbox_stats()
    except StoreError as e:
        log.warning("outbox_stats_failed", error=str(e))
        return
    gauges = app[METRICS]
    gauges.outbox_pending.set(stats.pending)
    oldest = stats.oldest_queued_at
    gauges.outbox_lag.set(0.0 if oldest is None else max(0.0, time.time() - oldest))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
