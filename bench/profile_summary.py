"""Top functions of a py-spy profile taken by the benchmark (BENCH_PY_SPY=path/to/py-spy).

    python bench/profile_summary.py WORKDIR/growing.pyspy.txt [--top 25] [--match gateway/]

Reads py-spy's raw (collapsed) stacks and prints, per function, the share of all samples in
which it is on the stack (cumulative) and at the top of it (self). Idle time is not sampled, so
shares are of the time the process was busy, on any of its threads.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def frame_name(frame: str) -> str:
    """`func (path/to/module.py:123)` -> `func (to/module.py)`: a function, not a line."""
    name, _, where = _LINE.sub(")", frame).partition(" (")
    parts = where.rstrip(")").split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    cumulative: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        total += samples
        for name in set(frames):
            cumulative[name] += samples
        own[frames[-1]] += samples
    return total, cumulative, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only functions whose name contains this")
    args = parser.parse_args()
    total, cumulative, own = summarise(args.profile)
    print(f"{total} samples; cumulative %, self %, function")
    shown = [(n, c) for n, c in cumulative.most_common() if args.match in n][: args.top]
    for name, count in shown:
        print(f"{count / total:6.1%} {own[name] / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
