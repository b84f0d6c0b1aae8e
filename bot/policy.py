"""Who may request and who may approve each action, per environment (docs/configuration.md).

A `Policy` maps action -> environment (or "*") -> `Rule`. With no rule at all, anyone may run
anything without approval: the zero-config default. The checks raise `NotAllowed` with a message
naming the rule and who is allowed, so a refused click gets a useful ephemeral answer.

Four-eyes is not configurable: the requester never approves their own request, and a request that
no one else could ever approve is refused when it is made rather than left pending for 24 h.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from bot.errors import NotAllowed

Action = Literal["retrain", "deploy", "rollback"]
ACTIONS: tuple[Action, ...] = ("retrain", "deploy", "rollback")
ANY_ENVIRONMENT = "*"
_RULE_KEYS = frozenset({"approvals", "requesters", "approvers"})


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
    """All rules: action -> environment name or "*" -> `Rule`."""

    rules: Mapping[str, Mapping[str, Rule]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        frozen = {a: MappingProxyType(dict(envs)) for a, envs in self.rules.items()}
        object.__setattr__(self, "rules", MappingProxyType(frozen))

    def rule_for(self, action: Action, environment: str | None) -> Rule:
        """The rule for `environment` exactly, else the action's "*" rule, else "anyone, now"."""
        by_environment = self.rules.get(action, {})
        if environment is not None and environment in by_environment:
            return by_environment[environment]
        return by_environment.get(ANY_ENVIRONMENT, Rule())

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, Mapping[str, object]]]) -> Policy:
        """Build from the config's plain `policy:` data (see docs/configuration.md).

        The config model has validated the shape already; this still refuses anything it would
        otherwise silently ignore (an unknown action or key, an environment-scoped retrain rule),
        raising `ValueError` naming the path, because an ignored policy line is a security hole.
        """
        rules: dict[str, dict[str, Rule]] = {}
        for action, by_environment in data.items():
            if action not in ACTIONS:
                raise ValueError(f"policy.{action}: unknown action (expected one of {ACTIONS})")
            rules[action] = {}
            for environment, raw in by_environment.items():
                path = f"policy.{action}.{environment}"
                if action == "retrain" and environment != ANY_ENVIRONMENT:
                    raise ValueError(f'{path}: retrain has no environment; use "*"')
                rules[action][environment] = _rule_from_mapping(raw, path)
        return cls(rules)


def _rule_from_mapping(raw: Mapping[str, object], path: str) -> Rule:
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"{path}.{unknown[0]}: unknown key")
    approvals = raw.get("approvals", 0)
    if not isinstance(approvals, int) or isinstance(approvals, bool) or approvals < 0:
        raise ValueError(f"{path}.approvals: must be a whole number, 0 or more")
    return Rule(
        approvals=approvals,
        requesters=_user_ids(raw.get("requesters", ()), f"{path}.requesters"),
        approvers=_user_ids(raw.get("approvers", ()), f"{path}.approvers"),
    )


def _user_ids(value: object, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{path}: must be a list of Slack user IDs")
    ids = list(value)
    if not all(isinstance(user, str) and user for user in ids):
        raise ValueError(f"{path}: must be a list of Slack user IDs")
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


def check_approver(rule: Rule, request: Requested, user: str, *, verb: str = "approve") -> None:
    """Raise `NotAllowed` unless `user` may approve (or, with `verb="deny"`, deny) `request`.

    The requester is always refused (four-eyes); with an approver list, only those on it pass.
    """
    if user == request.requester:
        raise NotAllowed("you requested this; another person must approve")
    if rule.approvers and user not in rule.approvers:
        what = describe(request.action, request.environment)
        raise NotAllowed(
            f"you are not allowed to {verb} {what}; allowed: {mentions(rule.approvers)}"
        )
