"""The cheap look at Alertmanager bodies: the same event keys as full validation, or none."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.alertmanager import parse_alertmanager
from gateway.dedup import event_keys
from gateway.repeats import KnownBodies, Screened, body_digest, plain_keys, screen, shape
from tests.fakes.service import group_body

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alertmanager"
BODIES = sorted(p for p in FIXTURES.glob("*.json") if p.name.startswith(("api_", "prometheus_")))


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.stem)
def test_plain_keys_are_the_keys_full_validation_gives(path: Path) -> None:
    body = path.read_bytes()
    assert plain_keys(body) == tuple(event_keys(parse_alertmanager(body)))


def test_plain_keys_of_a_large_group_and_without_fingerprints() -> None:
    body = group_body(3, 90)
    assert plain_keys(body) == tuple(event_keys(parse_alertmanager(body)))
    doc = json.loads(body)
    for alert in doc["alerts"]:
        del alert["fingerprint"]  # other senders: derived from the labels, as Alert does
    bare = json.dumps(doc).encode()
    assert plain_keys(bare) == tuple(event_keys(parse_alertmanager(bare)))


def _edited(edit: str) -> bytes:
    doc = json.loads(group_body(1, 3))
    alert = doc["alerts"][1]
    if edit == "status":
        alert["status"] = "pending"
    elif edit == "label":
        alert["labels"]["severity"] = 3
    elif edit == "label_list":
        alert["labels"]["severity"] = ["a"]
    elif edit == "starts":
        del alert["startsAt"]
    elif edit == "zero_starts":
        alert["startsAt"] = "0001-01-01T00:00:00Z"
    elif edit == "bad_starts":
        alert["startsAt"] = "yesterday"
    elif edit == "fingerprint":
        alert["fingerprint"] = None
    elif edit == "version":
        doc["version"] = "5"
    elif edit == "group":
        doc["groupKey"] = ""
    elif edit == "no_alerts":
        doc["alerts"] = []
    elif edit == "alert":
        doc["alerts"][1] = "x"
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "edit",
    ["status", "label", "label_list", "starts", "zero_starts", "bad_starts", "fingerprint",
     "version", "group", "no_alerts", "alert"],
)  # fmt: skip
def test_a_body_that_is_not_plainly_valid_has_no_plain_keys(edit: str) -> None:
    assert plain_keys(_edited(edit)) is None


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'"x"', b"\xff\xfe"])
def test_not_json_has_no_plain_keys(body: bytes) -> None:
    assert plain_keys(body) is None


def known(bodies: KnownBodies, group: str, body: bytes, keys: list[str]) -> None:
    bodies.remember(group, Screened(body, None, None), keys)


def test_known_bodies_keep_one_body_per_group_and_stay_bounded() -> None:
    bodies = KnownBodies(capacity=5)
    known(bodies, "g1", b"d1", ["a", "b"])
    assert bodies.keys_of(body_digest(b"d1")) == ("a", "b")
    known(bodies, "g1", b"d2", ["a", "b", "c"])
    assert bodies.keys_of(body_digest(b"d1")) is None, "a group's older body is forgotten"
    assert bodies.keys_of(body_digest(b"d2")) == ("a", "b", "c")
    known(bodies, "g2", b"d3", ["x", "y"])
    assert len(bodies) == 2
    known(bodies, "g3", b"d4", ["z"])  # 6 keys > 5: the oldest group goes
    assert bodies.keys_of(body_digest(b"d2")) is None
    assert bodies.keys_of(body_digest(b"d3")) == ("x", "y")
    assert bodies.keys_of(body_digest(b"d4")) == ("z",)
    known(bodies, "g4", b"d5", ["1", "2", "3", "4", "5", "6"])  # alone over the bound
    assert bodies.keys_of(body_digest(b"d5")) is None


def test_screen_hashes_only_a_body_of_a_known_length_and_uses_a_known_identical_body() -> None:
    bodies = KnownBodies()
    body = b"not even json"
    assert screen(body, bodies) == Screened(body, None, None), "no body of that length known"
    known(bodies, "g", body, ["k"])
    assert screen(body, bodies) == Screened(body, body_digest(body), ("k",))
    other = b"not even JSON"  # the same length, another body: hashed, not known
    assert screen(other, bodies) == Screened(other, body_digest(other), None)


def _compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()  # as Alertmanager (Go) writes it


def _with(body: bytes, edit: Callable[[dict[str, Any]], None], *, compact: bool = True) -> bytes:
    doc = json.loads(body)
    edit(doc)
    return _compact(doc) if compact else json.dumps(doc).encode()


def _annotate(value: object) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for alert in doc["alerts"]:
            alert["annotations"]["description"] = value

    return edit


@pytest.mark.parametrize("compact", [True, False])
def test_bodies_differing_only_in_annotations_have_one_shape(compact: bool) -> None:
    body = _with(group_body(1, 5), _annotate("value is 0.91"), compact=compact)
    resend = _with(body, _annotate("value is 0.93 (was 0.91)"), compact=compact)
    assert resend != body
    assert shape(resend) == shape(body) != body
    relabelled = _with(body, lambda d: d["alerts"][2]["labels"].update(severity="info"))
    assert shape(relabelled) != shape(body), "anything else than annotations counts"


@pytest.mark.parametrize(
    "annotation",
    [
        7,  # not a string: pydantic refuses it
        None,
        {"nested": "x"},
        "closing } brace in a string",  # the object is cut short: not read, body kept whole
    ],
)
def test_a_body_whose_annotations_are_not_plain_strings_keeps_its_own_shape(
    annotation: object,
) -> None:
    body = _with(group_body(1, 3), _annotate(annotation))
    assert shape(body) == body


def test_escaped_surrogates_and_bad_utf8_in_annotations_keep_the_body_whole() -> None:
    body = _with(group_body(1, 3), _annotate("x"))
    lone = body.replace(b'"description":"x"', b'"description":"\\ud800"')
    bad_utf8 = body.replace(b'"description":"x"', b'"description":"\xff"')
    assert lone != body
    assert bad_utf8 != body
    assert shape(lone) == lone
    assert shape(bad_utf8) == bad_utf8


def test_screen_matches_a_value_resend_by_its_shape() -> None:
    bodies = KnownBodies()
    folded = _with(group_body(1, 4), _annotate("value is 0.5"))
    keys = plain_keys(folded)
    assert keys is not None
    bodies.remember("g1", screen(folded, bodies), keys)
    resend = _with(folded, _annotate("value is 0.75"))
    screened = screen(resend, bodies)
    assert screened.keys == keys
    assert screened.intake is None
    assert screen(folded, bodies).keys == keys, "the byte-identical body too"
    bodies.remember("g1", screen(_with(group_body(1, 5), _annotate("v")), bodies), ("k",))
    assert bodies.keys_of(body_digest(shape(resend))) is None, "an older body's shape is forgotten"
