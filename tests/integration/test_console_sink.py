"""The console sink (no SLACK_BOT_TOKEN) through create_app: readable first, JSON on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatops.app import create_app
from chatops.cli import command_parser
from chatops.config import parse_config
from chatops.serve import with_serve_flags
from chatops.settings import Settings
from tests.fakes.app import DEFAULT_CONFIG, bearer, make_settings, outbox_drained

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "alertmanager"


async def console_output(
    aiohttp_client: Any, store_path: Path, capsys: pytest.CaptureFixture[str], settings: Settings
) -> str:
    client = await aiohttp_client(create_app(settings, parse_config(DEFAULT_CONFIG)))
    for name in ("firing", "resolved"):
        body = (EXAMPLES / f"{name}.json").read_bytes()
        response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
        assert response.status == 202
        await outbox_drained(client)
    return capsys.readouterr().out


async def test_console_shows_readable_messages_without_block_kit_json(
    aiohttp_client: Any, store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = await console_output(aiohttp_client, store_path, capsys, make_settings(None, store_path))
    assert "POST to #fraud-ml" in out
    assert "UPDATE message" in out
    assert "== 🔴 Firing: ModelDriftDetected · fraud-detector ==" in out
    assert "== ✅ Resolved: ModelDriftDetected · fraud-detector ==" in out
    assert "│ Block Kit JSON:" not in out
    assert "block-kit-builder" not in out
    assert out.count("--show-blocks") == 1, "the way to the JSON is said once, not per message"
    longest = max(len(line) for line in out.splitlines())
    assert longest < 400, "no multi-kilobyte lines"


async def test_show_blocks_adds_the_json_and_a_builder_link(
    aiohttp_client: Any, store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(None, store_path, chatops_show_blocks=True)
    out = await console_output(aiohttp_client, store_path, capsys, settings)
    assert out.count("│ Block Kit JSON: [") == 3  # post, update, thread reply
    assert out.count("│ Preview: https://app.slack.com/block-kit-builder/#") == 3
    assert "== 🔴 Firing: ModelDriftDetected · fraud-detector ==" in out


def test_show_blocks_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATOPS_SHOW_BLOCKS", raising=False)
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert plain.chatops_show_blocks is False
    flagged = with_serve_flags(plain, command_parser().parse_args(["serve", "--show-blocks"]))
    assert flagged.chatops_show_blocks is True
    assert (
        with_serve_flags(plain, command_parser().parse_args(["serve"])).chatops_show_blocks is False
    )
    monkeypatch.setenv("CHATOPS_SHOW_BLOCKS", "1")
    assert Settings(_env_file=None).chatops_show_blocks is True  # type: ignore[call-arg]
