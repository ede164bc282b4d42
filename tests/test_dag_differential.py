"""Random workflows run by flowyard and by the SPEC's reference interpreter
(tests/dag_reference.py) must give the same run: status, each top-level block's
status, attempts, output and error, and the run's output.

Branches and joins, cases, `on_error: continue` with `error` ports, retries,
optional references to skipped blocks, `output:`, and loops and parallels (nested,
with conditions in their bodies, `accumulate`, `errors`), on a fixed seed.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import socket
from pathlib import Path
from typing import Any

from dag_random import Generator, to_yaml
from dag_reference import Block, Edge, Interpreter, Read, Wf, matches
from held_runs import until

from engine import runstore
from engine.runtime import Runtime

# A longer hunt: FLOWYARD_DAG_SEED=7 FLOWYARD_DAG_WORKFLOWS=3000 pytest tests/test_dag_differential.py
SEED = int(os.environ.get("FLOWYARD_DAG_SEED", "20261128"))
WORKFLOWS = int(os.environ.get("FLOWYARD_DAG_WORKFLOWS", "300"))
SPEC_KEYS = ("status", "attempts", "output", "error")


def path_differences(reference: Interpreter, events: list[dict[str, Any]]) -> list[str]:
    """Each block path's status and attempts in the run log, body blocks too."""
    found = []
    records = runstore.blocks_from_events(events, top_level_only=False)
    for path in sorted(set(records) | set(reference.paths)):
        rec = records.get(path, {})
        got = (rec.get("status"), rec.get("attempts"))
        if any(path.startswith(p) for p in reference.uncertain) or reference.failed:
            # Where a failure stopped blocks beside it, which ones it stopped depends
            # on timing; what ended on its own ended as the reference says.
            # A block stopped between attempts ends with its last attempt's error.
            stopped = (rec.get("error") or {}).get("type") == "Cancelled"
            want = reference.paths.get(path)
            between = want is not None and got[0] == "failed" and got[1] < want[1]
            if rec.get("status") in (None, "pending") or stopped or between:
                continue
        if got != reference.paths.get(path):
            found.append(f"record of {path}: {got}, expected {reference.paths.get(path)}")
    return found


def stopped_between(want: dict[str, Any], got: dict[str, Any]) -> bool:
    """A block a sibling's failure stopped between its attempts ends with its last
    attempt's error and no output (docs/engine.md, "A failure lets effects under way
    finish"): the reference ran all its attempts."""
    return got["status"] == "failed" and got["attempts"] < want["attempts"]


def differences(
    expected: dict[str, Any], actual: dict[str, Any], attempts: bool = True
) -> list[str]:
    """What ``actual`` (a run result) says that the reference does not; ``attempts``
    False: not the attempts (a block a restart interrupted is run again, and a resumed
    block says attempts 1)."""
    found = []
    if expected["status"] != actual["status"]:
        return [f"status {actual['status']} ({actual['error']}), expected {expected['status']}"]
    if expected["status"] == "failed":
        if not matches(expected["error"], actual["error"]):
            found.append(f"error {actual['error']}, expected {expected['error']}")
        # Which blocks a failure stopped depends on timing; what did end, ended as
        # the reference says (stopped ones end `Cancelled`, none is left running).
        for bid, got in actual["blocks"].items():
            want = expected["blocks"].get(bid)
            if got["status"] == "pending" or (got["error"] or {}).get("type") == "Cancelled":
                continue
            if want and stopped_between(want, got):
                continue
            keys = [k for k in SPEC_KEYS if attempts or k != "attempts"]
            if want is None or not all(matches(want[k], got[k]) for k in keys):
                found.append(f"{bid}: {got!r} in the failed run, expected {want!r}")
        return found
    if not matches(expected["output"], actual["output"]):
        found.append(f"output {actual['output']!r}, expected {expected['output']!r}")
    for bid, want in expected["blocks"].items():
        got = actual["blocks"].get(bid, {})
        for key in SPEC_KEYS:
            if key == "attempts" and not attempts:
                continue
            if not matches(want[key], got.get(key)):
                found.append(f"{bid}.{key}: {got.get(key)!r}, expected {want[key]!r}")
    return found


async def test_random_workflows_run_as_the_reference_says(
    runtime, run_yaml, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    wrong = []
    for number in range(WORKFLOWS):
        wf = Generator(random.Random(rng.random())).workflow()
        text = to_yaml(wf, f"dag{number}", str(tmp_path))
        actual = await run_yaml(text, {"n": wf.n})
        reference = Interpreter(wf)
        expected = reference.run()
        found = differences(expected, actual)
        stored = await runtime.run_result(actual["execution_id"])
        for key in ("status", "output", "error"):
            if stored[key] != actual[key]:
                found.append(f"stored {key} {stored[key]!r} differs from {actual[key]!r}")
        for bid, rec in actual["blocks"].items():
            kept = {k: stored["blocks"].get(bid, {}).get(k) for k in SPEC_KEYS}
            if kept != {k: rec.get(k) for k in SPEC_KEYS}:
                found.append(f"stored {bid} {kept!r} differs from {rec!r}")
        if True:
            found += path_differences(reference, await runtime.run_events(actual["execution_id"]))
        if found:
            wrong.append(f"workflow {number} (input n={wf.n}):\n{text}" + "\n".join(found))
    wrong.sort(key=len)  # the smallest first: the easiest to read
    assert not wrong, f"{len(wrong)} of {WORKFLOWS} differ; the smallest:\n" + "\n\n".join(
        wrong[:2]
    )


async def test_random_runs_rerun_from_the_failed_block_as_a_fresh_run(
    runtime, write_workflow, tmp_path: Path
) -> None:
    """A run re-run from its failed block gives what a fresh run gives: what succeeded
    is carried over, what lies after a block that did not succeed runs again
    (docs/engine.md, re-runs). A failed run is re-run mostly with the workflow as
    fixed (its top-level Functions and Conditions no longer raise), else as it was
    (it fails again the same way); a succeeded one as it was (everything carried
    over). A block keeps its value when it does not raise, and bodies are not changed
    (a container that succeeded is carried over whole, the errors it tolerated too),
    so a carried-over output is the fresh one."""
    rng = random.Random(SEED + 1)
    wrong = []
    tried = 0
    for number in range(WORKFLOWS):
        wf = Generator(random.Random(rng.random())).workflow()
        for b in wf.blocks.values():
            # A re-run carries over the body records of a container's iterations that
            # succeeded (as a resume does), so a flaky body block would try less there
            # than in a fresh run.
            if b.parent is not None:
                b.flaky = 0
        failed = Interpreter(wf).run()["status"] == "failed"
        if not failed and number % 3:
            continue
        tried += 1
        text = to_yaml(wf, f"rerun{number}", str(tmp_path))
        first = await runtime.execute(write_workflow(text), {"n": wf.n})
        fixed = copy.deepcopy(wf)
        if failed and number % 4:
            for b in fixed.blocks.values():
                if b.parent is None:
                    b.fail = None
        text = to_yaml(fixed, f"rerun{number}", str(tmp_path))
        sub = await runtime.rerun(first["execution_id"], workflow=write_workflow(text))
        actual = await runtime.wait(sub.execution_id)
        found = differences(Interpreter(fixed).run(), actual)
        if found:
            wrong.append(f"workflow {number} (input n={wf.n}):\n{text}" + "\n".join(found))
    wrong.sort(key=len)
    assert tried > 100
    assert not wrong, f"{len(wrong)} of {tried} differ; the smallest:\n" + "\n\n".join(wrong[:2])


def test_the_reference_on_the_specs_own_cases() -> None:
    """The reference itself, on cases the SPEC and docs/blocks/control.md spell out,
    so a wrong reference cannot agree with a wrong engine unseen."""
    start = Block("start", "manual")
    # A join after a condition runs; it reads the untaken side as null only with `?`.
    route = Block("route", "condition", k=1)  # 1 % 2: false
    big = Block("big", "function", k=5)
    join = Block("join", "function", reads=[Read("big", "v", True)])
    strict = Block("strict", "function", on_error="continue", reads=[Read("big", "v", False)])
    blocks = {b.id: b for b in (start, route, big, join, strict)}
    edges = [
        Edge("start", None, "route"),
        Edge("route", "true", "big"),
        Edge("big", None, "join"),
        Edge("route", None, "join"),
        Edge("route", None, "strict"),
    ]
    run = Interpreter(Wf(blocks, edges, None, 0)).run()
    assert run["blocks"]["big"]["status"] == "skipped"
    assert run["output"]["join"] == {"v": 0}
    assert matches(run["output"]["strict"], {"error": _missing("strict")})
    # `output:` reads a skipped block as null.
    assert Interpreter(Wf(blocks, edges, Read("big", "v", False), 0)).run()["output"] is None

    # A loop whose body ends on a condition's untaken branch gives the condition's output.
    loop = Block("each", "loop", count=2, groups={"body": ["test", "after"]})
    test = Block("test", "condition", uses_index=True, parent="each", group="body")
    after = Block("after", "function", parent="each", group="body")
    blocks = {b.id: b for b in (start, loop, test, after)}
    edges = [Edge("start", None, "each"), Edge("test", "true", "after")]
    run = Interpreter(Wf(blocks, edges, None, 0)).run()
    assert run["output"]["results"] == [{"v": 0}, {"branch": "false", "value": False}]

    # `on_error: continue` takes the `error` port when wired; the other edges are untaken.
    fails = Block("fails", "function", fail=(1, 0), on_error="continue")
    ok = Block("ok", "function", k=1)
    recover = Block("recover", "function", k=2)
    blocks = {b.id: b for b in (start, fails, ok, recover)}
    edges = [
        Edge("start", None, "fails"),
        Edge("fails", None, "ok"),
        Edge("fails", "error", "recover"),
    ]
    run = Interpreter(Wf(blocks, edges, None, 0)).run()
    assert run["blocks"]["ok"]["status"] == "skipped"
    assert run["output"] == {"v": 2}  # the one sink that ran


def _missing(block: str) -> dict[str, Any]:
    return {"type": "MissingReference", "message": "reference <big.v> …", "block": block}


async def test_random_runs_resumed_after_a_restart_end_as_the_reference_says(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """Runs cut off by a restart (their process stopped mid-run) and resumed by another
    process end as the reference says: a resume reuses what completed (its outputs,
    the ports it took, the skips) and runs the rest. Each run waits at a gate, a
    top-level Function chosen at random, and the restart comes once the runs that get
    there wait at it."""
    rng = random.Random(SEED + 2)
    wrong, cut, held = [], 0, 0
    for batch in range(3):
        folder = tmp_path / str(batch)
        folder.mkdir()
        made = [Generator(random.Random(rng.random())).workflow() for _ in range(30)]
        waiting = 0
        for wf in made:
            for b in wf.blocks.values():
                b.flaky = 0  # a resumed flaky block's tries would depend on where it was cut
            gates = [b for b in wf.blocks.values() if b.parent is None and b.type == "function"]
            gates = [b for b in gates if not b.js]
            if gates:
                rng.choice(gates).gate = True
                expected = Interpreter(wf).run()
                ran = [b for b in gates if b.gate][0].id
                if expected["status"] == "succeeded" and expected["blocks"][ran]["attempts"]:
                    waiting += 1
        texts = [to_yaml(wf, f"resume{batch}_{i}", str(folder)) for i, wf in enumerate(made)]
        first = Runtime(
            workspace / "workflows", database_url, workspace, function_workers=2, resume=False
        )
        await first.start()
        subs = await asyncio.gather(
            *(
                first.submit(write_workflow(t), {"n": wf.n})
                for wf, t in zip(made, texts, strict=True)
            )
        )
        runs = [(s.execution_id, wf, t) for s, wf, t in zip(subs, made, texts, strict=True)]
        # The gates hold the runtime's 2 Function workers: each other run that gets to
        # its gate waits for a worker, so nothing passes a gate before the restart.
        reached = min(waiting, 2)
        assert await until(lambda: len(list(folder.glob("reached-*"))) >= reached)  # noqa: B023
        await first.close()  # a restart, with the runs that get to their gate before it
        held += waiting
        (folder / "gate").touch()
        second = Runtime(
            workspace / "workflows", database_url, workspace, function_workers=2, resume=False
        )
        await second.start()
        try:
            ids = [eid for eid, _, _ in runs]
            # The first runtime's owner id is this (live) test process; after a real
            # restart it is a dead process of this host, which this stands for.
            await second.db.log_pool.execute(
                "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = ANY($1::uuid[])"
                " AND status IN ('queued', 'running')",
                ids,
                f"{socket.gethostname()}:1:1",
            )
            await second.resume_unfinished()
            for eid, wf, text in runs:
                actual = await asyncio.wait_for(second.wait(eid), 60)
                events = await second.run_events(eid)
                cut += [e["type"] for e in events].count("run_started") > 1
                found = differences(Interpreter(wf).run(), actual, attempts=False)
                if found:
                    wrong.append(f"{text}(input n={wf.n})\n" + "\n".join(found))
        finally:
            await second.close()
    wrong.sort(key=len)
    assert held >= 10  # enough runs are cut off to say something
    assert cut >= held
    assert not wrong, f"{len(wrong)} of 90 differ; the smallest:\n" + "\n\n".join(wrong[:2])
