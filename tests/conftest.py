"""Shared pytest wiring: the fake servers and fixture loaders in tests/fakes, plugged in."""

import logging
from collections.abc import Iterator

import pytest
import structlog

pytest_plugins = [
    "tests.fakes.fixtures",
    "tests.fakes.slack",
    "tests.fakes.app",
    "tests.fakes.redis_server",
    "tests.fakes.gitlab",
    "tests.fakes.github",
    "tests.fakes.bot_app",
    "tests.fakes.prometheus",
    "tests.fakes.mlflow",
    "tests.fakes.grafana",
]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A test that runs a CLI command configures logging onto its captured stderr; put the
    previous setup back afterwards so later tests never log into a closed capture."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
