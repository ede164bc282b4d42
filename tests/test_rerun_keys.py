"""A re-run from the failed block sends the earlier run's idempotency keys.

A black-box round found a timed-out payment POST sent again by a re-run with a new
`Idempotency-Key`: the first request may have reached the peer (a timeout says
nothing about that), and the new key made the peer perform it twice."""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engine.runtime import Runtime


async def test_a_rerun_of_a_failed_post_sends_the_first_runs_key(
    run_yaml, runtime: Runtime, httpserver: HTTPServer
) -> None:
    answers = [500, 500, 200]
    keys: list[str] = []

    def peer(request: Request) -> Response:
        keys.append(request.headers["Idempotency-Key"])
        return Response("{}", status=answers[len(keys) - 1], content_type="application/json")

    httpserver.expect_request("/capture", method="POST").respond_with_handler(peer)
    wf = f"""
    name: capture_once
    blocks:
      start: {{type: manual}}
      capture: {{type: http, method: POST, url: "{httpserver.url_for("/capture")}", json: {{n: 1}}}}
    edges: [start -> capture]
    """
    first = await run_yaml(wf, {})
    assert first["status"] == "failed" and first["error"]["block"] == "capture"
    second = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert second["status"] == "failed"
    # A re-run of the re-run: still the first run's key.
    third = await runtime.wait((await runtime.rerun(second["execution_id"])).execution_id)
    assert third["status"] == "succeeded", third["error"]
    assert keys == [f"{first['execution_id']}:capture"] * 3


async def test_a_rerun_runs_again_what_came_after_the_failed_block(
    run_yaml, runtime: Runtime, httpserver: HTTPServer
) -> None:
    """It carried over every block that had succeeded, downstream of the failed one
    too: a call that now answered 200 was followed by the first run's "not ok"."""
    answers = [500, 200]

    def peer(request: Request) -> Response:
        return Response("{}", status=answers.pop(0), content_type="application/json")

    httpserver.expect_request("/call", method="POST").respond_with_handler(peer)
    wf = f"""
    name: stale_after_failure
    blocks:
      start: {{type: manual}}
      before: {{type: function, code: "return {{'n': 1}}"}}
      call: {{type: http, method: POST, url: "{httpserver.url_for("/call")}", on_error: continue}}
      note: {{type: function, code: "return {{'call_ok': <call.ok?>}}"}}
      check:
        type: function
        code: |
          if not <note.call_ok>:
              raise ValueError("the call failed")
          return {{"ok": True}}
    edges: [start -> before, before -> call, call -> note, call.error -> note, note -> check]
    """
    first = await run_yaml(wf, {})
    assert first["status"] == "failed" and first["error"]["block"] == "check"
    again = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert again["status"] == "succeeded", again["error"]
    stored = await runtime.run_result(again["execution_id"])
    assert stored["blocks"]["before"]["reused_from"] == first["execution_id"]
    assert stored["blocks"]["note"]["reused_from"] is None
    assert stored["blocks"]["note"]["output"] == {"call_ok": True}


async def test_a_rerun_is_told_which_run_it_repeats(run_yaml, runtime: Runtime) -> None:
    """<workflow.rerun_of>: null for a first run, the first run's id for a re-run of
    it and for a re-run of that re-run."""
    wf = """
    name: rerun_lineage
    blocks:
      start: {type: manual}
      who: {type: function, code: "return {'of': <workflow.rerun_of>, 'me': <workflow.execution_id>}"}
    edges: [start -> who]
    output: <who>
    """
    first = await run_yaml(wf, {})
    assert first["output"] == {"of": None, "me": first["execution_id"]}
    again = await runtime.wait(
        (await runtime.rerun(first["execution_id"], from_failed=False)).execution_id
    )
    assert again["output"] == {"of": first["execution_id"], "me": again["execution_id"]}
    third = await runtime.wait(
        (await runtime.rerun(again["execution_id"], from_failed=False)).execution_id
    )
    assert third["output"] == {"of": first["execution_id"], "me": third["execution_id"]}


async def test_a_rerun_asks_again_whether_it_is_a_rerun(
    run_yaml, runtime: Runtime, httpserver: HTTPServer
) -> None:
    """A condition reading <workflow.rerun_of> was carried over with the first run's
    "no", so a workflow could not read again, in a re-run, what the run it repeats
    had read (Order Processing sent notifications taken since). It is evaluated
    again, and the blocks after it run again."""
    answers = [500, 200]
    sent: list[object] = []

    def peer(request: Request) -> Response:
        sent.append(request.get_json())
        return Response("{}", status=answers.pop(0), content_type="application/json")

    httpserver.expect_request("/send", method="POST").respond_with_handler(peer)
    wf = f"""
    name: asks_again
    blocks:
      start: {{type: manual}}
      read: {{type: function, code: "return {{'list': 'as read first'}}"}}
      is_rerun: {{type: condition, if: "<workflow.rerun_of> is not None"}}
      reread: {{type: function, code: "return {{'list': 'as read again'}}"}}
      pick: {{type: function, code: "return {{'list': <reread.list?> or <read.list>}}"}}
      send: {{type: http, method: POST, url: "{httpserver.url_for("/send")}", json: <pick>}}
    edges: [start -> read, read -> is_rerun, is_rerun.true -> reread, is_rerun.false -> pick,
            reread -> pick, pick -> send]
    """
    first = await run_yaml(wf, {})
    assert first["status"] == "failed" and first["error"]["block"] == "send"
    again = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert again["status"] == "succeeded", again["error"]
    assert sent == [{"list": "as read first"}, {"list": "as read again"}]
    stored = await runtime.run_result(again["execution_id"])
    assert stored["blocks"]["read"]["reused_from"] == first["execution_id"]
    assert stored["blocks"]["is_rerun"]["reused_from"] is None
    assert stored["blocks"]["is_rerun"]["output"]["branch"] == "true"


async def test_a_rerun_that_carries_nothing_over_still_sends_the_first_runs_key(
    run_yaml, runtime: Runtime, httpserver: HTTPServer
) -> None:
    """The earlier run's key travelled on the records a re-run carries over, so a re-run
    of a workflow whose first block failed (no trigger block: `flowyard run` with an
    input, a capture as its first step) carried none, and sent a key of its own: the
    capture the first, timed-out request had made was made again."""
    answers = [500, 200, 200]
    keys: list[str] = []

    def peer(request: Request) -> Response:
        keys.append(request.headers["Idempotency-Key"])
        return Response("{}", status=answers[len(keys) - 1], content_type="application/json")

    httpserver.expect_request("/first_step", method="POST").respond_with_handler(peer)
    wf = f"""
    name: capture_first
    blocks:
      capture: {{type: http, method: POST, url: "{httpserver.url_for("/first_step")}",
                json: {{charge: "<input.charge>"}}}}
    """
    first = await run_yaml(wf, {"charge": "ch_1"})
    assert first["status"] == "failed" and first["error"]["block"] == "capture"
    again = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert again["status"] == "succeeded", again["error"]
    assert keys == [f"{first['execution_id']}:capture"] * 2
    # From scratch, a re-run is a new run, with keys of its own.
    fresh = await runtime.wait(
        (await runtime.rerun(again["execution_id"], from_failed=False)).execution_id
    )
    assert fresh["status"] == "succeeded", fresh["error"]
    assert keys[-1] == f"{fresh['execution_id']}:capture"
