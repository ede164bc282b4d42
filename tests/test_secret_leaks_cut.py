"""A secret a message quotes and cuts short (``…``) leaves nothing of itself behind
(real embedded PostgreSQL, a peer on 127.0.0.1 echoing what it got).

Messages quote the start of a long text: the first 500 characters of a peer's
answer, 57 of a value a Function could not return. Cut inside a secret, what was
left of it was no longer the secret's text, and redaction, which looks for whole
forms, stored its beginning in clear: ``…PPPPsk_test_StripeSecret4242X…``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_secret_leaks import recorded_text
from werkzeug import Response

from engine.redaction import MIN_SECRET_CHARS, Redactor
from engine.runtime import Runtime

SECRET = "sk_test_StripeSecret4242XYZ"


def beginnings(secret: str) -> list[str]:
    """Every beginning of ``secret`` redaction must not leave (4 characters or more)."""
    return [secret[:n] for n in range(MIN_SECRET_CHARS, len(secret) + 1)]


def assert_no_beginning(secret: str, text: str) -> None:
    left = [b for b in beginnings(secret) if b in text]
    assert not left, f"{left[-1]!r} of the secret is in {text[-200:]!r}"


ECHOED_BODY = """
name: cut_echoed_body
blocks:
  call:
    type: http
    method: POST
    url: {url}
    body: "{padding}<env.FY_CUT_SECRET>"
"""


async def test_a_peer_answer_cut_inside_the_secret_it_echoes_keeps_none_of_it(
    run_yaml: Any, runtime: Runtime, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 quoting the body it got: 475 characters, then the secret, cut at 500."""
    monkeypatch.setenv("FY_CUT_SECRET", SECRET)
    httpserver.expect_request("/refuse", method="POST").respond_with_handler(
        lambda request: Response(request.get_data(as_text=True), 400)
    )
    result = await run_yaml(
        ECHOED_BODY.format(url=httpserver.url_for("/refuse"), padding="P" * 475)
    )
    assert result["status"] == "failed"
    [(request, _)] = httpserver.log
    assert request.get_data(as_text=True) == "P" * 475 + SECRET  # the peer got it whole

    stored = await runtime.run_result(result["execution_id"])
    for error in (result["error"], stored["error"], stored["blocks"]["call"]["error"]):
        assert error["message"].endswith(" returned 400: " + "P" * 475 + "***"), error
    assert_no_beginning(SECRET, await recorded_text(runtime, result))


FUNCTION_VALUE = """
name: cut_function_value
blocks:
  make:
    type: function
    code: |
      return {{"tags": {{"{padding}" + <env.FY_CUT_SECRET>}}}}
"""


async def test_a_function_value_quoted_cut_inside_a_secret_keeps_none_of_it(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Function returning a set: its error quotes the set's first 57 characters,
    cut in its worker, which does not know the run's secrets."""
    monkeypatch.setenv("FY_CUT_SECRET", SECRET)
    result = await run_yaml(FUNCTION_VALUE.format(padding="P" * 40))
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "is a set ({'" + "P" * 40 + "***…)" in message, message
    stored = await runtime.run_result(result["execution_id"])
    assert stored["error"]["message"] == message
    assert_no_beginning(SECRET, await recorded_text(runtime, result))


@pytest.mark.parametrize("ascii", [False, True], ids=["as_is", "ascii_escaped"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_beginning_of_a_secret_before_a_cut_is_redacted_at_any_depth(
    ascii: bool, depth: int
) -> None:
    """A message quoting a peer's JSON body (the secret escaped once) cut inside
    the secret, in a JSON value ``depth`` times (a message quoting a message),
    written with ``…`` as is or as ``\\u2026``."""
    secret = 'hé"llo\\wor/ld-9f2c'
    body = json.dumps({"key": secret}, ensure_ascii=ascii)
    value = "POST http://peer/x returned 400: " + body[:20] + "…"
    for _ in range(depth):
        value = json.dumps({"message": value}, ensure_ascii=ascii)
    redacted = Redactor({secret})(value)
    for _ in range(depth):  # still JSON, at every depth
        redacted = json.loads(redacted)["message"]
    assert redacted.endswith(' returned 400: {"key": "***…'), redacted


def test_text_that_merely_ends_like_a_secret_begins_is_kept() -> None:
    """Fewer than 4 characters of the secret before the cut, or none at all: kept."""
    redactor = Redactor({SECRET})
    for kept in ("… ends with sk_…", "a cut … and no secret", "sk_test is a prefix, no cut"):
        text = json.dumps({"message": kept})
        assert redactor(text) == text


JSON_PARSE = """
name: cut_by_javascript
blocks:
  parse:
    type: function
    language: javascript
    code: |
      return JSON.parse(<env.FY_CUT_SECRET>);
"""


async def test_a_secret_javascript_cuts_in_a_json_parse_error_keeps_none_of_it(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """V8's JSON.parse error quotes a text of 20 characters or more by its first 10
    and `"...`: a cut the engine neither made nor marked with `…`, and the first
    10 characters of the secret were stored in clear."""
    monkeypatch.setenv("FY_CUT_SECRET", SECRET)
    result = await run_yaml(JSON_PARSE)
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert message.startswith("SyntaxError: Unexpected token 's', \"***\"... is not valid JSON")
    assert_no_beginning(SECRET, await recorded_text(runtime, result))
