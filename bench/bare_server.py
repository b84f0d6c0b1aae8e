"""The baseline: a bare aiohttp server whose webhook handler only reads and parses the JSON.

    python bench/bare_server.py --port PORT

Same framework, same default event loop and same request as the real app, minus everything
the product does (auth, validation, dedup, the store, the outbox): the ratio of the app's
throughput to this one's says what the product costs over the HTTP floor.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    data = json.loads(body)
    status = "accepted" if isinstance(data, dict) else "invalid"
    return web.json_response({"status": status}, status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser


def application(handler: Handler) -> web.Application:
    """The webhook route (`handler`) and /healthz, taking bodies as large as the service does."""
    # Large enough for the single-huge-group measure (about 6 MB for 10,000 alerts).
    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/webhooks/alertmanager", handler)
    app.router.add_get("/healthz", healthz)
    return app


def serve(app: web.Application, args: argparse.Namespace) -> None:
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


def main() -> None:
    args = arguments(__doc__.splitlines()[0]).parse_args()
    serve(application(webhook), args)


if __name__ == "__main__":
    main()
