"""What the fake GitLab and fake GitHub servers share: recording, latency, injected faults.

Each fake is a real aiohttp server on a free loopback port. It records every request, can answer
slowly (`latency`) or with an injected status (`fail`), and leaves authentication and the error
body format to the fake itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class Fault:
    """An injected failure: answer `status` to matching requests, `times` times."""

    status: int
    times: int = 1
    method: str | None = None
    path: str | None = None  # substring of the request path
    message: str | None = None
    skip: int = 0  # let this many matching requests through first

    def hit(self, request: web.Request) -> bool:
        """Whether this fault answers `request` (and count it if so)."""
        if self.times <= 0:
            return False
        if self.method not in (None, request.method):
            return False
        if self.path is not None and self.path not in request.path:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self.times -= 1
        return True


@dataclass
class RecordingServer:
    """Base of the provider fakes: `requests`, `fail()`, `latency`, start/stop on loopback."""

    latency: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _faults: list[Fault] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        message: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer `times` matching requests (after `skip` of them) with `status`."""
        self._faults.append(Fault(status, times, method, path, message, skip))

    def requests_to(self, method: str, path_part: str) -> list[Recorded]:
        """The recorded requests with this method whose path contains `path_part`."""
        return [r for r in self.requests if r.method == method and path_part in r.path]

    async def _serve(self, app: web.Application) -> None:
        """Listen on a free loopback port."""
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Wake slow handlers and shut the server down."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _intercept(self, request: web.Request) -> Fault | None:
        """Record `request`, wait out the latency, and return the fault that answers it, if any."""
        body = await request.json() if request.can_read_body else None
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if self.latency:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.latency)
        return next((f for f in self._faults if f.hit(request)), None)
