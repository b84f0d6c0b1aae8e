"""`chatops demo` against the real app (create_app on loopback, fake Slack behind it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatops.cli import main
from chatops.demo import STEPS, demo_body, run_demo
from tests.fakes.app import DRIFT_SECRET, WEBHOOK_TOKEN, outbox_drained
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.body)
def test_packaged_bodies_are_the_examples_byte_for_byte(step: Any) -> None:
    assert demo_body(step.body) == (ROOT / "examples" / step.body).read_bytes()


async def play(client: Any, **auth: Any) -> tuple[int, list[str]]:
    lines: list[str] = []
    auth = {"token": WEBHOOK_TOKEN, "drift_secret": None} | auth
    code = await run_demo(str(client.make_url("/")), write=lines.append, **auth)
    return code, lines


def top_level(fake_slack: FakeSlack, channel: str) -> list[Any]:
    return [m for m in fake_slack.messages(channel) if m.thread_ts is None]


async def test_demo_plays_the_lifecycle_and_a_second_run_posts_again(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app()
    code, lines = await play(client)
    assert code == 0, lines
    assert lines[1] == "1/4 firing alert → 202 accepted: a new Slack message"
    assert lines[2] == "2/4 same alert re-sent → 200 duplicate: a repeat posts nothing new"
    assert lines[3].startswith("3/4 alert resolved → 202 accepted: the same message updated")
    assert lines[4].startswith("4/4 drift event → 202 accepted: a drift message")
    await outbox_drained(client)
    alert, drift = top_level(fake_slack, "#fraud-ml")
    assert alert.updates == 1
    assert alert.text.startswith("✅ RESOLVED")
    assert "demo_run" in json.dumps(alert.blocks), "the run is visible on the message"
    assert drift.text.startswith("🟠 Drift detected on fraud-detector")
    assert len(fake_slack.calls("chat.postMessage")) == 3  # alert, its thread reply, drift
    assert len(fake_slack.calls("chat.update")) == 1

    code, lines = await play(client)
    assert code == 0, lines
    await outbox_drained(client)
    messages = top_level(fake_slack, "#fraud-ml")
    assert len(messages) == 3, "a second run is a new alert group, not a duplicate"
    assert messages[2].text.startswith("✅ RESOLVED")
    assert messages[2].updates == 1
    assert "seen 2 times" in messages[1].text, "the drift message is updated, with a reply"


async def test_drift_is_signed_with_the_drift_secret(make_app: Any, fake_slack: FakeSlack) -> None:
    client = await make_app(chatops_drift_secret=DRIFT_SECRET)
    code, lines = await play(client, drift_secret=DRIFT_SECRET, token=WEBHOOK_TOKEN)
    assert code == 0, lines
    code, lines = await play(client, drift_secret="not-the-secret")
    assert code == 1
    assert lines[-1] == (
        "4/4 drift event → 401 unauthorized: CHATOPS_DRIFT_SECRET here does not match the server's"
    )


async def test_a_refused_token_names_the_variable(make_app: Any) -> None:
    client = await make_app()
    code, lines = await play(client, token=None)
    assert code == 1
    assert lines[-1] == (
        "1/4 firing alert → 401 unauthorized: the server wants a webhook token: "
        "set CHATOPS_WEBHOOK_TOKEN to the server's value"
    )
    code, lines = await play(client, token="wrong")
    assert lines[-1].endswith("CHATOPS_WEBHOOK_TOKEN here does not match the server's")
    assert all("wrong" not in line for line in lines), "the token is never printed"


async def test_no_server_says_how_to_start_one() -> None:
    lines: list[str] = []
    code = await run_demo("http://127.0.0.1:9", token=None, drift_secret=None, write=lines.append)
    assert code == 1
    assert (
        lines[-1]
        == "1/4 firing alert → no chatops at http://127.0.0.1:9 — start it with scripts/run"
    )


def test_cli_refuses_a_url_that_is_not_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", "ftp://127.0.0.1"]) == 2
    assert "--url must be an http(s) URL" in capsys.readouterr().err


def test_cli_demo_without_a_server_exits_non_zero_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_WEBHOOK_TOKEN", "s3cret-token")
    assert main(["demo", "--url", "http://127.0.0.1:9/"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "1/4 firing alert → no chatops at http://127.0.0.1:9 — start it with scripts/run"
    )
    assert "s3cret-token" not in out
