"""Shared pytest wiring: the fake servers and fixture loaders in tests/fakes, plugged in."""

pytest_plugins = [
    "tests.fakes.fixtures",
    "tests.fakes.slack",
    "tests.fakes.app",
    "tests.fakes.redis_server",
    "tests.fakes.gitlab",
    "tests.fakes.github",
    "tests.fakes.bot_app",
    "tests.fakes.prometheus",
]
