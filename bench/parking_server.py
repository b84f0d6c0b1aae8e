"""The durable floor: the bare handler, plus one durable write of each body before answering.

    python bench/parking_server.py --port PORT --store sqlite:///PATH

What the service must do at the least for a webhook it answers 202: read and parse the body,
and record it durably (the service's own SQLite store, `Store.park`, batched as the service
batches it) so nothing is lost if the process dies. No validation, dedup, fold or Slack. The
ratio of this server's throughput to the bare handler's is the ceiling of the service's own
ratio on the same bodies.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the service's storage

from bare_server import application, arguments, serve

from storage import Store, open_store

STORE = web.AppKey("store", Store)


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    data = json.loads(body)
    if not isinstance(data, dict):
        return web.json_response({"status": "invalid"}, status=400)
    group = str(data.get("groupKey", ""))
    now = time.time()
    await request.app[STORE].park(group=group, source="alertmanager", body=body.decode(), now=now)
    return web.json_response({"status": "accepted"}, status=202)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="sqlite:///PATH, as CHATOPS_STORE_URL")
    args = parser.parse_args()
    app = application(webhook)

    async def store_context(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = await open_store(args.store)
        yield
        await app[STORE].close()

    app.cleanup_ctx.append(store_context)
    serve(app, args)


if __name__ == "__main__":
    main()
