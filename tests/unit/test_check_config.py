"""`chatops check-config` (and `serve`, which refuses on the same problems) catch what would
otherwise pass and fail later: references, tokens, token kinds, typos, YAML and env errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatops.cli import main
from chatops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chatops.yaml"
TOKENS = {"GITLAB_TOKEN": "glpat-test", "GITHUB_TOKEN": "ghp_test"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets: none of the runner's own CHATOPS_*/SLACK_* variables."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def write(tmp_path: Path, config: dict[str, Any] | str, name: str = "chatops.yaml") -> Path:
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check-config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_model_must_be_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {"models": {"fraud-detector": {}}, "drift": {"default_model": "fraud-detectr"}}
    code, _, err = check(capsys, str(write(tmp_path, config)))
    assert code == 1
    assert (
        "drift.default_model: 'fraud-detectr' is not a model; did you mean 'fraud-detector'?" in err
    )


@pytest.mark.parametrize(
    ("provider", "variable"), [("gitlab", "GITLAB_TOKEN"), ("github", "GITHUB_TOKEN")]
)
def test_a_provider_in_use_needs_its_token(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    variable: str,
) -> None:
    pipeline = {"provider": provider, "project": "ml/x", "repo": "acme/x"}
    pipeline |= {"workflows": {"retrain": "retrain.yml"}} if provider == "github" else {}
    pipeline.pop("repo" if provider == "gitlab" else "project")
    path = write(tmp_path, {"models": {"x": {"pipeline": pipeline}}})
    code, _, err = check(capsys, str(path))
    assert code == 1
    assert f"{variable}: not set, but {provider} runs the pipelines of x" in err
    monkeypatch.setenv(variable, "a-token")
    assert check(capsys, str(path))[0] == 0


def test_the_example_passes_with_its_providers_tokens(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    code, out, err = check(capsys, str(EXAMPLE))
    assert code == 0, err
    assert "OK" in out


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN: not a bot token"),
        ("SLACK_APP_TOKEN", "xoxb-bot-token", "SLACK_APP_TOKEN: not an app-level token"),
    ],
)
def test_slack_tokens_of_the_wrong_kind(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv(variable, value)
    code, _, err = check(capsys)
    assert code == 1
    assert message in err
    assert value not in err, "a token is never echoed"


def test_a_rotating_bot_token_is_a_bot_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxe.xoxb-1-rotating")
    code, _, err = check(capsys)
    assert code == 0, err


def test_socket_mode_needs_a_bot_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    assert check(capsys)[0] == 0
    code, _, err = check(capsys, "--socket-mode")
    assert code == 1
    assert "SLACK_BOT_TOKEN: required for --socket-mode" in err
    assert main(["serve", "--socket-mode", "--port", "0"]) == 2
    assert "SLACK_BOT_TOKEN: required for --socket-mode" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"models": {"x": {"pipline": {}}}},
            "models.x.pipline: unknown key; did you mean 'pipeline'?",
        ),
        (
            {"models": {"x": {"pipeline": {"provider": "gitlab", "project": 1, "varibles": {}}}}},
            "models.x.pipeline.varibles: unknown key; did you mean 'variables'?",
        ),
        ({"dedupe": {"window": "1h"}}, "dedupe: unknown key; did you mean 'dedup'?"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_unknown_keys_get_a_did_you_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any], message: str
) -> None:
    code, _, err = check(capsys, str(write(tmp_path, config)))
    assert code == 1
    assert f"  {message}\n" in err


def test_yaml_errors_name_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "slack:\n  default_channel: '#a'\n models: {}\n")
    code, _, err = check(capsys, str(path))
    assert code == 1
    assert f"{path}:3:" in err
    assert "not valid YAML" in err


def test_environment_errors_name_the_variable_as_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_SLACK_PACING", "-1")
    monkeypatch.setenv("CHATOPS_SLACK_TIMEOUT", "soon")
    code, _, err = check(capsys)
    assert code == 1
    assert "  CHATOPS_SLACK_PACING: Input should be greater than or equal to 0 (got '-1')" in err
    assert "  CHATOPS_SLACK_TIMEOUT: " in err
    assert "chatops_slack_pacing" not in err
    assert main(["serve", "--port", "0"]) == 2, "serve refuses to start on them"


@pytest.mark.parametrize(
    ("value", "expected"), [("4", 4), ("0", 0), ("off", None), ("OFF ", None), ("", None)]
)
def test_deferred_folds_are_a_number_of_folds_or_off(
    value: str, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_DEFER_AFTER", value)
    assert Settings().chatops_defer_after == expected


@pytest.mark.parametrize("value", ["-1", "soon", "4.5"])
def test_a_mistyped_defer_setting_stops_the_service(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_DEFER_AFTER", value)
    code, _, err = check(capsys)
    assert code == 1
    assert "  CHATOPS_DEFER_AFTER: " in err


def test_check_config_reads_chatops_config_without_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"models": {"x": {"chanel": "#x"}}})
    monkeypatch.setenv("CHATOPS_CONFIG", str(path))
    code, _, err = check(capsys)
    assert code == 1
    assert "models.x.chanel: unknown key; did you mean 'channel'?" in err
    path.write_text(yaml.safe_dump({"models": {"x": {"channel": "#x"}}}))
    code, out, _ = check(capsys)
    assert code == 0
    assert f"{path}: OK" in out


def test_file_only_leaves_the_environment_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    assert check(capsys, str(EXAMPLE))[0] == 1
    code, out, err = check(capsys, "--file-only", str(EXAMPLE))
    assert code == 0, err
    assert f"{EXAMPLE}: OK" in out


def test_serve_refuses_to_start_with_every_problem_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, {"models": {"x": {}}, "drift": {"default_model": "y"}})
    assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "1 problem(s):\n  drift.default_model: 'y' is not a model" in err
    assert "Traceback" not in err


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"chatops {expected}\n"


def test_the_license_file_is_the_declared_license() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_a_registry_needs_its_uri_and_webhook_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "registry.yaml"
    config.write_text("models:\n  fraud-detector:\n    registry: {name: fraud-detector}\n")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "MLFLOW_TRACKING_URI: not set, but fraud-detector names a model registry" in err
    assert "CHATOPS_MLFLOW_WEBHOOK_SECRET: not set" in err
