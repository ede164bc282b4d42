"""Secrets a peer echoes back in the form the engine sent them in are redacted
(real embedded PostgreSQL, an echo peer on 127.0.0.1 handing back the request
target and headers exactly as they arrived).

The HTTP block sends through httpx over aiohttp: httpx percent-encodes a URL, then
yarl, under aiohttp, quotes it again its own way, each differently in a path, an
inline query and a ``query:`` mapping. A redactor that knew only
``urllib.parse.quote``'s forms stored ``p@ss:w0rd/x+y`` and ``Tr0ub4dor%263!x`` in
clear.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from standins.echo import EchoServer
from test_secret_leaks import recorded_text
from werkzeug import Response

from engine.runtime import Runtime

#: Four secrets each, with the punctuation passwords and API keys are made of.
SECRET_SETS = {
    "base64_and_delimiters": ("AbC+dEf/GhIjK=", "p@ss:w0rd/x y", "Tr0ub4dor&3!x", "k3y/with?mark"),
    "spaces_and_quotes": ("pa ss?word", "{pass} word", "pass`word x", 'ab"c\\d/e<f>'),
    "non_ascii_and_percent": ("pässwörd", "50%off;ok", "semi;colon=x", "it's (a) *star*"),
}

ECHOED = """
name: echoed_{name}
blocks:
  start: {{type: manual}}
  h_urlq:
    type: http
    url: "{peer}/urlq?x=<env.FY_S1>&y=<env.FY_S2>&z=<env.FY_S3>&w=<env.FY_S4>"
  h_param:
    type: http
    url: {peer}/param
    query: {{x: "<env.FY_S1>", y: "<env.FY_S2>", z: "<env.FY_S3>", w: "<env.FY_S4>"}}
  h_path:
    type: http
    url: "{peer}/path/<env.FY_S1>/<env.FY_S2>/<env.FY_S3>/<env.FY_S4>"
  h_fail:
    type: http
    url: "{peer}/fail/<env.FY_S1>/<env.FY_S2>?z=<env.FY_S3>"
    query: {{w: "<env.FY_S4>"}}
    on_error: continue
edges: [start -> h_urlq, start -> h_param, start -> h_path, start -> h_fail]
"""


@pytest.fixture
def peer() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.mark.parametrize("name", SECRET_SETS)
async def test_secrets_a_peer_echoes_from_the_request_target_are_redacted(
    run_yaml: Any, runtime: Runtime, peer: EchoServer, monkeypatch: Any, name: str
) -> None:
    secrets = SECRET_SETS[name]
    for i, secret in enumerate(secrets, 1):
        monkeypatch.setenv(f"FY_S{i}", secret)
    result = await run_yaml(ECHOED.format(name=name, peer=peer.url))
    assert result["status"] == "succeeded", result["error"]
    # The peer got the secrets themselves: the requests carried them.
    [param] = [t for t in peer.targets if t.startswith("/param?")]
    assert parse_qs(urlsplit(param).query) == {k: [s] for k, s in zip("xyzw", secrets, strict=True)}

    stored = (await runtime.run_result(result["execution_id"]))["blocks"]
    assert stored["h_urlq"]["output"]["body"]["path"] == "/urlq?x=***&y=***&z=***&w=***"
    assert stored["h_param"]["output"]["body"]["path"] == "/param?x=***&y=***&z=***&w=***"
    assert stored["h_path"]["output"]["body"]["path"] == "/path/***/***/***/***"
    error = stored["h_fail"]["error"]["message"]
    assert "returned 500: " in error, error
    # A secret holding `&` splits the url's own query, into which `query:` is merged.
    echoed = json.loads(error.split("returned 500: ", 1)[1])["path"]
    assert echoed in ("/fail/***/***?z=***&w=***", "/fail/***/***?z=***=&w=***"), echoed

    text = await recorded_text(runtime, result)
    for target in peer.targets:  # each secret as it was on the wire, anywhere in a record
        assert target not in text, f"{target!r} leaked"


BASIC_AUTH = """
name: echoed_basic_auth
blocks:
  start: {{type: manual}}
  call: {{type: http, url: "{url}/echo"}}
  fail: {{type: http, url: "{url}/fail/x", on_error: continue}}
edges: [start -> call, start -> fail]
"""


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("apiuser", "<env.FY_BASIC_PW>"),
        ("<env.FY_BASIC_PW>", "x"),
        ("apiuser", "<input.password>"),  # a webhook's payload: not a secret of the run
        ("apiuser", "literal%40pw"),  # sent decoded: literal@pw
    ],
    ids=["env_password", "env_user", "input_password", "literal"],
)
async def test_basic_auth_the_engine_builds_from_a_url_is_redacted_when_echoed(
    run_yaml: Any, runtime: Runtime, peer: EchoServer, monkeypatch: Any, user: str, password: str
) -> None:
    """`http://user:<env.PW>@host` is sent as `Authorization: Basic base64(user:PW)`:
    a peer echoing its request headers (httpbin, an error body) handed the credentials
    back as base64, which anyone can decode."""
    monkeypatch.setenv("FY_BASIC_PW", "supersecretvalue123")
    base = peer.url.replace("http://", f"http://{user}:{password}@")
    result = await run_yaml(BASIC_AUTH.format(url=base), {"password": "inputpassword456"})
    assert result["status"] == "succeeded", result["error"]
    credentials = (
        f"{user}:{password}".replace("<env.FY_BASIC_PW>", "supersecretvalue123")
        .replace("<input.password>", "inputpassword456")
        .replace("%40", "@")
    )
    token = base64.b64encode(credentials.encode()).decode()
    assert {h["authorization"] for h in peer.headers} == {f"Basic {token}"}

    stored = (await runtime.run_result(result["execution_id"]))["blocks"]
    echoed = {k.lower(): v for k, v in stored["call"]["output"]["body"]["headers"].items()}
    assert echoed["authorization"] == "Basic ***"
    assert "Basic ***" in stored["fail"]["error"]["message"]
    assert stored["call"]["inputs"]["url"].startswith("http://[redacted]@127.0.0.1:")
    assert token not in await recorded_text(runtime, result)


def escaped(secret: str, depth: int) -> set[str]:
    """``secret`` JSON-escaped ``depth`` times, each time with or without non-ASCII
    escaped (the string's inside, no quotes around)."""
    forms = {secret}
    for _ in range(depth):
        forms = {json.dumps(f, ensure_ascii=a)[1:-1] for f in forms for a in (False, True)}
    return forms


REFUSED_BODY = """
name: echoed_refused_body
blocks:
  start: {{type: manual}}
  call:
    type: http
    method: POST
    url: {url}
    json: {{api_password: "<env.FY_JSON_SECRET>"}}
edges: [start -> call]
"""


@pytest.mark.parametrize(
    "secret",
    ["he\"llo\\wor'ld{9}", '-----BEGIN KEY-----\nMIIabc"dé/f+\n-----END KEY-----'],
    ids=["quote_and_backslash", "pem_with_newlines"],
)
async def test_a_secret_a_peer_echoes_in_the_json_body_it_refused_is_redacted(
    run_yaml: Any, runtime: Runtime, httpserver: HTTPServer, monkeypatch: Any, secret: str
) -> None:
    """A peer answering 422 with the request body it got, as JSON text: the secret is
    JSON-escaped in the body sent, again in the peer's JSON, and again where the run
    log stores the block's error message. The redactor knew two levels: it stored
    ``\\"api_password\\":\\"he\\\\\\"llo…`` in the block's and the run's error."""
    monkeypatch.setenv("FY_JSON_SECRET", secret)
    httpserver.expect_request("/refuse", method="POST").respond_with_handler(
        lambda request: Response(
            json.dumps({"error": "invalid request", "received": request.get_data(as_text=True)}),
            422,
            content_type="application/json",
        )
    )
    result = await run_yaml(REFUSED_BODY.format(url=httpserver.url_for("/refuse")))
    assert result["status"] == "failed"
    [(request, _)] = httpserver.log
    assert request.get_json() == {"api_password": secret}  # the peer got the secret itself

    stored = await runtime.run_result(result["execution_id"])
    for error in (result["error"], stored["error"], stored["blocks"]["call"]["error"]):
        message = error["message"]
        assert " returned 422: " in message, message
        echoed = json.loads(message.split(" returned 422: ", 1)[1])
        assert json.loads(echoed["received"]) == {"api_password": "***"}
    text = await recorded_text(runtime, result)
    for depth in range(6):
        for form in escaped(secret, depth):
            assert form not in text, f"{form!r} (escaped {depth} times) leaked"
