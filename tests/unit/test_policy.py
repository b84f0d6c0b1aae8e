"""Policy lookup and the request/approver checks (docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.errors import BotError, NotAllowed
from bot.policy import (
    Action,
    Policy,
    PolicyError,
    Rule,
    check_approver,
    check_request,
    describe,
)

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


def test_no_policy_at_all_means_anyone_no_approval() -> None:
    assert not Policy().configured
    assert Policy().rule_for("rollback", "production") == Rule()
    assert not Policy().rule_for("deploy", "production").needs_approval
    assert Policy().uncovered(["production"]) == []


def test_what_a_configured_policy_does_not_cover_is_refused_naming_the_entry() -> None:
    policy = Policy.from_mapping({"deploy": {"staging": {"approvals": 0}}})
    assert policy.rule_for("deploy", "staging") == Rule()
    with pytest.raises(NotAllowed) as info:
        policy.rule_for("deploy", "production")
    assert info.value.message == (
        'no policy for deploy to production: add policy.deploy.production (or "*")'
    )
    with pytest.raises(NotAllowed, match=r'no policy for retrain: add policy\.retrain\."\*"'):
        policy.rule_for("retrain", None)
    with pytest.raises(NotAllowed, match="no policy for rollback of staging"):
        policy.rule_for("rollback", "staging")
    assert policy.find("deploy", "production") is None
    assert policy.uncovered(["staging", "production"]) == [
        "retrain",
        "deploy to production",
        "rollback of production",
        "rollback of staging",
    ]


def test_an_empty_policy_section_refuses_everything() -> None:
    policy = Policy.from_mapping({})
    assert policy.configured
    with pytest.raises(NotAllowed, match="no policy for deploy to staging"):
        policy.rule_for("deploy", "staging")


def test_rules_given_directly_are_a_configured_policy() -> None:
    policy = Policy({"deploy": {"*": Rule()}})
    assert policy.configured
    with pytest.raises(NotAllowed):
        policy.rule_for("retrain", None)


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


ENVIRONMENTS = frozenset({"staging", "production"})


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"deploy": {"prodution": {"approvals": 1}}},
            "policy.deploy.prodution: unknown environment; did you mean 'production'?",
        ),
        (
            {"rollback": {"qa": {}}},
            "policy.rollback.qa: unknown environment (expected one of: production, staging)",
        ),
        (
            {"promote": {"production": {"approvals": 1}}},
            'policy.promote.production: promote has no environment; use "*"',
        ),
        (
            {"promot": {"*": {"approvals": 1}}},
            "policy.promot: unknown action; did you mean 'promote'?",
        ),
        (
            {"deplyo": {"production": {"approvals": 1}}},
            "policy.deplyo: unknown action; did you mean 'deploy'?",
        ),
        (
            {"deploy": {"production": {"approval": 1}}},
            "policy.deploy.production.approval: unknown key; did you mean 'approvals'?",
        ),
        (
            {"deploy": {"production": {"approvals": 3, "approvers": ["U0A1", "U0A2"]}}},
            "policy.deploy.production.approvals: 3 approvals needed but only 2 approver(s) "
            "listed, so no request could ever be approved",
        ),
    ],
)
def test_from_mapping_names_the_problem_with_a_suggestion(
    data: dict[str, dict[str, dict[str, object]]], problem: str
) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_mapping(data, environments=ENVIRONMENTS)
    assert info.value.problems == [problem]


def test_from_mapping_reports_every_problem() -> None:
    data: dict[str, dict[str, dict[str, object]]] = {
        "deplyo": {"*": {}},
        "deploy": {"prodution": {}, "staging": {"approvers": ["bob"]}},
    }
    with pytest.raises(PolicyError) as info:
        Policy.from_mapping(data, environments=ENVIRONMENTS)
    assert [p.split(":")[0] for p in info.value.problems] == [
        "policy.deplyo",
        "policy.deploy.prodution",
        "policy.deploy.staging.approvers",
    ]


def test_environment_names_need_a_model_that_lists_them() -> None:
    with pytest.raises(PolicyError, match=r'no model lists environments; use "\*"'):
        Policy.from_mapping({"deploy": {"production": {}}}, environments=())
    assert Policy.from_mapping({"deploy": {"*": {}}}, environments=()).configured


@pytest.mark.parametrize("user", ["bob", "@alice", "u0abc", "C0CHANNEL", "U0-A", "U", " U0A", "W"])
@pytest.mark.parametrize("key", ["approvers", "requesters"])
def test_user_ids_must_be_slack_user_ids(user: str, key: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_mapping({"deploy": {"*": {key: ["U0GOOD", user]}}})
    (problem,) = info.value.problems
    assert problem.startswith(f"policy.deploy.*.{key}: {user!r} is not a Slack user ID")


def test_user_and_enterprise_user_ids_are_accepted() -> None:
    rule = {"approvals": 1, "approvers": ["U024BE7LH", "W0123ABC"], "requesters": ["U1"]}
    policy = Policy.from_mapping({"deploy": {"*": rule}})
    assert policy.rule_for("deploy", "x").approvers == {"U024BE7LH", "W0123ABC"}


def test_approvers_of_a_model_are_those_of_its_environments_and_star() -> None:
    policy = Policy.from_mapping(
        {
            "deploy": {"production": {"approvals": 1, "approvers": ["U0PROD"]}},
            "rollback": {"*": {"approvals": 1, "approvers": ["U0ANY"]}},
            "retrain": {"*": {}},
        }
    )
    assert policy.approvers_of(["production"]) == {"U0PROD", "U0ANY"}
    assert policy.approvers_of(["staging"]) == {"U0ANY"}


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


def test_promote_is_looked_up_under_star_and_fails_closed_without_it() -> None:
    policy = Policy.from_mapping(
        {"promote": {"*": {"approvals": 1, "approvers": ["U0A1"]}}}, environments=ENVIRONMENTS
    )
    assert policy.rule_for("promote", None) == Rule(approvals=1, approvers=frozenset({"U0A1"}))
    without = Policy.from_mapping({"deploy": {"*": {}}}, environments=ENVIRONMENTS)
    with pytest.raises(NotAllowed, match=r'add policy\.promote\."\*"'):
        without.rule_for("promote", None)
