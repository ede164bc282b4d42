"""A completed block whose record was stored redacted (its output held an ``<env.…>``
secret) cannot be restored. A resume, or a re-run from the failed block, runs it
again only when repeating it applies nothing twice (a Function, an HTTP request
with its Idempotency-Key); a Database INSERT, a Slack post, an email are not sent
again: the run fails with ``NotResumable`` naming the block.

Real embedded PostgreSQL, real processes (`flowyard run` killed with -9), a real
HTTP peer on 127.0.0.1; no mocks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from db_helpers import count_rows
from held_runs import HOLD, until
from standins.recording import RecordingServer, Scripted

from engine.recovery import not_resumable, rerun_reusable, restorable
from engine.registry import BlockHandler, block_types, register
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk_live_resume_4242"

#: `ins` inserts a row and returns it: its `note` holds the secret, so its record is
#: stored redacted. `hold` then waits for a gate, while the process is stopped.
INSERTED = (
    """
name: {name}
blocks:
  start: {{type: manual}}
  ins:
    type: database
    query: >-
      INSERT INTO {table}(k, note) VALUES (<input.k>, 'key=' || <env.FLOWYARD_TEST_STRIPE_KEY>)
      RETURNING id, note"""
    + HOLD
    + """
edges: [start -> ins, ins -> hold]
"""
)


async def _make_table(runtime: Runtime, table: str) -> None:
    await runtime.db.pool.execute(
        f"CREATE TABLE {table} (id bigserial PRIMARY KEY, k text, note text)"
    )


async def _stored(runtime: Runtime, eid: str, block: str, type_: str = "block_succeeded") -> bool:
    events = await runtime.run_events(eid)
    return any(e["type"] == type_ and e["block"] == block for e in events)


async def test_an_insert_whose_output_held_a_secret_is_not_applied_again_on_resume(
    runtime: Runtime, database_url: str, table: str, tmp_path: Path, monkeypatch
) -> None:
    """The black-box report: `flowyard serve` killed with -9 while the run waited
    after the INSERT; the restart inserted the row again (two rows for one run)."""
    monkeypatch.setenv("FLOWYARD_TEST_STRIPE_KEY", SECRET)
    await _make_table(runtime, table)
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    name = f"sec_{uuid.uuid4().hex[:8]}"
    wf = tmp_path / "sec.yaml"
    wf.write_text(INSERTED.format(name=name, table=table, log=str(log), gate=str(gate)))
    env = {**os.environ, "DATABASE_URL": database_url}
    cmd = [sys.executable, "-m", "ui.cli", "run", str(wf), "--input", '{"k": "a"}']
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        find = "SELECT execution_id::text FROM flowyard_runs WHERE workflow = $1"
        assert await until(lambda: runtime.db.log_pool.fetchval(find, name))
        eid = await runtime.db.log_pool.fetchval(find, name)
        # `ins` completed and its record is in the log; the run waits in `hold`.
        assert await until(lambda: _stored(runtime, eid, "ins"))
        assert await until(lambda: log.exists() and "hold" in log.read_text().split())
        # ... and its start is in the log too (flushed within FLUSH_INTERVAL_S; on a
        # busy machine the kill could come first, leaving `hold` pending, not running).
        assert await until(lambda: _stored(runtime, eid, "hold", "block_started"))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        gate.touch()  # the killed process's function worker stops waiting
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert await count_rows(runtime, table) == 1

    assert await runtime.resume_unfinished(eid) == [eid]
    result = await runtime.wait(eid, timeout=60)

    assert await count_rows(runtime, table) == 1  # not inserted twice
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "NotResumable" and error["block"] == "ins"
    assert "redacted" in error["message"] and "twice" in error["message"]
    assert SECRET not in str(result)
    assert log.read_text().split().count("hold") == 1  # nothing after it ran either
    stored = await runtime.run_result(eid)
    assert stored["status"] == "failed" and stored["error"] == error
    assert stored["blocks"]["ins"]["status"] == "failed"
    assert stored["blocks"]["ins"]["error"] == error
    # `hold`, running when the process died, is not left `running` in a run that ended.
    for shown in (stored, result):
        assert shown["blocks"]["hold"]["status"] == "failed", shown["blocks"]["hold"]
        assert shown["blocks"]["hold"]["error"]["type"] == "Cancelled"
    events = await runtime.run_events(eid)
    starts = [i for i, e in enumerate(events) if e["type"] == "run_started"]
    assert len(starts) == 2
    resumed = events[starts[1] :]
    assert [(e["type"], e["block"]) for e in resumed if e["block"] == "ins"] == [
        ("block_failed", "ins")
    ]


#: `mk` builds the peer's URL from a secret (its output is stored as `***/echo`); the
#: peer echoes the secret token, so `call`'s output is stored redacted too.
REPEATABLE = (
    """
name: repeatable_{suffix}
blocks:
  start: {{type: manual}}
  mk:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write("mk\\n")
      return {{"url": <env.FLOWYARD_TEST_PEER> + "/echo"}}
  call:
    type: http
    method: POST
    url: <mk.url>
    json: {{k: 1}}"""
    + HOLD
    + """
edges: [start -> mk, mk -> call, call -> hold]
"""
)


async def _stop_mid_run(runtime: Runtime, wf_file: Path, log: Path) -> str:
    """Submit the workflow in a runtime of its own, and stop that runtime (a restart)
    once the run waits in `hold`."""
    first = Runtime(runtime.workflows_dir, runtime.database_url, runtime.workspace,
                    function_workers=1, resume=False)  # fmt: skip
    await first.start()
    try:
        eid = (await first.submit(first.load_workflow(wf_file), {})).execution_id
        assert await until(lambda: log.exists() and "hold" in log.read_text().split())
    finally:
        await first.close()  # the run stays `running`, to be resumed
    # Its owner is this live process; after a real restart it would be a dead process
    # of this host, which this stands for.
    await runtime.db.log_pool.execute(
        "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
        eid,
        f"{socket.gethostname()}:1:1",
    )
    return eid


async def test_a_function_and_an_http_request_with_redacted_outputs_run_again(
    runtime: Runtime, tmp_path: Path, monkeypatch
) -> None:
    """Repeating them applies nothing twice: the Function has no effect, and the
    HTTP request carries the same Idempotency-Key, which the peer dedupes by."""
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    with RecordingServer() as peer:
        monkeypatch.setenv("FLOWYARD_TEST_PEER", peer.url)
        peer.respond("/echo", Scripted(body={"seen": peer.url}))  # the secret, echoed
        wf = tmp_path / "repeatable.yaml"
        suffix = uuid.uuid4().hex[:8]
        wf.write_text(REPEATABLE.format(suffix=suffix, log=str(log), gate=str(gate)))
        eid = await _stop_mid_run(runtime, wf, log)
        events = await runtime.run_events(eid)
        done = {e["block"]: e["data"] for e in events if e["type"] == "block_succeeded"}
        assert done["mk"].get("redacted") and done["call"].get("redacted")
        gate.touch()
        assert await runtime.resume_unfinished(eid) == [eid]
        result = await runtime.wait(eid, timeout=60)
        assert result["status"] == "succeeded", result["error"]
        sent = peer.requests_to("/echo")
    assert log.read_text().split().count("mk") == 2
    assert len(sent) == 2
    assert {r.headers["idempotency-key"] for r in sent} == {f"{eid}:call"}


#: `ins` inserts (its output holds the secret), then `gate` fails while its gate is closed.
FAILS_AFTER_INSERT = """
name: rerun_insert_{suffix}
blocks:
  start: {{type: manual}}
  ins:
    type: database
    query: >-
      INSERT INTO {table}(k, note) VALUES (<input.k>, 'key=' || <env.FLOWYARD_TEST_STRIPE_KEY>)
      RETURNING id, note
  gate:
    type: function
    code: |
      import os
      if not os.path.exists({gate!r}):
          raise RuntimeError("gate closed")
      return {{"ok": True}}
edges: [start -> ins, ins -> gate]
"""


async def test_a_rerun_from_the_failed_block_does_not_insert_again(
    runtime: Runtime, write_workflow, table: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_STRIPE_KEY", SECRET)
    await _make_table(runtime, table)
    gate = tmp_path / "gate"
    suffix = uuid.uuid4().hex[:8]
    wf = write_workflow(FAILS_AFTER_INSERT.format(suffix=suffix, table=table, gate=str(gate)))
    first = await runtime.execute(wf, {"k": "a"})
    assert first["status"] == "failed" and first["error"]["block"] == "gate"
    assert await count_rows(runtime, table) == 1
    gate.touch()

    sub = await runtime.rerun(first["execution_id"], from_failed=True)
    again = await runtime.wait(sub.execution_id, timeout=60)

    assert await count_rows(runtime, table) == 1
    assert again["status"] == "failed"
    assert again["error"]["type"] == "NotResumable" and again["error"]["block"] == "ins"
    assert first["execution_id"] in again["error"]["message"]
    assert again["blocks"]["gate"]["status"] == "pending"  # nothing ran
    stored = await runtime.run_result(sub.execution_id)
    assert stored["error"] == again["error"]
    assert stored["blocks"]["ins"]["status"] == "failed"


#: Group `g`: `a` inserts (its output holds the secret) and `b` reads. {order} puts
#: `hold` after the group (it committed) or between its members (it had not).
GROUPED = """
name: grouped_{suffix}
blocks:
  start: {{type: manual}}
  a:
    type: database
    transaction: g
    query: >-
      INSERT INTO {table}(k, note) VALUES ('a', 'key=' || <env.FLOWYARD_TEST_STRIPE_KEY>)
      RETURNING id, note
  b: {{type: database, transaction: g, query: "SELECT 1 AS one"}}
{hold}
edges: {order}
"""


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "rolled-back"])
async def test_a_transaction_group_member_with_a_redacted_output(
    runtime: Runtime, table: str, tmp_path: Path, monkeypatch, committed: bool
) -> None:
    """After its group committed, the member's INSERT stands: it is not run again.
    Before (the group rolled back with the stopped process), running it again is
    the only way the row is ever written."""
    monkeypatch.setenv("FLOWYARD_TEST_STRIPE_KEY", SECRET)
    await _make_table(runtime, table)
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    order = "[start -> a, a -> b, b -> hold]" if committed else "[start -> a, a -> hold, hold -> b]"
    wf = tmp_path / "grouped.yaml"
    hold = HOLD.format(log=str(log), gate=str(gate))
    suffix = uuid.uuid4().hex[:8]
    wf.write_text(GROUPED.format(suffix=suffix, table=table, hold=hold, order=order))
    eid = await _stop_mid_run(runtime, wf, log)
    assert await count_rows(runtime, table) == (1 if committed else 0)
    gate.touch()

    assert await runtime.resume_unfinished(eid) == [eid]
    result = await runtime.wait(eid, timeout=60)

    assert await count_rows(runtime, table) == 1
    if committed:
        assert result["status"] == "failed"
        assert result["error"]["type"] == "NotResumable" and result["error"]["block"] == "a"
    else:
        assert result["status"] == "succeeded", result["error"]


BODY = """
name: body
blocks:
  start: {type: manual}
  each: {type: loop, items: [1], body: [ins]}
  ins: {type: database, query: "SELECT 1 AS one"}
edges: [start -> each]
"""


def test_a_redacted_record_inside_a_container_that_is_kept_does_not_stop_a_resume(
    write_workflow,
) -> None:
    """A container whose record is kept does not run its body again: a body block's
    redacted record is never needed."""
    plan = write_workflow(BODY).plan
    redacted = {"output": {"rows": "***"}, "redacted": True, "port": "default"}
    events = [
        {"type": "block_succeeded", "block": "start", "data": {"output": {}}},
        {"type": "block_succeeded", "block": "each[0].ins", "data": redacted},
        {"type": "block_succeeded", "block": "each", "data": {"output": {"results": []}}},
    ]
    kept = restorable(plan, events, handled_failures=True)
    assert "each" in kept and not not_resumable(kept)
    # the container runs again (its record lost a secret): the body block is needed
    events[2]["data"] = {"output": {"results": "***"}, "redacted": True}
    [(path, error)] = not_resumable(restorable(plan, events, handled_failures=True))
    assert path == "each[0].ins" and error["type"] == "NotResumable"


def _ev(type_: str, block: str, **data) -> dict:
    return {"type": type_, "block": block, "data": data}


STALE = """
name: stale
blocks:
  start: {type: manual}
  mk: {type: function, code: "return 1"}
  ins: {type: database, query: "SELECT 1 AS one"}
  gate: {type: function, code: "return 2"}
edges: [start -> mk, mk -> ins, ins -> gate]
"""


def test_a_rerun_keeps_what_it_cannot_repeat_after_a_block_that_runs_again(
    write_workflow,
) -> None:
    """`mk` runs again (its record lost a secret), so what follows it would too:
    `ins`, whose record cannot be reused either, would be inserted a second time."""
    plan = write_workflow(STALE).plan
    lost = {"output": {"rows": "***"}, "redacted": True, "port": "default"}
    events = [
        _ev("block_started", "start"),
        _ev("block_succeeded", "start", output={}),
        _ev("block_started", "mk"),
        _ev("block_succeeded", "mk", **lost),
        _ev("block_started", "ins"),
        _ev("block_succeeded", "ins", **lost),
        _ev("block_started", "gate"),
        _ev("block_failed", "gate", error={"type": "E", "message": "x", "block": "gate"}),
    ]
    reuse = rerun_reusable(plan, events)
    assert sorted(reuse) == ["ins", "start"]
    assert [path for path, _ in not_resumable(reuse)] == ["ins"]


AFTER_GROUP = """
name: after_group
blocks:
  start: {type: manual}
  a: {type: database, transaction: g, query: "SELECT 1 AS one"}
  ins: {type: database, query: "SELECT 1 AS one"}
  b: {type: database, transaction: g, query: "SELECT 1 AS one"}
edges: [start -> a, a -> ins, ins -> b]
"""


def test_after_a_group_that_rolled_back_only_its_members_run_again(write_workflow) -> None:
    """`a`'s write rolled back: it runs again, redacted or not. `ins`, after it but
    outside the group, committed on its own: a record it lost is not run again."""
    plan = write_workflow(AFTER_GROUP).plan
    lost = {"output": {"rows": "***"}, "redacted": True, "port": "default"}
    events = [
        _ev("block_succeeded", "start", output={}),
        _ev("block_succeeded", "a", **lost),
        _ev("block_succeeded", "ins", **lost),
    ]
    kept = restorable(plan, events, handled_failures=True)
    assert sorted(kept) == ["ins", "start"]
    assert [path for path, _ in not_resumable(kept)] == ["ins"]
    events[2] = _ev("block_succeeded", "ins", output={"rows": []})
    assert sorted(restorable(plan, events, handled_failures=True)) == ["start"]


def test_which_blocks_a_resume_runs_again_is_said_by_each_handler() -> None:
    repeated = {name for name, cls in block_types().items() if cls.repeatable}
    assert {"function", "condition", "http", "agent", "loop", "parallel"} <= repeated
    assert {"database", "slack", "email"}.isdisjoint(repeated)


def test_a_handler_with_side_effects_must_say_whether_it_may_run_again() -> None:
    class Unsaid(BlockHandler):
        type = "unsaid_effect_test"
        side_effects = True

    with pytest.raises(TypeError, match="repeatable"):
        register(Unsaid)
    assert "unsaid_effect_test" not in block_types()


#: `fn`'s output holds the secret (its record is redacted, so a re-run runs it
#: again); `ins` after it inserts; `gate` fails while its gate is closed.
SECRET_BEFORE_INSERT = """
name: fn_then_insert_{suffix}
blocks:
  start: {{type: manual}}
  fn:
    type: function
    code: |
      return {{"key": <env.FLOWYARD_TEST_STRIPE_KEY>, "k": input.start.k}}
  ins:
    type: database
    query: INSERT INTO {table}(k, note) VALUES (<fn.k>, 'fn') RETURNING id
  gate:
    type: function
    code: |
      import os
      if not os.path.exists({gate!r}):
          raise RuntimeError("gate closed")
      return {{"ok": True}}
edges: [start -> fn, fn -> ins, ins -> gate]
"""


async def test_a_rerun_does_not_insert_again_after_a_redacted_function(
    runtime: Runtime, write_workflow, table: str, tmp_path: Path, monkeypatch
) -> None:
    """`fn` runs again (its record lost its output) and gives what it gave; `ins`,
    which succeeded on it, is carried over — it was inserted a second time."""
    monkeypatch.setenv("FLOWYARD_TEST_STRIPE_KEY", SECRET)
    await _make_table(runtime, table)
    gate = tmp_path / "gate"
    suffix = uuid.uuid4().hex[:8]
    wf = write_workflow(SECRET_BEFORE_INSERT.format(suffix=suffix, table=table, gate=str(gate)))
    first = await runtime.execute(wf, {"k": "a"})
    assert first["status"] == "failed" and first["error"]["block"] == "gate"
    gate.touch()

    sub = await runtime.rerun(first["execution_id"], from_failed=True)
    again = await runtime.wait(sub.execution_id, timeout=60)

    assert again["status"] == "succeeded", again["error"]
    assert await count_rows(runtime, table) == 1
    stored = await runtime.run_result(sub.execution_id)
    assert stored["blocks"]["ins"]["reused_from"] == first["execution_id"]
    assert stored["blocks"]["fn"]["reused_from"] is None  # ran again, with the secret
