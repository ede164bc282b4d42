"""A webhook delivery's credential query parameters (`?token=`) stay out of run records.

Senders that sign nothing often put a shared token in the URL
(`/webhooks/x?token=…`). Its value was stored in clear in the run's input, the
trigger's output and every block that read it, where a credential header is
`[redacted]`. The run still sees it — a workflow checks it itself — and the records
show `***`, as for an `<env.…>` secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from processes import eventually

WORKFLOW = """\
version: 1
name: {name}
blocks:
  hook: {{type: webhook, path: {name}}}
  check:
    type: condition
    if: <hook.query.token> == "tok-5f2a9c1e77"
  ok:
    type: function
    code: |
      return {{"accepted": True, "order": <hook.body.order>, "seen": <hook.query.token>}}
edges: [hook -> check, check.true -> ok]
"""


def test_a_query_token_is_used_by_the_run_and_recorded_as_stars(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    name = f"qtok_{uuid.uuid4().hex[:8]}"
    scratch(name, WORKFLOW)
    resp = client.post(f"/webhooks/{name}?token=tok-5f2a9c1e77&page=2", json={"order": "o-1"})
    assert resp.status_code == 202, resp.get_json()
    eid = resp.get_json()["execution_id"]

    def ended() -> bool:
        status = client.get(f"/api/runs/{eid}", headers=auth).get_json()["status"]
        return status in ("succeeded", "failed", "cancelled")

    assert eventually(ended)
    run = client.get(f"/api/runs/{eid}", headers=auth).get_json()
    # The condition saw the real token: the run went on to `ok`.
    assert run["status"] == "succeeded", run["error"]
    assert run["blocks"]["ok"]["status"] == "succeeded"
    events = client.get(f"/api/runs/{eid}/events", headers=auth).get_json()
    shown = json.dumps(run) + json.dumps(events)
    assert "tok-5f2a9c1e77" not in shown
    assert run["blocks"]["hook"]["output"]["query"] == {"token": "***", "page": "2"}
    assert run["output"]["seen"] == "***"
    # Its input held a secret, not kept once the run ended: no re-run of it (docs).
    rerun = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
    assert rerun.status_code == 409 and "secret" in rerun.get_json()["error"]
