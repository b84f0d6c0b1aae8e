"""The benchmark script still runs (a smoke run of its ingest measure).

Only that it completes and prints its table is checked: the figures depend on the machine,
so they are judged by a person reading the table, never by a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_ingest_bench_prints_its_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "ingest"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    for row in ("ingest: app req/s", "ingest: bare aiohttp req/s", "ingest: app / bare"):
        assert row in table, table
    app_row = next(line for line in table.splitlines() if "ingest: app req/s" in line)
    assert app_row.rstrip(" |").endswith("pass"), app_row  # every webhook answered 200/202


def test_quick_storm_shapes_bench_prints_its_rows(tmp_path: Path) -> None:
    """Growing groups (with Slack probes alongside) and the huge group, side by side with bare."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "growing,huge"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    for row in (
        "growing: app / bare",
        "growing: durable floor / bare",
        "growing: webhook -> Slack p99, under load",
        "growing: RSS after the run",
        "huge group 2,000 alerts",
        "app /healthz max",
    ):
        assert row in table, table
    app_row = next(line for line in table.splitlines() if "growing: app req/s" in line)
    assert app_row.rstrip(" |").endswith("pass"), app_row  # every notification answered 2xx
    probes = next(line for line in table.splitlines() if "Slack p99, under load" in line)
    assert "0 not in 60 s" in probes, probes  # every probe group reached Slack


def test_growing_bodies_carry_the_whole_group() -> None:
    """As Alertmanager sends a growing group: every body is the whole group so far, 3 more
    alerts each time, fingerprints and startsAt of the earlier alerts unchanged."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from payloads import Growing
    finally:
        sys.path.remove(str(ROOT / "bench"))
    shape = Growing(seed=1, groups=2, step=3, upto=9)
    bodies = [json.loads(b) for b in iter(shape.next, None)]
    assert len(bodies) == len(shape) == 6
    first = bodies[0]["groupKey"]
    assert [b["groupKey"] == first for b in bodies] == [True, False] * 3  # step by step
    sizes = [len(b["alerts"]) for b in bodies if b["groupKey"] == first]
    assert sizes == [3, 6, 9]
    mine = [b["alerts"] for b in bodies if b["groupKey"] == first]
    assert [(a["fingerprint"], a["startsAt"]) for a in mine[-1][:3]] == [
        (a["fingerprint"], a["startsAt"]) for a in mine[0]
    ]
    assert len({a["fingerprint"] for a in mine[-1]}) == 9
    assert mine[0][0]["annotations"] != mine[1][0]["annotations"]  # $value changes
