"""A secret URL's path, echoed back by the peer it was sent to, is redacted (real
embedded PostgreSQL, a peer on 127.0.0.1 answering as Express or httpbin do).

A hook URL (``url: <env.HOOK_URL>``, Slack's ``webhook_url``) carries its token in
the path, and the peer gets the path, not the URL: Express answers an unknown route
``Cannot POST /services/T000/B000/<token>``, an echo service hands the request
target back in its body. Redaction looked for the whole URL only, so the HTTP and
Slack blocks' errors and outputs kept the token in clear (``POST *** returned 404:
Cannot POST /nf/services/T000/B000/XXXXSECRET``).
"""

from __future__ import annotations

from typing import Any

import pytest
from standins.echo import EchoServer
from test_secret_leaks import recorded_text

from engine.redaction import Redactor
from engine.runtime import Runtime

TOKEN = "XXXXSECRET"

#: The hook's path and query as the secret holds them; "encoded": a path httpx
#: percent-encodes when it sends it (the peer echoes that form).
HOOKS = {
    "plain": f"/nf/services/T000/B000/{TOKEN}",
    "query": f"/nf/services/T000/B000/{TOKEN}?wait=true",
    "encoded": f"/nf/hooks/kö ln/{TOKEN}",
}

CALLS = """
name: url_echo_{name}
blocks:
  call: {{type: http, method: POST, url: "<env.HOOK_URL>", json: {{a: 1}}, on_error: continue}}
  alert: {{type: slack, webhook_url: "<env.HOOK_URL>", text: hi, on_error: continue}}
"""


async def run_against(
    run_yaml: Any, peer: EchoServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> dict[str, Any]:
    monkeypatch.setenv("HOOK_URL", peer.url + HOOKS[name])
    result = await run_yaml(CALLS.format(name=name))
    assert result["status"] == "succeeded", result["error"]
    # Both sent to the secret's path: each answer below echoes it.
    assert len(peer.targets) == 2 and all(TOKEN in t for t in peer.targets), peer.targets
    return result


async def assert_no_part_of_the_hook(runtime: Runtime, result: dict[str, Any]) -> None:
    text = await recorded_text(runtime, result)
    assert TOKEN not in text and "/nf/" not in text, text


@pytest.mark.parametrize("name", HOOKS)
async def test_a_secret_url_path_a_404_page_quotes_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with EchoServer(routes=False) as peer:
        result = await run_against(run_yaml, peer, monkeypatch, name)
    blocks = (await runtime.run_result(result["execution_id"]))["blocks"]
    call, alert = blocks["call"]["error"]["message"], blocks["alert"]["error"]["message"]
    assert call.startswith("POST *** returned 404: ") and "<pre>Cannot POST ***</pre>" in call
    assert alert.startswith("Slack webhook returned 404: ") and "Cannot POST ***<" in alert
    await assert_no_part_of_the_hook(runtime, result)


@pytest.mark.parametrize("name", HOOKS)
async def test_a_secret_url_target_a_peer_echoes_in_its_answer_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with EchoServer() as peer:
        result = await run_against(run_yaml, peer, monkeypatch, name)
    blocks = (await runtime.run_result(result["execution_id"]))["blocks"]
    assert blocks["call"]["output"]["body"]["path"] == "***"
    assert blocks["alert"]["output"]["body"]["path"] == "***"
    await assert_no_part_of_the_hook(runtime, result)


@pytest.mark.parametrize(
    ("secret", "text", "redacted"),
    [
        # A path of 8+ characters is specific to the secret, with or without a query.
        ("https://h.example/hooks/abc", "Cannot POST /hooks/abc", "Cannot POST ***"),
        ("https://h.example/api/hooks?k=1", "GET /api/hooks?k=1 and /api/hooks", "GET *** and ***"),
        # Shorter, it is not: every `/v1` or `/events` of the run would be `***`.
        ("https://h.example/v1", "GET /v1/orders", "GET /v1/orders"),
        ("https://h.example/events", "POST /events", "POST /events"),
        ("https://h.example/", "GET /", "GET /"),
        # Not a URL: no parts of its own.
        ("ftp://h.example/hooks/abc", "/hooks/abc", "/hooks/abc"),
    ],
)
def test_which_parts_of_a_secret_url_are_redacted(secret: str, text: str, redacted: str) -> None:
    assert Redactor({secret}).text(text) == redacted
