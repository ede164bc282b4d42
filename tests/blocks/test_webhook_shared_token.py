"""``secret_header``: senders that authenticate with a shared token in a header of their
own rather than a signature — GitLab (``X-Gitlab-Token``), Telegram
(``X-Telegram-Bot-Api-Secret-Token``). The token arrives in the run only as
``[redacted]``, so a workflow could not check it; the block does, before anything
is stored.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from blocks.webhook import accept, flowyard_signature

WORKFLOW = """
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: test/NAME
    secret: <env.VARIABLE>
    secret_header: HEADER
    {extra}
  echo:
    type: function
    code: |
      return {{"body": input.hook.body, "headers": input.hook.headers}}
edges: [hook -> echo]
"""

VARIABLE = "FLOWYARD_TEST_SHARED_TOKEN"
JSON = {"Content-Type": "application/json"}
BODY = b'{"object_kind": "push", "ref": "refs/heads/main"}'


def _workflow(header: str, extra: str = "") -> str:
    return WORKFLOW.format(extra=extra).replace("VARIABLE", VARIABLE).replace("HEADER", header)


async def _runs_of(runtime: Any, workflow: str) -> int:
    sql = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    return int(await runtime.db.pool.fetchval(sql, workflow))


@pytest.mark.parametrize("header", ["X-Gitlab-Token", "X-Telegram-Bot-Api-Secret-Token"])
async def test_only_a_delivery_carrying_the_token_starts_a_run(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, header: str
) -> None:
    token = secrets.token_urlsafe(24)
    monkeypatch.setenv(VARIABLE, token)
    wf = install_workflow(_workflow(header))
    path = f"test/{wf.name}"

    refused = {
        "missing": JSON,
        "wrong": {**JSON, header: token[:-1] + ("a" if token[-1] != "a" else "b")},
        "longer": {**JSON, header: token + "x"},
        "empty": {**JSON, header: ""},
        # A signature is no substitute: the block asks for the token.
        "signed": {**JSON, "X-Flowyard-Signature": flowyard_signature(token, BODY)},
    }
    for why, headers in refused.items():
        answer = await accept(blocks_runtime, path, "POST", headers, {}, BODY)
        assert answer.status == 401, (why, answer.body)
        assert answer.body["error"] == "invalid token"
        assert token not in json.dumps(answer.body)
    assert await _runs_of(blocks_runtime, wf.name) == 0

    # Any case of the name, and the reference's spelling of it, is the same header.
    for name in (header, header.lower(), header.lower().replace("-", "_")):
        answer = await accept(blocks_runtime, path, "POST", {**JSON, name: token}, {}, BODY)
        assert answer.status == 202, (name, answer.body)
        done = await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
        assert done["status"] == "succeeded", done["error"]
        assert done["output"]["body"]["object_kind"] == "push"
        assert done["output"]["headers"][name.lower().replace("-", "_")] == "[redacted]"


async def test_a_header_of_any_name_is_kept_out_of_the_run_and_its_keys(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    """`X-Hook-Auth` is no credential by its name; as the secret_header it is one."""
    token = secrets.token_urlsafe(24)
    monkeypatch.setenv(VARIABLE, token)
    wf = install_workflow(_workflow("X-Hook-Auth", "concurrency_key: <hook.headers.x_hook_auth>"))
    headers = {**JSON, "X-Hook-Auth": token, "Idempotency-Key": secrets.token_hex(8)}
    answer = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
    assert answer.status == 202, answer.body
    done = await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
    assert done["output"]["headers"]["x_hook_auth"] == "[redacted]"
    row = await blocks_runtime.db.pool.fetchrow(
        "SELECT input::text AS input, concurrency_key FROM flowyard_runs"
        " WHERE execution_id = $1::uuid",
        answer.body["execution_id"],
    )
    assert token not in row["input"] and token not in row["concurrency_key"]


async def test_a_telegram_update_is_keyed_by_its_update_id(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    token = "tg_secret-" + secrets.token_hex(8)  # Telegram allows A-Z a-z 0-9 _ -
    monkeypatch.setenv(VARIABLE, token)
    header = "X-Telegram-Bot-Api-Secret-Token"
    wf = install_workflow(_workflow(header, "idempotency_key: <hook.body.update_id>"))
    body = json.dumps({"update_id": 10001, "message": {"text": "hi"}}).encode()
    first = await accept(blocks_runtime, f"test/{wf.name}", "POST", {header: token}, {}, body)
    again = await accept(blocks_runtime, f"test/{wf.name}", "POST", {header: token}, {}, body)
    assert first.status == again.status == 202, (first.body, again.body)
    assert again.body["duplicate"] is True
    assert again.body["execution_id"] == first.body["execution_id"]
    await blocks_runtime.wait(first.body["execution_id"], timeout=30)


@pytest.mark.parametrize("value", [None, "", "   "])
async def test_an_unset_or_blank_token_refuses_every_delivery_as_unconfigured(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, value)
    wf = install_workflow(_workflow("X-Gitlab-Token"))
    for sent in ("", "   ", "anything"):
        headers = {**JSON, "X-Gitlab-Token": sent}
        answer = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
        assert answer.status == 500, answer.body
        assert answer.body == {"error": "the webhook secret is not configured"}
    assert await _runs_of(blocks_runtime, wf.name) == 0


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (
            "{type: webhook, path: a, secret_header: X-Gitlab-Token}",
            "secret_header needs a secret",
        ),
        (
            "{type: webhook, path: a, secret: <env.T>, secret_header: 'X Gitlab: Token'}",
            "'X Gitlab: Token' is not a header name",
        ),
        ("{type: webhook, path: a, secret: <env.T>, secret_header: ''}", "is not a header name"),
        ("{type: webhook, path: a, secret: <env.T>, secret_header: 5}", "secret_header"),
    ],
)
def test_a_secret_header_that_cannot_work_is_a_problem(
    tmp_path: Path, hook: str, message: str
) -> None:
    text = f"name: t\nblocks:\n  hook: {hook}\n"
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    assert "block 'hook': field 'secret_header'" in found[0] and message in found[0], found
