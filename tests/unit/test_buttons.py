"""The button contract (slackio.buttons): values round-trip, stay under 2000, bad ones are typed."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import actions
from slackio.buttons import (
    ACK,
    ACTION_IDS,
    DISMISS,
    RETRAIN,
    ROLLBACK,
    SILENCE,
    BadButtonValue,
    ButtonValue,
    button_value,
    parse_button_value,
    parse_duration,
)

KEY = "am:0123456789abcdef0123:1"
GROUP = {"alertname": "ModelDriftDetected", "model": "fraud-detector"}


@pytest.mark.parametrize(
    ("action_id", "expected"),
    [
        (ACK, {"k": KEY, "m": "fraud-detector"}),
        (ROLLBACK, {"k": KEY, "m": "fraud-detector", "e": None}),
        (RETRAIN, {"k": KEY, "m": "fraud-detector"}),
        (DISMISS, {"k": KEY, "m": "fraud-detector"}),
        (SILENCE, {"k": KEY, "m": "fraud-detector", "l": GROUP, "d": "1h"}),
    ],
)
def test_each_action_carries_only_the_keys_it_needs(
    action_id: str, expected: dict[str, object]
) -> None:
    value = button_value(action_id, key=KEY, model="fraud-detector", labels=GROUP)
    assert json.loads(value) == expected
    assert " " not in value.replace("fraud-detector", ""), "compact separators"


@pytest.mark.parametrize("action_id", sorted(ACTION_IDS))
def test_values_round_trip(action_id: str) -> None:
    value = button_value(action_id, key=KEY, model="fraud-detector", labels=GROUP)
    parsed = parse_button_value(action_id, value)
    assert parsed.action_id == action_id
    assert parsed.key == KEY
    assert parsed.model == "fraud-detector"
    if action_id == SILENCE:
        assert parsed.labels == GROUP
        assert parsed.silence_for == timedelta(hours=1)
        assert not parsed.truncated
    else:
        assert parsed == ButtonValue(action_id, KEY, "fraud-detector")


def test_rollback_carries_its_environment() -> None:
    value = button_value(ROLLBACK, key=KEY, model="fraud-detector", environment="staging")
    assert json.loads(value) == {"k": KEY, "m": "fraud-detector", "e": "staging"}
    parsed = parse_button_value(ROLLBACK, value)
    assert parsed == ButtonValue(ROLLBACK, KEY, "fraud-detector", environment="staging")
    # a button drawn before `e` existed reads back with no environment (the bot then refuses)
    old = parse_button_value(ROLLBACK, '{"k":"x","m":"fraud-detector"}')
    assert old.environment is None


def test_ack_and_dismiss_accept_no_model() -> None:
    for action_id in (ACK, DISMISS):
        parsed = parse_button_value(action_id, button_value(action_id, key=KEY))
        assert parsed.model is None
    assert json.loads(button_value(ACK, key=KEY)) == {"k": KEY, "m": None}


def test_oversized_labels_are_dropped_to_alertname_and_model_and_marked() -> None:
    labels = {**GROUP, **{f"label_{i:03}": "v" * 40 for i in range(200)}}
    value = button_value(SILENCE, key=KEY, model="fraud-detector", labels=labels, duration="2h")
    assert len(value) <= 2000
    parsed = parse_button_value(SILENCE, value)
    assert parsed.labels == GROUP
    assert parsed.truncated is True
    assert parsed.silence_for == timedelta(hours=2)


def test_a_key_and_model_that_cannot_fit_are_refused() -> None:
    with pytest.raises(BadButtonValue):  # control characters are escaped as \uXXXX in JSON
        button_value(ACK, key="\x00" * 255, model="\x01" * 255)


def test_labels_that_cannot_fit_at_all_are_refused() -> None:
    with pytest.raises(BadButtonValue):
        button_value(SILENCE, key=KEY, labels={"alertname": "x" * 2500})
    with pytest.raises(BadButtonValue):
        button_value(SILENCE, key=KEY, labels={"instance": "x" * 2500})


@pytest.mark.parametrize(
    ("action_id", "kwargs"),
    [
        ("chatops.reboot", {"key": KEY}),
        (ROLLBACK, {"key": KEY}),
        (RETRAIN, {"key": KEY, "model": None}),
        (ACK, {"key": ""}),
        (ACK, {"key": "k" * 256}),
        (ACK, {"key": KEY, "model": "m" * 256}),
        (SILENCE, {"key": KEY, "labels": {}}),
        (SILENCE, {"key": KEY, "labels": GROUP, "duration": "forever"}),
    ],
)
def test_building_an_off_contract_value_is_refused(
    action_id: str, kwargs: dict[str, object]
) -> None:
    with pytest.raises(BadButtonValue):
        button_value(action_id, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("chatops.reboot", '{"k":"x","m":null}'),
        (ACK, None),
        (ACK, 42),
        (ACK, ""),
        (ACK, "not json"),
        (ACK, '["k"]'),
        (ACK, "[" * 1500),
        (ACK, '{"k":"x","m":null,"pad":"' + "x" * 2000 + '"}'),
        (ACK, '{"m":null}'),
        (ACK, '{"k":7,"m":null}'),
        (ACK, '{"k":"","m":null}'),
        (ACK, '{"k":"x"}'),
        (ACK, '{"k":"x","m":3}'),
        (ROLLBACK, '{"k":"x","m":null}'),
        (ROLLBACK, '{"k":"x","m":"m","e":""}'),
        (ROLLBACK, '{"k":"x","m":"m","e":7}'),
        (RETRAIN, '{"k":"x","m":""}'),
        (SILENCE, '{"k":"x","m":null,"d":"1h"}'),
        (SILENCE, '{"k":"x","m":null,"l":[],"d":"1h"}'),
        (SILENCE, '{"k":"x","m":null,"l":{},"d":"1h"}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":1},"d":"1h"}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":"b"}}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":"b"},"d":"0h"}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":"b"},"d":"31d"}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":"b"},"d":"1 h"}'),
        (SILENCE, '{"k":"x","m":null,"l":{"a":"b"},"d":5}'),
    ],
)
def test_bad_values_raise_only_the_typed_error(action_id: str, value: object) -> None:
    with pytest.raises(BadButtonValue):
        parse_button_value(action_id, value)


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    parsed = parse_button_value(ACK, '{"k":"x","m":"fraud-detector","v":2}')
    assert parsed == ButtonValue(ACK, "x", "fraud-detector")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("30d", timedelta(days=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_block_ids_are_prefixed_and_clipped_to_slacks_limit() -> None:
    assert actions.block_id(actions.ACTIONS_BLOCK, KEY) == f"chatops.actions:{KEY}"
    assert len(actions.block_id(actions.RECORD_BLOCK, "k" * 400)) == 255


@given(action_id=st.sampled_from(sorted(ACTION_IDS)), value=st.text(max_size=2100))
def test_any_text_parses_or_raises_the_typed_error(action_id: str, value: str) -> None:
    with contextlib.suppress(BadButtonValue):
        parse_button_value(action_id, value)


_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
_LABEL = st.text(min_size=1, max_size=60)


@given(
    action_id=st.sampled_from(sorted(ACTION_IDS)),
    key=st.text(_PRINTABLE, min_size=1, max_size=255),
    model=st.text(_PRINTABLE, min_size=1, max_size=255),
    labels=st.dictionaries(_LABEL, st.text(max_size=200), min_size=1, max_size=40),
)
def test_built_values_always_fit_and_round_trip(
    action_id: str, key: str, model: str, labels: dict[str, str]
) -> None:
    labels = {"alertname": "A", **labels}
    value = button_value(action_id, key=key, model=model, labels=labels)
    assert len(value) <= 2000
    parsed = parse_button_value(action_id, value)
    assert (parsed.key, parsed.model) == (key, model)
    if action_id == SILENCE:
        assert parsed.labels == labels or (parsed.truncated and "alertname" in parsed.labels)
