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


def test_check_config_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-example")  # the example's models use both
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_example")
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


def _with_policy(policy: object) -> dict[str, object]:
    raw: dict[str, object] = yaml.safe_load(README_EXAMPLE)
    raw["policy"] = policy
    return raw


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (
            {"deploy": {"prodution": {"approvals": 1}}},
            "policy.deploy.prodution: unknown environment; did you mean 'production'?",
        ),
        (
            {"deplyo": {"production": {"approvals": 1}}},
            "policy.deplyo: unknown action; did you mean 'deploy'?",
        ),
        (
            {"deploy": {"production": {"approvals": 2, "approvers": ["U0APPROVER1"]}}},
            "policy.deploy.production.approvals: 2 approvals needed but only 1 approver(s) "
            "listed, so no request could ever be approved",
        ),
    ],
)
def test_policy_mistakes_are_config_errors(policy: object, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_with_policy(policy))
    assert err.value.problems == [problem]


@pytest.mark.parametrize("key", ["approvers", "requesters"])
def test_policy_user_ids_must_be_slack_ids(key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_with_policy({"rollback": {"*": {key: ["U0ONCALL1", "alice"]}}}))
    (problem,) = err.value.problems
    assert problem.startswith(f"policy.rollback.*.{key}: 'alice' is not a Slack user ID")


def test_check_config_refuses_a_policy_typo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        README_EXAMPLE.replace("    production: {approvals: 1", "    prodution: {approvals: 1")
    )
    assert main(["check-config", str(typo)]) == 1
    captured = capsys.readouterr()
    assert "OK" not in captured.out
    assert (
        "policy.deploy.prodution: unknown environment; did you mean 'production'?" in captured.err
    )


def test_check_config_warns_loudly_without_a_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(README_EXAMPLE)
    del raw["policy"]
    open_config = tmp_path / "open.yaml"
    open_config.write_text(yaml.safe_dump(raw))
    assert main(["check-config", "--file-only", str(open_config)]) == 0
    assert "warning: no `policy` section: anyone may retrain, deploy and roll back" in (
        capsys.readouterr().err
    )


def test_check_config_names_what_a_policy_leaves_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump(_with_policy({"deploy": {"production": {"approvals": 0}}})))
    assert main(["check-config", "--file-only", str(partial)]) == 0
    err = capsys.readouterr().err
    assert "warning: policy has no entry for retrain, deploy to staging" in err
    assert "no `policy` section" not in err
    example = tmp_path / "example.yaml"
    example.write_text(README_EXAMPLE)
    capsys.readouterr()
    assert main(["check-config", "--file-only", str(example)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_max_alerts_per_incident_defaults_to_500_and_is_checked() -> None:
    assert parse_config({}).dedup.max_alerts_per_incident == 500
    assert (
        parse_config({"dedup": {"max_alerts_per_incident": 50}}).dedup.max_alerts_per_incident == 50
    )
    for bad in (0, 5, "500", True, 100_000):
        with pytest.raises(ConfigError) as err:
            parse_config({"dedup": {"max_alerts_per_incident": bad}})
        assert err.value.problems[0].startswith("dedup.max_alerts_per_incident:"), bad


def test_post_resolved_only_groups_is_a_strict_boolean_defaulting_to_true() -> None:
    assert parse_config({}).gateway.post_resolved_only_groups is True
    assert parse_config({"gateway": {"post_resolved_only_groups": False}}).gateway.model_dump() == {
        "post_resolved_only_groups": False
    }
    for bad in ("no", 0):
        with pytest.raises(ConfigError) as err:
            parse_config({"gateway": {"post_resolved_only_groups": bad}})
        assert err.value.problems[0].startswith("gateway.post_resolved_only_groups")
