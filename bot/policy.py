"""Who may request and who may approve each action, per environment (docs/configuration.md).

A `Policy` maps action -> environment (or "*") -> `Rule`. With no policy at all, anyone may run
anything without approval: the zero-config default. Once a policy is configured, it fails closed:
an action/environment it has no entry for (exact or "*") is refused, naming the entry to add, so a
typo or a forgotten environment never means "no approval needed". The checks raise `NotAllowed`
with a message naming the rule and who is allowed, so a refused click gets a useful answer.

Four-eyes is not configurable: the requester never approves their own request, and a request that
no one else could ever approve is refused when it is made rather than left pending for 24 h.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from bot.errors import NotAllowed

Action = Literal["retrain", "deploy", "rollback", "promote"]
ACTIONS: tuple[Action, ...] = ("retrain", "deploy", "rollback", "promote")
# Retrain and promote (of a registry version to champion) have no environment: "*" only.
_UNSCOPED_ACTIONS: tuple[Action, ...] = ("retrain", "promote")
_ENVIRONMENT_ACTIONS: tuple[Action, ...] = ("deploy", "rollback")
ANY_ENVIRONMENT = "*"
_RULE_KEYS = frozenset({"approvals", "requesters", "approvers"})
_USER_ID = re.compile(r"[UW][A-Z0-9]+")


class PolicyError(ValueError):
    """The policy config is invalid; `problems` names each one by path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    """One policy entry.

    `approvals`: distinct approvers needed (0 = runs at once). `requesters`: Slack user IDs that
    may ask (empty = anyone). `approvers`: user IDs that may approve or deny (empty = anyone but
    the requester).
    """

    approvals: int = 0
    requesters: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.approvals < 0:
            raise ValueError("approvals must be 0 or more")

    @property
    def needs_approval(self) -> bool:
        """True when a request must wait for approvers before the pipeline starts."""
        return self.approvals > 0


class Requested(Protocol):
    """What the approver check needs to know about a request (an `ApprovalRequest` fits)."""

    @property
    def action(self) -> Action: ...

    @property
    def environment(self) -> str | None: ...

    @property
    def requester(self) -> str: ...


@dataclass(frozen=True)
class Policy:
    """All rules: action -> environment name or "*" -> `Rule`.

    `configured` (implied by any rule): a policy exists, so what it does not cover is refused.
    `Policy()` is the zero-config default: anyone, no approval.
    """

    rules: Mapping[str, Mapping[str, Rule]] = field(default_factory=dict, hash=False)
    configured: bool = False

    def __post_init__(self) -> None:
        frozen = {a: MappingProxyType(dict(envs)) for a, envs in self.rules.items()}
        object.__setattr__(self, "rules", MappingProxyType(frozen))
        object.__setattr__(self, "configured", self.configured or bool(self.rules))

    def find(self, action: Action, environment: str | None) -> Rule | None:
        """The rule for `environment` exactly, else the action's "*" rule; None if not covered.

        Without a configured policy every action is covered by the open default rule.
        """
        by_environment = self.rules.get(action, {})
        if environment is not None and environment in by_environment:
            return by_environment[environment]
        rule = by_environment.get(ANY_ENVIRONMENT)
        if rule is None and not self.configured:
            return Rule()
        return rule

    def rule_for(self, action: Action, environment: str | None) -> Rule:
        """The rule that applies; `NotAllowed` naming the missing entry if there is none."""
        rule = self.find(action, environment)
        if rule is None:
            raise NotAllowed(missing_entry(action, environment))
        return rule

    def uncovered(self, environments: Iterable[str]) -> list[str]:
        """What this policy refuses for want of an entry, e.g. ["retrain", "deploy to qa"]."""
        envs = sorted(set(environments))
        wanted: list[tuple[Action, str | None]] = [("retrain", None)]
        wanted += [(action, env) for action in _ENVIRONMENT_ACTIONS for env in envs]
        return [describe(a, e) for a, e in wanted if self.find(a, e) is None]

    def approvers_of(self, environments: Iterable[str]) -> frozenset[str]:
        """Everyone listed as an approver in a rule for one of `environments` or for "*"."""
        wanted = {ANY_ENVIRONMENT, *environments}
        return frozenset(
            user
            for by_environment in self.rules.values()
            for environment, rule in by_environment.items()
            if environment in wanted
            for user in rule.approvers
        )

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Mapping[str, Mapping[str, object]]],
        *,
        environments: Collection[str] | None = None,
    ) -> Policy:
        """Build from the config's plain `policy:` data (see docs/configuration.md).

        Refuses anything that would otherwise be silently ignored or never match (an unknown
        action, environment or key, an environment-scoped retrain rule, a malformed user ID, more
        approvals than listed approvers), raising `PolicyError` naming every path, because an
        ignored policy line is a security hole. `environments`: the names the models list
        (None: not checked). The result is `configured`, even when `data` is empty.
        """
        problems: list[str] = []
        rules: dict[str, dict[str, Rule]] = {}
        for action, by_environment in data.items():
            if action not in ACTIONS:
                problems.append(f"policy.{action}: unknown action{_suggest(action, ACTIONS)}")
                continue
            rules[action] = {}
            for environment, raw in by_environment.items():
                path = f"policy.{action}.{environment}"
                try:
                    _check_environment(action, environment, environments, path)
                    rules[action][environment] = _rule_from_mapping(raw, path)
                except ValueError as e:
                    problems.append(str(e))
        if problems:
            raise PolicyError(problems)
        return cls(rules, configured=True)


def missing_entry(action: Action, environment: str | None) -> str:
    """Why an action the configured policy does not cover is refused, and what to add."""
    what = describe(action, environment)
    if action in _UNSCOPED_ACTIONS or environment is None:
        return f'no policy for {what}: add policy.{action}."*"'
    return f'no policy for {what}: add policy.{action}.{environment} (or "*")'


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (expected one of: {', '.join(options)})" if options else ""


def _check_environment(
    action: str, environment: str, environments: Collection[str] | None, path: str
) -> None:
    if action in _UNSCOPED_ACTIONS and environment != ANY_ENVIRONMENT:
        raise ValueError(f'{path}: {action} has no environment; use "*"')
    if environment == ANY_ENVIRONMENT or environments is None or environment in environments:
        return
    if not environments:
        raise ValueError(f'{path}: unknown environment (no model lists environments; use "*")')
    raise ValueError(f"{path}: unknown environment{_suggest(environment, environments)}")


def _rule_from_mapping(raw: Mapping[str, object], path: str) -> Rule:
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"{path}.{unknown[0]}: unknown key{_suggest(unknown[0], _RULE_KEYS)}")
    approvals = raw.get("approvals", 0)
    if not isinstance(approvals, int) or isinstance(approvals, bool) or approvals < 0:
        raise ValueError(f"{path}.approvals: must be a whole number, 0 or more")
    approvers = _user_ids(raw.get("approvers", ()), f"{path}.approvers")
    if approvers and approvals > len(approvers):
        raise ValueError(
            f"{path}.approvals: {approvals} approvals needed but only {len(approvers)} "
            "approver(s) listed, so no request could ever be approved"
        )
    return Rule(
        approvals=approvals,
        requesters=_user_ids(raw.get("requesters", ()), f"{path}.requesters"),
        approvers=approvers,
    )


def _user_ids(value: object, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{path}: must be a list of Slack user IDs")
    ids = list(value)
    if not all(isinstance(user, str) and user for user in ids):
        raise ValueError(f"{path}: must be a list of Slack user IDs")
    for user in ids:
        if not _USER_ID.fullmatch(user):
            raise ValueError(
                f"{path}: {user[:40]!r} is not a Slack user ID (U or W, then upper-case "
                "letters and digits, e.g. U024BE7LH; a name or @handle does not work)"
            )
    return frozenset(str(user) for user in ids)


def describe(action: Action, environment: str | None) -> str:
    """The rule's name as users read it: "deploy to production", "rollback of staging"."""
    if environment is None:
        return action
    joiner = "to" if action == "deploy" else "of"
    return f"{action} {joiner} {environment}"


def mentions(users: Iterable[str]) -> str:
    """Slack mentions of `users`, sorted so messages are stable."""
    return ", ".join(f"<@{user}>" for user in sorted(users))


def check_request(rule: Rule, user: str, *, action: Action, environment: str | None) -> None:
    """Raise `NotAllowed` unless `user` may ask for this, and the request could ever be approved.

    An approver list too short to reach `approvals` once the requester is excluded would leave
    the request pending until it expires; refusing it now says why.
    """
    what = describe(action, environment)
    if rule.requesters and user not in rule.requesters:
        raise NotAllowed(
            f"you are not allowed to request {what}; allowed: {mentions(rule.requesters)}"
        )
    if rule.approvers:
        others = rule.approvers - {user}
        if len(others) < rule.approvals:
            raise NotAllowed(
                f"{what} needs {rule.approvals} approval(s) but only {len(others)} allowed "
                f"approver(s) other than you exist: {mentions(rule.approvers) or 'none'}"
            )


def check_approver(
    rule: Rule | None, request: Requested, user: str, *, verb: str = "approve"
) -> None:
    """Raise `NotAllowed` unless `user` may approve (or, with `verb="deny"`, deny) `request`.

    The requester is always refused (four-eyes); with an approver list, only those on it pass.
    No rule (the configured policy lost the entry since the request was made): nobody passes.
    """
    if user == request.requester:
        raise NotAllowed("you requested this; another person must approve")
    if rule is None:
        raise NotAllowed(missing_entry(request.action, request.environment))
    if rule.approvers and user not in rule.approvers:
        what = describe(request.action, request.environment)
        raise NotAllowed(
            f"you are not allowed to {verb} {what}; allowed: {mentions(rule.approvers)}"
        )
