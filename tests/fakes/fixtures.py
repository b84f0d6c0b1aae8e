"""Access to the captured webhook bodies in tests/fixtures (real Alertmanager 0.25 output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"


def fixtures_dir() -> Path:
    """Directory holding the `alertmanager/` and `drift/` captured bodies."""
    return FIXTURES_DIR


def fixture_bytes(relative: str) -> bytes:
    """Raw bytes of one fixture file, e.g. 'alertmanager/api_firing_single-alert.json'."""
    return (FIXTURES_DIR / relative).read_bytes()


def fixture_json(relative: str) -> Any:
    """Parsed JSON of one fixture file."""
    return json.loads(fixture_bytes(relative))


@pytest.fixture
def am_fixture() -> Any:
    """Loader: am_fixture('api_firing_single-alert') -> raw bytes of that Alertmanager body."""
    return lambda name: fixture_bytes(f"alertmanager/{name}.json")


@pytest.fixture
def drift_fixture() -> Any:
    """Loader: drift_fixture('drift-script_event-drift') -> raw bytes of that drift body."""
    return lambda name: fixture_bytes(f"drift/{name}.json")
