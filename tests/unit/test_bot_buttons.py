"""The button contract: what the gateway draws, the bot reads back; anything else is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.buttons import (
    ACK,
    GATEWAY_ACTIONS,
    PROMOTE,
    RETRAIN,
    ROLLBACK,
    SILENCE,
    BadButton,
    parse_duration,
    parse_gateway_button,
    parse_ticket_id,
)
from bot.options import ModelOptions, rollback_environment
from chatops.bot_wiring import rollback_defaults
from chatops.config import parse_config
from gateway import actions as gateway_actions


def test_the_action_ids_are_the_gateways() -> None:
    assert set(GATEWAY_ACTIONS) == set(gateway_actions.ACTION_IDS)


def test_values_built_by_the_gateway_parse() -> None:
    labels = {"alertname": "DriftHigh", "model": "m", "team": "ml"}
    value = gateway_actions.button_value(SILENCE, key="am:abc:1", model="m", labels=labels)
    parsed = parse_gateway_button(SILENCE, value)
    assert (parsed.key, parsed.model, parsed.labels) == ("am:abc:1", "m", labels)
    assert parsed.duration == timedelta(hours=1)
    retrain = parse_gateway_button(
        RETRAIN, gateway_actions.button_value(RETRAIN, key="d:m:1", model="m")
    )
    assert retrain.model == "m"


def test_rollback_values_carry_the_environment_the_dialog_named() -> None:
    value = gateway_actions.button_value(ROLLBACK, key="am:abc:1", model="m", environment="stg")
    assert parse_gateway_button(ROLLBACK, value).environment == "stg"
    unknown = gateway_actions.button_value(ROLLBACK, key="am:abc:1", model="m")
    assert parse_gateway_button(ROLLBACK, unknown).environment is None
    assert parse_gateway_button(ROLLBACK, '{"k":"x","m":"m"}').environment is None


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
    with pytest.raises(BadButton):
        parse_gateway_button(action, value)


def test_durations_and_ticket_ids() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(BadButton):
        parse_duration("0s")
    assert parse_ticket_id("cmd-0123abc") == "cmd-0123abc"
    with pytest.raises(BadButton):
        parse_ticket_id("../etc")


def test_rollback_environment_choice() -> None:
    model = ModelOptions("m", "#c", ("staging", "prod"))
    assert rollback_environment(model, {}) == "prod"
    assert rollback_environment(model, {"environment": "staging"}) == "staging"
    assert rollback_environment(model, {"env": "qa"}) == "prod"
    assert rollback_environment(ModelOptions("m", "#c", ("eu", "us")), {}) is None
    assert rollback_environment(ModelOptions("m", "#c", ("eu",)), {}) == "eu"
