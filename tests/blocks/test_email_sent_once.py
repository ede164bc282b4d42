"""An email the server may already have taken is not sent again by a retry.

SMTP has no idempotency key: a relay that received the whole message and answered
late (or dropped the connection before answering) has queued it, and another
attempt delivers it a second time, whatever its Message-ID."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from standins.smtp import Inbox, serving

MAIL = """
version: 1
name: email_sent_once
blocks:
  confirm:
    type: email
    to: ann@shop.test
    subject: "Your order"
    text: "Thanks!"
    timeout: {timeout}
    retries: 2
"""


class SlowToAnswer(Inbox):
    """Keeps the message, then answers the end of its data only after ``delay`` s."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


class DropsAfterData(Inbox):
    """Keeps the message, then drops the connection instead of answering."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        server.transport.abort()
        return answer


class SlowToSayGoodbye(Inbox):
    """Takes the message at once, then ``delay`` s over answering QUIT."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return "221 Bye"


class SlowToGreet(Inbox):
    """Takes ``delay`` s over each of the first ``slow`` connections' EHLO."""

    def __init__(self, delay: float, slow: int) -> None:
        super().__init__()
        self.delay, self.slow = delay, slow

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.slow:
            self.slow -= 1
            await asyncio.sleep(self.delay)
        session.host_name = hostname
        return responses


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point_at(port: int) -> None:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.delenv("SMTP_USER", raising=False)
        monkeypatch.delenv("SMTP_PASSWORD", raising=False)
        monkeypatch.setenv("SMTP_FROM", "orders@shop.test")

    return point_at


async def test_a_send_answered_too_late_is_not_sent_again(run_yaml: Any, smtp_env: Any) -> None:
    inbox = SlowToAnswer(delay=2.5)
    with serving(inbox) as port:
        smtp_env(port)
        result = await run_yaml(MAIL.format(timeout=1))
        await asyncio.sleep(2)  # what a thread left running would still send meanwhile
    assert len(inbox.messages) == 1, f"delivered {len(inbox.messages)} times"
    assert result["status"] == "failed"
    assert result["blocks"]["confirm"]["attempts"] == 1
    assert "after the message was sent" in result["error"]["message"]


async def test_a_send_whose_connection_dropped_after_the_data_is_not_sent_again(
    run_yaml: Any, smtp_env: Any
) -> None:
    inbox = DropsAfterData()
    with serving(inbox) as port:
        smtp_env(port)
        result = await run_yaml(MAIL.format(timeout=5))
    assert len(inbox.messages) == 1, f"delivered {len(inbox.messages)} times"
    assert result["status"] == "failed"
    assert result["blocks"]["confirm"]["attempts"] == 1
    assert "after the message was sent" in result["error"]["message"]


async def test_a_message_taken_is_sent_however_late_quit_is_answered(
    run_yaml: Any, smtp_env: Any
) -> None:
    """A late answer to QUIT, after the server took the message, is no failure."""
    inbox = SlowToSayGoodbye(delay=2.5)
    with serving(inbox) as port:
        smtp_env(port)
        result = await run_yaml(MAIL.format(timeout=1))
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["confirm"]["attempts"] == 1
    assert len(inbox.messages) == 1


async def test_a_cancelled_run_sends_no_message_afterwards(
    runtime: Any, write_workflow: Any, smtp_env: Any
) -> None:
    """The send went on in its thread and delivered the email once the slow server
    answered, after the run had been recorded cancelled."""
    inbox = SlowToGreet(delay=1.5, slow=1)
    with serving(inbox) as port:
        smtp_env(port)
        wf = write_workflow(MAIL.format(timeout=10))
        eid = (await runtime.submit(wf, {})).execution_id
        await asyncio.sleep(0.5)  # the send is waiting for the server's greeting
        assert await runtime.request_cancel(eid) == "cancelling"
        result = await asyncio.wait_for(runtime.wait(eid), 30)
        await asyncio.sleep(2.5)  # past the server's delay: the thread has gone on
    assert result["status"] == "cancelled"
    assert inbox.messages == []


async def test_a_send_that_timed_out_before_the_message_went_out_is_retried(
    run_yaml: Any, smtp_env: Any
) -> None:
    inbox = SlowToGreet(delay=2.5, slow=1)
    with serving(inbox) as port:
        smtp_env(port)
        t0 = time.monotonic()
        result = await run_yaml(MAIL.format(timeout=1))
        took = time.monotonic() - t0
        await asyncio.sleep(2)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["confirm"]["attempts"] == 2
    assert len(inbox.messages) == 1, f"delivered {len(inbox.messages)} times"
    assert took < 2.5  # the timeout held the first attempt to about 1 s
