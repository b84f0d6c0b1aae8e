"""The bot has one exception tree, in `bot.errors`, drawn in that module's docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import bot
import bot.errors


def _bot_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(bot.__path__, "bot.")]


def test_every_user_facing_error_is_defined_in_bot_errors() -> None:
    elsewhere = {}
    for name in _bot_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, bot.errors.BotError)
                and value.__module__ == name
                and name != "bot.errors"
            ):
                elsewhere[attr] = name
    assert elsewhere == {}


def test_the_docstring_draws_every_error_of_the_tree() -> None:
    doc = bot.errors.__doc__ or ""
    errors = [
        name
        for name, value in vars(bot.errors).items()
        if inspect.isclass(value) and issubclass(value, bot.errors.BotError)
    ]
    assert len(errors) > 20
    assert [name for name in errors if name not in doc] == []


def test_error_for_status_picks_by_status() -> None:
    pick = bot.errors.error_for_status
    assert pick(401) is bot.errors.ProviderAuthError
    assert pick(403) is bot.errors.ProviderAuthError
    assert pick(404) is bot.errors.ProviderNotFound
    assert pick(429) is bot.errors.ProviderUnavailable
    assert pick(502) is bot.errors.ProviderUnavailable
    assert pick(None) is bot.errors.ProviderUnavailable
    assert pick(422) is bot.errors.ProviderRejected
