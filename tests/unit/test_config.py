"""Config file validation (docs/configuration.md) and `chatops check-config`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chatops.cli import main
from chatops.config import ConfigError, parse_config, parse_duration

README_EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "chatops.yaml").read_text()


def test_readme_example_is_valid() -> None:
    config = parse_config(yaml.safe_load(README_EXAMPLE))
    assert config.dedup.window == 4 * 3600
    assert config.channel_for("fraud-detector") == "#fraud-ml"
    assert config.channel_for("churn-predictor") == "#ml-alerts"
    assert config.channel_for(None) == "#ml-alerts"


def test_every_problem_is_reported_by_path() -> None:
    raw = yaml.safe_load(README_EXAMPLE)
    del raw["models"]["fraud-detector"]["pipeline"]["project"]
    raw["models"]["churn-predictor"]["colour"] = "blue"
    raw["dedup"]["window"] = "soon"
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    problems = err.value.problems
    assert "models.fraud-detector.pipeline.project: field required" in problems
    assert "models.churn-predictor.colour: unknown key" in problems
    assert any(p.startswith("dedup.window:") for p in problems)


@pytest.mark.parametrize(("text", "seconds"), [("4h", 14400), ("30s", 30), ("1d", 86400), (90, 90)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(README_EXAMPLE)
    assert main(["check-config", str(good)]) == 0
    assert "model fraud-detector: gitlab" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("slack: {default_channel: 3}\nunknown: 1\n")
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "unknown: unknown key" in err
    assert "slack.default_channel" in err
    assert main(["check-config", str(tmp_path / "missing.yaml")]) == 1


def test_max_alerts_per_incident_defaults_to_500_and_is_checked() -> None:
    assert parse_config({}).dedup.max_alerts_per_incident == 500
    assert (
        parse_config({"dedup": {"max_alerts_per_incident": 50}}).dedup.max_alerts_per_incident == 50
    )
    for bad in (0, 5, "500", True, 100_000):
        with pytest.raises(ConfigError) as err:
            parse_config({"dedup": {"max_alerts_per_incident": bad}})
        assert err.value.problems[0].startswith("dedup.max_alerts_per_incident:"), bad
