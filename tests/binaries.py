"""Find external binaries for tests: skip locally when one is missing, fail in CI.

A test that silently skips in CI proves nothing, so with `CI=true` a missing
binary is a test failure that names what to install.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str, *alternatives: str) -> str:
    """Return the path of `name` (or of the first alternative name found on PATH).

    Alternatives cover packaging differences, e.g. Debian ships Alertmanager as
    `prometheus-alertmanager` where upstream archives call it `alertmanager`.
    When none is found: `pytest.fail` if the environment variable CI is "true",
    `pytest.skip` otherwise, with the reason naming the binaries looked for.
    """
    candidates = (name, *alternatives)
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is not None:
            return path
    reason = f"binary not found on PATH: {' or '.join(candidates)}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)
