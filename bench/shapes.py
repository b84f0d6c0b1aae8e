"""The bodies Alertmanager really sends in a storm, each measured against the bare handler.

Every notification carries the whole group, so a storm is growing groups (3, 6, 9 ... 90
alerts per body), then repeat notifications of those large bodies, and at worst one huge group
(Alertmanager's max_alerts unset). App and bare take turns on the same bodies, round by round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp
from measures import HEADERS, Row, Sizes, loaded, mean, pct, total_rps, verdict
from payloads import group, group_key, huge_group
from services import Server, rss_mb, start_bare, start_parking, start_service

from gateway.incident_model import message_key
from gateway.routes import MAX_GROUP_BODY
from tests.fakes.slack import FakeSlack

PROBE_CHANNELS = 10  # probes rotate over their own channels, so pacing does not delay them


def shapes_config(models: int = 3) -> dict[str, Any]:
    channels = {f"model-{i}": f"#bench-{i}" for i in range(models)}
    channels |= {f"probe-{i}": f"#probe-{i}" for i in range(PROBE_CHANNELS)}
    return {
        "slack": {"default_channel": "#ml-alerts"},
        "models": {m: {"channel": c} for m, c in channels.items()},
    }


def _ratio_rows(
    label: str, real: list[dict[str, Any]], base: list[dict[str, Any]], target: float
) -> list[Row]:
    app_rps, bare_rps = total_rps(real), total_rps(base)
    ratio = app_rps / bare_rps
    rounds = [r["rps"] / b["rps"] for r, b in zip(real, base, strict=True)]
    bad = sum(n for r in real for s, n in r["statuses"].items() if s not in ("200", "202"))
    per_round = ", ".join(f"{r['rps']:.0f}" for r in real)
    return [
        (f"{label}: app req/s", f"{app_rps:.0f} (rounds {per_round})", "all 2xx",
         verdict(bad == 0)),
        (f"{label}: bare aiohttp req/s", f"{bare_rps:.0f}", "-", "info"),
        (f"{label}: app / bare", f"{ratio:.2f} (rounds {min(rounds):.2f}-{max(rounds):.2f})",
         f">= {target}", verdict(ratio >= target)),
        (f"{label}: CPU, app run / bare run",
         f"server {mean(real, 'server_cpu'):.0%} / {mean(base, 'server_cpu'):.0%}, "
         f"client {mean(real, 'client_cpu'):.0%} / {mean(base, 'client_cpu'):.0%} of a core",
         "client < 100%", "info"),
    ]  # fmt: skip


# --- (6) growing groups, with webhook -> Slack latency probes alongside -----------------------


class Probes:
    """New 3-alert groups posted every `every` seconds while a load runs; their Slack latency."""

    def __init__(self, url: str, fake: FakeSlack, every: float, tag: str = "") -> None:
        self.url, self.fake, self.every, self.tag = url, fake, every, tag
        self.sent: dict[str, float] = {}  # message key -> when the webhook was sent

    async def run_while(self, load: asyncio.Task[Any]) -> None:
        async with aiohttp.ClientSession() as session:
            while not load.done():
                n = len(self.sent)
                name = f"probe-{self.tag}{n}"
                body = group(name, model=f"probe-{n % PROBE_CHANNELS}", size=3)
                started = time.time()
                self.sent[message_key(group_key(name), 1)] = started
                url = f"{self.url}/webhooks/alertmanager"
                async with session.post(url, data=body.replace(b"@@VALUE@@", b"0.4"),
                                        headers=HEADERS) as r:  # fmt: skip
                    await r.read()
                await asyncio.sleep(max(0.0, started + self.every - time.time()))

    async def latencies(self, within: float = 60) -> list[float]:
        """Seconds from webhook to chat.postMessage per probe (inf if not there in `within`)."""
        with contextlib.suppress(AssertionError):  # late ones count as infinitely late
            await self.fake.wait_for(lambda _: len(self._arrived()) == len(self.sent), within)
        arrived = self._arrived()
        return [arrived.get(k, float("inf")) - at for k, at in self.sent.items()]

    def _arrived(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for call in self.fake.calls("chat.postMessage"):
            metadata = call.params.get("metadata")
            payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
            key = payload.get("key") if isinstance(payload, dict) else None
            if key in self.sent and key not in found:
                found[key] = call.at
        return found


async def growing(workdir: Path, sizes: Sizes) -> list[Row]:
    """Rounds of fresh groups growing to full size, app and bare in turns on the same bodies."""
    options = {
        "shape": "growing",
        "concurrency": sizes.concurrency,
        "groups": sizes.grow_groups,
        "step": sizes.grow_step,
        "upto": sizes.grow_upto,
    }
    real: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    floor: list[dict[str, Any]] = []
    delays: list[float] = []
    async with FakeSlack() as fake:
        app = await start_service(workdir, "growing", config=shapes_config(),
                                  slack_api_url=fake.api_url)  # fmt: skip
        bare = await start_bare(workdir)
        parking = await start_parking(workdir)
        try:
            for n in range(sizes.rounds):
                probes = Probes(app.url, fake, sizes.probe_every, tag=f"{n}-")
                load = asyncio.create_task(loaded(app, {**options, "seed": n + 1}))
                await probes.run_while(load)
                real.append(await load)
                delays += await probes.latencies()
                base.append(await loaded(bare, {**options, "seed": n + 1}))
                floor.append(await loaded(parking, {**options, "seed": n + 1}))
            rss = rss_mb(app.pid)
        finally:
            await app.stop()
            await bare.stop()
            await parking.stop()
    shape = (
        f"{sizes.grow_groups} groups +{sizes.grow_step} alerts per notification up to "
        f"{sizes.grow_upto}, {sizes.rounds} rounds"
    )
    late = sum(d == float("inf") for d in delays)
    p99 = pct(delays, 0.99)
    return [
        ("growing groups", shape, "-", "info"),
        *_ratio_rows("growing", real, base, 0.5),
        ("growing: durable floor / bare",
         f"{total_rps(floor) / total_rps(base):.2f} ({total_rps(floor):.0f} req/s: parse, park "
         "durably, answer; nothing else)", "-", "info"),
        ("growing: webhook -> Slack p99, under load",
         f"{p99 * 1000:.0f} ms (p50 {pct(delays, 0.5) * 1000:.0f} ms, n={len(delays)} probes, "
         f"{late} not in 60 s)" if p99 != float("inf") else f"> 60 s ({late} of {len(delays)})",
         "-", "info"),
        ("growing: RSS after the run", f"{rss:.0f} MB", "< 150 MB", verdict(rss < 150)),
    ]  # fmt: skip


# --- (7) repeat notifications of large groups -----------------------------------------------


async def resends(workdir: Path, sizes: Sizes) -> list[Row]:
    """Re-sends of `resend_alerts`-alert groups: byte-identical, and with `$value` changing."""
    options = {
        "concurrency": sizes.concurrency,
        "duration": sizes.duration / sizes.rounds,
        "pool": sizes.resend_pool,
        "new_ratio": 0.0,
        "alerts": sizes.resend_alerts,
    }
    runs: dict[bool, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        True: ([], []),
        False: ([], []),
    }
    async with FakeSlack() as fake:
        app = await start_service(workdir, "resends", config=shapes_config(),
                                  slack_api_url=fake.api_url)  # fmt: skip
        bare = await start_bare(workdir)
        try:
            for n in range(sizes.rounds):
                for same, (real, base) in runs.items():
                    real.append(await loaded(app, {**options, "same": same, "seed": n + 1}))
                    base.append(await loaded(bare, {**options, "same": same, "seed": n + 1}))
            rss = rss_mb(app.pid)
        finally:
            await app.stop()
            await bare.stop()
    n = sizes.resend_alerts
    return [
        ("large re-sends", f"{sizes.resend_pool} groups of {n} alerts, repeated for "
         f"{sizes.rounds} x {options['duration']:g} s per variant", "-", "info"),
        *_ratio_rows(f"re-send {n} identical", *runs[True], 0.8),
        *_ratio_rows(f"re-send {n} $value changes", *runs[False], 0.8),
        ("large re-sends: RSS after the run", f"{rss:.0f} MB", "< 150 MB", verdict(rss < 150)),
    ]  # fmt: skip


# --- (8) one huge group: bounded time and memory, and how long the event loop is blocked -------


class Watch:
    """Polls GET /healthz back to back (and the server's RSS) until stopped."""

    def __init__(self, server: Server, *, rss: bool) -> None:
        self.server, self.rss = server, rss
        self.longest = 0.0
        self.peak = rss_mb(server.pid) if rss else 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while not self._stop.is_set():
                started = time.perf_counter()
                async with session.get(f"{self.server.url}/healthz") as r:
                    await r.read()
                self.longest = max(self.longest, time.perf_counter() - started)
                if self.rss:
                    self.peak = max(self.peak, rss_mb(self.server.pid))
                await asyncio.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()


async def _huge_one(
    server: Server, body: bytes, name: str, fake: FakeSlack | None
) -> dict[str, Any]:
    """Post one huge body while watching /healthz; for the app, wait for its Slack message."""
    watch = Watch(server, rss=fake is not None)
    before = watch.peak
    watching = asyncio.create_task(watch.run())
    await asyncio.sleep(0.05)
    sent_at, started = time.time(), time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = f"{server.url}/webhooks/alertmanager"
        async with session.post(url, data=body, headers=HEADERS) as r:
            await r.read()
            status = r.status
    answered = time.perf_counter() - started
    slack = None
    if fake is not None and status in (200, 202):
        probe = Probes(server.url, fake, 0)
        probe.sent[message_key(group_key(name, "HugeGroup"), 1)] = sent_at
        slack = (await probe.latencies(within=300))[0]
    watch.stop()
    await watching
    after = rss_mb(server.pid) if fake is not None else 0.0
    return {"status": status, "answered": answered, "slack": slack, "healthz": watch.longest,
            "rss": (before, watch.peak, after)}  # fmt: skip


def _fits(limit: int) -> int:
    """The largest group (in hundreds of alerts) whose body stays under `limit` bytes."""
    per_alert = len(huge_group("size", alerts=100)) / 100
    return int(limit / per_alert / 100) * 100


async def huge(workdir: Path, sizes: Sizes) -> list[Row]:
    counts = [sizes.huge_alerts, min(sizes.huge_alerts, _fits(MAX_GROUP_BODY))]
    rows: list[Row] = []
    async with FakeSlack() as fake:
        app = await start_service(workdir, "huge", config=shapes_config(),
                                  slack_api_url=fake.api_url)  # fmt: skip
        bare = await start_bare(workdir)
        try:
            for i, count in enumerate(dict.fromkeys(counts)):
                name = f"huge-{i}"
                body = huge_group(name, alerts=count)
                real = await _huge_one(app, body, name, fake)
                base = await _huge_one(bare, body, name, None)
                rows += _huge_rows(count, len(body), real, base)
        finally:
            await app.stop()
            await bare.stop()
    return rows


def _huge_rows(count: int, size: int, real: dict[str, Any], base: dict[str, Any]) -> list[Row]:
    label = f"huge group {count:,} alerts ({size / 2**20:.1f} MB)"
    ok = real["status"] in (200, 202)
    slack = real["slack"]
    reached = f", Slack after {slack:.2f} s" if slack is not None else ""
    before, peak, after = real["rss"]
    healthz = real["healthz"] * 1000
    return [
        (f"{label}: app", f"HTTP {real['status']} in {real['answered']:.2f} s{reached}",
         "2xx (a 4xx is not retried: group lost)", verdict(ok)),
        (f"{label}: bare", f"HTTP {base['status']} in {base['answered']:.2f} s, "
         f"/healthz max {base['healthz'] * 1000:.0f} ms", "-", "info"),
        (f"{label}: app /healthz max", f"{healthz:.0f} ms (event loop blocked)", "< 100 ms",
         verdict(healthz < 100)),
        (f"{label}: app RSS", f"{before:.0f} -> peak {peak:.0f} -> {after:.0f} MB", "< 150 MB",
         verdict(peak < 150)),
    ]  # fmt: skip
