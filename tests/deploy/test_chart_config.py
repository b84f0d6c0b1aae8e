"""The chart and the `chatops` CLI agree: its ConfigMap passes check-config, its args parse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helm import CHART, REPO, Helm, one

SCENARIOS: dict[str, tuple[Path, ...]] = {
    "default": (),
    **{path.stem: (path,) for path in sorted((CHART / "ci").glob("*.yaml"))},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rendered_config_passes_check_config(helm: Helm, tmp_path: Path, scenario: str) -> None:
    objects: list[dict[str, Any]] = helm.template({}, *SCENARIOS[scenario])
    config = tmp_path / "config.yaml"
    config.write_text(one(objects, "ConfigMap")["data"]["config.yaml"])
    # Only what a pod without secrets would have: no tokens, no endpoints, so the file alone.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env["PYTHONPATH"] = str(REPO)  # this checkout's chatops, whatever the venv was installed from
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "check-config", "--file-only", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cli_accepts_every_flag_the_chart_passes(helm: Helm) -> None:
    flags = set()
    for files in SCENARIOS.values():
        args = one(helm.template({}, *files), "Deployment")["spec"]["template"]["spec"]
        flags |= {a for a in args["containers"][0]["args"] if a.startswith("--")}
    assert "--socket-mode" in flags
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not [flag for flag in sorted(flags) if flag not in result.stdout]
