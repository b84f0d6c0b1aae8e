"""Shared pytest wiring: fake servers and fixture loaders live in tests/fakes and are plugged in here."""

pytest_plugins = [
    "tests.fakes.fixtures",
    "tests.fakes.slack",
]
