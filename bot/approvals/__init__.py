"""Tickets: a request becomes a ticket, approvals decide it, its pipeline runs and is followed.

machine.py   the approval state machine (pure)      tickets.py   a ticket and its run
codec.py     how tickets and approvals are stored   store.py     tickets in the store
workflow.py  request and decide (use cases)          runs.py      start and follow the run
render.py    the ticket's Slack message
"""

__all__ = ["machine", "render", "runs", "store", "tickets", "workflow"]
