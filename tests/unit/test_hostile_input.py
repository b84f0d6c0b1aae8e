"""Hostile input: every parser answers any input with a result or its own typed error.

The parsers sit right behind the network (Alertmanager, drift scripts, Slack) or read a file a
person edited, so arbitrary bytes, arbitrary JSON, near-valid payloads with weird strings, huge
numbers, odd timestamps and deep nesting must never raise anything but BadPayload, UsageError,
BadButtonValue or ConfigError. Where a parser accepts the input, what the gateway does next
(fold into the stored state, round-trip through the store codec, render for Slack) must not
crash either, and the rendered message must pass the limits the fake Slack enforces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.commands import parse_command
from bot.errors import UsageError
from chatops.config import AppConfig, ConfigError, load_config, parse_config
from gateway.alertmanager import AlertmanagerPayload, parse_alertmanager, parse_timestamp
from gateway.drift import DriftEvent, dump_drift, fold, load_drift, parse_drift
from gateway.errors import BadPayload
from gateway.incidents import dump_incident, load_incident, merge, open_incident
from gateway.render import Rendered, render_changes, render_drift, render_incident
from slackio.buttons import ACTION_IDS, SILENCE, BadButtonValue, ButtonValue, parse_button_value
from tests.fakes.slack import validate_content

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
PIPELINES = frozenset({"fraud-detector"})
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies --------------------------------------------------------------------------------

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<http://evil.example|x>",
    "<@U0ADMIN>",
    "a & b",
    "&amp;",
    "*bold* _it_ `code` ```block```",
    "\u202e\u200b\x00\x1b[31m",
    "😀" * 40,
    "x" * 5000,
]
weird_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(INJECTIONS),
    # long strings, built by repetition: generating 5,000 random characters is slow
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=8), st.integers(400, 800)),
)
huge_ints = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**63, -(2**63) - 1, 10**400]),
)
timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-22T19:42:42.181Z",
            "2026-11-22T19:42:42.181123456789Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:30:00+01:00",
            "0002-01-01T00:00:00+23:59",
            "2026-02-30T00:00:00Z",
            "2026-11-22",
            "",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.text(max_size=40),
    huge_ints,
    st.none(),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), huge_ints, st.floats(allow_nan=False), weird_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


Wrap = Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the plausible value, sometimes anything JSON can hold (type confusion)."""
    return st.one_of(value, value, value, json_values)


def exact(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The plausible value only: weird content, right types, so most payloads parse."""
    return value


valid_times = st.one_of(
    st.sampled_from(["2026-11-22T19:42:42.181Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
labels = st.dictionaries(weird_text, weird_text, max_size=6)


def am_payloads(field: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    """Alertmanager-webhook-shaped dicts; `field` decides how wrong each field may be."""
    times = timestamps if field is maybe else valid_times
    alert = st.fixed_dictionaries(
        {
            "status": field(st.sampled_from(["firing", "resolved"])),
            "labels": field(labels.map(lambda d: {"alertname": "ModelDrift", **d})),
            "annotations": field(labels),
            "startsAt": times,
            "endsAt": st.one_of(times, st.just("0001-01-01T00:00:00Z")),
            "generatorURL": field(st.sampled_from(["http://prom/g?x=1", "http://evil|x", ""])),
            "fingerprint": field(st.sampled_from(["", "a1", "b2"])),
        }
    )
    return st.fixed_dictionaries(
        {
            "version": field(st.just("4")),
            "groupKey": field(weird_text.filter(bool)),
            "status": field(st.sampled_from(["firing", "resolved"])),
            "receiver": field(weird_text),
            "groupLabels": field(labels),
            "commonLabels": field(labels),
            "commonAnnotations": field(labels),
            "externalURL": field(st.sampled_from(["http://am:9093", "javascript:x", "<!here>"])),
            "truncatedAlerts": field(st.one_of(st.integers(0, 10**30), huge_ints)),
            "alerts": field(st.lists(alert, max_size=4)),
        }
    )


floats = st.one_of(st.floats(), huge_ints, st.sampled_from([1e308, -0.0, 5e-324]))
unit_floats = st.floats(0, 1)


def script_drift(field: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    """The existing drift script's body."""
    payload = st.fixed_dictionaries(
        {"p_val": field(unit_floats | floats), "is_drift": field(st.booleans())},
        optional={
            "timestamp": timestamps if field is maybe else valid_times,
            "model": field(weird_text),
            "report_url": field(weird_text),
        },
    )
    return st.fixed_dictionaries({"event": field(st.just("drift")), "payload": field(payload)})


def evidently_drift(field: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    """The Evidently-style summary body."""
    column = st.fixed_dictionaries(
        {"drift_score": field(floats), "drift_detected": field(st.booleans())},
        optional={
            "column_name": field(weird_text),
            "stattest_name": field(weird_text),
            "stattest_threshold": field(floats),
        },
    )
    payload = st.fixed_dictionaries(
        {
            "dataset_drift": field(st.booleans()),
            "share_of_drifted_columns": field(unit_floats | floats),
        },
        optional={
            "model": field(st.sampled_from(["fraud-detector", "x" * 63, "a b"])),
            "model_version": field(weird_text),
            "timestamp": timestamps if field is maybe else valid_times,
            "number_of_columns": field(huge_ints),
            "number_of_drifted_columns": field(huge_ints),
            "drift_by_columns": field(st.dictionaries(weird_text, column, max_size=20)),
            "report_url": field(st.sampled_from(["https://r/1", "http://evil|x"])),
        },
    )
    return st.fixed_dictionaries(
        {
            "event": field(st.just("drift")),
            "source": st.just("evidently"),
            "payload": field(payload),
        }
    )


def encode(value: Any) -> bytes:
    """JSON bytes, with the non-standard NaN/Infinity literals some senders produce."""
    return json.dumps(value, allow_nan=True).encode()


def slack_ok(rendered: Rendered) -> None:
    """The rendered message passes the content checks the fake Slack enforces."""
    validate_content({"text": rendered.text, "blocks": rendered.blocks}, required=True)
    json.dumps(rendered.blocks)


# --- Alertmanager ------------------------------------------------------------------------------


def assert_bad_payload(error: BadPayload) -> None:
    """A 400 the sender can act on: a message and the list of bad fields."""
    assert error.message
    assert isinstance(error.details, list)
    assert all(isinstance(d, str) for d in error.details)


def parse_am_or_bad(body: bytes) -> AlertmanagerPayload | None:
    try:
        return parse_alertmanager(body)
    except BadPayload as e:
        error = e
    assert_bad_payload(error)
    return None


def fold_and_render(payload: AlertmanagerPayload) -> None:
    """What the gateway does with an accepted payload: open, merge, store, render."""
    incident = open_incident(payload, generation=1, now=NOW)
    merged, changes = merge(incident, payload, now=NOW)
    assert load_incident(dump_incident(merged)) == merged
    slack_ok(render_incident(merged, pipeline_models=PIPELINES, silence=True))
    reply = render_changes(changes)
    assert reply is None or len(reply) <= 3000


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\xff\xfe{}")
@example(b"[" * 100_000)
@example(b'{"a":' * 50_000)
def test_alertmanager_any_bytes(body: bytes) -> None:
    parse_am_or_bad(body)


@FUZZ
@given(json_values)
def test_alertmanager_any_json_value(value: Any) -> None:
    parse_am_or_bad(encode(value))


@FUZZ
@given(st.one_of(am_payloads(exact), am_payloads(maybe)))
def test_alertmanager_payload_like_dicts_parse_fold_and_render(value: dict[str, Any]) -> None:
    payload = parse_am_or_bad(encode(value))
    if payload is not None:
        fold_and_render(payload)


@FUZZ
@given(timestamps)
@example("9999-12-31T23:59:59-01:00")
@example("0001-01-01T23:00:00-23:59")
def test_timestamps_parse_to_a_usable_time_or_value_error(value: Any) -> None:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return
    if parsed is not None:
        assert parsed.tzinfo is not None
        parsed.astimezone(UTC)  # what rendering does with every time
        int(parsed.timestamp())


def test_oversized_alert_is_accepted_and_rendered_within_slack_limits() -> None:
    many = {f"label_{n:04d}": f"value-{n}" * 3 for n in range(1000)}
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="Huge"}',
        "status": "firing",
        "groupLabels": many,
        "commonLabels": many,
        "commonAnnotations": {"description": "d" * 100_000},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Huge", **many},
                "annotations": {"description": "<!channel> " * 10_000, "summary": "s" * 5000},
                "startsAt": "2026-11-22T19:42:42.181Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }
    payload = parse_alertmanager(encode(body))
    fold_and_render(payload)


# --- drift -------------------------------------------------------------------------------------


def parse_drift_or_bad(body: bytes, model: str | None, default: str | None) -> DriftEvent | None:
    try:
        return parse_drift(body, model_param=model, default_model=default)
    except BadPayload as e:
        error = e
    assert_bad_payload(error)
    return None


def fold_drift_and_render(event: DriftEvent) -> None:
    """Twice (a new message, then a repeat), through the store codec each time."""
    current = None
    for _ in range(2):
        folded = fold(current, event, now=NOW, window=3600)
        current = load_drift(dump_drift(folded))
        assert current == folded
        slack_ok(render_drift(current, pipeline_models=PIPELINES))


models = st.one_of(st.none(), st.sampled_from(["fraud-detector", ""]), weird_text)


@FUZZ
@given(st.binary(max_size=2000), models, models)
@example(b"[" * 100_000, None, "m")
def test_drift_any_bytes(body: bytes, model: str | None, default: str | None) -> None:
    parse_drift_or_bad(body, model, default)


@FUZZ
@given(json_values, models)
def test_drift_any_json_value(value: Any, model: str | None) -> None:
    parse_drift_or_bad(encode(value), model, "fraud-detector")


@FUZZ
@given(
    st.one_of(*(f(w) for f in (script_drift, evidently_drift) for w in (exact, maybe))),
    models,
    models,
)
@example({"event": "drift", "payload": {"p_val": 0.5, "is_drift": True}}, "m", None)
@example(
    {
        "event": "drift",
        "source": "evidently",
        "payload": {
            "dataset_drift": True,
            "share_of_drifted_columns": 0.5,
            "drift_by_columns": {"f": {"drift_score": 1e999, "drift_detected": True}},
        },
    },
    "m",
    None,
)
def test_drift_payload_like_dicts_parse_fold_and_render(
    value: dict[str, Any], model: str | None, default: str | None
) -> None:
    event = parse_drift_or_bad(encode(value), model, default)
    if event is not None:
        fold_drift_and_render(event)


# --- slash commands and buttons ----------------------------------------------------------------

command_names = st.one_of(
    st.sampled_from(
        ["/retrain", "/deploy", "/rollback", "/drift", "/chatops", "deploy", " /DEPLOY "]
    ),
    st.text(max_size=20),
)


@FUZZ
@given(command_names, st.one_of(st.text(max_size=400), st.sampled_from(INJECTIONS)))
@example("/deploy", 'fraud-detector production "unterminated')
@example("/retrain", "m ref=" + "a/" * 200)
def test_commands_any_text(command: str, text: str) -> None:
    try:
        parse_command(command, text)
    except UsageError as e:
        error = e
    else:
        return
    assert error.message
    assert error.usage


button_values = st.one_of(
    st.text(max_size=300),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"k": maybe(weird_text), "m": maybe(st.one_of(st.none(), weird_text))},
        optional={
            "l": maybe(labels),
            "d": maybe(st.sampled_from(["1h", "0s", "31d", "999999w", "1h30m", ""])),
            "t": json_values,
        },
    ).map(json.dumps),
    json_values,
)


@FUZZ
@given(
    st.one_of(st.sampled_from(sorted(ACTION_IDS)), st.text(max_size=30), json_values),
    button_values,
)
@example(SILENCE, '{"k":"am:1:1","m":null,"l":{"a":"b"},"d":"999999w999999d"}')
@example("chatops.ack", "[" * 5000)
def test_button_values_any_input(action_id: Any, value: Any) -> None:
    try:
        parsed = parse_button_value(action_id, value)
    except BadButtonValue:
        return
    assert isinstance(parsed, ButtonValue)
    if parsed.action_id == SILENCE:
        assert parsed.silence_for is not None


# --- config ------------------------------------------------------------------------------------

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(),
    st.text(max_size=30),
    st.datetimes(),
    st.dates(),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=12), st.integers(), st.none()), inner, max_size=4
        ),
    ),
    max_leaves=20,
)
durations = maybe(st.one_of(st.sampled_from(["4h", "0s", "-1h", "1e400h", "nan"]), yaml_values))
config_like = st.fixed_dictionaries(
    {},
    optional={
        "slack": maybe(st.fixed_dictionaries({"default_channel": maybe(st.text(max_size=30))})),
        "models": maybe(
            st.dictionaries(
                st.text(max_size=20),
                maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "channel": yaml_values,
                            "environments": yaml_values,
                            "pipeline": maybe(
                                st.fixed_dictionaries(
                                    {"provider": maybe(st.sampled_from(["gitlab", "github"]))},
                                    optional={
                                        "project": yaml_values,
                                        "repo": yaml_values,
                                        "workflows": yaml_values,
                                        "dispatch": yaml_values,
                                        "variables": yaml_values,
                                    },
                                )
                            ),
                        },
                    )
                ),
                max_size=3,
            )
        ),
        "policy": yaml_values,
        "dedup": maybe(st.fixed_dictionaries({"window": durations})),
        "approvals": maybe(st.fixed_dictionaries({"expire_after": durations})),
        "drift": yaml_values,
    },
)


def parse_config_or_error(raw: Any) -> AppConfig | None:
    try:
        return parse_config(raw)
    except ConfigError as e:
        error = e
    assert error.problems
    assert all(isinstance(p, str) and ": " in p for p in error.problems)
    return None


@FUZZ
@given(st.one_of(yaml_values, config_like))
@example({"dedup": {"window": [1]}})
@example({"dedup": {"window": None}})
@example({"dedup": {"window": 10**400}})
@example({"dedup": {"window": float("nan")}})
@example({"approvals": {"expire_after": {}}})
@example({"approvals": {"expire_after": float("inf")}})
def test_config_any_structure(raw: Any) -> None:
    config = parse_config_or_error(raw)
    if config is not None:
        assert 0 < config.dedup.window < float("inf")
        assert 0 <= config.approvals.expire_after < float("inf")


def test_config_self_referencing_structure() -> None:
    loop: list[Any] = []
    loop.append(loop)
    parse_config_or_error({"models": {"m": {"environments": loop}}})


@pytest.mark.parametrize(
    "text",
    [
        "dedup: {window: 2026-13-01}",
        "dedup: {window: 2026-02-30}",
        "slack: {default_channel: 0x_}",
        "[" * 5000,
        "a: &x [*x]",
        "a: !!binary xyz",
        "a: !!python/object:os.system x",
        "\x00",
        "- a\nb: c",
    ],
    ids=[
        "impossible-month",
        "impossible-day",
        "bad-hex",
        "deep-nesting",
        "self-reference",
        "bad-base64",
        "python-tag",
        "nul",
        "list-then-mapping",
    ],
)
def test_config_file_with_broken_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems
