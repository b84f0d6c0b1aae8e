"""A tiny Prometheus exporter for end-to-end tests: the test sets values, Prometheus scrapes them.

It stands in for the model servers and the drift job. Values are exported
untyped, which Prometheus accepts for any name (`*_total`, `*_bucket` and
plain gauges alike), so one `set` call covers gauges, counters and histogram
buckets: a test drives a counter by setting increasing values.

    async with MetricsExporter() as exporter:
        exporter.set("model_drift_score", {"model": "fraud-detector"}, 0.42)
        ... Prometheus scrapes exporter.target ...
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Self

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

_LabelKey = tuple[tuple[str, str], ...]

# The classic text format, which every Prometheus 2.x parses.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


class _SampleCollector(Collector):
    """Exposes the samples dict as untyped metric families, one per metric name."""

    def __init__(self, samples: dict[str, dict[_LabelKey, float]]) -> None:
        self._samples = samples

    def collect(self) -> Iterator[Metric]:
        for name, series in sorted(self._samples.items()):
            family = Metric(name, f"{name} set by the e2e test", "untyped")
            for labels, value in sorted(series.items()):
                family.add_sample(name, dict(labels), value)
            yield family


class MetricsExporter:
    """An aiohttp server on 127.0.0.1 (port 0) serving the values a test set, on GET /metrics."""

    def __init__(self) -> None:
        self._samples: dict[str, dict[_LabelKey, float]] = {}
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_SampleCollector(self._samples))
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def set(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """Set one series; the next scrape sees it."""
        self._samples.setdefault(name, {})[_label_key(labels)] = value

    def remove(self, name: str, labels: Mapping[str, str]) -> None:
        """Stop exporting one series (Prometheus marks it stale on the next scrape)."""
        self._samples.get(name, {}).pop(_label_key(labels), None)

    @property
    def target(self) -> str:
        """`host:port` for a Prometheus `static_configs` target."""
        if self._port is None:
            raise RuntimeError("exporter not started")
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """Full URL of the metrics endpoint."""
        return f"http://{self.target}/metrics"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = _bound_port(self._runner)

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": TEXT_FORMAT})


def _label_key(labels: Mapping[str, str]) -> _LabelKey:
    return tuple(sorted(labels.items()))


def _bound_port(runner: web.AppRunner) -> int:
    """The port the OS picked for the runner's only site."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("exporter has no listening socket")
