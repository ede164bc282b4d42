"""A run whose output holds a lone UTF-16 surrogate is answered as it is recorded,
with U+FFFD: no UTF-8 body can carry the surrogate. A black-box round found both
answers a 500 (the run could not be recorded, and no body could be written)."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask.testing import FlaskClient

SURROGATE_OUT = """\
name: NAME
blocks:
  TRIGGER
  f:
    type: function
    code: |
      return {"s": "a" + chr(0xD800)}
edges: [TOP -> f]
"""


def _write(folder: Path, trigger: str, top: str, char: str = "chr(0xD800)") -> str:
    name = f"surrogate_{uuid.uuid4().hex[:8]}"
    text = SURROGATE_OUT.replace("NAME", name).replace("TRIGGER", trigger).replace("TOP", top)
    text = text.replace("chr(0xD800)", char)
    (folder / f"{name}.yaml").write_text(text)
    return name


def test_a_sync_webhook_answers_200_with_u_fffd(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    path = f"surrogate/{uuid.uuid4().hex[:8]}"
    _write(workflows_dir, f"hook: {{type: webhook, path: {path}, respond: sync}}", "hook")
    answer = client.post(f"/webhooks/{path}", json={})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"s": "a\ufffd"}


def test_a_run_waited_for_answers_200_with_u_fffd(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = _write(workflows_dir, "start: {type: manual}", "start")
    answer = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "succeeded" and body["output"] == {"s": "a\ufffd"}
    stored = client.get(f"/api/runs/{body['execution_id']}", headers=auth).get_json()
    assert stored["output"] == body["output"]


def test_a_nul_is_answered_as_recorded_wherever_the_run_executed(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A NUL reached an in-process `?wait=1` as `\\u0000`, while a run executed in
    another process (`--engine-process`, a worker) was answered from its record,
    with U+FFFD: the result is the record's in both."""
    name = _write(workflows_dir, "start: {type: manual}", "start", char="chr(0)")
    answer = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
    body = answer.get_json()
    assert body["status"] == "succeeded" and body["output"] == {"s": "a\ufffd"}
    stored = client.get(f"/api/runs/{body['execution_id']}", headers=auth).get_json()
    assert stored["output"] == body["output"]
