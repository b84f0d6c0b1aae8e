"""Hostile and oversized webhooks through the real app (`create_app`) to the fake Slack.

Oversized alerts are accepted and cut to Slack's limits (the fake Slack enforces the Block Kit
limits, so a message that lands was accepted); bodies over 1 MiB are refused with 413 (a whole
alert group that declares its length: over 16 MiB); inputs
that once crashed the gateway past its parsers answer 400, never 500; mrkdwn control sequences
in alert and drift fields reach Slack escaped.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gateway import intake
from tests.fakes.app import bearer, outbox_drained
from tests.fakes.fixtures import fixture_json
from tests.fakes.slack import FakeSlack, validate_content

MiB = 1024 * 1024
STARTS = "2026-11-22T19:42:42.181Z"
ZERO = "0001-01-01T00:00:00Z"


def alert(n: int, **labels: str) -> dict[str, Any]:
    """One alert with the labels and annotations a real ML alert rule produces."""
    return {
        "status": "firing",
        "labels": {
            "alertname": "ModelFeatureDrift",
            "model": "fraud-detector",
            "severity": "warning",
            "feature": f"feature_{n:05d}",
            "instance": f"scorer-{n % 7}.ml.svc:8080",
            "job": "model-metrics",
            "team": "ml",
            **labels,
        },
        "annotations": {
            "summary": f"Feature feature_{n:05d} of fraud-detector drifted",
            "description": f"PSI of feature_{n:05d} is 0.{n % 1000:03d} (threshold 0.2).",
            "runbook_url": "https://runbooks.example.com/ml/feature-drift",
        },
        "startsAt": STARTS,
        "endsAt": ZERO,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=model_feature_psi+%3E+0.2&g0.tab=1",
        "fingerprint": f"{n:016x}",
    }


def body(alerts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "receiver": "ml-webhook",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "ModelFeatureDrift"},
        "commonLabels": {"alertname": "ModelFeatureDrift", "model": "fraud-detector"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}/{team="ml"}:{alertname="ModelFeatureDrift"}',
        "truncatedAlerts": 0,
        **extra,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def largest_body_under(limit: int) -> tuple[bytes, int]:
    """As many realistic alerts as fit in `limit` bytes (Alertmanager's compact JSON)."""
    base = len(encode(body([])))
    size, alerts = base, []
    for n in range(20_000):
        extra = len(encode(alert(n))) + 1
        if size + extra >= limit:
            break
        alerts.append(alert(n))
        size += extra
    data = encode(body(alerts))
    assert len(data) < limit
    return data, len(alerts)


def posted(fake: FakeSlack) -> list[dict[str, Any]]:
    """Params of every chat.postMessage / chat.update the fake received."""
    return [c.params for c in fake.calls() if c.method in ("chat.postMessage", "chat.update")]


def assert_accepted_by_slack(fake: FakeSlack, channel: str) -> None:
    """Every message landed (the fake refuses what breaks Slack's limits) and passes them."""
    assert fake.messages(channel), fake.summary()
    for params in posted(fake):
        validate_content(params, required=True)


# --- oversized but valid -------------------------------------------------------------------------


async def test_huge_labels_and_annotations_are_accepted_and_cut_for_slack(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    many = {f"label_{n:04d}": f"value {n} " * 4 for n in range(1000)}
    one = alert(1, **many)
    one["annotations"]["description"] = "Very long description. " * 4500  # ~100 KB
    one["annotations"]["summary"] = "s" * 5000
    payload = body([one], commonLabels={**many, "model": "fraud-detector"}, groupLabels=many)
    data = encode(payload)
    assert len(data) > 100_000

    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=data, headers=bearer())

    assert response.status == 202, await response.text()
    await outbox_drained(client)
    assert_accepted_by_slack(fake_slack, "#fraud-ml")
    (message,) = fake_slack.messages("#fraud-ml")
    shown = json.dumps(message.blocks)
    assert "Very long description." in shown
    assert "more labels" in shown
    assert len(shown) < 40_000


async def test_largest_body_under_one_mebibyte_is_accepted(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    data, count = largest_body_under(MiB)
    assert count > 1000  # a 10,000-alert body does not fit in 1 MiB with real labels

    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=data, headers=bearer())

    assert response.status == 202, await response.text()
    await outbox_drained(client, within=30)
    assert_accepted_by_slack(fake_slack, "#fraud-ml")
    (message,) = fake_slack.messages("#fraud-ml")
    assert "more alerts in this group" in json.dumps(message.blocks)
    again = await client.post("/webhooks/alertmanager", data=data, headers=bearer())
    assert again.status == 200  # the resend is a duplicate, not a second message
    assert (await again.json())["status"] == "duplicate"


async def test_ten_thousand_alerts_in_one_body_are_accepted_not_lost(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    """Alertmanager without max_alerts sends a whole group in one body and never retries a
    4xx: a body over 1 MiB that declares its length is taken (up to 16 MiB), not lost."""
    data = encode(body([alert(n) for n in range(10_000)]))
    assert len(data) > MiB

    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=io.BytesIO(data), headers=bearer())

    assert response.status == 202
    await outbox_drained(client)
    assert len(fake_slack.calls("chat.postMessage")) == 1


async def test_a_group_body_over_sixteen_mebibytes_is_413_and_says_max_alerts(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    data, _ = largest_body_under(MiB)
    padded = data[:-1] + b" " * (16 * MiB + 1 - len(data)) + b"}"
    client = await make_app()
    response = await client.post(
        "/webhooks/alertmanager", data=io.BytesIO(padded), headers=bearer()
    )
    assert response.status == 413
    answer = await response.json()
    assert answer["error"] == "payload too large"
    assert any("max_alerts" in d for d in answer["details"])
    assert fake_slack.calls("chat.postMessage") == []


async def test_a_body_of_one_mebibyte_plus_one_without_its_length_is_413(make_app: Any) -> None:
    """Only a body that declares its length up front may be larger than 1 MiB."""
    data, _ = largest_body_under(MiB)
    padded = data[:-1] + b" " * (MiB + 1 - len(data)) + b"}"
    assert len(padded) == MiB + 1

    async def chunks() -> Any:
        for start in range(0, len(padded), 64 * 1024):
            yield padded[start : start + 64 * 1024]

    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=chunks(), headers=bearer())
    assert response.status == 413
    drift = await client.post("/webhooks/drift", data=io.BytesIO(padded), headers=bearer())
    assert drift.status == 413, "other webhooks keep the 1 MiB limit"


# --- inputs that crashed the gateway past the parser ---------------------------------------------


def evidently(score: str, timestamp: str) -> bytes:
    """An Evidently-style drift body whose one column score is the JSON literal `score`."""
    column = {"drift_score": "SCORE", "drift_detected": True}
    payload = {
        "model": "fraud-detector",
        "timestamp": timestamp,
        "dataset_drift": True,
        "share_of_drifted_columns": 0.5,
        "drift_by_columns": {"amount": column},
    }
    text = json.dumps({"event": "drift", "source": "evidently", "payload": payload})
    return text.replace('"SCORE"', score).encode()


T1, T2 = "2026-11-22T19:00:00Z", "2026-11-22T20:00:00Z"
BAD_START = "9999-12-31T23:59:59-01:00"  # past datetime.max once converted to UTC


@pytest.mark.parametrize(
    ("path", "deliveries"),
    [
        ("/webhooks/alertmanager", [encode(body([{**alert(1), "startsAt": BAD_START}]))]),
        ("/webhooks/alertmanager", [encode(body([{**alert(1), "endsAt": BAD_START}]))]),
        ("/webhooks/alertmanager", [b"[" * 200_000]),
        ("/webhooks/alertmanager", [encode(body([alert(1)], truncatedAlerts=10**400))]),
        ("/webhooks/drift", [evidently("1e999", T1), evidently("0.5", T2)]),
        ("/webhooks/drift", [evidently("NaN", T1), evidently("0.5", T2)]),
        ("/webhooks/drift", [evidently("Infinity", T1), evidently("0.5", T2)]),
        ("/webhooks/drift", [b'{"event":"drift","payload":{"p_val":NaN,"is_drift":true}}']),
    ],
    ids=[
        "starts-past-datetime-max-in-utc",
        "ends-past-datetime-max-in-utc",
        "deep-nesting",
        "huge-truncated-count",
        "drift-score-1e999-then-a-good-event",
        "drift-score-nan-then-a-good-event",
        "drift-score-infinity-then-a-good-event",
        "p-value-nan",
    ],
)
async def test_inputs_that_crashed_the_gateway_are_never_500(
    make_app: Any, fake_slack: FakeSlack, path: str, deliveries: list[bytes]
) -> None:
    """Each of these once answered 500, or broke the stored state for the next event."""
    client = await make_app()
    for data in deliveries:
        response = await client.post(path, data=data, headers=bearer())
        assert response.status in (200, 202, 400), await response.text()
        assert "Traceback" not in await response.text()
    if len(deliveries) > 1:
        assert response.status == 202  # the good event after the bad one still gets through
    metrics = await (await client.get("/metrics")).text()
    errors = re.findall(r'^chatops_errors_total\{where="http"\} (\S+)$', metrics, re.M)
    assert all(float(n) == 0 for n in errors), errors


# --- mrkdwn injection ----------------------------------------------------------------------------

HOSTILE = "<!channel> <!here> <!everyone> <http://evil.example|click me> <@U0ADMIN> Tom & Jerry"
OUR_LINK_LABELS = {
    "Runbook",
    "Source",
    "details",
    "Alertmanager",
    "📖 Runbook",
    "🔕 Silence in Alertmanager",
    "📊 Open drift report",
}
TOKEN = re.compile(r"<([^<>]*)>")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn text in a block tree (plain_text is shown literally by Slack)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from mrkdwn_texts(value)


def assert_escaped(text: str) -> None:
    """Only our own tokens (dates, links with our labels) and escaped `&`, `<`, `>`."""
    for match in TOKEN.finditer(text):
        inner = match.group(1)
        if inner.startswith("!date^"):
            continue
        url, bar, label = inner.partition("|")
        assert bar, f"foreign token <{inner}> in {text!r}"
        assert re.match(r"^https?://\S+$", url), f"foreign token <{inner}> in {text!r}"
        assert label in OUR_LINK_LABELS, f"link label {label!r} in {text!r}"
    outside = TOKEN.sub("", text)
    assert "<" not in outside, text
    assert ">" not in outside, text
    assert not re.search(r"&(?!amp;|lt;|gt;)", outside), text


def assert_everything_escaped(fake: FakeSlack) -> None:
    texts = []
    for params in posted(fake):
        texts.append(str(params.get("text") or ""))
        texts += list(mrkdwn_texts(params.get("blocks") or []))
    assert texts
    for text in texts:
        assert_escaped(text)
    joined = "\n".join(texts)
    assert "Tom &amp; Jerry" in joined
    assert "&lt;!channel&gt;" in joined


async def test_mrkdwn_in_alert_labels_and_annotations_is_escaped(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    hostile = alert(1, feature=HOSTILE, instance=HOSTILE, custom=HOSTILE)
    hostile["labels"]["alertname"] = HOSTILE
    hostile["annotations"] = {"summary": HOSTILE, "description": HOSTILE}
    other = alert(2, custom=HOSTILE)
    payload = body(
        [hostile, other],
        groupLabels={"alertname": HOSTILE},
        commonLabels={"team": HOSTILE, "model": "fraud-detector"},
        commonAnnotations={"summary": HOSTILE},
    )
    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=encode(payload), headers=bearer())
    assert response.status == 202, await response.text()
    resolved = copy.deepcopy(payload)
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-22T20:00:00Z"
    response = await client.post("/webhooks/alertmanager", data=encode(resolved), headers=bearer())
    assert response.status == 202, await response.text()

    await outbox_drained(client)
    await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) >= 1)
    assert fake_slack.thread_replies("#fraud-ml", fake_slack.messages("#fraud-ml")[0].ts)
    assert_everything_escaped(fake_slack)


async def test_mrkdwn_in_drift_fields_is_escaped(make_app: Any, fake_slack: FakeSlack) -> None:
    data = fixture_json("drift/evidently-style_drift-summary_drift.json")
    payload = data["payload"]
    payload["model_version"] = HOSTILE
    payload["report_url"] = "<http://evil.example|x>"
    columns = payload["drift_by_columns"]
    first = next(iter(columns.values()))
    columns[HOSTILE] = {**first, "column_name": HOSTILE, "stattest_name": HOSTILE}
    client = await make_app()

    response = await client.post("/webhooks/drift", data=json.dumps(data), headers=bearer())
    assert response.status == 202, await response.text()
    payload["timestamp"] = "2026-11-22T21:00:00Z"  # a second event: the message is updated
    response = await client.post("/webhooks/drift", data=json.dumps(data), headers=bearer())
    assert response.status == 202, await response.text()

    await outbox_drained(client)
    await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) >= 1)
    assert_everything_escaped(fake_slack)
    blocks = json.dumps([p.get("blocks") for p in posted(fake_slack)], ensure_ascii=False)
    assert "Open drift report" not in blocks  # a report_url that is not http(s) is not linked


async def test_large_group_bodies_are_taken_one_at_a_time(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many large bodies arrive together, one is parsed and folded at a time."""
    active, most = [0], [0]
    lock = threading.Lock()

    def one_at_a_time(body: bytes, known_alerts: intake.KnownAlerts) -> intake.Intake:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2)  # long enough for a second body to overlap, were it let in
        try:
            return read(body, known_alerts)
        finally:
            with lock:
                active[0] -= 1

    read = intake.read
    monkeypatch.setattr(intake, "read", one_at_a_time)
    client = await make_app()
    bodies = []
    for group in ("A", "B"):
        doc = json.loads(encode(body([alert(n) for n in range(3_000)])))
        doc["groupKey"] += group
        bodies.append(json.dumps(doc).encode())
    assert all(len(b) > MiB for b in bodies)
    answers = await asyncio.gather(
        *(
            client.post("/webhooks/alertmanager", data=io.BytesIO(b), headers=bearer())
            for b in bodies
        )
    )
    assert [a.status for a in answers] == [202, 202]
    assert most[0] == 1
