"""The shipped alertmanager/ files are valid: amtool and promtool accept them, rule tests pass.

CI runs these so that an example config nothing runs cannot rot (STYLE.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.binaries import require_binary

ALERTMANAGER_DIR = Path(__file__).resolve().parents[2] / "alertmanager"
TOOL_TIMEOUT_S = 60


def run_tool(binary: str, *args: str) -> None:
    """Run a checker in the alertmanager/ directory and assert exit 0, showing its output if not."""
    result = subprocess.run(
        [binary, *args],
        cwd=ALERTMANAGER_DIR,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"{Path(binary).name} {' '.join(args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_amtool_accepts_alertmanager_config() -> None:
    run_tool(require_binary("amtool"), "check-config", "alertmanager.yml")


def test_promtool_accepts_rules() -> None:
    run_tool(require_binary("promtool"), "check", "rules", "rules/ml-models.rules.yml")


def test_promtool_rule_unit_tests_pass() -> None:
    run_tool(require_binary("promtool"), "test", "rules", "tests/ml-models.test.yml")


def test_promtool_accepts_prometheus_config() -> None:
    run_tool(require_binary("promtool"), "check", "config", "prometheus.yml")


def load_yaml(relative: str) -> Any:
    """Parse one file under alertmanager/."""
    return yaml.safe_load((ALERTMANAGER_DIR / relative).read_text(encoding="utf-8"))


def test_prometheus_config_loads_the_rule_file() -> None:
    """A rule file that prometheus.yml does not load would never be evaluated."""
    assert "rules/ml-models.rules.yml" in load_yaml("prometheus.yml")["rule_files"]


def test_every_rule_has_a_firing_and_a_not_firing_unit_test() -> None:
    """promtool passes on an incomplete test file, so check the coverage here."""
    rules = [
        rule
        for group in load_yaml("rules/ml-models.rules.yml")["groups"]
        for rule in group["rules"]
    ]
    checks = [
        check
        for case in load_yaml("tests/ml-models.test.yml")["tests"]
        for check in case["alert_rule_test"]
    ]
    for rule in rules:
        name = rule["alert"]
        assert any(c["alertname"] == name and not c.get("exp_alerts") for c in checks), (
            f"{name}: no not-firing case"
        )
        firing = [
            alert["exp_labels"]
            for c in checks
            if c["alertname"] == name
            for alert in c.get("exp_alerts") or []
        ]
        assert any(rule["labels"].items() <= labels.items() for labels in firing), (
            f"{name} {rule['labels']}: no firing case"
        )
