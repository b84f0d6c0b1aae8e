"""Measures 1-5 of the benchmark; each returns table rows (measure, value, target, result).

Slack (and GitLab) are the fakes from tests/fakes, served on loopback by this process, so a
Slack call's arrival time and the webhook's send time come from the same clock.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from payloads import group, group_key, storm_waves
from services import (
    GITLAB_TOKEN,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    Server,
    cpu_seconds,
    rss_mb,
    run_load,
    start_bare,
    start_service,
    store_url,
)

from gateway.incident_model import message_key
from storage import open_store
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack import FakeSlack, RecordedCall
from tests.fakes.slack_requests import command_body, signed_headers

Row = tuple[str, str, str, str]
HEADERS = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
PIPELINE = {"provider": "gitlab", "project": "ml/fraud-detector", "ref": "main"}
BUSY_WAIT = 90.0


@dataclass(frozen=True)
class Sizes:
    """How much of everything: --quick is a smoke run, the default the real measurement."""

    duration: float = 20.0  # per server, split into `rounds` turns
    rounds: int = 4
    concurrency: int = 32
    pool: int = 200
    new_ratio: float = 0.05
    latency_groups: int = 300
    commands: int = 30
    command_concurrency: int = 10
    rss_webhooks: int = 100_000
    storm_alerts: int = 10_000
    storm_groups: int = 100
    storm_channels: int = 10
    storm_waves: int = 5
    grow_groups: int = 100
    grow_step: int = 3
    grow_upto: int = 90
    probe_every: float = 0.25
    resend_pool: int = 100
    resend_alerts: int = 90
    huge_alerts: int = 10_000


QUICK = Sizes(
    duration=4.0,
    rounds=2,
    pool=100,
    latency_groups=50,
    commands=10,
    command_concurrency=5,
    rss_webhooks=5_000,
    storm_alerts=2_000,
    storm_groups=20,
    storm_waves=2,
    grow_groups=10,
    grow_upto=30,
    resend_pool=10,
    huge_alerts=2_000,
)


def config(channels: int = 3) -> dict[str, Any]:
    models: dict[str, Any] = {f"model-{i}": {"channel": f"#bench-{i}"} for i in range(channels)}
    models["fraud-detector"] = {"channel": "#fraud-ml", "environments": ["prod"]}
    models["fraud-detector"]["pipeline"] = PIPELINE
    return {"slack": {"default_channel": "#ml-alerts"}, "models": models}


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# --- (1) ingest throughput: the real app against a bare aiohttp handler -------------------------


async def ingest(workdir: Path, sizes: Sizes) -> list[Row]:
    """App and bare take turns, `rounds` short runs each, both servers up all along: a shared
    machine that speeds up or slows down during the measure then affects both alike."""
    per_round = sizes.duration / sizes.rounds
    options = {
        "concurrency": sizes.concurrency,
        "duration": per_round,
        "pool": sizes.pool,
        "new_ratio": sizes.new_ratio,
    }
    real: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    async with FakeSlack() as fake:
        app = await start_service(workdir, "ingest", config=config(), slack_api_url=fake.api_url)
        bare = await start_bare(workdir)
        try:
            for n in range(sizes.rounds):
                real.append(await loaded(app, {**options, "seed": n + 1}))
                base.append(await loaded(bare, {**options, "seed": n + 1}))
        finally:
            await app.stop()
            await bare.stop()
    app_rps, bare_rps = total_rps(real), total_rps(base)
    ratio = app_rps / bare_rps
    rounds = sorted(r["rps"] / b["rps"] for r, b in zip(real, base, strict=True))
    bad = sum(n for r in real for s, n in r["statuses"].items() if s not in ("200", "202"))
    mix = f"{sizes.new_ratio:.0%} new groups, rest repeats; {sizes.concurrency} conns"
    spread = (
        f"{ratio:.2f} (rounds {rounds[0]:.2f}-{rounds[-1]:.2f}, {sizes.rounds} x {per_round:g} s)"
    )
    return [
        ("ingest: app req/s", f"{app_rps:.0f} ({mix})", "-", verdict(bad == 0)),
        ("ingest: bare aiohttp req/s", f"{bare_rps:.0f}", "-", "info"),
        ("ingest: app / bare", spread, ">= 0.5", verdict(ratio >= 0.5)),
        (
            "ingest: CPU, app run / bare run",
            f"server {mean(real, 'server_cpu'):.0%} / {mean(base, 'server_cpu'):.0%}, "
            f"client {mean(real, 'client_cpu'):.0%} / {mean(base, 'client_cpu'):.0%} of a core",
            "client < 100%",
            "info",
        ),
    ]


def total_rps(runs: list[dict[str, Any]]) -> float:
    return sum(r["requests"] for r in runs) / sum(r["elapsed"] for r in runs)


def mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


async def loaded(server: Server, options: dict[str, Any]) -> dict[str, Any]:
    """run_load, plus the server's CPU use over the run (warm-up included)."""
    cpu, started = cpu_seconds(server.pid), time.perf_counter()
    result = await run_load(server.url, **options)
    result["server_cpu"] = (cpu_seconds(server.pid) - cpu) / (time.perf_counter() - started)
    return result


# --- (2) webhook -> Slack latency and (3) slash-command ack while GitLab is slow -------------


def _key_of(call: RecordedCall) -> str | None:
    metadata = call.params.get("metadata") or {}
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload.get("key") if isinstance(payload, dict) else None


async def _post_and_wait(
    session: aiohttp.ClientSession, url: str, fake: FakeSlack, name: str, within: float = 10
) -> tuple[float, float]:
    """Post a new group; seconds until the webhook was answered, and until Slack got it."""
    body = group(name, model="fraud-detector", size=3).replace(b"@@VALUE@@", b"0.4")
    key = message_key(group_key(name), 1)
    started = time.time()
    async with session.post(f"{url}/webhooks/alertmanager", data=body, headers=HEADERS) as r:
        assert r.status == 202, await r.text()
    answered = time.time() - started

    def arrived(f: FakeSlack) -> bool:
        return any(_key_of(c) == key for c in reversed(f.calls("chat.postMessage")))

    try:
        await fake.wait_for(arrived, timeout=within)
    except AssertionError:  # not there in time: report it as "more than `within`"
        return answered, float("inf")
    call = next(c for c in reversed(fake.calls("chat.postMessage")) if _key_of(c) == key)
    return answered, call.at - started


async def _ack_time(session: aiohttp.ClientSession, url: str, fake: FakeSlack, n: int) -> float:
    body = command_body(
        "/retrain", "fraud-detector", user=f"U0BENCH{n:04d}", response_url=fake.response_url(str(n))
    )
    started = time.perf_counter()
    headers = signed_headers(body, secret=SIGNING_SECRET)
    async with session.post(f"{url}/slack/events", data=body, headers=headers) as r:
        await r.read()
        if r.status == 404:
            raise LookupError("route missing")
        assert r.status == 200, (r.status, await r.text())
    return time.perf_counter() - started


async def _in_batches(count: int, size: int, one: Callable[[int], Awaitable[float]]) -> list[float]:
    found: list[float] = []
    for start in range(0, count, size):
        found += await asyncio.gather(*(one(n) for n in range(start, min(count, start + size))))
    return found


async def latency_and_ack(workdir: Path, sizes: Sizes) -> list[Row]:
    async with FakeSlack() as fake:
        gitlab = FakeGitLab(token=GITLAB_TOKEN, latency=10.0)
        await gitlab.start()
        gitlab.add_project("ml/fraud-detector")
        env = {"CHATOPS_SLACK_PACING": "0", "GITLAB_URL": gitlab.url, "GITLAB_TOKEN": GITLAB_TOKEN}
        svc = await start_service(
            workdir, "latency", config=config(), slack_api_url=fake.api_url, **env
        )
        try:
            async with aiohttp.ClientSession() as session:
                delays = [
                    (await _post_and_wait(session, svc.url, fake, f"lat-{i}"))[1]
                    for i in range(sizes.latency_groups)
                ]
                acks = await _slash_acks(session, svc.url, fake, sizes)
                during = [
                    await _post_and_wait(session, svc.url, fake, f"busy-{i}", within=BUSY_WAIT)
                    for i in range(5)
                ]
        finally:
            await gitlab.stop()  # wakes its slow answers, so the service stops promptly
            await svc.stop()
    return [*_latency_rows(delays), *acks, *_busy_rows(during)]


def _busy_rows(during: list[tuple[float, float]]) -> list[Row]:
    """Webhooks sent right after the slash commands, while their GitLab calls hang."""
    answered, arrived = max(a for a, _ in during), max(s for _, s in during)
    note = f"n={len(during)}, right after the commands"
    return [
        ("webhook 2xx, max, GitLab hanging", f"{answered:.2f} s ({note})", "< 1 s",
         verdict(answered < 1)),
        ("webhook -> Slack, max, GitLab hanging",
         f"{arrived:.2f} s" if arrived < BUSY_WAIT else f"> {BUSY_WAIT:.0f} s (gave up)", "< 1 s",
         verdict(arrived < 1)),
    ]  # fmt: skip


def _latency_rows(delays: list[float]) -> list[Row]:
    note = f"n={len(delays)}, pacing 0"
    return [
        (
            "webhook -> Slack p50",
            f"{statistics.median(delays) * 1000:.0f} ms ({note})",
            "-",
            "info",
        ),
        ("webhook -> Slack p99", f"{pct(delays, 0.99) * 1000:.0f} ms", "-", "info"),
    ]


async def _slash_acks(
    session: aiohttp.ClientSession, url: str, fake: FakeSlack, sizes: Sizes
) -> list[Row]:
    name = "slash ack p99 (GitLab 10 s)"
    try:
        acks = await _in_batches(
            sizes.commands,
            sizes.command_concurrency,
            lambda n: _ack_time(session, url, fake, n),
        )
    except LookupError:
        return [(name, "n/a (route missing)", "< 50 ms", "n/a")]
    p99 = pct(acks, 0.99)
    note = f"n={len(acks)}, {sizes.command_concurrency} at a time, max {max(acks):.2f} s"
    # The target; Slack itself gives up on an answer after 3 s.
    return [(name, f"{p99 * 1000:.0f} ms ({note})", "< 50 ms", verdict(p99 < 0.05))]


# --- (4) memory over a long run -----------------------------------------------------------------


async def memory(workdir: Path, sizes: Sizes) -> list[Row]:
    samples: list[tuple[int, float]] = []
    async with FakeSlack() as fake:
        svc = await start_service(workdir, "rss", config=config(), slack_api_url=fake.api_url)
        samples.append((0, rss_mb(svc.pid)))

        async def sample(done: int) -> None:
            samples.append((done, rss_mb(svc.pid)))

        try:
            result = await run_load(
                svc.url,
                on_progress=sample,
                concurrency=sizes.concurrency,
                count=sizes.rss_webhooks,
                pool=sizes.pool,
                new_ratio=sizes.new_ratio,
                progress_every=max(1, sizes.rss_webhooks // 20),
            )
            samples.append((result["requests"], rss_mb(svc.pid)))
        finally:
            await svc.stop()
    return _memory_rows(samples, sizes)


def _memory_rows(samples: list[tuple[int, float]], sizes: Sizes) -> list[Row]:
    start, first, last = samples[0][1], samples[1][1], samples[-1][1]
    half = min(samples, key=lambda s: abs(s[0] - sizes.rss_webhooks // 2))[1]
    peak = max(mb for _, mb in samples)
    growth = last - half
    trail = f"idle {start:.0f} -> {first:.0f} -> {half:.0f} (half) -> {last:.0f} MB"
    return [
        (f"RSS after {samples[-1][0]:,} webhooks", f"{last:.0f} MB (peak {peak:.0f})", "< 150 MB",
         verdict(peak < 150)),
        ("RSS over time", trail, "flat", "info"),
        ("RSS growth, second half", f"{growth:+.1f} MB", "< +10 MB", verdict(growth < 10)),
    ]  # fmt: skip


# --- (5) a storm: many alerts in many groups, coalesced into one message per group ------------


async def storm(workdir: Path, sizes: Sizes) -> list[Row]:
    waves, _ = storm_waves(
        alerts=sizes.storm_alerts,
        groups=sizes.storm_groups,
        channels=sizes.storm_channels,
        waves=sizes.storm_waves,
    )
    async with FakeSlack() as fake:
        svc = await start_service(
            workdir, "storm", config=config(sizes.storm_channels), slack_api_url=fake.api_url
        )
        store = await open_store(store_url(workdir, "storm"))
        try:
            started = time.perf_counter()
            statuses = await _send_waves(svc.url, waves)
            sent_in = time.perf_counter() - started
            drained_in = await _drained(store, fake, sizes, started)
        finally:
            await store.close()
            await svc.stop()
        return _storm_rows(fake, sizes, statuses, sent_in, drained_in)


async def _send_waves(url: str, waves: list[list[bytes]]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes) -> None:
            async with session.post(
                f"{url}/webhooks/alertmanager", data=body, headers=HEADERS
            ) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

        for wave in waves:
            for start in range(0, len(wave), 16):
                await asyncio.gather(*(one(b) for b in wave[start : start + 16]))
    return statuses


def _top_level(fake: FakeSlack, sizes: Sizes) -> list[Any]:
    return [m for i in range(sizes.storm_channels) for m in fake.messages(f"#bench-{i}")]


async def _drained(store: Any, fake: FakeSlack, sizes: Sizes, started: float) -> float | None:
    deadline = started + 600
    while time.perf_counter() < deadline:
        stats = await store.outbox_stats()
        if stats.pending == 0 and len(_top_level(fake, sizes)) >= sizes.storm_groups:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    return None


def _storm_rows(
    fake: FakeSlack, sizes: Sizes, statuses: dict[int, int], sent_in: float, drained: float | None
) -> list[Row]:
    messages = _top_level(fake, sizes)
    per_group = sizes.storm_alerts // sizes.storm_groups
    final = sum(f"{per_group} of {per_group} alerts firing" in m.text for m in messages)
    posts = fake.calls("chat.postMessage")
    replies = sum(1 for c in posts if c.params.get("thread_ts"))
    updates = len(fake.calls("chat.update"))
    shape = (
        f"{sizes.storm_alerts:,} alerts, {sizes.storm_groups} groups, "
        f"{sizes.storm_channels} channels, {sizes.storm_waves} waves"
    )
    webhooks = sum(statuses.values())
    ok = statuses.get(202, 0) + statuses.get(200, 0) == webhooks
    lower = (sizes.storm_groups / sizes.storm_channels - 1) * 1.0
    drain = f"{drained:.1f} s (pacing 1 s/channel; floor {lower:.0f} s)" if drained else "timeout"
    return [
        ("storm: webhooks accepted", f"{webhooks} in {sent_in:.1f} s ({shape})", "all 2xx",
         verdict(ok)),
        ("storm: messages posted", f"{len(messages)}", f"= {sizes.storm_groups} (1/group)",
         verdict(len(messages) == sizes.storm_groups)),
        ("storm: messages in final state", f"{final}", f"= {sizes.storm_groups}",
         verdict(final == sizes.storm_groups)),
        ("storm: Slack calls", f"{len(posts) - replies} posts, {updates} updates, "
         f"{replies} replies", "coalesced", "info"),
        ("storm: time to drain outbox", drain, "-", verdict(drained is not None)),
    ]  # fmt: skip
