"""`chatops demo`: play the example webhook bodies against a running chatops, step by step.

The bodies are the repository's `examples/` files, shipped as package data
(`chatops/demo_bodies/`, byte-identical copies, checked by a test) so the demo also works from
an installed wheel. Each run makes them fresh: `startsAt`/`endsAt` and the drift timestamp
become now, and a `demo_run` label (in the alerts, the group labels and the group key) makes
a new alert group, so a second run posts a new message instead of being deduplicated away.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any, Final

import aiohttp

DEFAULT_URL: Final = "http://127.0.0.1:8080"
_WEBHOOK_ENV: Final = "CHATOPS_WEBHOOK_TOKEN"
_DRIFT_ENV: Final = "CHATOPS_DRIFT_SECRET"
_AM: Final = "/webhooks/alertmanager"
_DRIFT: Final = "/webhooks/drift"


@dataclass(frozen=True)
class Step:
    """One request of the demo and the answer a working chatops gives to it."""

    label: str
    path: str
    body: str
    expect: str
    meaning: str


STEPS: Final = (
    Step("firing alert", _AM, "alertmanager/firing.json", "accepted", "a new Slack message"),
    Step(
        "same alert re-sent",
        _AM,
        "alertmanager/firing-resend.json",
        "duplicate",
        "a repeat posts nothing new",
    ),
    Step(
        "alert resolved",
        _AM,
        "alertmanager/resolved.json",
        "accepted",
        "the same message updated to resolved, with a thread reply",
    ),
    Step(
        "drift event",
        _DRIFT,
        "drift/evidently-drift.json",
        "accepted",
        "a drift message for fraud-detector (updated, with a thread reply, on a repeat run)",
    ),
)


@dataclass(frozen=True)
class DemoRun:
    """What makes one run's bodies new: an id and the times to stamp them with."""

    run_id: str
    now: datetime

    @classmethod
    def fresh(cls) -> DemoRun:
        return cls(secrets.token_hex(3), datetime.now(UTC))


def demo_body(name: str) -> bytes:
    """The packaged example body `name` (e.g. `alertmanager/firing.json`), as shipped."""
    return files("chatops").joinpath("demo_bodies", *name.split("/")).read_bytes()


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fresh_alertmanager(raw: bytes, run: DemoRun) -> bytes:
    """The body as a new alert group of this run: `demo_run` label, times around now."""
    data: dict[str, Any] = json.loads(raw)
    for alert in data["alerts"]:
        alert["labels"]["demo_run"] = run.run_id
        alert["startsAt"] = _stamp(run.now - timedelta(minutes=1))
        if alert["status"] == "resolved":
            alert["endsAt"] = _stamp(run.now)
        seed = f"{alert['fingerprint']}:{run.run_id}".encode()
        alert["fingerprint"] = hashlib.sha256(seed).hexdigest()[:16]
    data["groupLabels"]["demo_run"] = run.run_id
    data["commonLabels"]["demo_run"] = run.run_id
    matchers = ", ".join(f'{k}="{v}"' for k, v in sorted(data["groupLabels"].items()))
    data["groupKey"] = f"{{}}:{{{matchers}}}"
    return json.dumps(data, indent=2).encode()


def fresh_drift(raw: bytes, run: DemoRun) -> bytes:
    """The drift body with its timestamp set to now (a new event, not a re-delivery)."""
    data: dict[str, Any] = json.loads(raw)
    data["payload"]["timestamp"] = _stamp(run.now)
    return json.dumps(data, indent=2).encode()


def _headers(step: Step, body: bytes, token: str | None, secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if secret and step.path == _DRIFT:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Signature-256"] = f"sha256={digest}"
    return headers


def _refused(step: Step, token: str | None, secret: str | None) -> str:
    """What to fix after a 401, naming the environment variable."""
    if step.path == _DRIFT and secret:
        return f"{_DRIFT_ENV} here does not match the server's"
    if step.path == _DRIFT:
        return f"set {_DRIFT_ENV} (or {_WEBHOOK_ENV}) to the server's value"
    if token:
        return f"{_WEBHOOK_ENV} here does not match the server's"
    return f"the server wants a webhook token: set {_WEBHOOK_ENV} to the server's value"


async def _status_of(response: aiohttp.ClientResponse) -> tuple[str, str]:
    """(`status` or `error`, details) from a chatops JSON answer; ("", text) otherwise."""
    text = await response.text(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return "", text[:200]
    if not isinstance(data, dict):
        return "", text[:200]
    details = "; ".join(str(d) for d in data.get("details", []) or [])[:300]
    return str(data.get("status") or data.get("error") or ""), details


async def run_demo(
    url: str,
    *,
    token: str | None,
    drift_secret: str | None,
    write: Callable[[str], object] = print,
    run: DemoRun | None = None,
) -> int:
    """Play the steps against `url`; 0 when every answer is the expected one, else 1."""
    run = run or DemoRun.fresh()
    base = url.rstrip("/")
    write(f"chatops demo against {base} (run {run.run_id})")
    timeout = aiohttp.ClientTimeout(total=15, connect=5)
    all_expected = True
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for number, step in enumerate(STEPS, start=1):
            head = f"{number}/{len(STEPS)} {step.label} →"
            outcome = await _play(session, base, step, run, token, drift_secret)
            write(f"{head} {outcome.line}")
            if outcome.stop:
                return 1
            all_expected = all_expected and outcome.expected
    if all_expected:
        write("The server's console (or Slack channel) shows the messages.")
        return 0
    return 1


@dataclass(frozen=True)
class _Outcome:
    """One step's answer as a line; `stop`: the demo cannot go on."""

    line: str
    expected: bool = False
    stop: bool = False


async def _play(
    session: aiohttp.ClientSession,
    base: str,
    step: Step,
    run: DemoRun,
    token: str | None,
    drift_secret: str | None,
) -> _Outcome:
    raw = demo_body(step.body)
    body = fresh_drift(raw, run) if step.path == _DRIFT else fresh_alertmanager(raw, run)
    try:
        async with session.post(
            base + step.path, data=body, headers=_headers(step, body, token, drift_secret)
        ) as response:
            code = response.status
            status, details = await _status_of(response)
    except (aiohttp.ClientError, TimeoutError):
        return _Outcome(f"no chatops at {base} — start it with scripts/run", stop=True)
    if code == 401:
        return _Outcome(f"401 unauthorized: {_refused(step, token, drift_secret)}", stop=True)
    if code >= 300 or not status:
        line = f"{code} {status or 'not a chatops answer'}: {details}".rstrip(": ")
        return _Outcome(line, stop=True)
    if status == step.expect:
        return _Outcome(f"{code} {status}: {step.meaning}", expected=True)
    return _Outcome(f"{code} {status}, but a fresh run expects {step.expect}")
