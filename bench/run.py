"""Benchmark of the gateway and bot: throughput, latency, memory, a storm. Prints one table.

    python bench/run.py            # the full measurement (several minutes)
    python bench/run.py --quick    # a smoke run with smaller counts (about a minute)
    python bench/run.py --only ingest,storm
    python bench/run.py --only growing,resends,huge   # the bodies Alertmanager sends in a storm

Not a test: numbers depend on the machine, so nothing here fails a build. See bench/README.md
for what each row means and how it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # bench modules, and tests.fakes from the repo

from measures import QUICK, Row, Sizes, ingest, latency_and_ack, memory, storm  # noqa: E402
from shapes import growing, huge, resends  # noqa: E402

Measure = Callable[[Path, Sizes], Awaitable[list[Row]]]
MEASURES: dict[str, Measure] = {
    "ingest": ingest,
    "latency": latency_and_ack,
    "memory": memory,
    "storm": storm,
    "growing": growing,
    "resends": resends,
    "huge": huge,
}


def table(rows: list[Row]) -> str:
    header: Row = ("measure", "value", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def cells(row: Row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([line, cells(header), line, *map(cells, rows), line])


async def measure(names: list[str], sizes: Sizes, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += await MEASURES[name](workdir, sizes)
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def main(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else Sizes()
    names = args.only.split(",") if args.only else list(MEASURES)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chatops-bench-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = asyncio.run(measure(names, sizes, workdir))
    mode = "quick" if args.quick else "full"
    elapsed = time.perf_counter() - started
    print(f"chatops bench ({mode}, {os.cpu_count()} CPUs, {elapsed:.0f} s total)")
    print(table(rows))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, about a minute")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(MEASURES)}")
    parser.add_argument("--workdir", help="keep stores and service logs here (default: temp)")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main(parse_args()))
