"""The button contract: what the gateway draws, the bot reads back; anything else is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.buttons import parse_ticket_id
from bot.options import ModelOptions, rollback_environment
from chatops.bot_config import rollback_defaults
from chatops.config import parse_config
from slackio.buttons import (
    ACK,
    PROMOTE,
    RETRAIN,
    ROLLBACK,
    SILENCE,
    BadButtonValue,
    button_value,
    parse_button_value,
    parse_duration,
)


def test_rollback_values_carry_the_environment_the_dialog_named() -> None:
    value = button_value(ROLLBACK, key="am:abc:1", model="m", environment="stg")
    assert parse_button_value(ROLLBACK, value).environment == "stg"
    unknown = button_value(ROLLBACK, key="am:abc:1", model="m")
    assert parse_button_value(ROLLBACK, unknown).environment is None
    assert parse_button_value(ROLLBACK, '{"k":"x","m":"m"}').environment is None


def test_rollback_defaults_given_to_the_gateway() -> None:
    config = parse_config(
        {
            "models": {
                "a": {"environments": ["staging", "production"]},
                "b": {"environments": ["eu", "us"]},
                "c": {"environments": ["eu"]},
            }
        }
    )
    assert rollback_defaults(config) == {"a": "production", "c": "eu"}


@pytest.mark.parametrize(
    ("action", "value"),
    [
        (ACK, "not json"),
        (ACK, "[]"),
        (ACK, '{"k": "x"}'),  # m missing
        (RETRAIN, '{"k": "x", "m": null}'),
        (ROLLBACK, '{"k": "x", "m": "m", "e": 3}'),
        (ROLLBACK, '{"k": "x", "m": "m", "e": ""}'),
        (PROMOTE, '{"k": "promotion:m:1", "m": null}'),
        (SILENCE, '{"k": "x", "m": null, "l": {}, "d": "1h"}'),
        (SILENCE, '{"k": "x", "m": null, "l": {"a": "b"}, "d": "31d"}'),
        ("chatops.other", '{"k": "x", "m": null}'),
        (ACK, "x" * 2001),
    ],
)
def test_off_contract_values_are_refused(action: str, value: str) -> None:
    with pytest.raises(BadButtonValue):
        parse_button_value(action, value)


def test_durations_and_ticket_ids() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(BadButtonValue):
        parse_duration("0s")
    assert parse_ticket_id("cmd-0123abc") == "cmd-0123abc"
    with pytest.raises(BadButtonValue):
        parse_ticket_id("../etc")


def test_rollback_environment_choice() -> None:
    model = ModelOptions("m", "#c", ("staging", "prod"))
    assert rollback_environment(model, {}) == "prod"
    assert rollback_environment(model, {"environment": "staging"}) == "staging"
    assert rollback_environment(model, {"env": "qa"}) == "prod"
    assert rollback_environment(ModelOptions("m", "#c", ("eu", "us")), {}) is None
    assert rollback_environment(ModelOptions("m", "#c", ("eu",)), {}) == "eu"
