"""The Slack app manifest: the committed copy is what `chatops manifest` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.slack.listeners import COMMANDS
from bot.slack.manifest import BOT_SCOPES, manifest, manifest_yaml
from chatops.cli import main

COMMITTED = Path(__file__).resolve().parents[2] / "slack" / "manifest.yaml"
COMMITTED_SOCKET = COMMITTED.with_name("manifest-socket-mode.yaml")


def test_committed_manifest_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == manifest_yaml(), (
        "regenerate with: chatops manifest > slack/manifest.yaml"
    )


def test_committed_socket_mode_manifest_is_the_generated_one() -> None:
    assert COMMITTED_SOCKET.read_text(encoding="utf-8") == manifest_yaml(socket_mode=True), (
        "regenerate with: chatops manifest --socket-mode > slack/manifest-socket-mode.yaml"
    )


def test_cli_prints_the_manifest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATOPS_PUBLIC_URL", raising=False)
    assert main(["manifest"]) == 0
    assert capsys.readouterr().out == COMMITTED.read_text(encoding="utf-8")


def test_cli_manifest_for_a_public_url_and_socket_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--public-url", "https://bot.acme.test/"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    url = "https://bot.acme.test/slack/events"
    assert data["settings"]["interactivity"]["request_url"] == url
    assert {c["url"] for c in data["features"]["slash_commands"]} == {url}
    assert main(["manifest", "--socket-mode"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["interactivity"]
    assert all("url" not in c for c in data["features"]["slash_commands"])


def test_manifest_commands_are_the_listened_commands() -> None:
    listed = [c["command"] for c in manifest()["features"]["slash_commands"]]
    assert listed == list(COMMANDS)
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
