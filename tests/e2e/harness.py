"""Real Prometheus and Alertmanager on loopback, built from the SHIPPED alertmanager/ files.

End-to-end tests run the monitoring side for real: Prometheus scrapes a test
exporter and evaluates `alertmanager/rules/ml-models.rules.yml`, Alertmanager
routes with `alertmanager/alertmanager.yml` and POSTs webhooks to the URL the
test gives. Both files are loaded as YAML and rewritten into a temporary
directory, changing only what a test cannot wait for or reach: `for:`
durations, Alertmanager timers, the receiver URL and its token file.

    async with monitoring_stack(tmp_path, scrape_target=exporter.target,
                                webhook_url=url, token=token) as stack:
        ... stack.prometheus_url, stack.alertmanager_url, stack.logs() ...

Ports: the binaries need a concrete port, so `free_port()` binds 127.0.0.1:0,
reads the port and releases it just before the launch. Another process could
take the port in between; a launch that fails with "address already in use"
is retried once on a fresh port.
"""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.binaries import require_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_RULES = REPO_ROOT / "alertmanager" / "rules" / "ml-models.rules.yml"
SHIPPED_ALERTMANAGER_CONFIG = REPO_ROOT / "alertmanager" / "alertmanager.yml"

READY_TIMEOUT_S = 20.0
READY_POLL_S = 0.1
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 40
_TIMER_KEYS = ("group_wait", "group_interval", "repeat_interval")


@dataclass(frozen=True)
class AlertmanagerTimers:
    """Route timers for tests (the shipped values are 30s / 5m / 4h)."""

    group_wait: str = "1s"
    group_interval: str = "2s"
    repeat_interval: str = "5s"


SHORT_TIMERS = AlertmanagerTimers()


@dataclass(frozen=True)
class ServiceProcess:
    """A started binary: where it listens and where its log is."""

    name: str
    port: int
    log_path: Path

    @property
    def target(self) -> str:
        """`127.0.0.1:<port>`, for configs that want host:port."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash)."""
        return f"http://{self.target}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Last lines of the process log, for assertion messages."""
        return _tail(self.log_path, lines)


@dataclass(frozen=True)
class MonitoringStack:
    """Prometheus and Alertmanager started together by `monitoring_stack`."""

    prometheus: ServiceProcess
    alertmanager: ServiceProcess

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager.url

    def logs(self, lines: int = LOG_TAIL_LINES) -> str:
        """Both log tails, labelled, to append to a failing assertion."""
        return "\n".join(
            f"--- {p.name} log (last {lines} lines) ---\n{p.log_tail(lines)}"
            for p in (self.prometheus, self.alertmanager)
        )


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (see the module docstring for the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rewrite_rules(doc: dict[str, Any], *, for_duration: str) -> dict[str, Any]:
    """A copy of a rule file document with every `for:` set to `for_duration`."""
    result = copy.deepcopy(doc)
    for group in result["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = for_duration
    return result


def rewrite_alertmanager_config(
    doc: dict[str, Any],
    *,
    webhook_url: str,
    credentials_file: Path,
    timers: AlertmanagerTimers,
) -> dict[str, Any]:
    """A copy of an Alertmanager config pointing every webhook at `webhook_url` with short timers.

    Every webhook receiver gets the URL and a Bearer `credentials_file`; the
    root route gets all three timers and any child route that sets a timer
    gets the short value instead. Routing, grouping and inhibition are kept.
    """
    result = copy.deepcopy(doc)
    for receiver in result.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
            http_config = webhook.setdefault("http_config", {})
            http_config["authorization"] = {
                "type": "Bearer",
                "credentials_file": str(credentials_file),
            }
    _shorten_timers(result["route"], timers, is_root=True)
    return result


def _shorten_timers(route: dict[str, Any], timers: AlertmanagerTimers, *, is_root: bool) -> None:
    for key in _TIMER_KEYS:
        if is_root or key in route:
            route[key] = getattr(timers, key)
    for child in route.get("routes", []):
        _shorten_timers(child, timers, is_root=False)


@asynccontextmanager
async def run_alertmanager(
    workdir: Path,
    *,
    webhook_url: str,
    token: str,
    timers: AlertmanagerTimers = SHORT_TIMERS,
    config: Path = SHIPPED_ALERTMANAGER_CONFIG,
    binary: str | None = None,
) -> AsyncIterator[ServiceProcess]:
    """Run Alertmanager from `config` (rewritten) in `workdir/alertmanager`, clustering off."""
    binary = binary or require_binary("prometheus-alertmanager", "alertmanager")
    home = workdir / "alertmanager"
    config_path = await asyncio.to_thread(
        _write_alertmanager_files, home, config, webhook_url, token, timers
    )

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]

    async with _running("alertmanager", argv, home / "alertmanager.log") as service:
        yield service


@asynccontextmanager
async def run_prometheus(
    workdir: Path,
    *,
    scrape_targets: Sequence[str],
    alertmanager_target: str,
    for_duration: str = "1s",
    rules: Path = SHIPPED_RULES,
    job_name: str = "ml-model-metrics",
    binary: str | None = None,
) -> AsyncIterator[ServiceProcess]:
    """Run Prometheus in `workdir/prometheus`: 1s scrape and evaluation, alerts resent every 1s."""
    binary = binary or require_binary("prometheus")
    home = workdir / "prometheus"
    config_path = await asyncio.to_thread(
        _write_prometheus_files,
        home,
        rules,
        for_duration,
        _prometheus_config(scrape_targets, alertmanager_target, job_name),
    )

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
        ]

    async with _running("prometheus", argv, home / "prometheus.log") as service:
        yield service


@asynccontextmanager
async def monitoring_stack(
    workdir: Path,
    *,
    scrape_target: str,
    webhook_url: str,
    token: str,
    for_duration: str = "1s",
    timers: AlertmanagerTimers = SHORT_TIMERS,
) -> AsyncIterator[MonitoringStack]:
    """Alertmanager posting to `webhook_url`, then Prometheus scraping `scrape_target` into it."""
    async with (
        run_alertmanager(workdir, webhook_url=webhook_url, token=token, timers=timers) as am,
        run_prometheus(
            workdir,
            scrape_targets=[scrape_target],
            alertmanager_target=am.target,
            for_duration=for_duration,
        ) as prometheus,
    ):
        yield MonitoringStack(prometheus=prometheus, alertmanager=am)


def _prometheus_config(
    scrape_targets: Sequence[str], alertmanager_target: str, job_name: str
) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_target]}]}]},
        "scrape_configs": [
            {"job_name": job_name, "static_configs": [{"targets": list(scrape_targets)}]}
        ],
    }


def _write_prometheus_files(
    home: Path, rules: Path, for_duration: str, config: dict[str, Any]
) -> Path:
    """Write the shortened rules and the config (which loads them); return the config path."""
    home.mkdir(parents=True, exist_ok=True)
    rules_path = home / rules.name
    rules_doc = yaml.safe_load(rules.read_text(encoding="utf-8"))
    rules_path.write_text(
        yaml.safe_dump(rewrite_rules(rules_doc, for_duration=for_duration), sort_keys=False)
    )
    config_path = home / "prometheus.yml"
    config_path.write_text(
        yaml.safe_dump({**config, "rule_files": [str(rules_path)]}, sort_keys=False)
    )
    return config_path


def _write_alertmanager_files(
    home: Path, config: Path, webhook_url: str, token: str, timers: AlertmanagerTimers
) -> Path:
    """Write the token file (mode 0600) and the rewritten config; return the config path."""
    (home / "data").mkdir(parents=True, exist_ok=True)
    token_path = home / "webhook-token"
    token_path.touch(mode=0o600)
    token_path.write_text(token, encoding="utf-8")
    doc = rewrite_alertmanager_config(
        yaml.safe_load(config.read_text(encoding="utf-8")),
        webhook_url=webhook_url,
        credentials_file=token_path,
        timers=timers,
    )
    config_path = home / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config_path


@asynccontextmanager
async def _running(
    name: str, argv: Callable[[int], list[str]], log_path: Path
) -> AsyncIterator[ServiceProcess]:
    """Start the binary on a free port (retrying once on a port clash), wait ready, stop on exit."""
    for attempt in (1, 2):
        service = ServiceProcess(name=name, port=free_port(), log_path=log_path)
        process = await _spawn(argv(service.port), log_path)
        try:
            await _wait_ready(process, service)
            break
        except _ExitedEarly:
            await process.wait()
            if attempt == 1 and "address already in use" in service.log_tail():
                continue
            raise AssertionError(
                f"{name} exited with {process.returncode} before it was ready\n{service.log_tail()}"
            ) from None
        except BaseException:
            await _stop(process)
            raise
    try:
        yield service
    finally:
        await _stop(process)


class _ExitedEarly(Exception):
    """The process ended before answering /-/ready."""


async def _spawn(argv: list[str], log_path: Path) -> asyncio.subprocess.Process:
    """Start `argv` with stdout and stderr appended to `log_path`."""
    log = await asyncio.to_thread(log_path.open, "ab")
    try:
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        log.close()  # the child holds its own copy of the descriptor


async def _wait_ready(process: asyncio.subprocess.Process, service: ServiceProcess) -> None:
    """Poll `/-/ready` until 200, the process exits, or READY_TIMEOUT_S passes."""
    ready_url = f"{service.url}/-/ready"
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while process.returncode is None:
                    if await _answers_ok(session, ready_url):
                        return
                    await asyncio.sleep(READY_POLL_S)
        except TimeoutError:
            raise AssertionError(
                f"{service.name} not ready after {READY_TIMEOUT_S}s\n{service.log_tail()}"
            ) from None
    raise _ExitedEarly


async def _answers_ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, wait up to STOP_TIMEOUT_S, then SIGKILL."""
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
            return
        except TimeoutError:
            process.kill()
    await process.wait()


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
