"""Block Kit for tickets: every state readable, user text escaped, Slack limits held."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals.machine import ApprovalRequest, ApprovalState
from bot.approvals.render import check_shown, duration, status_reply, ticket_message
from bot.approvals.tickets import JobLink, RunInfo, Ticket
from bot.buttons import APPROVE, DENY
from bot.ci.provider import PipelineStatus
from bot.errors import NotShowable
from slackio.blocks import MAX_BLOCKS, escape, link

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ticket(**changes: object) -> Ticket:
    request = ApprovalRequest(
        id="cmd-1",
        action="deploy",
        model="fraud-detector",
        environment="production",
        version="v12",
        variables={"NOTE": "<!channel> & friends"},
        requester="U1",
        created_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        approvals_needed=1,
        channel="#fraud-ml",
    )
    return Ticket(request=replace(request, **changes))  # type: ignore[arg-type]


def text(t: Ticket) -> str:
    return json.dumps(ticket_message(t, approvers=frozenset({"U2"})).blocks, ensure_ascii=False)


def test_pending_request_has_approve_and_deny_and_escapes_user_text() -> None:
    shown = text(ticket())
    assert APPROVE in shown
    assert DENY in shown
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt; &amp; friends" in shown
    assert "Deploy fraud-detector v12 to production" in shown
    assert "(0 of 1) from <@U2>" in shown


def test_decided_states_have_no_buttons() -> None:
    for state, words in [
        (ApprovalState.DENIED, "*Denied* by <@U2>"),
        (ApprovalState.EXPIRED, "*Expired*"),
        (ApprovalState.APPROVED, "Starting the pipeline"),
    ]:
        shown = text(ticket(state=state, denied_by="U2"))
        assert words in shown
        assert APPROVE not in shown


def test_running_and_failed_runs() -> None:
    run = RunInfo(
        "gitlab", "1001", "https://gitlab.test/p/-/pipelines/1001", PipelineStatus.RUNNING
    )
    started = replace(ticket(state=ApprovalState.STARTED), run=run)
    assert "<https://gitlab.test/p/-/pipelines/1001|GitLab pipeline #1001> *running*" in text(
        started
    )
    failed = replace(
        run,
        status=PipelineStatus.FAILED,
        started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
        failed_jobs=tuple(JobLink(f"job-{i}", f"https://j/{i}") for i in range(12)),
    )
    shown = text(replace(started, run=failed))
    assert "*failed* in 3m 12s" in shown
    assert "job-0" in shown
    assert "+2 more" in shown
    assert status_reply(replace(started, run=failed)).startswith("❌")


def test_limits_hold_for_huge_input() -> None:
    huge = ticket(variables={f"K{i}": "x" * 256 for i in range(20)}, version="v" * 120)
    message = ticket_message(huge)
    assert len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        for element in block.get("elements", []):
            assert (
                len(element.get("text", "")) <= 3000
                if isinstance(element.get("text"), str)
                else True
            )
    assert len(message.text) <= 3000


def test_link_and_duration_helpers() -> None:
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://a.test/x|y", "l<b>") == "<https://a.test/x%7Cy|l&lt;b&gt;>"
    assert escape("a&b<c>") == "a&amp;b&lt;c&gt;"
    assert [duration(timedelta(seconds=s)) for s in (5, 192, 3900)] == ["5s", "3m 12s", "1h 05m"]


def run_section(t: Ticket) -> str:
    blocks = ticket_message(t).blocks
    return "\n".join(b["text"]["text"] for b in blocks if b.get("block_id", "").startswith("run."))


def test_ref_version_and_every_variable_are_shown_verbatim_and_unclipped() -> None:
    long_value = "`rm -rf`" + "y" * 248  # 256: the parser's maximum
    t = replace(
        ticket(variables={"NOTE": "<!channel> & friends", "LONG": long_value, "K" * 128: "v"}),
        ref="release/2024.05",
    )
    shown = run_section(t)
    assert shown.startswith("*What will run*\n```ref: release/2024.05\nversion: v12\n")
    assert f"\nLONG={long_value}\n" in shown  # backticks kept, nothing cut
    assert "\nNOTE=&lt;!channel&gt; &amp; friends" in shown
    assert f"\n{'K' * 128}=v\n" in shown


def test_rollback_target_is_shown() -> None:
    t = replace(ticket(action="rollback", version=None), rollback_to="1.4.1", ref="main")
    assert "```ref: main\nrollback to: 1.4.1\nNOTE=" in run_section(t)


def test_the_largest_request_the_parser_accepts_is_shown_in_full() -> None:
    values = {f"K{i}": "&" * 256 for i in range(20)}  # escaping makes each value 1280 long
    t = replace(ticket(variables=values), ref="main")
    check_shown(t)
    shown = run_section(t)
    assert all(f"K{i}={'&amp;' * 256}" in shown for i in range(20))
    message = ticket_message(t)
    assert len(message.blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")
    assert any(b["type"] == "actions" for b in message.blocks), "Approve/Deny not cut off"


def test_what_cannot_be_shown_in_full_is_refused() -> None:
    with pytest.raises(NotShowable, match="verbatim"):
        check_shown(ticket(variables={"NOTE": "a```b"}))
    with pytest.raises(NotShowable, match="too long"):
        check_shown(ticket(variables={"NOTE": "x" * 3000}))
    with pytest.raises(NotShowable, match="request is too long"):
        check_shown(ticket(variables={f"K{i}": "x" * 2000 for i in range(50)}))


def failed_section(t: Ticket) -> str:
    """The mrkdwn of the ticket message's failed-jobs section."""
    texts = [b["text"]["text"] for b in ticket_message(t).blocks if b.get("text")]
    (found,) = [text for text in texts if text.startswith("*Failed jobs*")]
    return str(found)


def test_failed_jobs_show_where_and_why_escaped_and_clipped() -> None:
    """GitLab's stage and failure_reason, GitHub's failed step and conclusion, per job."""
    gitlab = "https://gitlab.test/p/-/jobs"
    jobs = (
        JobLink("train-model", f"{gitlab}/1", stage="train", reason="script_failure"),
        JobLink("lint", "https://github.test/r/job/2", step="Run <!here> `ruff`", reason="failure"),
        JobLink("eval", f"{gitlab}/3", stage="s" * 200, reason="r" * 200),
        JobLink("plain", f"{gitlab}/4"),
    )
    run = RunInfo("gitlab", "7", "https://gitlab.test/p/-/pipelines/7", PipelineStatus.FAILED)
    t = replace(ticket(state=ApprovalState.STARTED), run=replace(run, failed_jobs=jobs))
    lines = failed_section(t).split("\n")
    assert lines == [
        "*Failed jobs*",
        f"• <{gitlab}/1|train-model> · stage `train` · `script_failure`",
        "• <https://github.test/r/job/2|lint> · step `Run &lt;!here&gt; 'ruff'` · `failure`",
        f"• <{gitlab}/3|eval> · stage `{'s' * 59}…` · `{'r' * 39}…`",
        f"• <{gitlab}/4|plain>",
    ]
