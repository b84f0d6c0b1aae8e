"""Run helm 3 against the chart in helm/chatops and read what it renders."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.binaries import require_binary

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "chatops"
RELEASE = "chatops-test"
NAMESPACE = "ml-platform"

Values = Mapping[str, Any]
Obj = dict[str, Any]

# What every install must set (the render fails without it): renders that test something
# else start from these, as `helm install -f` would.
REQUIRED: dict[str, Any] = {"secrets": {"webhookToken": "placeholder-required-webhook-token"}}


def find_tool(name: str) -> str:
    """Return the path of `name`, preferring the copy `scripts/install-tools` puts in .tools/bin.

    Missing everywhere: skip locally, fail with CI=true (via tests.binaries).
    """
    local = REPO / ".tools" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return require_binary(name)


@dataclass(frozen=True)
class Helm:
    """A helm 3 binary run with its own cache/config dirs, so tests never touch ~/.config/helm."""

    binary: str
    home: Path

    def run(self, *args: str, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
        """Run `helm ARGS... CHART` and return the finished process (never raises on exit code)."""
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
            "KUBECONFIG": str(self.home / "no-kubeconfig"),
        }
        return subprocess.run(
            [self.binary, *args, str(chart)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    def required_args(self) -> list[str]:
        """`-f` of the values every install must set (REQUIRED), for renders that test others."""
        path = self.home / "required-values.yaml"
        path.write_text(yaml.safe_dump(REQUIRED))
        return ["-f", str(path)]

    def values_args(
        self, values: Values | None, files: tuple[Path, ...], *, required: bool = True
    ) -> list[str]:
        """`-f` arguments: REQUIRED (unless not `required`), the files, then `values` in a file
        of its own (typed, unlike --set)."""
        args = self.required_args() if required else []
        args += [arg for path in files for arg in ("-f", str(path))]
        if values:
            with tempfile.NamedTemporaryFile(
                "w", dir=self.home, prefix="values-", suffix=".yaml", delete=False
            ) as f:
                yaml.safe_dump(dict(values), f)
            args += ["-f", f.name]
        return args

    def template_result(
        self,
        values: Values | None = None,
        *files: Path,
        chart: Path = CHART,
        extra: tuple[str, ...] = (),
        release: str = RELEASE,
        namespace: str = NAMESPACE,
        required: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """`helm template` with the given values; the caller looks at the exit code."""
        args = ["template", release, "--namespace", namespace, *extra]
        return self.run(*args, *self.values_args(values, files, required=required), chart=chart)

    def template(
        self,
        values: Values | None = None,
        *files: Path,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
    ) -> list[Obj]:
        """Render the chart and return its objects; a failed render fails the test with stderr."""
        result = self.template_result(values, *files, release=release, namespace=namespace)
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def notes(
        self,
        values: Values | None = None,
        *files: Path,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
    ) -> str:
        """Render templates/NOTES.txt, which `helm template` never prints.

        A throwaway copy of the chart gets one extra template that renders the
        notes through `tpl` into a ConfigMap; `--show-only` prints just that.
        """
        copy = self.home / "notes-chart"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(CHART, copy)
        (copy / "notes-under-test.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
        (copy / "templates" / "zz-notes-under-test.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
            'data:\n  notes: {{ tpl (.Files.Get "notes-under-test.txt") . | toJson }}\n'
        )
        show = ("--show-only", "templates/zz-notes-under-test.yaml")
        result = self.template_result(
            values, *files, chart=copy, extra=show, release=release, namespace=namespace
        )
        assert result.returncode == 0, f"rendering NOTES.txt failed:\n{result.stderr}"
        notes: str = yaml.safe_load(result.stdout)["data"]["notes"]
        return notes


def by_kind(objects: list[Obj], kind: str) -> list[Obj]:
    """The rendered objects of one kind."""
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[Obj], kind: str) -> Obj:
    """The single rendered object of `kind`; fails the test when there are zero or several."""
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]
