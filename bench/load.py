"""Load generator, run as its own process: N concurrent workers on one aiohttp ClientSession.

    python bench/load.py --url http://127.0.0.1:PORT --token T --concurrency 32 --duration 10

It first sends every pool group once (warm-up, not counted), then the repeat-heavy mix for
`--duration` seconds or `--count` requests (`--alerts 90` makes every pool group that large,
`--same` makes repeats byte-identical). With `--shape growing` it instead sends every
notification of `--groups` groups growing by `--step` alerts up to `--upto`, then stops,
 printing `progress <n>` every `--progress-every`
requests (the parent samples the server's RSS on those) and one JSON line of results last.
Running it as a separate process keeps it off the server's event loop, and the same client
drives both the real app and the bare baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from payloads import Growing, Mix

PATH = "/webhooks/alertmanager"


class Load:
    """Shared state of the workers: what to send, when to stop, what came back."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mix: Mix | Growing
        if args.shape == "growing":
            self.mix = Growing(seed=args.seed, groups=args.groups, step=args.step, upto=args.upto)
        else:
            self.mix = Mix(
                seed=args.seed,
                pool=args.pool,
                new_ratio=args.new_ratio,
                alerts=args.alerts,
                same=args.same,
            )
        self.exhausted = False
        self.statuses: Counter[str] = Counter()
        self.sent = 0
        self.deadline = float("inf")
        self.headers = {"Content-Type": "application/json"}
        if args.token:
            self.headers["Authorization"] = f"Bearer {args.token}"

    def more(self) -> bool:
        if self.exhausted:
            return False
        if self.args.count is not None and self.sent >= self.args.count:
            return False
        return time.perf_counter() < self.deadline

    async def send(self, session: aiohttp.ClientSession, body: bytes) -> None:
        try:
            async with session.post(self.args.url + PATH, data=body, headers=self.headers) as r:
                await r.read()
                self.statuses[str(r.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as e:
            self.statuses[type(e).__name__] += 1

    async def worker(self, session: aiohttp.ClientSession) -> None:
        every = self.args.progress_every
        while self.more():
            body = self.mix.next()
            if body is None:
                self.exhausted = True
                return
            self.sent += 1
            if every and self.sent % every == 0:
                print(f"progress {self.sent}", flush=True)
            await self.send(session, body)


async def warm_up(load: Load, session: aiohttp.ClientSession) -> None:
    queue = load.mix.warmup() if isinstance(load.mix, Mix) else []

    async def one() -> None:
        while queue:
            await load.send(session, queue.pop())

    await asyncio.gather(*(one() for _ in range(load.args.concurrency)))
    load.statuses.clear()


async def main(args: argparse.Namespace) -> dict[str, object]:
    load = Load(args)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await warm_up(load, session)
        print("ready", flush=True)
        cpu0, started = time.process_time(), time.perf_counter()
        if args.duration is not None:
            load.deadline = started + args.duration
        await asyncio.gather(*(load.worker(session) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    done = sum(load.statuses.values())
    return {
        "requests": done,
        "elapsed": elapsed,
        "rps": done / elapsed if elapsed else 0.0,
        "statuses": dict(load.statuses),
        "client_cpu": cpu / elapsed if elapsed else 0.0,
        "pid": os.getpid(),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--count", type=int)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--new-ratio", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alerts", type=int, help="alerts in every pool group (default 1-5)")
    parser.add_argument("--same", action="store_true", help="byte-identical repeats")
    parser.add_argument("--shape", choices=["mix", "growing"], default="mix")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--upto", type=int, default=90)
    parser.add_argument("--progress-every", type=int, default=0)
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args()))), flush=True)
