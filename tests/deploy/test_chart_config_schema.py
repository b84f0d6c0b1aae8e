"""The chart validates `config:` with the config file's own schema (from the pydantic model).

values.schema.json embeds `chatops config-schema` under `properties.config`; after a
change to chatops/config/, `scripts/sync-schema` regenerates it, and the first test
here fails until it has been run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chatops.cli import main
from chatops.schema import config_json_schema, embed_in_chart_schema
from tests.deploy.helm import CHART, REPO, Helm, one

VALUES_SCHEMA = CHART / "values.schema.json"
EXAMPLE_CONFIG = REPO / "examples" / "chatops.yaml"


def committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(VALUES_SCHEMA.read_text())
    return schema


def test_committed_chart_schema_embeds_the_current_config_schema() -> None:
    current = committed()
    assert embed_in_chart_schema(current, config_json_schema()) == current, (
        "helm/chatops/values.schema.json is stale: run scripts/sync-schema"
    )
    assert current["properties"]["config"]["additionalProperties"] is False


def test_cli_prints_the_schema_generated_from_the_model() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "config-schema"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == config_json_schema()
    assert printed["title"] == "AppConfig"


def test_the_schema_accepts_the_example_config_and_durations() -> None:
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    jsonschema.validate(config, config_json_schema())
    for window in ("4h", "90s", 3600, "1.5d"):
        jsonschema.validate({"dedup": {"window": window}}, config_json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"dedup": {"window": "forever"}}, config_json_schema())


def test_the_chart_renders_the_example_config(helm: Helm) -> None:
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    objects = helm.template({"config": config})
    assert yaml.safe_load(one(objects, "ConfigMap")["data"]["config.yaml"]) == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"slack": {"default_chanel": "#x"}}, "default_chanel", id="typo-in-slack"),
        pytest.param({"dedupe": {"window": "4h"}}, "dedupe", id="typo-at-top-level"),
        pytest.param(
            {"models": {"m": {"pipeline": {"provider": "github", "repo": "a/b", "workflow": {}}}}},
            "workflow",
            id="typo-in-pipeline",
        ),
        pytest.param({"policy": {"deploi": {}}}, "deploi", id="unknown-action"),
        pytest.param({"dedup": {"window": "forever"}}, "config.dedup.window", id="bad-duration"),
        pytest.param(
            {"models": {"m": {"pipeline": {"provider": "gitlab"}}}}, "project", id="missing-field"
        ),
    ],
)
def test_bad_config_fails_helm_template_and_lint(
    helm: Helm, tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    result = helm.template_result({"config": config})
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"config": config}))
    lint = helm.run("lint", "--strict", "-f", str(values))
    assert lint.returncode != 0
    assert message in lint.stdout + lint.stderr


def test_chart_option_rewrites_a_stale_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = committed()
    stale["properties"]["config"] = {"type": "object"}
    stale.pop("$defs", None)
    path = tmp_path / "values.schema.json"
    path.write_text(json.dumps(stale))
    assert main(["config-schema", "--chart", str(path)]) == 0
    assert "updated" in capsys.readouterr().err
    assert json.loads(path.read_text()) == committed()
    assert main(["config-schema", "--chart", str(path)]) == 0
    assert "already current" in capsys.readouterr().err
    shutil.copy(VALUES_SCHEMA, path)
    assert main(["config-schema", "--chart", str(path)]) == 0
    assert path.read_text() == VALUES_SCHEMA.read_text(), "the committed file is byte-identical"


def test_chart_option_reports_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config-schema", "--chart", str(tmp_path / "missing.json")]) == 1
    assert "cannot update the config schema" in capsys.readouterr().err
