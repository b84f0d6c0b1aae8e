"""Child processes of the benchmark: the real service, the bare baseline, the load generator.

Each server runs in its own process (its own event loop), on 127.0.0.1 and a free port; the
service is `python -m chatops serve`, exactly as deployed, with a SQLite store in a temp dir
and Slack (and GitLab) faked on loopback by the benchmark process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

BENCH = Path(__file__).resolve().parent
WEBHOOK_TOKEN = "bench-webhook-token"  # a benchmark value, not a secret
BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
GITLAB_TOKEN = "glpat-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A child HTTP server process, ready once GET /healthz answers 200."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.profiler: asyncio.subprocess.Process | None = None
        self.log = workdir / f"{name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def spawn(self, *argv: str, env: dict[str, str] | None = None) -> None:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=log, stderr=log)
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        tail = self.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not start:\n{tail}")

    async def profile(self, py_spy: str) -> None:
        """Sample this process with py-spy until it exits: collapsed stacks in NAME.pyspy.txt
        (one line per stack, with its sample count; all threads, idle time left out)."""
        out = self.workdir / f"{self.name}.pyspy.txt"
        argv = ["record", "--pid", str(self.pid), "--format", "raw", "--rate", "100"]
        with (self.workdir / f"{self.name}.pyspy.log").open("ab") as log:
            self.profiler = await asyncio.create_subprocess_exec(
                py_spy, *argv, "-o", str(out), stdout=log, stderr=log
            )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.profiler is not None:  # it writes its file once the process has exited
            await asyncio.wait_for(self.profiler.wait(), 30)


async def start_bare(workdir: Path) -> Server:
    server = Server(workdir, "bare")
    script = str(BENCH / "bare_server.py")
    await server.spawn(sys.executable, script, "--port", str(server.port))
    return server


async def start_parking(workdir: Path) -> Server:
    """`bench/parking_server.py`: the bare handler plus a durable park of each body."""
    server = Server(workdir, "parking")
    script = str(BENCH / "parking_server.py")
    url = store_url(workdir, "parking")
    await server.spawn(sys.executable, script, "--port", str(server.port), "--store", url)
    return server


async def start_service(
    workdir: Path, name: str, *, config: dict[str, Any], slack_api_url: str, **env: str
) -> Server:
    """`python -m chatops serve` with its own config, SQLite store and fake Slack."""
    server = Server(workdir, name)
    config_path = workdir / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    values = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "CHATOPS_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "GITLAB_TOKEN": GITLAB_TOKEN,  # serve refuses a gitlab pipeline without it
        "CHATOPS_STORE_URL": store_url(workdir, name),
        "CHATOPS_CONFIG": str(config_path),
        "CHATOPS_LOG_FORMAT": "json",
        **env,
    }
    argv = ("-m", "chatops", "serve", "--host", "127.0.0.1", "--port", str(server.port))
    await server.spawn(sys.executable, *argv, env=values)
    if py_spy := os.environ.get("BENCH_PY_SPY"):  # the path of a py-spy executable
        await server.profile(py_spy)
    return server


def store_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / name}.db"


async def run_load(
    url: str,
    *,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run bench/load.py against `url`; returns its JSON result."""
    argv = [sys.executable, str(BENCH / "load.py"), "--url", url, "--token", WEBHOOK_TOKEN]
    for key, value in options.items():
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, str(value)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    result: dict[str, Any] = {}
    async for raw in proc.stdout:
        line = raw.decode().strip()
        if line.startswith("progress ") and on_progress is not None:
            await on_progress(int(line.split()[1]))
        elif line.startswith("{"):
            result = json.loads(line)
    if await proc.wait() != 0 or not result:
        raise RuntimeError(f"load generator failed (exit {proc.returncode})")
    return result
