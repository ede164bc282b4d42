"""Bad requests to the API and the webhooks: a 4xx JSON error with a reason, nothing
saved or started, never a 500, a stack trace or a silently altered workflow."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient

YAML = {"Content-Type": "application/yaml"}


def _write(workflows_dir: Path, text: str) -> str:
    name = f"audit_{uuid.uuid4().hex[:8]}"
    (workflows_dir / f"{name}.yaml").write_text(textwrap.dedent(text).replace("NAME", name))
    return name


# -- saving workflows ---------------------------------------------------------------------


def test_put_yaml_with_a_duplicate_block_id_is_422_and_saves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # The API's loader kept the second `work` and dropped the first, then saved: 201.
    text = (
        "name: dup\nblocks:\n  start: {type: manual}\n"
        "  work: {type: function, code: 'return 1'}\n"
        "  work: {type: function, code: 'return 2'}\n"
        "edges: [start -> work]\n"
    )
    resp = client.put("/api/workflows/audit_dup", data=text, headers={**auth, **YAML})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    [problem] = resp.get_json()["problems"]
    assert problem["block"] == "work" and "duplicate block id 'work' (line 5)" in problem["message"]
    assert not (workflows_dir / "audit_dup.yaml").exists()


def test_put_a_webhook_path_another_workflow_serves_is_422_and_saves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # It was saved (201), and only the first file by name ever got the deliveries.
    path = f"clash/{uuid.uuid4().hex[:8]}"
    first = f"name: taken\nblocks:\n  hook: {{type: webhook, path: {path}}}\n"
    assert (
        client.put("/api/workflows/aa_taken", data=first, headers={**auth, **YAML}).status_code
        == 201
    )
    second = first.replace("name: taken", "name: taker")
    resp = client.put("/api/workflows/zz_taker", data=second, headers={**auth, **YAML})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    [problem] = resp.get_json()["problems"]
    assert (problem["block"], problem["field"]) == ("hook", "path")
    assert "is already the webhook of aa_taken.yaml" in problem["message"]
    assert not (workflows_dir / "zz_taker.yaml").exists()
    (workflows_dir / "aa_taken.yaml").unlink()


def test_put_json_with_a_duplicate_block_id_is_422_and_saves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # json.loads kept the second `work` and dropped the first, then saved: 201.
    text = (
        '{"name": "dupj", "blocks": {"start": {"type": "manual"},'
        ' "work": {"type": "function", "code": "return 1"},'
        ' "work": {"type": "function", "code": "return 2"}}, "edges": ["start -> work"]}'
    )
    headers = {**auth, "Content-Type": "application/json"}
    resp = client.put("/api/workflows/audit_dupj", data=text, headers=headers)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    [problem] = resp.get_json()["problems"]
    assert problem["block"] == "work" and "duplicate block id 'work'" in problem["message"]
    assert not (workflows_dir / "audit_dupj.yaml").exists()


def test_put_a_body_that_is_not_utf8_is_400_and_saves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # It was decoded with U+FFFD replacements and saved (201): the bytes were lost.
    body = "name: caf\xe9\nblocks: {start: {type: manual}}\n".encode("latin-1")
    resp = client.put("/api/workflows/audit_latin1", data=body, headers={**auth, **YAML})
    assert resp.status_code == 400 and "UTF-8" in resp.get_json()["error"]
    assert not (workflows_dir / "audit_latin1.yaml").exists()


@pytest.mark.parametrize("branches", ["[start]", "{a: 1}"])
def test_put_a_parallel_with_malformed_branches_is_422_not_500(
    client: FlaskClient, auth: dict[str, str], branches: str
) -> None:
    text = f"name: p\nblocks:\n  start: {{type: manual}}\n  p: {{type: parallel, branches: {branches}}}\n"
    resp = client.put("/api/workflows/audit_par", data=text, headers={**auth, **YAML})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert any(p["block"] == "p" for p in resp.get_json()["problems"])


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("name: v\nblocks:\n  start: {type: nope}\n", YAML),  # parses, does not validate
        ("", YAML),  # empty
        ("name: [unclosed\n", YAML),  # not YAML
        ("- a list\n", YAML),  # not a mapping
        ("{bad", {"Content-Type": "application/json"}),  # not JSON
        ("[1]", {"Content-Type": "application/json"}),
    ],
    ids=["invalid", "empty", "not-yaml", "a-list", "not-json", "json-list"],
)
def test_validate_answers_every_invalid_body_in_one_shape(
    client: FlaskClient, auth: dict[str, str], body: str, headers: dict[str, str]
) -> None:
    """A body that parsed was `{"valid": false, "problems"}`, one that did not
    `{"error": "invalid workflow", "problems"}` with no `valid`."""
    resp = client.post("/api/workflows/audit_v/validate", data=body, headers={**auth, **headers})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    answer = resp.get_json()
    assert list(answer) == ["error", "valid", "problems"]
    assert answer["error"] == "invalid workflow" and answer["valid"] is False
    assert answer["problems"] and all("message" in p for p in answer["problems"])


def test_validate_answers_a_valid_workflow_valid(client: FlaskClient, auth: dict[str, str]) -> None:
    text = "name: audit_v\nblocks:\n  start: {type: manual}\n"
    resp = client.post("/api/workflows/audit_v/validate", data=text, headers={**auth, **YAML})
    assert (resp.status_code, resp.get_json()) == (200, {"valid": True, "problems": []})


@pytest.mark.parametrize("name", ["bad%20name", "a.b", "a" * 101])
def test_validate_refuses_a_name_a_save_refuses(
    client: FlaskClient, auth: dict[str, str], name: str
) -> None:
    """`validate` said valid for a name the save then refused with a 400."""
    text = "name: audit_v\nblocks:\n  start: {type: manual}\n"
    said = client.post(f"/api/workflows/{name}/validate", data=text, headers={**auth, **YAML})
    saved = client.put(f"/api/workflows/{name}", data=text, headers={**auth, **YAML})
    assert said.status_code == saved.status_code == 400, said.get_data(as_text=True)
    assert said.get_json() == saved.get_json()


def test_a_manual_run_of_an_invalid_file_names_the_file_not_its_path(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The 422 gave the server's absolute path, where a save and validate say the name."""
    (workflows_dir / "audit_broken.yaml").write_text(
        "name: audit_broken\nblocks:\n  start: {type: teleport}\n"
    )
    try:
        resp = client.post("/api/workflows/audit_broken/runs", json={}, headers=auth)
    finally:
        (workflows_dir / "audit_broken.yaml").unlink()
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert {p["file"] for p in resp.get_json()["problems"]} == {"audit_broken.yaml"}


def test_the_orders_list_refuses_a_limit_below_one(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for limit in ("0", "-3"):
        resp = client.get(f"/api/events/orders?limit={limit}", headers=auth)
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert resp.get_json()["error"] == "limit must be at least 1"


def test_metrics_without_a_token_is_a_401_a_scraper_reads(client: FlaskClient) -> None:
    """Prometheus sends `*/*` among its types: it got the login page's HTML."""
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    resp = client.get("/metrics", headers={"Accept": accept})
    assert resp.status_code == 401 and resp.mimetype == "application/json"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="flowyard"'


# -- runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("GET", "/events"), ("GET", "/stream"), ("POST", "/rerun")]
)
def test_a_run_id_that_is_not_a_uuid_is_404(
    client: FlaskClient, auth: dict[str, str], method: str, suffix: str
) -> None:
    # /events answered 500 (the database refused the id as a UUID).
    resp = client.open(f"/api/runs/not-a-uuid{suffix}", method=method, headers=auth)
    assert resp.status_code == 404 and resp.get_json() == {"error": "no run 'not-a-uuid'"}


ODD_FORMS = ["{22133958-9d80-4e03-9b89-a393fb800ecd}", "urn:uuid:22133958-9d80-4e03-9b89-a393fb800ecd"]  # fmt: skip


@pytest.mark.parametrize("run_id", ODD_FORMS)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("GET", "/events"), ("GET", "/stream"), ("POST", "/rerun"), ("POST", "/cancel")],
)
def test_a_run_id_in_a_form_the_database_refuses_is_404(
    client: FlaskClient, auth: dict[str, str], method: str, suffix: str, run_id: str
) -> None:
    # Python's uuid.UUID reads braces and a `urn:uuid:` prefix, PostgreSQL's uuid
    # (through asyncpg) does not: each of these was a 500 with a DataError logged.
    resp = client.open(f"/api/runs/{run_id}{suffix}", method=method, headers=auth)
    assert resp.status_code == 404 and resp.get_json() == {"error": f"no run {run_id!r}"}
    listed = client.get(f"/api/runs?before={run_id}", headers=auth)
    assert listed.status_code == 400, listed.get_data(as_text=True)


@pytest.mark.parametrize("workflow", ["a" * 300 + ".yaml", "a" * 300 + "/x.yaml"])
def test_a_workflow_filter_no_file_can_be_named_lists_no_runs(
    client: FlaskClient, auth: dict[str, str], workflow: str
) -> None:
    # The filter looked the name up as a path too, and the file system refused a name
    # over 255 bytes: a 500 saying "the workflows folder cannot be written".
    resp = client.get(f"/api/runs?workflow={workflow}", headers=auth)
    assert (resp.status_code, resp.get_json()) == (200, {"runs": []})


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_a_limit_below_one_is_400(client: FlaskClient, auth: dict[str, str], limit: str) -> None:
    resp = client.get(f"/api/runs?limit={limit}", headers=auth)
    assert resp.status_code == 400 and "limit" in resp.get_json()["error"]


def test_a_run_input_that_is_not_utf8_is_400(client: FlaskClient, auth: dict[str, str]) -> None:
    resp = client.post(
        "/api/workflows/hello/runs",
        data=b'{"name": "caf\xe9"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and "UTF-8" in resp.get_json()["error"]


def test_a_manual_input_against_input_schema_is_422_and_starts_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # It was a 202 and a run that failed a moment later.
    name = _write(
        workflows_dir,
        """\
        name: NAME
        blocks:
          start:
            type: manual
            input_schema:
              type: object
              required: [order_id]
              properties: {order_id: {type: integer}}
          work: {type: function, code: 'return 1'}
        edges: [start -> work]
        """,
    )
    resp = client.post(f"/api/workflows/{name}/runs", json={"order_id": "x"}, headers=auth)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["problems"] == ["order_id: 'x' is not of type 'integer'"]
    assert client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"] == []
    ok = client.post(f"/api/workflows/{name}/runs?wait=1", json={"order_id": 7}, headers=auth)
    assert ok.status_code == 200 and ok.get_json()["status"] == "succeeded"


def test_an_input_schema_asserts_the_formats_it_can_check_and_applies_no_default(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`{"email": "notanemail"}` passed `format: email` (2020-12 makes every format an
    annotation); `date-time` needs a package flowyard does not have: not asserted, as
    docs/blocks/control.md says, nor is `default` applied."""
    name = _write(
        workflows_dir,
        """\
        name: NAME
        blocks:
          start:
            type: manual
            input_schema:
              type: object
              properties:
                email: {type: string, format: email}
                day: {type: string, format: date}
                at: {type: string, format: date-time}
                currency: {type: string, default: EUR}
        """,
    )
    bad = {"email": "notanemail", "day": "2030-02-30"}
    resp = client.post(f"/api/workflows/{name}/runs", json=bad, headers=auth)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["problems"] == [
        "day: '2030-02-30' is not a 'date'",
        "email: 'notanemail' is not a 'email'",
    ]
    good = {"email": "a@shop.test", "day": "2030-02-28", "at": "whenever"}
    ok = client.post(f"/api/workflows/{name}/runs?wait=1", json=good, headers=auth)
    assert ok.status_code == 200 and ok.get_json()["status"] == "succeeded"
    assert ok.get_json()["output"] == good  # no currency: defaults are not applied


def test_rerun_with_a_body_that_is_not_an_object_is_400(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    run = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()
    for body, says in (
        ([1], 'the body is a JSON object such as {"from_failed": false}'),
        ({"from_failed": "no"}, 'from_failed is true or false, not "no"'),
        ({"from_failed": 1}, "from_failed is true or false, not 1"),
        ({"current_version": "yes"}, 'current_version is true or false, not "yes"'),
    ):
        resp = client.post(f"/api/runs/{run['execution_id']}/rerun", json=body, headers=auth)
        assert resp.status_code == 400, (body, resp.get_data(as_text=True))
        assert resp.get_json()["error"] == says


def test_rerun_with_an_unknown_key_is_400_naming_it(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """`{"from_faild": false}` was a 202 re-running from the failed block (`from_failed`
    true): the opposite of what was asked, without a word."""
    run = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()
    url = f"/api/runs/{run['execution_id']}/rerun"
    for body, named in (
        ({"from_faild": False}, "'from_faild'"),
        ({"from_failed": False, "input": {}, "also": 1}, "'also', 'input'"),
    ):
        resp = client.post(url, json=body, headers=auth)
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert resp.get_json()["error"].startswith(f"unknown keys {named}:")
    [newest] = client.get("/api/runs?workflow=hello&limit=1", headers=auth).get_json()["runs"]
    assert newest["execution_id"] == run["execution_id"]  # nothing re-run
    ok = client.post(url, json={"from_failed": False}, headers=auth)
    assert ok.status_code == 202 and ok.get_json()["from_failed"] is False


@pytest.mark.parametrize("body", [[1], {"name": 5}])
def test_instantiate_with_a_bad_body_is_400(
    client: FlaskClient, auth: dict[str, str], body: object
) -> None:
    # A list was a 500; a number as the name was a 503 "templates are not installed".
    resp = client.post("/api/templates/order_processing/instantiate", json=body, headers=auth)
    assert resp.status_code == 400, resp.get_data(as_text=True)


def test_401_says_which_part_of_the_credentials_is_wrong(client: FlaskClient) -> None:
    def reason(headers: dict[str, str]) -> str:
        resp = client.get("/api/workflows", headers=headers)
        assert resp.status_code == 401
        return resp.get_json()["message"]

    assert "send Authorization" in reason({})
    assert "must be 'Bearer <token>'" in reason({"Authorization": "Basic eDp5"})
    assert "token is not valid" in reason({"Authorization": "Bearer stale"})


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/runs", {"GET"}),
        ("PUT", "/api/runs/00000000-0000-0000-0000-000000000000", {"GET"}),
        ("GET", "/api/runs/00000000-0000-0000-0000-000000000000/cancel", {"POST"}),
        ("POST", "/api/health", {"GET"}),
        ("DELETE", "/runs", {"GET"}),  # a page: the HTML error page has it too
    ],
)
def test_a_405_says_which_methods_the_route_has(
    client: FlaskClient, auth: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110: a 405 carries `Allow`. The JSON error handler dropped the header
    werkzeug's MethodNotAllowed has (the webhooks' own 405 sent it)."""
    resp = client.open(path, method=method, headers=auth)
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} - {"HEAD", "OPTIONS"} == allowed
    if path.startswith("/api/"):
        assert resp.is_json and resp.get_json()["error"] == "method not allowed"


# -- webhooks -----------------------------------------------------------------------------


def test_a_webhook_asked_with_the_wrong_method_is_405_naming_the_right_one(
    client: FlaskClient,
) -> None:
    # It was a 404 "no workflow listens", though the path exists.
    resp = client.get("/webhooks/test/async")
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST, OPTIONS"
    assert "accepts POST, not GET" in resp.get_json()["error"]
    assert client.get("/webhooks/no/such/path").status_code == 404


def test_a_delivery_without_its_idempotency_key_is_400(
    client: FlaskClient, workflows_dir: Path
) -> None:
    # It started a run with no key at all, so every retry of it would run again.
    name = _write(
        workflows_dir,
        """\
        name: NAME
        blocks:
          hook: {type: webhook, path: audit/NAME, idempotency_key: '<hook.body.event_id>'}
          work: {type: function, code: 'return 1'}
        edges: [hook -> work]
        """,
    )
    resp = client.post(f"/webhooks/audit/{name}", json={"order": 1})
    assert resp.status_code == 400 and "<hook.body.event_id>" in resp.get_json()["error"]
    first = client.post(f"/webhooks/audit/{name}", json={"event_id": "e-1"})
    again = client.post(f"/webhooks/audit/{name}", json={"event_id": "e-1"})
    assert first.status_code == again.status_code == 202
    assert again.get_json()["execution_id"] == first.get_json()["execution_id"]
    # The header fallback still counts as a key.
    header = client.post(f"/webhooks/audit/{name}", json={}, headers={"Idempotency-Key": "k-9"})
    assert header.status_code == 202
    # Written as optional, the key may be missing: the delivery runs without one.
    optional = _write(
        workflows_dir,
        """\
        name: NAME
        blocks:
          hook: {type: webhook, path: audit/NAME, idempotency_key: '<hook.body.event_id?>'}
          work: {type: function, code: 'return 1'}
        edges: [hook -> work]
        """,
    )
    assert client.post(f"/webhooks/audit/{optional}", json={"order": 1}).status_code == 202


def test_a_chunked_body_over_the_limit_is_413(live_server: str) -> None:
    # Just over it: the app's JSON answer. One far over it is refused by waitress
    # while it arrives (tests/ui/test_server_limits.py).
    def chunks():  # no Content-Length: httpx sends Transfer-Encoding: chunked
        for _ in range(2):
            yield b"x" * (512 * 1024)
        yield b"x" * 1024

    resp = httpx.post(f"{live_server}/webhooks/test/async", content=chunks(), timeout=30)
    assert resp.status_code == 413 and resp.json()["max_bytes"] == 1024 * 1024


# -- what PostgreSQL cannot store, what strict JSON does not have ---------------------------

NUL_HOOK = """\
name: NAME
blocks:
  hook: {type: webhook, path: audit/NAME}
  work: {type: function, code: 'return 1'}
edges: [hook -> work]
"""


def test_a_nul_in_a_webhook_body_or_query_is_400_and_starts_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # Each was a 500 with a traceback: jsonb and text cannot hold U+0000.
    name = _write(workflows_dir, NUL_HOOK)
    body = client.post(f"/webhooks/audit/{name}", json={"order_id": "o\u0000x"})
    assert body.status_code == 400, body.get_data(as_text=True)
    assert body.get_json()["error"] == (
        "the body contains a NUL character (\\u0000) at order_id, which cannot be stored"
    )
    query = client.post(f"/webhooks/audit/{name}?a=%00", json={})
    assert query.status_code == 400, query.get_data(as_text=True)
    assert "the query contains a NUL character" in query.get_json()["error"]
    assert client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"] == []


def test_a_nul_in_a_run_input_is_400_and_starts_nothing(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    before = client.get("/api/runs?workflow=hello&limit=500", headers=auth).get_json()["runs"]
    resp = client.post("/api/workflows/hello/runs", json={"a": {"b": ["\u0000"]}}, headers=auth)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == (
        "the run input contains a NUL character (\\u0000) at a.b.0, which cannot be stored"
    )
    after = client.get("/api/runs?workflow=hello&limit=500", headers=auth).get_json()["runs"]
    assert len(after) == len(before)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999999"])
def test_nan_and_infinite_numbers_are_400_bad_json(
    client: FlaskClient, auth: dict[str, str], number: str
) -> None:
    # Both were accepted and the run stored null in the number's place.
    text = f'{{"amount": {number}}}'
    json_type = {"Content-Type": "application/json"}
    hook = client.post("/webhooks/test/async", data=text, headers=json_type)
    assert hook.status_code == 400, hook.get_data(as_text=True)
    assert number in hook.get_json()["error"] and "not valid JSON" in hook.get_json()["error"]
    run = client.post("/api/workflows/hello/runs", data=text, headers={**auth, **json_type})
    assert run.status_code == 400, run.get_data(as_text=True)
    assert number in run.get_json()["error"] and "not JSON" in run.get_json()["error"]


@pytest.mark.parametrize("path", ["/webhooks", "/webhooks/"])
def test_webhooks_without_a_path_is_a_json_404_without_a_token(
    client: FlaskClient, path: str
) -> None:
    # `POST /webhooks` was a 401 with the HTML login page: webhooks need no token.
    resp = client.post(path, json={}, headers={"Accept": "text/html"})
    assert resp.status_code == 404, resp.get_data(as_text=True)
    assert resp.get_json() == {"error": "no workflow listens on POST /webhooks/"}
    # A method no webhook takes: a JSON error as under /webhooks/<path>, not an HTML page
    # (404 on `/webhooks`: werkzeug matches a rule without strict slashes only by method).
    other = client.open(path, method="TRACE", headers={"Accept": "text/html"})
    assert other.status_code in (404, 405) and other.is_json, other.get_data(as_text=True)
