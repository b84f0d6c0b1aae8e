"""Alertmanager webhook bodies for the benchmark: realistic labels, repeats and new groups.

Alertmanager re-sends a group's notification every `group_interval`/`repeat_interval` with the
same alerts (only templated annotations such as `$value` change), so most traffic is repeats of
known groups; now and then a new group appears. `Mix` produces that traffic as bytes, cheaply
enough that the load generator is not the bottleneck.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

STARTS = "2026-11-22T19:42:42.181Z"
ZERO = "0001-01-01T00:00:00Z"
ALERTNAME = "ModelFeatureDrift"
VALUE = "@@VALUE@@"  # replaced per request: repeats are not byte-identical, as in real life


def alert(group: str, n: int, *, model: str, alertname: str, value: str = VALUE) -> dict[str, Any]:
    """One firing alert as a Prometheus rule for an ML model produces it."""
    labels = {
        "alertname": alertname,
        "model": model,
        "severity": "warning" if n % 3 else "critical",
        "feature": f"feature_{n:04d}",
        "instance": f"scorer-{n % 7}.ml.svc:8080",
        "job": "model-metrics",
        "team": "ml",
        "group": group,
    }
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": f"{alertname} on {model} feature_{n:04d}",
            "description": f"PSI of feature_{n:04d} for {model} is {value} (threshold 0.2).",
            "runbook_url": "https://runbooks.example.com/ml/feature-drift",
        },
        "startsAt": STARTS,
        "endsAt": ZERO,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=model_feature_psi+%3E+0.2&g0.tab=1",
        "fingerprint": fingerprint,
    }


def group_key(group: str, alertname: str = "ModelFeatureDrift") -> str:
    """The groupKey Alertmanager gives a group routed on (alertname, group)."""
    return f'{{}}/{{team="ml"}}:{{alertname="{alertname}", group="{group}"}}'


def group_body(group: str, model: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The webhook body (version 4) of one group."""
    alertname = alerts[0]["labels"]["alertname"] if alerts else "ModelFeatureDrift"
    return {
        "receiver": "ml-webhook",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": alertname, "group": group},
        "commonLabels": {"alertname": alertname, "model": model, "team": "ml", "group": group},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key(group, alertname),
        "truncatedAlerts": 0,
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def group(name: str, *, model: str, size: int, alertname: str = "ModelFeatureDrift") -> bytes:
    """A whole group body with `size` alerts, as a template (VALUE still in it)."""
    alerts = [alert(name, n, model=model, alertname=alertname) for n in range(size)]
    return encode(group_body(name, model, alerts))


class Mix:
    """Requests for the ingest benchmark: `repeat` of a pool group, or a brand-new group.

    Pool groups have 1-5 alerts, or `alerts` each when given. With `same`, a repeat is
    byte-identical to the group's previous bodies (`$value` does not change).
    """

    def __init__(
        self,
        *,
        seed: int,
        pool: int,
        new_ratio: float,
        models: int = 3,
        alerts: int | None = None,
        same: bool = False,
    ) -> None:
        self._rng = random.Random(seed)
        self._seed = seed
        self._models = models
        self._new_ratio = new_ratio
        self._same = same
        self._count = 0
        sizes = [alerts or 1 + i % 5 for i in range(pool)]
        self.pool = [self._template(f"pool-{i}", size=n) for i, n in enumerate(sizes)]

    def _template(self, name: str, *, size: int) -> bytes:
        model = f"model-{sum(name.encode()) % self._models}"
        return group(name, model=model, size=size)

    def next(self) -> bytes:
        """The next request body."""
        self._count += 1
        value = b"0.300" if self._same else f"0.{self._count % 1000:03d}".encode()
        if self._rng.random() < self._new_ratio:
            name = f"new-{self._seed}-{self._count}"
            return self._template(name, size=1 + self._count % 3).replace(VALUE.encode(), value)
        template = self.pool[self._rng.randrange(len(self.pool))]
        return template.replace(VALUE.encode(), value)

    def warmup(self) -> list[bytes]:
        """Every pool group once, so that what follows is the repeat-heavy steady state."""
        return [t.replace(VALUE.encode(), b"0.300") for t in self.pool]


def storm_waves(
    *, alerts: int, groups: int, channels: int, waves: int
) -> tuple[list[list[bytes]], dict[str, str]]:
    """A storm: `alerts` distinct alerts in `groups` groups spread over `channels` models.

    Alertmanager sends a growing group again as alerts join it, so wave k holds, for every
    group, a body with the first k/waves of its alerts. Returns the waves and the groupKey of
    each group name (to find their messages).
    """
    per_group = alerts // groups
    result: list[list[bytes]] = [[] for _ in range(waves)]
    keys = {}
    for g in range(groups):
        name, model = f"storm-{g:03d}", f"model-{g % channels}"
        members = [
            alert(name, n, model=model, alertname="FeatureDriftStorm", value="0.4")
            for n in range(per_group)
        ]
        for k in range(waves):
            upto = max(1, per_group * (k + 1) // waves)
            body = group_body(name, model, members[:upto])
            result[k].append(encode(body))
        keys[name] = group_key(name, "FeatureDriftStorm")
    return result, keys


class Growing:
    """Groups that grow as Alertmanager sends them: every notification carries the whole group.

    `groups` groups (named after `seed`, so every round has fresh ones) gain `step` alerts per
    notification up to `upto`: notification k of a group holds its first k * step alerts, with
    stable fingerprints and startsAt, and `$value` in the description changing every time.
    Notifications go out step by step, as Alertmanager's group_interval ticks: every group's
    k-th before any group's (k+1)-th.
    """

    def __init__(self, *, seed: int, groups: int, step: int, upto: int, models: int = 3) -> None:
        self.steps = max(1, upto // step)
        self._step = step
        self._groups: list[tuple[bytes, list[bytes], bytes]] = []
        for g in range(groups):
            name, model = f"grow-{seed}-{g:03d}", f"model-{g % models}"
            members = [
                encode(alert(name, n, model=model, alertname=ALERTNAME)) for n in range(upto)
            ]
            head, _, tail = encode(group_body(name, model, [])).partition(b'"alerts":[]')
            self._groups.append((head + b'"alerts":[', members, b"]" + tail))
        self._next = 0

    def __len__(self) -> int:
        return self.steps * len(self._groups)

    def next(self) -> bytes | None:
        """The next notification, or None when every group has reached its full size."""
        if self._next >= len(self):
            return None
        k, g = divmod(self._next, len(self._groups))
        self._next += 1
        head, members, tail = self._groups[g]
        value = f"0.{self._next % 1000:03d}".encode()
        body = head + b",".join(members[: (k + 1) * self._step]) + tail
        return body.replace(VALUE.encode(), value)


def huge_group(name: str, *, alerts: int, model: str = "model-0") -> bytes:
    """One group of `alerts` alerts in a single body (Alertmanager with max_alerts unset)."""
    members = [
        alert(name, n, model=model, alertname="HugeGroup", value="0.4") for n in range(alerts)
    ]
    return encode(group_body(name, model, members))
