"""How the side-effect blocks (agent, email, slack) fail and retry, against real stand-ins.

The defect tests failed before their fix: the openai SDK's own retries hidden from the
run log, permanent failures (400, missing key, refused login, 550) retried, a CR/LF
in `to` adding a Bcc recipient, cost $0 when no usage is reported, a Slack webhook
token leaking through httpx's normal form of the URL in an error message. The others
pin behaviour found correct (SMTP down retried, Retry-After, non-ASCII subject…).
"""

from __future__ import annotations

import json
import time
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import cryptography  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from aiosmtpd.smtp import AuthResult
from processes import free_port
from standins.recording import RecordingServer, Scripted
from standins.smtp import Inbox, serving, starttls_with_login

CHAT = "/v1/chat/completions"


def completion(text: str, model: str = "gpt-4o-mini", usage: bool = True) -> dict[str, Any]:
    """A chat.completion body in OpenAI's shape."""
    body: dict[str, Any] = {
        "id": "chatcmpl-audit",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    return body


def provider_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


@pytest.fixture
def provider(recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    """The recording server as an OpenAI-compatible provider (scripted statuses)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-audit-key-123")
    monkeypatch.setenv("OPENAI_BASE_URL", recorder.url + "/v1")
    return recorder


def agent_yaml(extra: str = "") -> str:
    return f"""
        version: 1
        name: agent_audit
        blocks:
          ask:
            type: agent
            model: gpt-4o-mini
            prompt: "Event: <input.event>"
            retry_backoff: 0.01
            {extra}
        """


async def _events(runtime: Any, execution_id: str, kind: str) -> list[dict[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT data::text FROM flowyard_run_events WHERE execution_id = $1 AND type = $2 ORDER BY seq",
        execution_id,
        kind,
    )
    return [json.loads(r[0]) for r in rows]


# -- agent -----------------------------------------------------------------------------


async def test_agent_engine_retries_govern_provider_5xx(
    run_yaml: Any, provider: RecordingServer
) -> None:
    """`retries: 0` means one call: the SDK must not retry on its own, unseen."""
    provider.respond(
        CHAT, Scripted(503, provider_error(503, "overloaded")), Scripted(200, completion("hi"))
    )
    result = await run_yaml(agent_yaml("retries: 0"), {"event": "x"})
    assert len(provider.requests_to(CHAT)) == 1
    assert result["status"] == "failed"
    assert "503" in result["error"]["message"]


async def test_agent_5xx_is_retried_by_the_engine(run_yaml: Any, provider: RecordingServer) -> None:
    provider.respond(
        CHAT, Scripted(500, provider_error(500, "boom")), Scripted(200, completion("hi"))
    )
    result = await run_yaml(agent_yaml("retries: 1"), {"event": "x"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == "hi"
    assert result["blocks"]["ask"]["attempts"] == 2  # the retry is in the run log
    assert len(provider.requests_to(CHAT)) == 2


async def test_agent_400_is_not_retried(run_yaml: Any, provider: RecordingServer) -> None:
    provider.respond(CHAT, Scripted(400, provider_error(400, "bad max_tokens")))
    result = await run_yaml(agent_yaml("retries: 2"), {"event": "x"})
    assert result["status"] == "failed"
    assert "400" in result["error"]["message"] and "bad max_tokens" in result["error"]["message"]
    assert len(provider.requests_to(CHAT)) == 1


async def test_agent_429_retry_after_is_honoured(
    run_yaml: Any, provider: RecordingServer, runtime: Any
) -> None:
    provider.respond(
        CHAT,
        Scripted(429, provider_error(429, "rate limited"), {"Retry-After": "1"}),
        Scripted(200, completion("hi")),
    )
    result = await run_yaml(agent_yaml("retries: 1"), {"event": "x"})
    assert result["status"] == "succeeded", result["error"]
    [retrying] = await _events(runtime, result["execution_id"], "block_retrying")
    assert retrying["delay_s"] >= 1  # the engine waited as asked, not just its 10 ms


async def test_agent_missing_key_is_not_retried_and_names_the_setting(
    run_yaml: Any, provider: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = await run_yaml(agent_yaml("retries: 2"), {"event": "x"})
    assert result["status"] == "failed"
    assert "OPENAI_API_KEY" in result["error"]["message"]
    assert result["blocks"]["ask"]["attempts"] == 1
    assert provider.requests_to(CHAT) == []


async def test_agent_cost_unknown_without_usage(run_yaml: Any, provider: RecordingServer) -> None:
    """A server that reports no usage: the cost is unknown (null), not $0."""
    provider.respond(CHAT, Scripted(200, completion("hi", usage=False)))
    result = await run_yaml(agent_yaml(), {"event": "x"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["cost_usd"] is None


async def test_agent_usage_and_cost_for_a_dated_model(
    run_yaml: Any, provider: RecordingServer
) -> None:
    provider.respond(CHAT, Scripted(200, completion("hi", model="gpt-4o-2024-08-06")))
    result = await run_yaml(agent_yaml(), {"event": "x"})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    assert out["cost_usd"] == pytest.approx((10 * 2.50 + 4 * 10.00) / 1e6)


# -- email -----------------------------------------------------------------------------

MAIL = """
version: 1
name: email_audit
blocks:
  send:
    type: email
    to: <input.to>
    subject: "Order <input.order_id>"
    text: "Thanks"
    retry_backoff: 0.01
    retries: RETRIES
"""


def mail(retries: int = 0) -> str:
    return MAIL.replace("RETRIES", str(retries))


async def test_email_smtp_down_is_retried(run_yaml: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens
    result = await run_yaml(mail(retries=1), {"to": "ann@shop.test", "order_id": "o-1"})
    assert result["status"] == "failed"
    assert result["blocks"]["send"]["attempts"] == 2
    assert "SMTP 127.0.0.1" in result["error"]["message"]


async def test_email_auth_failure_is_final_and_has_no_password(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A refused login is not retried (repeated bad logins can lock the account)."""
    sessions: set[int] = set()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        sessions.add(id(session))
        return AuthResult(success=False, handled=False)  # the server answers 535

    with serving(Inbox(), **starttls_with_login(tmp_path, authenticator)) as port:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_USER", "mailer")
        monkeypatch.setenv("SMTP_PASSWORD", "pw-never-shown-42")
        monkeypatch.setenv("SMTP_TLS_VERIFY", "false")  # the test certificate is self-signed
        result = await run_yaml(mail(retries=2), {"to": "ann@shop.test", "order_id": "o-2"})
    assert result["status"] == "failed"
    assert "login failed" in result["error"]["message"]
    assert "pw-never-shown-42" not in json.dumps(result)
    assert result["blocks"]["send"]["attempts"] == 1
    assert len(sessions) == 1  # one connection tried to log in


async def test_email_all_recipients_refused_is_final(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(mail(retries=2), {"to": "bob@refused.test", "order_id": "o-3"})
    assert result["status"] == "failed" and "refused" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1


async def test_email_header_injection_in_subject_is_refused(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(
        mail(retries=2), {"to": "ann@shop.test", "order_id": "o-4\r\nBcc: evil@evil.test"}
    )
    assert result["status"] == "failed"
    assert result["blocks"]["send"]["attempts"] == 1  # the same input will fail again
    assert smtp.messages == []


async def test_email_header_injection_in_to_is_refused(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(
        mail(), {"to": "ann@shop.test\r\nBcc: evil@evil.test", "order_id": "o-5"}
    )
    assert all("evil@evil.test" not in rcpts for rcpts, _ in smtp.messages)
    assert (
        result["status"] == "failed" and "`to` contains a line break" in result["error"]["message"]
    )
    assert smtp.messages == []


async def test_email_multiple_recipients_and_non_ascii_subject(run_yaml: Any, smtp: Inbox) -> None:
    # From the data, several recipients are a list, one address each.
    result = await run_yaml(
        mail(), {"to": ["ann@shop.test", "Bob Ö <bob@shop.test>"], "order_id": "bestätigt — 注文"}
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["accepted"] == ["ann@shop.test", "bob@shop.test"]
    [(rcpts, msg)] = smtp.messages
    assert rcpts == ["ann@shop.test", "bob@shop.test"]
    assert str(make_header(decode_header(msg["Subject"]))) == "Order bestätigt — 注文"
    assert msg["Message-ID"] == result["output"]["message_id"]


@pytest.mark.parametrize(
    "to",
    [
        "ann@shop.test, attacker@evil.test",  # a comma list in a webhook's field
        "=?utf-8?q?a=0D=0ABcc:_e@evil.test?= <ann@shop.test>",  # an encoded word
        "not an address",
        "jü@exämple.test",
        ["ann@shop.test", "b@x.test, c@y.test"],
    ],
)
async def test_email_data_cannot_add_recipients(run_yaml: Any, smtp: Inbox, to: Any) -> None:
    """`to: <input.to>` from a webhook body sent the confirmation to everyone listed."""
    result = await run_yaml(mail(retries=2), {"to": to, "order_id": "o-1"})
    assert result["status"] == "failed" and result["error"]["type"] == "EmailError"
    assert "`to`" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1  # nothing another attempt could change
    assert smtp.messages == []


async def test_email_written_addresses_and_references_mix_in_one_field(
    run_yaml: Any, smtp: Inbox
) -> None:
    """Written text around references: the file's addresses may be several, each
    reference's one address (that worked before, then was refused whole)."""
    wf = mail().replace("to: <input.to>", 'to: "ops@shop.test, Ann B <ann@shop.test>, <input.to>"')
    assert wf != mail()
    result = await run_yaml(wf, {"to": "cy@shop.test", "order_id": "o-1"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["accepted"] == ["ops@shop.test", "ann@shop.test", "cy@shop.test"]
    [(_, msg)] = smtp.messages
    assert msg["To"] == "ops@shop.test, Ann B <ann@shop.test>, cy@shop.test"  # names kept
    refused = await run_yaml(wf, {"to": "cy@shop.test, evil@x.test", "order_id": "o-2"})
    assert refused["status"] == "failed" and "one address" in refused["error"]["message"]
    assert len(smtp.messages) == 1


async def test_email_has_a_date_and_refuses_unicode_line_breaks(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(mail(), {"to": "ann@shop.test", "order_id": "o-1"})
    assert result["status"] == "succeeded", result["error"]
    [(_, msg)] = smtp.messages
    assert msg["Date"]  # RFC 5322 wants it; relays do not add it for remote clients
    bad = await run_yaml(mail(), {"to": "ann@shop.test", "order_id": "o\u2028Bcc: x@evil.test"})
    assert bad["status"] == "failed" and "line break" in bad["error"]["message"]
    assert len(smtp.messages) == 1


async def test_email_without_smtp_host_is_not_retried(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_HOST", raising=False)
    result = await run_yaml(mail(retries=2), {"to": "ann@shop.test", "order_id": "o-1"})
    assert result["status"] == "failed" and "SMTP_HOST" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1


# -- slack -----------------------------------------------------------------------------

SLACK = """
version: 1
name: slack_audit
blocks:
  post:
    type: slack
    webhook_url: <input.url>
    text: "hello"
    retry_backoff: 0.01
    retries: 2
"""


async def test_slack_4xx_is_not_retried(run_yaml: Any, recorder: RecordingServer) -> None:
    recorder.respond("/services/T1/B1/tok1", Scripted(400, "invalid_payload"))
    result = await run_yaml(SLACK, {"url": recorder.url + "/services/T1/B1/tok1"})
    assert result["status"] == "failed" and "invalid_payload" in result["error"]["message"]
    assert len(recorder.requests_to("/services/T1/B1/tok1")) == 1


async def test_slack_429_retry_after(
    run_yaml: Any, recorder: RecordingServer, runtime: Any
) -> None:
    recorder.respond(
        "/services/T2/B2/tok2",
        Scripted(429, "rate_limited", {"Retry-After": "1"}),
        Scripted(200, "ok"),
    )
    result = await run_yaml(SLACK, {"url": recorder.url + "/services/T2/B2/tok2"})
    assert result["status"] == "succeeded", result["error"]
    assert len(recorder.requests_to("/services/T2/B2/tok2")) == 2
    [retrying] = await _events(runtime, result["execution_id"], "block_retrying")
    assert retrying["delay_s"] >= 1


async def test_slack_webhook_token_never_in_records(
    run_yaml: Any, recorder: RecordingServer, runtime: Any
) -> None:
    """A URL spelled differently from httpx's normal form (here an upper-case host,
    as with `:443` spelled out) must not leak its token through the error message."""
    token = "XyZsecretTok3n"
    recorder.respond(f"/services/T3/B3/{token}", Scripted(404, "no_service"))
    url = recorder.url.replace("127.0.0.1", "LOCALHOST") + f"/services/T3/B3/{token}"
    result = await run_yaml(SLACK, {"url": url})
    assert result["status"] == "failed"
    assert "404" in result["error"]["message"]
    assert token not in json.dumps(result)
    stored = await runtime.db.pool.fetchval(
        "SELECT coalesce(string_agg(data::text, ' '), '') FROM flowyard_run_events WHERE execution_id = $1",
        result["execution_id"],
    )
    assert token not in stored
