"""Records whose values had a secret redacted are never reused as if they held the
value, and secrets are redacted in the forms clients echo them in (real embedded
PostgreSQL, a recording HTTP peer on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins.recording import RecordingServer

from engine.recovery import restorable
from engine.runtime import Runtime

BUILT_FROM_A_SECRET = """
name: secret_url_{suffix}
blocks:
  start: {{type: manual}}
  mk:
    type: function
    code: |
      return {{"url": <env.FLOWYARD_TEST_BASE> + "/ok"}}
  gate:
    type: function
    code: |
      import os
      if not os.path.exists({gate!r}):
          raise RuntimeError("gate closed")
      return {{}}
  call:
    type: http
    method: GET
    url: <mk.url>
edges: [start -> mk, mk -> gate, gate -> call]
"""


async def test_a_rerun_runs_again_a_block_whose_output_held_a_secret(
    run_yaml, runtime: Runtime, monkeypatch, tmp_path: Path
) -> None:
    """`mk` built a URL from a secret: its record says `***/ok`. A re-run from the
    failed block that reused that record called `***/ok` ("no scheme"), and so did a
    resume after a crash: Order Processing's payment capture was never sent."""
    gate = tmp_path / "gate"
    with RecordingServer() as peer:
        monkeypatch.setenv("FLOWYARD_TEST_BASE", peer.url)
        wf = BUILT_FROM_A_SECRET.format(suffix=tmp_path.name[-6:], gate=str(gate))
        first = await run_yaml(wf)
        assert first["status"] == "failed" and first["error"]["block"] == "gate"
        events = await runtime.run_events(first["execution_id"])
        stored = next(e for e in events if e["type"] == "block_succeeded" and e["block"] == "mk")
        assert stored["data"]["output"] == {"url": "***/ok"}  # never the secret
        gate.write_text("open")
        sub = await runtime.rerun(first["execution_id"], from_failed=True)
        again = await runtime.wait(sub.execution_id)
        assert again["status"] == "succeeded", again["error"]
        assert [r.path for r in peer.requests] == ["/ok"]
    record = (await runtime.run_result(sub.execution_id))["blocks"]
    assert record["mk"]["reused_from"] is None  # ran again, with the value
    assert record["start"]["reused_from"] == first["execution_id"]


def test_a_redacted_record_is_not_restorable(runtime: Runtime, write_workflow) -> None:
    wf = write_workflow("name: r\nblocks:\n  a: {type: manual}\n  b: {type: manual}\n")
    events = [
        {"type": "block_succeeded", "block": "a", "data": {"output": {"x": 1}}},
        {"type": "block_succeeded", "block": "b", "data": {"output": "***", "redacted": True}},
    ]
    assert list(restorable(wf.plan, events)) == ["a"]


@pytest.mark.parametrize("secret", ["TOPSECRETVALUE42", "MixedCaseSecret99"])
async def test_a_secret_in_a_url_host_is_redacted_as_the_client_lower_cases_it(
    run_yaml, monkeypatch, secret: str
) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_HOST", secret)
    wf = """
    name: secret_host
    blocks:
      start: {type: manual}
      call:
        type: http
        method: GET
        url: "http://<env.FLOWYARD_TEST_HOST>:99999/x"
        on_error: continue
    edges: [start -> call]
    """
    result = await run_yaml(wf)
    text = str(result)
    assert result["blocks"]["call"]["output"]["error"]  # it failed, and said so
    assert secret not in text and secret.lower() not in text, text


@pytest.mark.parametrize("secret", ["true", "null", "false", "12345678"])
async def test_a_secret_that_reads_as_json_keeps_the_record_json(
    run_yaml, runtime: Runtime, monkeypatch, secret: str
) -> None:
    """Replaced in raw JSON text, `true` became a bare `***`: PostgreSQL refused the
    run's events, the run stayed unrecorded and its effects repeated on restart."""
    monkeypatch.setenv("FLOWYARD_TEST_FLAG", secret)
    wf = """
    name: secret_token
    blocks:
      start: {type: manual}
      check: {type: condition, if: '<env.FLOWYARD_TEST_FLAG> == "true"'}
      f:
        type: function
        code: |
          import json
          raw = <env.FLOWYARD_TEST_FLAG>
          return {"as_json": json.loads(raw), "text": raw, "other": 123456789, "t": True}
    edges: [start -> check, check.true -> f, check.false -> f]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    stored = await runtime.run_result(result["execution_id"])
    out = stored["blocks"]["f"]["output"]
    assert out["text"] == "***" and out["other"] == 123456789 and out["t"] is True
    # The number that is the secret is replaced; true, false and null stay what they are.
    assert out["as_json"] == ("***" if secret == "12345678" else json.loads(secret))
    assert stored["error"] is None
    assert stored["status"] == "succeeded" and stored["output"] == {**out}


async def test_an_upper_cased_secret_is_redacted(run_yaml, monkeypatch) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_TOKEN", "Tok3nValue99")
    wf = """
    name: secret_upper
    blocks:
      start: {type: manual}
      f: {type: function, code: 'return {"u": <env.FLOWYARD_TEST_TOKEN>.upper()}'}
    edges: [start -> f]
    """
    result = await run_yaml(wf)
    assert result["blocks"]["f"]["output"] == {"u": "***"}


@pytest.mark.parametrize("secret", ["status", "succeeded", "2026", "attempts"])
async def test_a_secret_that_reads_like_the_records_own_words_leaves_them_alone(
    run_yaml, runtime: Runtime, monkeypatch, secret: str
) -> None:
    """The whole result was redacted as text: `"***": "succeeded"` for `status`, the
    CLI crashed on it, and a PIN like 2026 cut every timestamp to `***-11-27…`."""
    monkeypatch.setenv("FLOWYARD_TEST_WORD", secret)
    wf = """
    name: secret_word
    blocks:
      start: {type: manual}
      f: {type: function, code: 'return {"v": <env.FLOWYARD_TEST_WORD>, "note": "status ok"}'}
    edges: [start -> f]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["started_at"].startswith("20") and result["finished_at"].startswith("20")
    assert result["blocks"]["f"]["status"] == "succeeded"
    assert result["blocks"]["f"]["attempts"] == 1
    assert result["blocks"]["f"]["output"]["v"] == "***"  # the data is still redacted
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "succeeded" and stored["blocks"]["f"]["attempts"] == 1
    assert stored["blocks"]["f"]["output"]["v"] == "***"
