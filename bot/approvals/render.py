"""Block Kit for the bot's own messages; pure, with Slack's size limits enforced here.

A ticket's message (approval request with Approve/Deny, then the pipeline's live status), the
thread replies when the run changes, and the ephemeral answers (help, audit, errors). Every piece
of user or provider text is escaped (`&`, `<`, `>`), so `<!channel>` in a variable is just text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from bot.approvals.machine import ApprovalState
from bot.approvals.tickets import JobLink, RunInfo, Ticket
from bot.buttons import APPROVE, DENY
from bot.ci.provider import PipelineStatus
from bot.errors import NotShowable
from bot.policy import mentions
from slackio.blocks import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    MAX_TEXT,
    Block,
    Rendered,
    button,
    clip,
    code,
    context,
    date_token,
    escape,
    link,
    plain,
    section,
)

MAX_JOBS_SHOWN: Final = 10
_RUN_HEAD: Final = "*What will run*\n"
_RUN_BUDGET: Final = MAX_SECTION - len(_RUN_HEAD) - 7  # the section minus the head and fences
_NL: Final = "\n"
_OTHER_BLOCKS: Final = 5  # header, status, details, Approve/Deny, failed jobs


_STATUS: Final = {
    PipelineStatus.PENDING: ("🕓", "queued"),
    PipelineStatus.RUNNING: ("🔵", "running"),
    PipelineStatus.MANUAL: ("✋", "waiting for a manual step"),
    PipelineStatus.SUCCESS: ("✅", "succeeded"),
    PipelineStatus.FAILED: ("❌", "failed"),
    PipelineStatus.CANCELLED: ("⚪", "cancelled"),
    PipelineStatus.SKIPPED: ("⚪", "skipped"),
}
_PROVIDERS: Final = {"gitlab": ("GitLab", "pipeline"), "github": ("GitHub", "run")}
_ICONS: Final = {"retrain": "🔁", "deploy": "🚀", "rollback": "⏪", "promote": "🏆"}


def duration(span: timedelta) -> str:
    """`42s`, `3m 12s`, `1h 05m`."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# --- tickets -----------------------------------------------------------------------------------


def title(ticket: Ticket) -> str:
    """`Deploy fraud-detector v12 to production`, as plain text."""
    r = ticket.request
    if r.action == "retrain":
        return f"Retrain {r.model}" + (f" on {ticket.ref}" if ticket.ref else "")
    if r.action == "deploy":
        return f"Deploy {r.model} {r.version or '(default version)'} to {r.environment}"
    if r.action == "promote":
        return f"Promote {r.model} v{r.version} to champion"
    return f"Roll back {r.model} in {r.environment} to {ticket.rollback_label}"


def run_label(run: RunInfo) -> str:
    """`GitLab pipeline #1001`."""
    provider, noun = _PROVIDERS.get(run.provider, (run.provider, "run"))
    return f"{provider} {noun} #{run.id}"


def ticket_message(ticket: Ticket, *, approvers: frozenset[str] = frozenset()) -> Rendered:
    """The living message of a ticket: request, approval state, then the run's status."""
    r = ticket.request
    icon = _ICONS.get(r.action, "•")
    status = _status_line(ticket, approvers)
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"{icon} {title(ticket)}", MAX_HEADER)},
        section(status),
        context(_details(ticket)),
        *_what_runs(ticket),
    ]
    if r.state is ApprovalState.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"chatops.approval:{r.id}",
                "elements": [
                    button("Approve", APPROVE, r.id, style="primary"),
                    button("Deny", DENY, r.id, style="danger"),
                ],
            }
        )
    if ticket.run is not None and ticket.run.failed_jobs:
        blocks.append(section(_failed_jobs(ticket.run)))
    text = clip(f"{title(ticket)}: {_plain_status(status)}", MAX_TEXT)
    return Rendered(text, blocks[:MAX_BLOCKS])


def _details(ticket: Ticket) -> list[str]:
    r = ticket.request
    parts = [f"Requested by <@{r.requester}> at {date_token(r.created_at)}"]
    if r.approved_by:
        parts.append(f"Approved by {mentions(r.approved_by)}")
    return parts


def _run_lines(ticket: Ticket) -> list[str]:
    """What the pipeline gets from this request, one line each, verbatim (escaped only)."""
    r = ticket.request
    lines = [f"ref: {ticket.ref}"] if ticket.ref else []
    lines += [f"version: {r.version}"] if r.version else []
    lines += [f"rollback to: {ticket.rollback_to}"] if ticket.rollback_to else []
    lines += [f"{k}={v}" for k, v in sorted(r.variables.items())]
    return [escape(line) for line in lines]


def _what_runs(ticket: Ticket) -> list[Block]:
    """The ref, version and every variable in preformatted text, never clipped: as many
    sections as Slack's 3000 characters per section need (`check_shown` refuses the rest)."""
    sections: list[list[str]] = []
    size = MAX_SECTION
    for line in _run_lines(ticket):
        if size + len(line) + 1 > _RUN_BUDGET:
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
    return [
        # the closing fence on its own line, so a value ending in ` cannot merge with it
        section(f"{_RUN_HEAD if i == 0 else ''}```{_NL.join(lines)}\n```", block_id=f"run.{i}")
        for i, lines in enumerate(sections)
    ]


def check_shown(ticket: Ticket) -> None:
    """Refuse (`NotShowable`) a request whose approval message could not show it in full."""
    lines = _run_lines(ticket)
    if any("```" in line for line in lines):
        raise NotShowable("a value contains ``` and could not be shown verbatim to approvers")
    if any(len(line) + 1 > _RUN_BUDGET for line in lines):
        raise NotShowable("a value is too long to be shown in full to approvers")
    if len(_what_runs(ticket)) > MAX_BLOCKS - _OTHER_BLOCKS:
        raise NotShowable("the request is too long to be shown in full to approvers")


def _status_line(ticket: Ticket, approvers: frozenset[str]) -> str:
    r = ticket.request
    match r.state:
        case ApprovalState.PENDING:
            who = mentions(approvers) if approvers else "anyone but the requester"
            got, needed = len(r.approved_by), r.approvals_needed
            return (
                f"🕓 *Waiting for approval* ({got} of {needed}) from {who} · "
                f"expires {date_token(r.expires_at)}"
            )
        case ApprovalState.APPROVED if r.action == "promote":
            return "⏳ *Setting the alias…*"
        case ApprovalState.APPROVED:
            return "⏳ *Starting the pipeline…*"
        case ApprovalState.DENIED if r.cancelled:
            return f"🚫 *Cancelled* by <@{r.requester}>"
        case ApprovalState.DENIED:
            return f"🚫 *Denied* by <@{r.denied_by}>"
        case ApprovalState.EXPIRED:
            return f"⌛ *Expired*: not enough approvals before {date_token(r.expires_at)}"
        case ApprovalState.FAILED:
            what = "set the alias" if r.action == "promote" else "start the pipeline"
            return f"⚠️ *Could not {what}*: {escape(clip(ticket.error or '?', 1500))}"
        case ApprovalState.STARTED if r.action == "promote":
            return "🏆 *Promoted*: the champion alias is set in the registry"
        case ApprovalState.STARTED:
            return _run_line(ticket.run) if ticket.run else "⏳ *Started*"


def _run_line(run: RunInfo) -> str:
    icon, words = _STATUS.get(run.status, ("•", run.status.value))
    line = f"{icon} {link(run.url, run_label(run))} *{words}*"
    if run.provider_status and run.provider_status not in (run.status.value, "canceled"):
        line += f" ({code(run.provider_status, 40)})"
    if run.started_at and run.finished_at:
        line += f" in {duration(run.finished_at - run.started_at)}"
    elif run.started_at:
        line += f" · started {date_token(run.started_at)}"
    if run.note:
        line += f"\n⚠️ {escape(clip(run.note, 1000))}"
    return line


def _failed_jobs(run: RunInfo) -> str:
    jobs = run.failed_jobs
    lines = [_failed_job(j) for j in jobs[:MAX_JOBS_SHOWN]]
    if len(jobs) > MAX_JOBS_SHOWN:
        lines.append(f"+{len(jobs) - MAX_JOBS_SHOWN} more")
    return "*Failed jobs*\n" + "\n".join(lines)


def _failed_job(job: JobLink) -> str:
    """`• <url|train> · stage `train` · `script_failure``: where it failed and why, if known."""
    parts = [link(job.url, clip(job.name, 100))]
    if job.stage:
        parts.append(f"stage `{code(job.stage, 60)}`")
    if job.step:
        parts.append(f"step `{code(job.step, 80)}`")
    if job.reason:
        parts.append(f"`{code(job.reason, 40)}`")
    return "• " + " · ".join(parts)


def _plain_status(status: str) -> str:
    return status.replace("*", "")


def status_reply(ticket: Ticket) -> str:
    """One thread line for a run's status change."""
    run = ticket.run
    if run is None:
        return _plain_status(_status_line(ticket, frozenset()))
    icon, words = _STATUS.get(run.status, ("•", run.status.value))
    text = f"{icon} {link(run.url, run_label(run))} {words}"
    if run.final and run.started_at and run.finished_at:
        text += f" in {duration(run.finished_at - run.started_at)}"
    if run.failed_jobs:
        text += ": " + ", ".join(escape(clip(j.name, 60)) for j in run.failed_jobs[:5])
    return text
