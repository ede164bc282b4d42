"""SPEC "HTTP", sentence by sentence, against the real app, engine and PostgreSQL.

What other files already prove is not repeated here: webhook 202/200/400/401/404
and a 2 MiB 413 (test_http_webhooks), a chunked 413 and 405 (test_bad_requests),
the token on every route (test_http_auth), the SSE stream (test_http_stream),
workflow CRUD and 422 problems (test_http_api).
"""

from __future__ import annotations

import textwrap
import time
import uuid
from pathlib import Path

import pytest
import yaml
from flask.testing import FlaskClient

from tests.ui.conftest import SECRET_KEY, TOKEN

RUN_KEYS = {"execution_id", "workflow", "status", "started_at", "finished_at", "output", "error", "blocks"}  # fmt: skip
BLOCK_KEYS = {"status", "attempts", "duration_ms", "output", "error"}

FAILING = """\
version: 1
name: NAME
blocks:
  start:
    type: manual
  boom:
    type: function
    code: |
      raise ValueError("no luck")
edges:
  - start -> boom
"""

SYNC_FAILING = """\
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: spec/NAME
    respond: sync
  boom:
    type: function
    code: |
      raise ValueError("no luck")
edges:
  - hook -> boom
"""


def _write(workflows_dir: Path, text: str) -> str:
    name = f"spec_{uuid.uuid4().hex[:8]}"
    (workflows_dir / f"{name}.yaml").write_text(textwrap.dedent(text).replace("NAME", name))
    return name


def _wait(client: FlaskClient, url: str, auth: dict[str, str]) -> dict:
    for _ in range(300):
        run = client.get(url, headers=auth).get_json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish")


# -- POST /webhooks/<path> ---------------------------------------------------------------


def test_webhook_202_body_is_execution_id_and_a_status_url_that_reads_the_run(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    resp = client.post("/webhooks/test/async", json={"n": 1})
    assert resp.status_code == 202
    body = resp.get_json()
    assert set(body) == {"execution_id", "status_url"}
    run = _wait(client, body["status_url"], auth)
    assert run["execution_id"] == body["execution_id"] and run["status"] == "succeeded"
    assert run["output"] == {"got": {"n": 1}}


def test_sync_webhook_of_a_failed_run_is_500_with_the_error_not_200(
    client: FlaskClient, workflows_dir: Path
) -> None:
    # Ambiguity: the SPEC gives 200 for a sync run's output; a failed run has none.
    # As n8n does, the caller gets a 5xx and the run's error, never a 200.
    name = _write(workflows_dir, SYNC_FAILING)
    resp = client.post(f"/webhooks/spec/{name}", json={})
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["status"] == "failed" and body["error"]["block"] == "boom"


SYNC_TEXT = """\
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: spec/NAME
    respond: sync
  greet:
    type: function
    code: |
      return {"text": "<b>hi</b> " + input.hook.body.who}
edges:
  - hook -> greet
output: <greet.text>
"""


def test_sync_webhook_output_that_is_text_is_json_too(
    client: FlaskClient, workflows_dir: Path
) -> None:
    # Like Windmill's and n8n's sync webhooks, the output is the JSON value; a bare
    # string served as text/html would also let a caller's input render as a page.
    name = _write(workflows_dir, SYNC_TEXT)
    resp = client.post(f"/webhooks/spec/{name}", json={"who": "ada"})
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json() == "<b>hi</b> ada"


def test_webhook_413_follows_flowyard_max_body(
    engine_bridge, workflows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.app import create_app

    monkeypatch.setenv("FLOWYARD_MAX_BODY", "1000")
    small = create_app(engine_bridge, TOKEN, SECRET_KEY, workflows_dir).test_client()
    over = small.post("/webhooks/test/async", data=b'{"a": "' + b"x" * 1000 + b'"}')
    assert over.status_code == 413 and over.get_json()["max_bytes"] == 1000
    assert small.post("/webhooks/test/async", json={"a": "x" * 900}).status_code == 202


def test_webhooks_need_no_token_even_with_a_wrong_one(client: FlaskClient) -> None:
    resp = client.post(
        "/webhooks/test/async", json={}, headers={"Authorization": "Bearer not-the-token"}
    )
    assert resp.status_code == 202


# -- GET /api/health -----------------------------------------------------------------------


def test_health_is_exactly_ok_ok_without_a_token(client: FlaskClient) -> None:
    resp = client.get("/api/health")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_data(as_text=True).replace(" ", "") == '{"status":"ok","database":"ok"}'


# -- workflows -------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/yaml", "application/x-yaml", "text/yaml"])
def test_read_is_yaml_when_accept_asks_for_yaml(
    client: FlaskClient, auth: dict[str, str], accept: str
) -> None:
    resp = client.get("/api/workflows/hello", headers={**auth, "Accept": accept})
    assert resp.status_code == 200 and resp.mimetype == "application/yaml"
    assert yaml.safe_load(resp.get_data(as_text=True))["name"] == "hello"


def test_read_is_json_by_default_and_for_json(client: FlaskClient, auth: dict[str, str]) -> None:
    for headers in (auth, {**auth, "Accept": "application/json"}, {**auth, "Accept": "*/*"}):
        resp = client.get("/api/workflows/hello", headers=headers)
        assert resp.mimetype == "application/json"
        assert resp.get_json()["name"] == "hello"


def test_read_json_file_as_yaml(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"spec_json_{uuid.uuid4().hex[:6]}"
    (workflows_dir / f"{name}.json").write_text(
        '{"version": 1, "name": "from json", "blocks": {"start": {"type": "manual"}}}'
    )
    resp = client.get(f"/api/workflows/{name}", headers={**auth, "Accept": "application/yaml"})
    assert resp.mimetype == "application/yaml"
    assert yaml.safe_load(resp.get_data(as_text=True))["name"] == "from json"
    as_json = client.get(f"/api/workflows/{name}", headers=auth).get_json()
    assert as_json["blocks"] == {"start": {"type": "manual"}}


def test_list_names_every_workflow_file(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = _write(workflows_dir, FAILING)
    listed = client.get("/api/workflows", headers=auth).get_json()["workflows"]
    assert name in {w["name"] for w in listed}


# -- runs ------------------------------------------------------------------------------------


def test_manual_run_is_202_and_the_run_is_the_run_result_shape(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = _write(workflows_dir, FAILING)
    resp = client.post(f"/api/workflows/{name}/runs", json={"who": "me"}, headers=auth)
    assert resp.status_code == 202
    run = _wait(client, resp.get_json()["status_url"], auth)
    assert RUN_KEYS <= set(run)  # plus trigger, input, created_at, file for the viewer
    assert run["workflow"] == name and run["status"] == "failed" and run["output"] is None
    assert run["error"] == {"type": "ValueError", "message": run["error"]["message"], "block": "boom"}  # fmt: skip
    assert "no luck" in run["error"]["message"]
    assert run["started_at"] and run["finished_at"]
    assert set(run["blocks"]) == {"start", "boom"}
    for rec in run["blocks"].values():
        assert BLOCK_KEYS <= set(rec)  # plus inputs, port, timings
    assert run["blocks"]["start"]["output"] == {"who": "me"}
    assert run["blocks"]["boom"]["status"] == "failed" and run["blocks"]["boom"]["attempts"] == 1
    assert isinstance(run["blocks"]["boom"]["duration_ms"], float)
    assert run["blocks"]["boom"]["error"]["block"] == "boom"


def test_runs_filter_by_workflow_status_and_limit(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = _write(workflows_dir, FAILING)
    for _ in range(3):
        client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
    runs = client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"]
    assert len(runs) == 3 and {r["workflow"] for r in runs} == {name}
    two = client.get(f"/api/runs?workflow={name}&limit=2", headers=auth).get_json()["runs"]
    assert [r["execution_id"] for r in two] == [r["execution_id"] for r in runs[:2]]
    failed = client.get(f"/api/runs?workflow={name}&status=failed", headers=auth).get_json()
    assert len(failed["runs"]) == 3
    ok = client.get(f"/api/runs?workflow={name}&status=succeeded", headers=auth).get_json()
    assert ok["runs"] == []


# -- templates -------------------------------------------------------------------------------


def test_instantiate_writes_the_workflow_and_its_sql(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    items = {t["id"]: t for t in client.get("/api/templates", headers=auth).get_json()["templates"]}
    assert items["order_processing"]["name"] == "Order Processing with Event Sourcing"
    assert items["replay_events"]["name"] == "Replay Events"
    name = f"orders_{uuid.uuid4().hex[:6]}"
    resp = client.post(
        "/api/templates/order_processing/instantiate", json={"name": name}, headers=auth
    )
    assert resp.status_code == 201 and resp.get_json()["name"] == name
    assert (workflows_dir / f"{name}.yaml").is_file()
    assert (workflows_dir / f"{name}.schema.sql").is_file()
    read = client.get(f"/api/workflows/{name}", headers=auth).get_json()
    # The template's path, or the copy's own when another file already serves it
    # (docs/templates.md); either way the answer says where the copy listens.
    path = read["blocks"]["webhook"]["path"]
    assert path in ("orders/events", f"{name}/events")
    assert [h["path"] for h in resp.get_json()["webhooks"]] == [path]
    client.delete(f"/api/workflows/{name}", headers=auth)


# -- pages -------------------------------------------------------------------------------------


def test_pages_answer_with_the_token(client: FlaskClient, auth: dict[str, str]) -> None:
    eid = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    for path in ("/", "/editor/hello", f"/runs/{eid}"):
        resp = client.get(path, headers={**auth, "Accept": "text/html"})
        assert resp.status_code == 200 and resp.mimetype == "text/html", path
    assert "hello" in client.get("/", headers=auth).get_data(as_text=True)


SLOW = """\
version: 1
name: NAME
blocks:
  start:
    type: manual
  slow:
    type: function
    code: |
      import time
      time.sleep(1.5)
      return {"done": True}
edges:
  - start -> slow
"""


def test_stream_is_live_events_arrive_while_the_run_is_running(
    live_server: str, workflows_dir: Path
) -> None:
    import httpx

    name = _write(workflows_dir, SLOW)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as http:
        eid = http.post(f"/api/workflows/{name}/runs", json={}).json()["execution_id"]
        with http.stream("GET", f"/api/runs/{eid}/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            for line in lines:
                if '"block_started"' in line and '"slow"' in line:
                    break
            # The run has not finished: this event came live, not from a replay.
            assert http.get(f"/api/runs/{eid}").json()["status"] == "running"
            rest = "\n".join(lines)
    assert '"run_succeeded"' in rest and "event: end" in rest
