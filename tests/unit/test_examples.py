"""The repository stands alone: the shipped examples are valid and the README names only files
that exist in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from chatops.cli import main
from gateway.alertmanager import parse_alertmanager
from gateway.drift import parse_drift

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_example_config_passes_check_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-example")  # its models use both providers
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_example")
    assert main(["check-config", str(EXAMPLES / "chatops.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_readme_config_is_the_example_file() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"### Config file \(YAML; unknown keys are errors\)\n\n```yaml\n(.*?)```", readme, re.S
    )
    assert block is not None
    example = (EXAMPLES / "chatops.yaml").read_text()
    assert block.group(1) in example


@pytest.mark.parametrize("path", sorted((EXAMPLES / "alertmanager").glob("*.json")), ids=str)
def test_alertmanager_examples_parse(path: Path) -> None:
    assert parse_alertmanager(path.read_bytes()).alerts


@pytest.mark.parametrize("path", sorted((EXAMPLES / "drift").glob("*.json")), ids=str)
def test_drift_examples_parse(path: Path) -> None:
    event = parse_drift(path.read_bytes(), model_param="fraud-detector", default_model=None)
    assert event.model == "fraud-detector"


def test_every_repository_path_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    named = set(
        re.findall(
            r"(?<![\w/.-])((?:examples|scripts|alertmanager|helm|slack|docs|bench|tests)"
            r"/[\w./-]*\w)",
            readme,
        )
    )
    assert named, "the README names no repository files?"
    missing = sorted(p for p in named if not (ROOT / p).exists() and "*" not in p)
    assert not missing, f"README names files that are not in the repository: {missing}"


def test_nothing_in_the_repository_reads_or_cites_files_beside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    offenders = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.suffix in {".png", ".gz"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if "../" + "shared" in text or "CONTRACT " + "§" in text:
            offenders.append(name.decode())
    assert not offenders
