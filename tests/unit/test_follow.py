"""Following a run: status changes reported once each, bounded, transient errors waited out."""

from __future__ import annotations

from itertools import islice

import pytest

from bot.ci.follow import MAX_TRANSIENT_FAILURES, backoff, follow_run
from bot.ci.provider import (
    Deployment,
    JobFailure,
    PipelineRequest,
    PipelineRun,
    PipelineStatus,
    PipelineTarget,
)
from bot.errors import ProviderAuthError, ProviderError, ProviderUnavailable

TARGET = PipelineTarget(model="fraud-detector", provider="scripted", project="ml/fraud-detector")
FAST = {"poll_initial": 0.001, "poll_max": 0.005}


def run(status: PipelineStatus) -> PipelineRun:
    return PipelineRun(id="7", url="https://ci.example/7", status=status, ref="main")


def unavailable() -> ProviderError:
    return ProviderUnavailable(provider="Scripted", target=TARGET, answer="503 try later")


class ScriptedProvider:
    """Our own `PipelineProvider`, answering `get_run` from a script (last answer repeats)."""

    name = "scripted"

    def __init__(self, *answers: PipelineStatus | ProviderError) -> None:
        self.answers = list(answers)
        self.polls = 0

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        assert target is TARGET
        assert run_id == "7"
        self.polls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, ProviderError):
            raise answer
        return run(answer)

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        raise NotImplementedError

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        return []

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        return []

    async def close(self) -> None:
        return None


class Changes:
    """The on_change callback, remembering what it was told."""

    def __init__(self) -> None:
        self.seen: list[PipelineStatus] = []

    async def __call__(self, changed: PipelineRun) -> None:
        self.seen.append(changed.status)


P, RUN, OK, FAIL = (
    PipelineStatus.PENDING,
    PipelineStatus.RUNNING,
    PipelineStatus.SUCCESS,
    PipelineStatus.FAILED,
)


async def test_each_status_change_is_reported_once_and_the_final_run_returned() -> None:
    provider = ScriptedProvider(P, RUN, RUN, RUN, OK)
    changes = Changes()
    final = await follow_run(provider, run(P), changes, target=TARGET, deadline=5, **FAST)
    assert final.status is OK
    assert changes.seen == [RUN, OK]
    assert provider.polls == 5


async def test_a_failed_run_ends_the_follow() -> None:
    changes = Changes()
    final = await follow_run(
        ScriptedProvider(RUN, FAIL), run(P), changes, target=TARGET, deadline=5, **FAST
    )
    assert final.status is FAIL
    assert changes.seen == [RUN, FAIL]


async def test_a_run_that_is_already_final_is_not_polled() -> None:
    provider = ScriptedProvider(OK)
    final = await follow_run(provider, run(OK), Changes(), target=TARGET, deadline=5, **FAST)
    assert final.status is OK
    assert provider.polls == 0


async def test_manual_is_followed_until_a_person_acts() -> None:
    changes = Changes()
    final = await follow_run(
        ScriptedProvider(PipelineStatus.MANUAL, RUN, OK),
        run(RUN),
        changes,
        target=TARGET,
        deadline=5,
        **FAST,
    )
    assert final.status is OK
    assert changes.seen == [PipelineStatus.MANUAL, RUN, OK]


async def test_the_deadline_bounds_the_follow_and_returns_the_last_run_seen() -> None:
    provider = ScriptedProvider(RUN)
    final = await follow_run(provider, run(P), Changes(), target=TARGET, deadline=0.05, **FAST)
    assert final.status is RUN
    assert 1 <= provider.polls < 100


async def test_a_few_transient_errors_are_waited_out() -> None:
    provider = ScriptedProvider(RUN, unavailable(), unavailable(), OK)
    changes = Changes()
    final = await follow_run(provider, run(P), changes, target=TARGET, deadline=5, **FAST)
    assert final.status is OK
    assert changes.seen == [RUN, OK]


async def test_persistent_transient_errors_end_the_follow() -> None:
    provider = ScriptedProvider(unavailable())
    with pytest.raises(ProviderUnavailable):
        await follow_run(provider, run(P), Changes(), target=TARGET, deadline=5, **FAST)
    assert provider.polls == MAX_TRANSIENT_FAILURES


async def test_an_auth_error_is_raised_at_once() -> None:
    denied = ProviderAuthError(provider="Scripted", target=TARGET, answer="401 Unauthorized")
    provider = ScriptedProvider(denied)
    with pytest.raises(ProviderAuthError):
        await follow_run(provider, run(P), Changes(), target=TARGET, deadline=5, **FAST)
    assert provider.polls == 1


def test_waits_grow_and_are_capped() -> None:
    assert list(islice(backoff(1.0, 5.0), 6)) == [1.0, 1.5, 2.25, 3.375, 5.0, 5.0]
