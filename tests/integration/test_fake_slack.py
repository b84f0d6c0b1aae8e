"""The fake Slack Web API, driven by the real slack_sdk clients: it must behave like Slack does."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-test"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*FraudModelDrift* firing"}}]
TS = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


@pytest.fixture
def slack(fake_slack: FakeSlack, session: aiohttp.ClientSession) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake_slack.api_url, session=session)


async def test_post_then_update_edits_the_same_message(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    posted = await slack.chat_postMessage(channel="#ml-alerts", text="firing", blocks=BLOCKS)
    assert re.match(r"^C\d{7}$", posted["channel"])
    assert TS.match(posted["ts"])
    assert posted["message"]["blocks"] == BLOCKS

    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "resolved"}}]
    updated = await slack.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="resolved", blocks=new_blocks
    )

    assert updated["ts"] == posted["ts"]
    [msg] = fake_slack.messages("#ml-alerts")
    assert (msg.ts, msg.text, msg.blocks, msg.updates) == (posted["ts"], "resolved", new_blocks, 1)
    assert fake_slack.calls("chat.update")[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_channel_names_map_to_stable_ids_and_ts_increase(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    first = await slack.chat_postMessage(channel="#ml-alerts", text="a")
    second = await slack.chat_postMessage(channel="ml-alerts", text="b")
    other = await slack.chat_postMessage(channel="#fraud-ml", text="c")
    by_id = await slack.chat_postMessage(channel=first["channel"], text="d")

    assert first["channel"] == second["channel"] == by_id["channel"]
    assert first["channel"] == fake_slack.channel_id("#ml-alerts") != other["channel"]
    stamps = [float(r["ts"]) for r in (first, second, other, by_id)]
    assert stamps == sorted(set(stamps))
    assert [m.text for m in fake_slack.messages(first["channel"])] == ["a", "b", "d"]


async def test_update_needs_a_channel_id_and_a_known_ts(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    posted = await slack.chat_postMessage(channel="#ml-alerts", text="firing")

    with pytest.raises(SlackApiError) as by_name:
        await slack.chat_update(channel="#ml-alerts", ts=posted["ts"], text="resolved")
    with pytest.raises(SlackApiError) as bad_ts:
        await slack.chat_update(channel=posted["channel"], ts="1.000001", text="resolved")

    assert by_name.value.response["error"] == "channel_not_found"
    assert bad_ts.value.response["error"] == "message_not_found"
    assert [(m.text, m.updates) for m in fake_slack.messages("#ml-alerts")] == [("firing", 0)]


async def test_429_surfaces_with_retry_after_and_posts_nothing(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    fake_slack.fail("chat.postMessage", 429, retry_after=7)

    with pytest.raises(SlackApiError) as err:
        await slack.chat_postMessage(channel="#ml-alerts", text="firing")

    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    assert fake_slack.messages("#ml-alerts") == []
    await slack.chat_postMessage(channel="#ml-alerts", text="firing")  # the fault is used up
    assert len(fake_slack.messages("#ml-alerts")) == 1
    assert len(fake_slack.calls("chat.postMessage")) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_surface_with_their_status(
    fake_slack: FakeSlack, slack: AsyncWebClient, status: int
) -> None:
    fake_slack.fail("chat.postMessage", status)

    with pytest.raises(SlackApiError) as err:
        await slack.chat_postMessage(channel="#ml-alerts", text="firing")

    assert err.value.response.status_code == status
    assert fake_slack.messages("#ml-alerts") == []


async def test_error_and_garbage_answers(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    fake_slack.error("chat.postMessage", "channel_not_found")
    fake_slack.garbage("chat.postMessage")

    with pytest.raises(SlackApiError) as err:
        await slack.chat_postMessage(channel="#ml-alerts", text="x")
    assert (err.value.response.status_code, err.value.response["error"]) == (
        200,
        "channel_not_found",
    )
    with pytest.raises(SlackApiError) as junk:
        await slack.chat_postMessage(channel="#ml-alerts", text="x")
    assert junk.value.response.status_code == 200
    assert not junk.value.response.data
    assert fake_slack.messages("#ml-alerts") == []


async def test_fail_all_until_cleared(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    fake_slack.fail_all("*", 503)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            await slack.auth_test()
    fake_slack.clear_faults()

    assert (await slack.auth_test())["user_id"]


async def test_slow_answer_times_out_the_client_but_still_lands(fake_slack: FakeSlack) -> None:
    fake_slack.delay("chat.postMessage", 0.5)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.1)) as short:
        client = AsyncWebClient(token=TOKEN, base_url=fake_slack.api_url, session=short)
        with pytest.raises((asyncio.TimeoutError, aiohttp.ClientError)):
            await client.chat_postMessage(channel="#ml-alerts", text="late")

    await fake_slack.wait_for(lambda f: len(f.messages("#ml-alerts")) == 1)


async def test_stop_does_not_wait_for_a_delayed_answer(session: aiohttp.ClientSession) -> None:
    fake = FakeSlack()
    await fake.start()
    fake.delay("auth.test", 60)
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url, session=session)
    pending = asyncio.create_task(client.auth_test())
    await fake.wait_for(lambda f: len(f.calls("auth.test")) == 1)

    async with asyncio.timeout(5):
        await fake.stop()
    with pytest.raises(SlackApiError):
        await pending


async def test_not_in_channel_until_joined(session: aiohttp.ClientSession) -> None:
    async with FakeSlack(not_member={"#private-ml"}) as fake:
        slack = AsyncWebClient(token=TOKEN, base_url=fake.api_url, session=session)
        with pytest.raises(SlackApiError) as err:
            await slack.chat_postMessage(channel="#private-ml", text="drift")
        assert err.value.response["error"] == "not_in_channel"

        listed = await slack.conversations_list()
        [channel] = [c for c in listed["channels"] if c["name"] == "private-ml"]
        assert channel["is_member"] is False
        with pytest.raises(SlackApiError):  # join takes an ID, as on Slack
            await slack.conversations_join(channel="#private-ml")
        await slack.conversations_join(channel=channel["id"])
        await slack.chat_postMessage(channel="#private-ml", text="drift")

        assert [m.text for m in fake.messages(channel["id"])] == ["drift"]
        assert (await slack.conversations_info(channel=channel["id"]))["channel"]["is_member"]
        fake.remove_bot("private-ml")
        with pytest.raises(SlackApiError):
            await slack.chat_postMessage(channel="#private-ml", text="again")


async def test_history_threads_and_metadata(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    posted = []
    for n in range(3):
        meta = {"event_type": "alert_group", "event_payload": {"n": n}}
        posted.append(
            await slack.chat_postMessage(channel="#ml-alerts", text=f"m{n}", metadata=meta)
        )
    cid, root = posted[0]["channel"], posted[0]["ts"]
    await slack.chat_postMessage(channel=cid, thread_ts=root, text="reply")

    page = await slack.conversations_history(channel=cid, limit=2, include_all_metadata=True)
    assert [m["text"] for m in page["messages"]] == ["m2", "m1"]
    assert page["has_more"]
    assert page["messages"][0]["metadata"]["event_payload"] == {"n": 2}
    plain = await slack.conversations_history(channel=cid, oldest=root)
    assert [m["text"] for m in plain["messages"]] == ["m2", "m1"]
    assert "metadata" not in plain["messages"][0]
    everything = await slack.conversations_history(channel=cid)
    assert everything["messages"][-1]["reply_count"] == 1
    assert [m.text for m in fake_slack.thread_replies("#ml-alerts", root)] == ["reply"]
    thread = await slack.conversations_replies(channel=cid, ts=root)
    assert [m["text"] for m in thread["messages"]] == ["m0", "reply"]


async def test_form_encoded_params_are_decoded(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    form = {"channel": "#ml-alerts", "text": "hi", "blocks": json.dumps(BLOCKS)}
    await slack.api_call("chat.postMessage", data=form)

    assert fake_slack.calls("chat.postMessage")[0].params["blocks"] == BLOCKS
    assert fake_slack.messages("#ml-alerts")[0].blocks == BLOCKS
    fake_slack.reset_calls()
    assert fake_slack.calls() == []


async def test_auth_and_unknown_methods(
    fake_slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    anonymous = AsyncWebClient(base_url=fake_slack.api_url, session=session)
    with pytest.raises(SlackApiError) as no_token:
        await anonymous.auth_test()
    assert no_token.value.response["error"] == "not_authed"

    async with FakeSlack(valid_tokens={TOKEN}) as strict:
        wrong = AsyncWebClient(token="xoxb-wrong", base_url=strict.api_url, session=session)
        with pytest.raises(SlackApiError) as bad:
            await wrong.auth_test()
        assert bad.value.response["error"] == "invalid_auth"

    client = AsyncWebClient(token=TOKEN, base_url=fake_slack.api_url, session=session)
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("pipelines.launch")
    assert unknown.value.response["error"] == "unknown_method"


async def test_users_ephemeral_and_permalink(session: aiohttp.ClientSession) -> None:
    async with FakeSlack(users={"U0ALICE": "Alice Liddell"}) as fake:
        slack = AsyncWebClient(token=TOKEN, base_url=fake.api_url, session=session)
        user = (await slack.users_info(user="U0ALICE"))["user"]
        assert user["real_name"] == "Alice Liddell"
        with pytest.raises(SlackApiError):
            await slack.users_info(user="U0NOBODY")

        await slack.chat_postEphemeral(channel="#ml-alerts", user="U0ALICE", text="not allowed")
        assert [m.text for m in fake.ephemerals("U0ALICE")] == ["not allowed"]

        posted = await slack.chat_postMessage(channel="#ml-alerts", text="x")
        link = await slack.chat_getPermalink(channel=posted["channel"], message_ts=posted["ts"])
        assert link["permalink"].endswith(posted["ts"].replace(".", ""))


async def test_response_url_posts_are_recorded(
    fake_slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    webhook = AsyncWebhookClient(fake_slack.response_url("deploy-1"), session=session)

    answer = await webhook.send(text="Deploy approved", response_type="in_channel")
    await webhook.send(text="done", replace_original=True)

    assert answer.status_code == 200
    assert [r["text"] for r in fake_slack.responses("deploy-1")] == ["Deploy approved", "done"]
    assert fake_slack.responses("deploy-1")[1]["replace_original"] is True
    assert fake_slack.responses("other") == []
    assert len(fake_slack.calls("response_url")) == 2


async def test_wait_for_wakes_on_requests_and_explains_timeouts(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.05)
        await slack.chat_postMessage(channel="#ml-alerts", text="late alert")

    task = asyncio.create_task(post_later())
    await fake_slack.wait_for(
        lambda f: any(m.text == "late alert" for m in f.messages("ml-alerts"))
    )
    await task

    with pytest.raises(AssertionError, match=r"late alert"):
        await fake_slack.wait_for(lambda f: len(f.messages("#ml-alerts")) == 2, timeout=0.1)
