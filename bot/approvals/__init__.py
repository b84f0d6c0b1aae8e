"""Tickets: a request becomes a ticket, approvals decide it, its pipeline runs and is followed.

machine.py    the approval state machine (pure)     tickets.py    a ticket, its run, ledger entry
codec.py      how tickets and approvals are stored  store.py      tickets in the store
deps.py       what the use cases share              answers.py    the requester's answers
workflow.py   request: a command becomes a ticket   decisions.py  approve, deny, expire
runs.py       start the pipeline                    following.py  follow the run, leases
render.py     the ticket's Slack message
"""

__all__ = [
    "answers",
    "decisions",
    "deps",
    "machine",
    "runs",
    "store",
    "tickets",
    "workflow",
]
