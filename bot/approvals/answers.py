"""What the bot says about a ticket outside its message: the answers, the audit detail."""

from __future__ import annotations

import json

from bot.approvals.machine import ApprovalState
from bot.approvals.render import run_label
from bot.approvals.tickets import Ticket
from bot.policy import Rule, describe, mentions
from slackio.blocks import link

ALREADY_RECEIVED = "Already received."


def requested_answer(ticket: Ticket, rule: Rule) -> str:
    """The requester's line for a request now waiting for its approvers."""
    r = ticket.request
    approvers = mentions(rule.approvers) or "anyone but you"
    return (
        f"Approval requested in {r.channel}: {describe(r.action, r.environment)} of {r.model}"
        f"{_to(ticket)} needs {rule.approvals} approval(s) from {approvers}."
    )


def started_answer(ticket: Ticket) -> str:
    """The requester's line once a start was attempted."""
    r = ticket.request
    if r.action == "promote":
        if r.state is ApprovalState.STARTED:
            return f"Promoted {r.model} v{r.version} to champion; see the card's thread."
        return f"Could not promote {r.model} v{r.version}: {ticket.error}"
    if ticket.run is None:
        return f"Could not start {describe(r.action, r.environment)} of {r.model}: {ticket.error}"
    started = link(ticket.run.url, run_label(ticket.run))
    return f"Started {r.action} of {r.model}{_to(ticket)}: {started} (following it in {r.channel})."


def _to(ticket: Ticket) -> str:
    """` to v10` (or ` to commit abc1234 (no model version recorded)`) for a rollback."""
    return f" to {ticket.rollback_label}" if ticket.rollback_to else ""


def audit_detail(ticket: Ticket) -> str:
    """The audit entry's detail: what was asked for (variables apart, see `audit_variables`)."""
    r = ticket.request
    parts = [describe(r.action, r.environment)]
    if r.version:
        parts.append(f"version {r.version}")
    if ticket.rollback_to:
        parts.append(f"to {ticket.rollback_label}")
    if ticket.ref:
        parts.append(f"ref {ticket.ref}")
    return " ".join(parts)


def audit_variables(ticket: Ticket) -> dict[str, str]:
    """The audit extra for the request's pipeline variables: kept apart from the detail so
    `/chatops audit` can show their values to approvers only."""
    variables = ticket.request.variables
    return {"variables": json.dumps(dict(sorted(variables.items())))} if variables else {}
