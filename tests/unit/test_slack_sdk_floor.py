"""The slack-sdk floor in pyproject.toml is a version whose SignatureVerifier refuses an empty
signing secret (3.43.0): with an older one a request signed with the empty key verifies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_slack_sdk_floor_refuses_empty_signing_secrets() -> None:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"slack[-_]sdk\b", d)]
    match = re.search(r">=\s*(\d+)\.(\d+)", spec)
    assert match, spec
    assert (int(match[1]), int(match[2])) >= (3, 43), spec


@pytest.mark.parametrize("secret", ["", "   "])
def test_the_installed_verifier_refuses_an_empty_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="signing_secret"):
        SignatureVerifier(secret)
