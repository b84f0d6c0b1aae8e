"""Policy lookup and the request/approver checks (docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.errors import BotError, NotAllowed
from bot.policy import Action, Policy, Rule, check_approver, check_request, describe

CONFIG: dict[str, dict[str, dict[str, object]]] = {
    "retrain": {"*": {"approvals": 0}},
    "deploy": {
        "staging": {"approvals": 0},
        "production": {"approvals": 1, "approvers": ["U0APPROVER1", "U0APPROVER2"]},
    },
    "rollback": {"*": {"approvals": 0, "requesters": ["U0ONCALL1", "U0ONCALL2"]}},
}


@dataclass(frozen=True)
class Req:
    action: Action
    environment: str | None
    requester: str


@pytest.fixture
def policy() -> Policy:
    return Policy.from_mapping(CONFIG)


def test_contract_example(policy: Policy) -> None:
    assert policy.rule_for("retrain", None) == Rule()
    assert policy.rule_for("deploy", "staging") == Rule()
    assert policy.rule_for("deploy", "production") == Rule(
        approvals=1, approvers=frozenset({"U0APPROVER1", "U0APPROVER2"})
    )
    assert policy.rule_for("rollback", "production").requesters == {"U0ONCALL1", "U0ONCALL2"}


def test_exact_environment_wins_over_star() -> None:
    policy = Policy.from_mapping({"deploy": {"*": {"approvals": 2}, "dev": {"approvals": 0}}})
    assert policy.rule_for("deploy", "dev").approvals == 0
    assert policy.rule_for("deploy", "production").approvals == 2
    assert policy.rule_for("deploy", None).approvals == 2


def test_no_rule_means_anyone_no_approval(policy: Policy) -> None:
    assert policy.rule_for("deploy", "qa") == Rule()
    assert Policy().rule_for("rollback", "production") == Rule()
    assert not Policy().rule_for("deploy", "production").needs_approval


def test_policy_is_read_only(policy: Policy) -> None:
    with pytest.raises(TypeError):
        policy.rules["deploy"]["production"] = Rule()  # type: ignore[index]


def test_policy_does_not_share_the_callers_dict() -> None:
    rules = {"deploy": {"*": Rule(approvals=1)}}
    policy = Policy(rules)
    rules["deploy"]["*"] = Rule()
    assert policy.rule_for("deploy", "x").approvals == 1


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"merge": {"*": {}}}, "policy.merge"),
        ({"retrain": {"production": {"approvals": 1}}}, "policy.retrain.production"),
        ({"deploy": {"prod": {"approval": 1}}}, "policy.deploy.prod.approval"),
        ({"deploy": {"prod": {"approvals": -1}}}, "policy.deploy.prod.approvals"),
        ({"deploy": {"prod": {"approvals": True}}}, "policy.deploy.prod.approvals"),
        ({"deploy": {"prod": {"approvals": "1"}}}, "policy.deploy.prod.approvals"),
        ({"deploy": {"prod": {"approvers": "U1"}}}, "policy.deploy.prod.approvers"),
        ({"deploy": {"prod": {"requesters": [1]}}}, "policy.deploy.prod.requesters"),
    ],
)
def test_from_mapping_refuses_what_it_would_ignore(
    data: dict[str, dict[str, dict[str, object]]], path: str
) -> None:
    with pytest.raises(ValueError, match=path.replace(".", r"\.")):
        Policy.from_mapping(data)


def test_from_mapping_accepts_null_lists() -> None:
    policy = Policy.from_mapping({"deploy": {"*": {"approvals": 0, "approvers": None}}})
    assert policy.rule_for("deploy", "x") == Rule()


def test_rule_refuses_negative_approvals() -> None:
    with pytest.raises(ValueError):
        Rule(approvals=-1)


def test_describe() -> None:
    assert describe("deploy", "production") == "deploy to production"
    assert describe("rollback", "staging") == "rollback of staging"
    assert describe("retrain", None) == "retrain"


# --- check_request ----------------------------------------------------------------------


def test_anyone_may_request_by_default() -> None:
    check_request(Rule(), "U1", action="deploy", environment="production")


def test_requester_list_is_enforced_and_named(policy: Policy) -> None:
    rule = policy.rule_for("rollback", "production")
    check_request(rule, "U0ONCALL1", action="rollback", environment="production")
    with pytest.raises(NotAllowed) as info:
        check_request(rule, "U9", action="rollback", environment="production")
    assert info.value.message == (
        "you are not allowed to request rollback of production; allowed: <@U0ONCALL1>, <@U0ONCALL2>"
    )
    assert isinstance(info.value, BotError)


def test_request_that_nobody_else_could_approve_is_refused() -> None:
    rule = Rule(approvals=2, approvers=frozenset({"U1", "U2"}))
    check_request(rule, "U3", action="deploy", environment="production")
    with pytest.raises(NotAllowed, match="needs 2 approval"):
        check_request(rule, "U1", action="deploy", environment="production")


def test_open_approver_list_is_always_approvable() -> None:
    check_request(Rule(approvals=5), "U1", action="deploy", environment="production")


# --- check_approver ---------------------------------------------------------------------


def test_requester_can_never_approve() -> None:
    with pytest.raises(NotAllowed) as info:
        check_approver(Rule(approvals=1), Req("deploy", "production", "U1"), "U1")
    assert info.value.message == "you requested this; another person must approve"


def test_requester_refused_even_when_listed_as_approver() -> None:
    rule = Rule(approvals=1, approvers=frozenset({"U1", "U2"}))
    with pytest.raises(NotAllowed, match="another person"):
        check_approver(rule, Req("deploy", "production", "U1"), "U1")


def test_approver_list_is_enforced_and_named(policy: Policy) -> None:
    rule = policy.rule_for("deploy", "production")
    request = Req("deploy", "production", "U1")
    check_approver(rule, request, "U0APPROVER2")
    with pytest.raises(NotAllowed) as info:
        check_approver(rule, request, "U2")
    assert info.value.message == (
        "you are not allowed to approve deploy to production; "
        "allowed: <@U0APPROVER1>, <@U0APPROVER2>"
    )
    with pytest.raises(NotAllowed, match="not allowed to deny deploy to production"):
        check_approver(rule, request, "U2", verb="deny")


def test_empty_approver_list_means_anyone_but_the_requester() -> None:
    check_approver(Rule(approvals=1), Req("retrain", None, "U1"), "U2")
