"""What the server answers about a run never carries its secrets: the sync webhook's
body, the run API, its events and live stream, the run list, the pages, the metrics."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

SECRET = "pässwort-ui-leak-31f7"
FORMS = {SECRET, json.dumps(SECRET)[1:-1]}

LEAKY = """\
version: 1
name: leaky_sync
blocks:
  hook:
    type: webhook
    path: test/leaky
    respond: sync
  sign:
    type: function
    code: |
      print("signing with", <env.FLOWYARD_UI_LEAK>)
      return {"sig": "k=" + <env.FLOWYARD_UI_LEAK>, "fail": input.hook.body.get("fail", False)}
  check:
    type: function
    code: |
      if input.sign.fail:
          raise ValueError("refused key " + <env.FLOWYARD_UI_LEAK>)
      return {"sig": input.sign.sig}
edges:
  - hook -> sign
  - sign -> check
"""


@pytest.fixture
def leaky(workflows_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLOWYARD_UI_LEAK", SECRET)
    path = workflows_dir / "leaky_sync.yaml"
    path.write_text(textwrap.dedent(LEAKY))
    yield
    path.unlink(missing_ok=True)


def assert_absent(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"{form!r} leaked"


@pytest.mark.parametrize("fail", [False, True], ids=["succeeded", "failed"])
def test_nothing_the_server_says_about_a_run_carries_its_secret(
    client: FlaskClient, auth: dict[str, str], leaky: None, fail: bool
) -> None:
    resp = client.post("/webhooks/test/leaky", json={"fail": fail})
    body = resp.get_data(as_text=True)
    assert_absent(body)
    if fail:
        assert resp.status_code == 500 and "refused key ***" in body
        eid = resp.get_json()["execution_id"]
    else:
        assert resp.status_code == 200 and resp.get_json() == {"sig": "k=***"}
        [run] = client.get("/api/runs?workflow=leaky_sync&limit=1", headers=auth).get_json()["runs"]
        eid = run["execution_id"]
    for url in (
        f"/api/runs/{eid}",
        f"/api/runs/{eid}/events",
        f"/api/runs/{eid}/stream",
        "/api/runs?workflow=leaky_sync",
        f"/runs/{eid}",
        "/metrics",
    ):
        page = client.get(url, headers=auth)
        assert page.status_code == 200, url
        assert_absent(page.get_data(as_text=True))
    events = client.get(f"/api/runs/{eid}/events", headers=auth).get_json()["events"]
    [sign] = [e for e in events if e["block"] == "sign" and e["type"] == "block_succeeded"]
    assert sign["data"]["output"]["stdout"] == "signing with ***\n"


def test_a_webhook_token_header_is_not_recorded(
    client: FlaskClient, auth: dict[str, str], leaky: None
) -> None:
    """GitLab sends its webhook secret in clear as X-Gitlab-Token, Telegram as
    X-Telegram-Bot-Api-Secret-Token: credentials, like Authorization."""
    headers = {
        "X-Gitlab-Token": "gitlab-hook-secret-6d1a",
        "X-Telegram-Bot-Api-Secret-Token": "telegram-hook-secret-0b7c",
    }
    resp = client.post("/webhooks/test/leaky", json={}, headers=headers)
    assert resp.status_code == 200
    [run] = client.get("/api/runs?workflow=leaky_sync&limit=1", headers=auth).get_json()["runs"]
    eid = run["execution_id"]
    for url in (f"/api/runs/{eid}", f"/api/runs/{eid}/events"):
        text = client.get(url, headers=auth).get_data(as_text=True)
        assert "gitlab-hook-secret-6d1a" not in text and "telegram-hook-secret-0b7c" not in text
    recorded = client.get(f"/api/runs/{eid}", headers=auth).get_json()["input"]["webhook"]
    assert recorded["headers"]["x_gitlab_token"] == "[redacted]"


VERIFY_TOKEN = "Plain9Secret7Token"

#: The common "verify a shared token in the body" webhook: the token reaches the run
#: (the webhook's output, the run's input) before the Condition reads the secret.
VERIFY = """\
version: 1
name: wh_verify_early
blocks:
  webhook: {type: webhook, path: test/verify-early}
  check: {type: condition, if: <webhook.body.token> == <env.FLOWYARD_UI_VERIFY>}
  accept: {type: function, code: "return {\\"accepted\\": True, \\"event\\": <webhook.body.event>}"}
edges: [webhook -> check, check.true -> accept]
"""


@pytest.fixture
def verify(workflows_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLOWYARD_UI_VERIFY", VERIFY_TOKEN)
    path = workflows_dir / "wh_verify_early.yaml"
    path.write_text(VERIFY)
    yield
    path.unlink(missing_ok=True)


def _ended(client: FlaskClient, auth: dict[str, str], eid: str) -> dict:
    for _ in range(600):
        run = client.get(f"/api/runs/{eid}", headers=auth).get_json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {eid} did not end")


def test_a_token_the_body_carries_before_the_run_reads_the_secret_is_not_recorded(
    client: FlaskClient, auth: dict[str, str], verify: None, engine_bridge: Any
) -> None:
    """Each event was redacted with the secrets read so far, and the run row's input
    was stored as it came: the webhook's output, the run's input, its events and
    stream kept the token the Condition only compared later."""
    key = f"verify-{uuid.uuid4().hex[:8]}"
    body = {"token": VERIFY_TOKEN, "event": "order_paid"}
    resp = client.post("/webhooks/test/verify-early", json=body, headers={"Idempotency-Key": key})
    assert resp.status_code == 202
    eid = resp.get_json()["execution_id"]
    run = _ended(client, auth, eid)
    # The run compared the token as it came: the Condition took its true branch.
    assert run["status"] == "succeeded" and run["output"] == {
        "accepted": True, "event": "order_paid"
    }  # fmt: skip
    assert run["input"]["webhook"]["body"] == {"token": "***", "event": "order_paid"}
    assert run["blocks"]["webhook"]["output"]["body"]["token"] == "***"
    for url in (f"/api/runs/{eid}", f"/api/runs/{eid}/events", f"/api/runs/{eid}/stream",
                f"/runs/{eid}", "/api/runs?workflow=wh_verify_early"):  # fmt: skip
        page = client.get(url, headers=auth)
        assert page.status_code == 200, url
        assert VERIFY_TOKEN not in page.get_data(as_text=True), url
    stored = engine_bridge.call(
        engine_bridge.runtime.db.log_pool.fetchval(
            "SELECT row_to_json(r)::text || (SELECT string_agg(data::text, ' ')"
            " FROM flowyard_run_events e WHERE e.execution_id = r.execution_id)"
            " FROM flowyard_runs r WHERE execution_id = $1::uuid",
            eid,
        )
    )
    assert "order_paid" in stored and VERIFY_TOKEN not in stored

    # The sender's retry of that delivery is the same request, not a conflict: its
    # body is compared with the stored one as that was stored, redacted.
    again = client.post("/webhooks/test/verify-early", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.get_json()["execution_id"] == eid
    other = {"token": "another", "event": "order_paid"}
    reused = client.post(
        "/webhooks/test/verify-early", json=other, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 409

    # A re-run would run with `***` for the token: refused, saying why.
    rerun = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
    assert rerun.status_code == 409
    assert "its input held a secret" in rerun.get_json()["error"]
