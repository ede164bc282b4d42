"""A failure handled with `on_error: continue` (SPEC: "the output is `{error: …}` and
the `error` port, if wired, is taken") is stored as the run went on with it: the
stored run (`GET /api/runs/<id>`, `flowyard runs show`) shows its output and port,
and a resumed run reuses it rather than run the block (and its handler) again.

Real embedded PostgreSQL and a real HTTP server on 127.0.0.1; no mocks.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from held_runs import until

from engine.model import Workflow
from engine.recovery import restorable
from engine.runtime import Runtime

HANDLED = """
name: handled_{kind}
blocks:
  start: {{type: manual}}
  bad: {{on_error: continue, {bad}}}
  handler: {{type: function, code: "return {{'handled': True}}"}}
edges: [start -> bad, bad.error -> handler]
"""


@pytest.mark.parametrize(
    "kind, bad",
    [
        ("raise", "type: function, code: \"raise ValueError('nope')\""),
        ("missing", 'type: function, code: "return <start.absent>"'),
        ("http", "type: http, url: '{url}'"),
    ],
    ids=["raised", "missing-reference", "http-500"],
)
async def test_the_stored_run_keeps_the_output_and_port_of_a_handled_failure(
    runtime: Runtime, write_workflow: Callable[..., Workflow], httpserver, kind: str, bad: str
) -> None:
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    bad = bad.format(url=httpserver.url_for("/down"))
    result = await runtime.execute(write_workflow(HANDLED.format(kind=kind, bad=bad)), {})
    assert result["status"] == "succeeded", result["error"]
    live = result["blocks"]["bad"]
    assert live["status"] == "failed" and live["output"] == {"error": live["error"]}
    assert result["blocks"]["handler"]["status"] == "succeeded"  # the error port was taken

    stored = (await runtime.run_result(result["execution_id"]))["blocks"]["bad"]
    assert stored["status"] == "failed"
    assert stored["output"] == live["output"]
    assert stored["error"] == live["error"]
    assert stored["port"] == "error"


#: `bad` fails (handled), `handler` takes its error port, then `hold` waits for a gate:
#: the process stops there and another resumes the run.
RESUMED = """
name: handled_resumed
blocks:
  start: {{type: manual}}
  bad:
    type: function
    on_error: continue
    code: |
      with open({log!r}, "a") as f:
          f.write("bad\\n")
      raise ValueError("nope")
  handler:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write("handler\\n")
      return {{"seen": <bad.error.message>}}
  hold:
    type: function
    timeout: 120
    code: |
      import os, time
      with open({log!r}, "a") as f:
          f.write("hold\\n")
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{"after": <handler.seen>}}
edges: [start -> bad, bad.error -> handler, handler -> hold]
"""


async def test_a_resumed_run_does_not_run_a_handled_failure_again(
    runtime: Runtime, workspace: Path, database_url: str, tmp_path: Path
) -> None:
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    wf_file = tmp_path / "handled_resumed.yaml"
    wf_file.write_text(RESUMED.format(log=str(log), gate=str(gate)))
    first = Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False
    )
    await first.start()
    try:
        sub = await first.submit(first.load_workflow(wf_file), {})
        eid = sub.execution_id
        assert await until(lambda: log.exists() and "hold" in log.read_text().split())
    finally:
        await first.close()  # a restart mid-run: the run stays `running`, to be resumed
    # The first runtime's owner is this live process; after a real restart it would be
    # a dead process of this host, which this stands for.
    await runtime.db.log_pool.execute(
        "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
        eid,
        f"{socket.gethostname()}:1:1",
    )
    gate.touch()
    assert await runtime.resume_unfinished(eid) == [eid]
    result = await runtime.wait(eid, timeout=60)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"after": "nope (line 3)"}
    lines = log.read_text().split()
    assert lines.count("bad") == 1 and lines.count("handler") == 1  # not run again
    assert lines.count("hold") == 2  # interrupted: run again
    for blocks in (result["blocks"], (await runtime.run_result(eid))["blocks"]):
        assert blocks["bad"]["status"] == "failed"
        assert blocks["bad"]["output"] == {"error": blocks["bad"]["error"]}


def test_a_resume_reuses_a_handled_failure_a_rerun_does_not(write_workflow) -> None:
    """A re-run "from the failed block" runs failed blocks again, handled or not; a
    record whose output lost a secret (`redacted`), or one from before handled
    failures kept their output and port, is run again by a resume too."""
    plan = write_workflow(HANDLED.format(kind="plan", bad="type: function, code: 'x'")).plan
    error = {"type": "ValueError", "message": "nope", "block": "bad"}
    handled = {"error": error, "handled": True, "output": {"error": error}, "port": "error"}
    events = [
        {"type": "block_succeeded", "block": "start", "data": {"output": {}}},
        {"type": "block_failed", "block": "bad", "data": handled},
    ]
    assert sorted(restorable(plan, events, handled_failures=True)) == ["bad", "start"]
    assert restorable(plan, events, handled_failures=True)["bad"]["port"] == "error"
    assert sorted(restorable(plan, events)) == ["start"]
    for data in ({**handled, "redacted": True}, {"error": error, "handled": True}):
        events[1]["data"] = data
        assert sorted(restorable(plan, events, handled_failures=True)) == ["start"]
