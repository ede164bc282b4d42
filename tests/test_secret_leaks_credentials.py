"""A credential a block is given from the run's input or another block's output is a
secret from the moment its value exists (real embedded PostgreSQL, a stand-in peer
on 127.0.0.1).

A block notes its credential as a secret when it reads it, so the records written
after are redacted; but the value was recorded before, in clear: `api_key:
<input.key>` left the key in the stored input and the trigger's output, and
`Authorization: "Bearer <login.token>"` left the token in the login Function's output
and the run's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from standins.echo import EchoServer
from test_secret_leaks import recorded_text

from engine.runtime import Runtime

TOKEN = "tok_live_9f8e7d6c5b4a"


@pytest.fixture
def peer() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def _workflow(peer: EchoServer, authorization: str, before: str = "") -> str:
    return f"""
name: credentials
blocks:
  start: {{type: manual}}
{before}
  call:
    type: http
    method: POST
    url: {peer.url}/orders
    headers: {{Authorization: "{authorization}", X-Order: "<input.order>"}}
edges: [start -> {"login" if before else "call"}{", login -> call" if before else ""}]
"""


async def test_a_token_from_the_run_input_is_redacted_from_the_start(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    result = await run_yaml(
        _workflow(peer, "Bearer <input.token>"), {"token": TOKEN, "order": "ord-77"}
    )
    assert result["status"] == "succeeded", result["error"]
    text = await recorded_text(runtime, result)
    assert TOKEN not in text
    assert "ord-77" in text  # the rest of the input is not a credential
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"token": "***", "order": "ord-77"}
    assert stored["blocks"]["start"]["output"]["token"] == "***"


async def test_a_token_another_block_made_is_redacted_in_its_output(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    login = f"""  login:
    type: function
    code: |
      return {{"token": "{TOKEN}", "expires_in": 3600}}"""
    result = await run_yaml(_workflow(peer, "Bearer <login.token>", login), {"order": "ord-78"})
    assert result["status"] == "succeeded", result["error"]
    assert TOKEN not in await recorded_text(runtime, result)
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["login"]["output"] == {"token": "***", "expires_in": 3600}
    # The request itself carried the token: only the records lost it.
    assert peer.headers[-1]["authorization"] == f"Bearer {TOKEN}"


async def test_a_connection_url_from_the_input_is_redacted(run_yaml: Any, runtime: Runtime) -> None:
    url = "postgresql://app:pw-Zx81-secret@127.0.0.1:9/shop"
    text = """
name: db_credentials
blocks:
  start: {type: manual}
  q: {type: database, query: "SELECT 1 AS one", connection: "<input.db>", on_error: continue}
edges: [start -> q]
"""
    result = await run_yaml(text, {"db": url})
    assert result["status"] == "succeeded", result["error"]
    recorded = await recorded_text(runtime, result)
    assert url not in recorded and "pw-Zx81-secret" not in recorded


async def test_a_query_key_is_a_credential_by_name_but_a_page_token_is_not(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    """`api_key` in the query is a key; `pageToken` (Google's paging, `next_token`…)
    only points into a list, and redacting it made the run's input unusable."""
    text = f"""
name: paged
blocks:
  start: {{type: manual}}
  call:
    type: http
    url: {peer.url}/items
    query: {{api_key: "<input.key>", pageToken: "<input.page>"}}
edges: [start -> call]
"""
    result = await run_yaml(text, {"key": TOKEN, "page": "CAEQAhoGcGFnZS0y"})
    assert result["status"] == "succeeded", result["error"]
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"key": "***", "page": "CAEQAhoGcGFnZS0y"}


async def test_a_token_a_loop_item_holds_is_redacted_from_the_start(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    """A credential read through a loop's or a parallel's item (`<acct.key>` in a body
    over `items: <input.accounts>`; `<item.value>` over a mapping) is the input's too:
    it was left in clear in the stored input, the trigger's output and the
    container's resolved `items`, since only `<input.…>` itself was traced."""
    keys = ("tok_loop_a1b2c3d4e5", "tok_loop_f6g7h8i9j0", "tok_map_k1l2m3n4o5")
    text = f"""
name: item_credentials
blocks:
  start: {{type: manual}}
  each:
    type: loop
    items: <input.accounts>
    as: acct
    body: [call]
  call:
    type: http
    url: {peer.url}/accounts
    headers: {{Authorization: "Bearer <acct.key>", X-Account: "<acct.name>"}}
  fan:
    type: parallel
    items: <input.tenants>
    body: [hit]
  hit:
    type: http
    url: {peer.url}/tenants
    headers: {{X-Api-Key: "<item.value>"}}
edges: [start -> each, each -> fan]
"""
    accounts = [{"name": "acct-one", "key": keys[0]}, {"name": "acct-two", "key": keys[1]}]
    result = await run_yaml(text, {"accounts": accounts, "tenants": {"acme": keys[2]}})
    assert result["status"] == "succeeded", result["error"]
    sent = [h.get("authorization") or h.get("x-api-key") for h in peer.headers]
    assert sorted(sent) == sorted([f"Bearer {keys[0]}", f"Bearer {keys[1]}", keys[2]])
    recorded = await recorded_text(runtime, result)
    for key in keys:
        assert key not in recorded
    assert "acct-one" in recorded  # the rest of the items is no credential
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"]["accounts"][1] == {"name": "acct-two", "key": "***"}
    assert stored["input"]["tenants"] == {"acme": "***"}


async def test_a_password_in_a_url_from_the_run_input_is_redacted_from_the_start(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    """`url: https://api:<input.password>@host/…`: the password the HTTP block sends
    as Basic auth was left in clear in the stored input and the trigger's output
    (the block's recorded URL showed `[redacted]@` for it)."""
    password = "pw_from_input_7Hq2Zx"
    url = peer.url.replace("://", "://api:<input.password>@")
    text = f"""
name: url_credentials
blocks:
  start: {{type: manual}}
  call: {{type: http, url: "{url}/basic?user=<input.user>"}}
edges: [start -> call]
"""
    result = await run_yaml(text, {"password": password, "user": "u-42"})
    assert result["status"] == "succeeded", result["error"]
    assert peer.headers[-1]["authorization"].startswith("Basic ")  # it was sent
    assert password not in await recorded_text(runtime, result)
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"password": "***", "user": "u-42"}  # the query is no userinfo


async def test_a_key_in_the_urls_own_query_is_a_credential_by_name(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    """`url: …/items?api_key=<input.key>`, written in the url rather than `query:`:
    the key was kept in clear in the stored input; `pageToken` there is no key."""
    text = f"""
name: paged_inline
blocks:
  start: {{type: manual}}
  call:
    type: http
    url: "{peer.url}/items?pageToken=<input.page>&api_key=<input.key>#top"
edges: [start -> call]
"""
    result = await run_yaml(text, {"key": TOKEN, "page": "CAEQAhoGcGFnZS0y"})
    assert result["status"] == "succeeded", result["error"]
    assert TOKEN not in await recorded_text(runtime, result)
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"key": "***", "page": "CAEQAhoGcGFnZS0y"}


async def test_a_password_in_an_agents_base_url_from_the_input_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Agent behind a proxy with Basic auth (`base_url: https://u:<input.pw>@…`):
    the password was kept in clear in the stored input and the trigger's output."""
    password = "proxy_pw_from_input_4Kd9"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-key")
    text = """
name: agent_base_url_credentials
blocks:
  start: {type: manual}
  ask:
    type: agent
    base_url: "http://proxy:<input.pw>@127.0.0.1:9/v1"
    prompt: hello
    on_error: continue
edges: [start -> ask]
"""
    result = await run_yaml(text, {"pw": password})
    assert result["status"] == "succeeded", result["error"]
    assert password not in await recorded_text(runtime, result)
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"pw": "***"}


async def test_a_password_in_a_form_from_the_input_is_a_credential_by_name(
    run_yaml: Any, runtime: Runtime, peer: EchoServer
) -> None:
    """An OAuth token request (`form: {grant_type: password, password: <input.pw>}`):
    the password was kept in clear in the stored input and the block's inputs;
    `username` is no credential."""
    password = "form_pw_from_input_Zr41"
    text = f"""
name: form_credentials
blocks:
  start: {{type: manual}}
  token:
    type: http
    method: POST
    url: {peer.url}/oauth/token
    form: {{grant_type: password, username: "<input.user>", password: "<input.pw>"}}
edges: [start -> token]
"""
    result = await run_yaml(text, {"user": "ops-bot", "pw": password})
    assert result["status"] == "succeeded", result["error"]
    assert password not in await recorded_text(runtime, result)
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"user": "ops-bot", "pw": "***"}
