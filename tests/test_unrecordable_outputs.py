"""What a block made that the run log cannot store as it is: a lone UTF-16 surrogate
(a Function's ``chr(0xD800)``, a peer's ``"\\ud800"``) is recorded as U+FFFD, like a
NUL; and a run whose record the database refuses all the same ends `failed`, saying
what was not recorded, instead of staying `running` for good.

A black-box round found such a run left `queued` or `running`: every write of its
log failed on the same text (asyncpg: "surrogates not allowed"), `flowyard run` exited
1 with a traceback, the run could not be cancelled, and every later start resumed it
and sent its HTTP request again."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from db_helpers import new_database
from held_runs import HOLD, until
from processes import cli
from pytest_httpserver import HTTPServer

import engine.recorder
from engine.model import Workflow
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: The report's workflow, as JSON: YAML cannot carry a lone surrogate.
SURROGATE_FUNCTION = {
    "version": 1,
    "name": "surr",
    "blocks": {
        "start": {"type": "manual"},
        "f": {"type": "function", "code": 'return {"s": "\\ud800"}'},
    },
    "edges": ["start -> f"],
}

#: A peer answering valid JSON text whose string holds a lone surrogate escape.
PEER_BODY = '{"s": "abc\\ud800def"}'


async def _stored(url: str, name: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT execution_id, status, output FROM flowyard_runs WHERE workflow = $1", name
        )
    finally:
        await conn.close()


async def test_flowyard_run_records_a_lone_surrogate_and_a_later_start_resumes_nothing(
    tmp_path: Path, database_url: str, httpserver: HTTPServer
) -> None:
    asked: list[str] = []

    def peer(request: Any) -> Any:
        from werkzeug import Response

        asked.append(request.headers.get("Idempotency-Key", ""))
        return Response(PEER_BODY, content_type="application/json")

    httpserver.expect_request("/charge", method="POST").respond_with_handler(peer)
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "surr.json").write_text(json.dumps(SURROGATE_FUNCTION))
    (folder / "peer.yaml").write_text(
        "name: peer\nblocks:\n  start: {type: manual}\n"
        f"  call: {{type: http, method: POST, url: '{httpserver.url_for('/charge')}', json: {{}}}}\n"
        "edges: [start -> call]\n"
    )
    (folder / "noop.yaml").write_text("name: noop\nblocks:\n  start: {type: manual}\n")
    url = await new_database(database_url, "surrogates")
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    ran = cli(["run", "surr", "--json"], tmp_path, env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["output"] == {"s": "\ufffd"}  # as the record has it

    called = cli(["run", "peer", "--json"], tmp_path, env)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["output"]["body"] == {"s": "abc\ufffddef"}
    assert len(asked) == 1

    # A later `flowyard run` takes over the unfinished runs of dead processes: none.
    assert cli(["run", "noop"], tmp_path, env).returncode == 0
    assert len(asked) == 1
    for name, output in (("surr", {"s": "\ufffd"}), ("peer", None)):
        (row,) = await _stored(url, name)
        assert row["status"] == "succeeded"
        if output is not None:
            assert json.loads(row["output"]) == output


async def test_the_run_saw_the_surrogate_its_record_and_caller_get_u_fffd(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    wf = write_workflow(
        """
        name: surrogate_paths
        blocks:
          start: {type: manual}
          f: {type: function, isolation: inline, code: "return {'s': 'a' + chr(0xD800), chr(0xDC00): 1}"}
          seen: {type: function, isolation: inline, code: "return {'code': ord(<f.s>[1])}"}
          odd:
            type: function
            isolation: inline
            on_error: continue
            code: "raise ValueError('bad ' + chr(0xD83D))"
        edges: [start -> f, f -> seen, seen -> odd]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    # The blocks after it got the value as it was (as with a NUL).
    assert result["blocks"]["seen"]["output"] == {"code": 0xD800}
    # The caller gets what the record has: UTF-8 cannot carry a lone surrogate.
    assert result["blocks"]["f"]["output"] == {"s": "a\ufffd", "\ufffd": 1}
    assert result["output"]["error"]["message"].startswith("bad \ufffd")
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "succeeded"
    assert stored["blocks"]["f"]["output"] == {"s": "a\ufffd", "\ufffd": 1}
    assert stored["blocks"]["odd"]["error"]["message"].startswith("bad \ufffd")
    assert stored["output"] == result["output"]


# -- what the database refuses all the same ----------------------------------------------
#
# The text the recorder writes is made storable (above); to have the database refuse a
# record anyway, as it would a value nobody foresaw, these tests let a lone surrogate
# through, which no UTF-8 text can carry. (A NUL no longer does: the run log's json
# columns keep its escape as written; jsonb refused it.)


@pytest.fixture
def surrogate_reaches_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.recorder, "storable", lambda text: text)


async def test_a_record_the_database_refuses_ends_the_run_failed_before_its_next_effect(
    runtime: Runtime,
    write_workflow: Callable[..., Workflow],
    httpserver: HTTPServer,
    surrogate_reaches_the_database: None,
) -> None:
    httpserver.expect_request("/after").respond_with_json({})
    wf = write_workflow(
        f"""
        name: refused_{uuid.uuid4().hex[:8]}
        blocks:
          start: {{type: manual}}
          f: {{type: function, isolation: inline, code: "return {{'t': 'a' + chr(0xD800) + 'b', 'n': 1}}"}}
          call: {{type: http, method: POST, url: "{httpserver.url_for("/after")}", json: {{}}}}
        edges: [start -> f, f -> call]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "RunLogRefused" and error["block"] == "f"
    assert error["message"].startswith("the run log could not record block_succeeded of f:")
    assert "surrogates not allowed" in error["message"]  # the encoder's words
    assert httpserver.log == []  # the effect after it did not begin
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "failed" and stored["error"] == error
    f = stored["blocks"]["f"]
    assert f["status"] == "succeeded" and f["attempts"] == 1
    assert f["output"]["omitted"].startswith("not recorded: the database refused it")
    assert stored["blocks"]["call"]["status"] == "pending"  # it never began


async def test_a_run_whose_record_was_refused_can_be_cancelled(
    runtime: Runtime,
    write_workflow: Callable[..., Workflow],
    tmp_path: Path,
    surrogate_reaches_the_database: None,
) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf = write_workflow(
        f"""
        name: refused_held_{uuid.uuid4().hex[:8]}
        blocks:
          start: {{type: manual}}
          f: {{type: function, isolation: inline, code: "return {{'t': chr(0xD800)}}"}}"""
        + HOLD.format(log=str(log), gate=str(gate)).replace("\n", "\n        ")
        + """
        edges: [start -> f, f -> hold]
        """
    )
    eid = (await runtime.submit(wf, {})).execution_id
    try:
        assert await until(log.exists)
        assert await runtime.request_cancel(eid) == "cancelling"
        result = await asyncio.wait_for(runtime.wait(eid), 30)
    finally:
        gate.write_text("open")
    assert result["status"] == "cancelled"
    stored = await runtime.run_result(eid)
    assert stored["status"] == "cancelled"
    assert "omitted" in stored["blocks"]["f"]["output"]


#: An integer JSON can hold but Python will not write as text (over 4300 digits).
TOO_LONG_TO_WRITE = """
name: too_long
blocks:
  start: {type: manual}
  c: {type: condition, if: "<start.n> ** <start.e>"%s}
  after: {type: function, isolation: inline, code: "return 1"}
edges: [start -> c, c -> after]
"""
WRITE_ERROR = {
    "type": "ValueError",
    "message": "field value of its output is an integer of more than 4,300 digits, which "
    "Python will not write as text, so it cannot be recorded",
    "block": "c",
}


async def test_an_output_too_long_to_record_fails_its_block_not_the_run_around_it(
    run_yaml: Callable[..., Any], runtime: Runtime
) -> None:
    # Was: the run failed with the encoder's ValueError and `"block": null`; its record
    # showed `c` running (1 attempt) and the waited result `c` pending.
    result = await run_yaml(TOO_LONG_TO_WRITE % ", retries: 2", {"n": 10, "e": 5000})
    assert result["status"] == "failed"
    assert result["error"] == WRITE_ERROR
    assert result["blocks"]["c"]["status"] == "failed"
    assert result["blocks"]["c"]["attempts"] == 1  # the same value again: not retried
    stored = await runtime.run_result(result["execution_id"])
    assert stored["error"] == WRITE_ERROR
    assert {k: v["status"] for k, v in stored["blocks"].items()} == {
        "start": "succeeded", "c": "failed", "after": "pending",
    }  # fmt: skip
    assert stored["blocks"]["c"]["error"] == WRITE_ERROR


async def test_an_output_too_long_to_record_is_a_block_error_on_error_can_handle(
    run_yaml: Callable[..., Any], runtime: Runtime
) -> None:
    result = await run_yaml(TOO_LONG_TO_WRITE % ", on_error: continue", {"n": 10, "e": 5000})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["c"]["output"] == {"error": WRITE_ERROR}
    assert result["blocks"]["after"]["status"] == "succeeded"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["c"]["status"] == "failed"
    assert stored["blocks"]["c"]["output"] == {"error": WRITE_ERROR}
