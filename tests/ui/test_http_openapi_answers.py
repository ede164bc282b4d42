"""Real answers match what /api/openapi.json declares for them: their status code is
one the operation lists, and a JSON body validates against the declared schema (a
black-box schemathesis round found answers the document did not allow)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _document(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    return client.get("/api/openapi.json", headers=auth).get_json()


def _conforms(doc: dict[str, Any], path: str, method: str, answer: TestResponse) -> None:
    """``answer`` is one the operation at ``path`` (as the document spells it) lists,
    and its JSON body, if the operation declares a schema for it, validates."""
    responses = doc["paths"][path][method]["responses"]
    status = str(answer.status_code)
    assert status in responses, (method, path, status, answer.get_data(as_text=True)[:200])
    content = responses[status].get("content", {})
    assert not content or answer.mimetype in content, (method, path, status, answer.mimetype)
    if answer.mimetype in content and "schema" in content[answer.mimetype]:
        # The components beside the schema, so that its #/components/… refs resolve.
        schema = {**content[answer.mimetype]["schema"], "components": doc["components"]}
        jsonschema.validate(
            answer.get_json(),
            schema,
            cls=jsonschema.Draft202012Validator,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )


SCALAR_OUTPUT = """\
version: 1
name: NAME
blocks:
  hook: {type: webhook, path: PATH, respond: sync}
  f:
    type: function
    code: |
      return {"a": 1}
edges: [hook -> f]
output: <f.a>
"""


def test_a_sync_webhook_answering_a_number_is_a_declared_answer(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The 200 was declared an object, but a sync webhook's body is its output
    (SPEC), whatever its type: `output: <f.a>` answers `1`."""
    name = f"scalar_{uuid.uuid4().hex[:8]}"
    path = f"openapi/{name}"
    text = SCALAR_OUTPUT.replace("NAME", name).replace("PATH", path)
    (workflows_dir / f"{name}.yaml").write_text(text)
    answer = client.post(f"/webhooks/{path}", json={})
    assert answer.status_code == 200 and answer.get_json() == 1
    _conforms(_document(client, auth), "/webhooks/{path}", "post", answer)


def test_pages_and_routes_answer_only_what_the_document_lists(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """A page for something that does not exist is a 404 HTML page, and an order id
    PostgreSQL cannot hold a 400: the document listed neither."""
    doc = _document(client, auth)
    for method, path, url, status in [
        ("get", "/runs/{execution_id}", "/runs/0", 404),
        ("get", "/runs/{execution_id}", f"/runs/{uuid.uuid4()}", 404),
        ("get", "/editor/{name}", "/editor/%00", 404),
        ("post", "/templates/{template_id}/use", "/templates/0/use", 404),
        ("get", "/api/events/orders/{order_id}", "/api/events/orders/%00", 400),
        ("post", "/api/events/orders/{order_id}/replay", "/api/events/orders/%00/replay", 400),
    ]:
        answer = client.open(url, method=method.upper(), headers=auth)
        assert answer.status_code == status, (url, answer.get_data(as_text=True)[:200])
        _conforms(doc, path, method, answer)


def test_the_main_answers_match_their_declared_bodies(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """The run result, the runs list, a run's and a webhook's 202 and health were
    declared `{"type": "object"}`: now with their properties, which real answers meet."""
    doc = _document(client, auth)
    bodies = doc["components"]["schemas"]
    assert {"execution_id", "status", "output", "blocks"} <= set(bodies["RunResult"]["required"])
    waited = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
    _conforms(doc, "/api/workflows/{name}/runs", "post", waited)
    queued = client.post("/api/workflows/hello/runs", json={}, headers=auth)
    assert queued.status_code == 202
    _conforms(doc, "/api/workflows/{name}/runs", "post", queued)
    run = waited.get_json()["execution_id"]
    _conforms(doc, "/api/runs/{execution_id}", "get", client.get(f"/api/runs/{run}", headers=auth))
    for listed in ("/api/runs?limit=1", f"/api/runs?before={run}&status=succeeded"):
        answer = client.get(listed, headers=auth)
        assert answer.status_code == 200 and answer.get_json()["runs"]
        _conforms(doc, "/api/runs", "get", answer)
    hook = client.post("/webhooks/test/async", json={"n": 1})
    assert hook.status_code == 202
    _conforms(doc, "/webhooks/{path}", "post", hook)
    health = client.get("/api/health")
    assert health.status_code == 200
    _conforms(doc, "/api/health", "get", health)


def _query(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path][method]["parameters"]
    return next(p["schema"] for p in params if p["in"] == "query" and p["name"] == name)


def test_query_parameters_have_the_rules_the_server_applies(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """Every value a query parameter's schema allows is taken, and what it refuses is
    a 400 (they were all plain strings)."""
    doc = _document(client, auth)
    run = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()
    events = f"/api/runs/{run['execution_id']}/events"
    checks = [
        ("/api/runs", "limit", "/api/runs?limit=", ["1", "600"], ["0", "x"]),
        (
            "/api/runs",
            "status",
            "/api/runs?status=",
            _query(doc, "/api/runs", "get", "status")["enum"],
            ["done"],
        ),  # fmt: skip
        ("/api/runs", "before", "/api/runs?before=", [run["execution_id"]], ["r-1"]),
        ("/api/events/orders", "limit", "/api/events/orders?limit=", [], ["0", "x"]),
        (
            "/api/runs/{execution_id}/events",
            "after",
            f"{events}?after=",
            ["0", "-2", "7"],
            ["1.5", "a"],
        ),  # fmt: skip
        (
            "/api/workflows/{name}",
            "format",
            "/api/workflows/hello?format=",
            ["yaml", "json"],
            ["xml"],
        ),
    ]
    validator = jsonschema.Draft202012Validator
    for path, name, url, taken, refused in checks:
        schema = _query(doc, path, "get", name)
        if name in ("limit", "after"):
            assert schema["type"] == "integer", (path, name)
        for value in taken:
            raw: Any = int(value) if schema.get("type") == "integer" else value
            assert validator(schema, format_checker=validator.FORMAT_CHECKER).is_valid(raw)
            assert client.get(url + value, headers=auth).status_code == 200, (url, value)
        for value in refused:
            raw = int(value) if schema.get("type") == "integer" and value.isdigit() else value
            assert not validator(schema, format_checker=validator.FORMAT_CHECKER).is_valid(raw)
            assert client.get(url + value, headers=auth).status_code == 400, (url, value)
    wait = _query(doc, "/api/workflows/{name}/runs", "post", "wait")["enum"]
    assert {"1", "true", "yes", "0", "false", "no"} == set(wait)
    for value in [*wait, "TRUE"]:
        answer = client.post(f"/api/workflows/hello/runs?wait={value}", json={}, headers=auth)
        assert answer.status_code in (200, 202), (value, answer.get_json())
    maybe = client.post("/api/workflows/hello/runs?wait=maybe", json={}, headers=auth)
    assert maybe.status_code == 400


def test_a_get_on_a_replay_path_reads_the_order_whose_id_ends_in_replay(
    client: FlaskClient, auth: dict[str, str], engine_bridge: Any, order_id: str
) -> None:
    """OPTIONS …/o-1/replay listed GET beside POST, and a GET there was a 404 "no
    events for order 'o-1/replay'": order ids may hold '/', so that GET reads the
    order `o-1/replay`. Kept, and said in the document and docs/api.md."""
    from templates.event_store import append_batch

    # (order_id: the store's tables exist, with another order in them)
    oid = f"o-{uuid.uuid4().hex[:8]}/replay"

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            await append_batch(conn, [{"event_type": "order_created", "aggregate_id": oid}])

    engine_bridge.call(setup())
    doc = _document(client, auth)
    assert "reads the order `o-1/replay`" in doc["paths"]["/api/events/orders/{order_id}"]["get"]["summary"]  # fmt: skip
    answer = client.get(f"/api/events/orders/{oid}", headers=auth)
    assert answer.status_code == 200 and answer.get_json()["order_id"] == oid
    _conforms(doc, "/api/events/orders/{order_id}", "get", answer)
    allow = client.options(f"/api/events/orders/{oid}", headers=auth).headers["Allow"]
    assert {"GET", "POST"} <= {m.strip() for m in allow.split(",")}
    assert "reads the order `o-1/replay`" in (DOCS / "api.md").read_text()


def test_a_folder_that_cannot_be_written_is_a_declared_answer(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """docs/api.md: a save, delete or template copy the file system refuses is a
    `500 {error, reason}`; the document listed no 500 for them, so a client built
    from it had no branch for the one answer that says "fix the folder"."""
    doc = _document(client, auth)
    for path, method in [
        ("/api/workflows/{name}", "put"),
        ("/api/workflows/{name}", "delete"),
        ("/api/templates/{template_id}/instantiate", "post"),
    ]:
        assert "500" in doc["paths"][path][method]["responses"], (method, path)
    name = f"unwritable_{uuid.uuid4().hex[:8]}"
    in_the_way = workflows_dir / f"{name}.yaml"
    (in_the_way / "kept").mkdir(parents=True)  # a folder (not a file) holds the name
    try:
        text = f"version: 1\nname: {name}\nblocks:\n  start: {{type: manual}}\n"
        saved = client.put(f"/api/workflows/{name}", data=text, headers=auth)
    finally:
        (in_the_way / "kept").rmdir()
        in_the_way.rmdir()
    assert saved.status_code == 500, saved.get_data(as_text=True)[:200]
    _conforms(doc, "/api/workflows/{name}", "put", saved)
    assert set(saved.get_json()) == {"error", "reason"}


FAILING_HOOK = """\
version: 1
name: NAME
blocks:
  hook: {type: webhook, path: PATH}
  boom:
    type: function
    code: |
      raise ValueError("declined")
edges: [hook -> boom]
"""


def _undeclared(doc: dict[str, Any], schema: str, body: dict[str, Any]) -> set[str]:
    return set(body) - set(doc["components"]["schemas"][schema]["properties"])


def test_a_repeated_delivery_s_keys_are_declared(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A repeat's `duplicate` and a retry's `retry_of` (docs/blocks/webhook.md) were
    in no schema: a client generated from the document dropped them, and could not
    tell a repeat that started nothing from a new run."""
    from processes import eventually

    doc = _document(client, auth)
    key = {"Idempotency-Key": f"openapi-{uuid.uuid4()}"}
    first = client.post("/webhooks/test/async", json={"n": 1}, headers=key)
    repeat = client.post("/webhooks/test/async", json={"n": 1}, headers=key)
    assert repeat.status_code == 202 and repeat.get_json()["duplicate"] is True
    assert repeat.get_json()["execution_id"] == first.get_json()["execution_id"]
    name = f"failing_{uuid.uuid4().hex[:8]}"
    path = f"openapi/{name}"
    (workflows_dir / f"{name}.yaml").write_text(
        FAILING_HOOK.replace("NAME", name).replace("PATH", path)
    )
    try:
        failed = client.post(f"/webhooks/{path}", json={}, headers=key).get_json()["execution_id"]

        def ended() -> bool:
            return client.get(f"/api/runs/{failed}", headers=auth).get_json()["status"] == "failed"

        assert eventually(ended)
        retry = client.post(f"/webhooks/{path}", json={}, headers=key)
    finally:
        (workflows_dir / f"{name}.yaml").unlink()
    assert retry.status_code == 202 and retry.get_json()["retry_of"] == failed
    for answer in (repeat, retry):
        _conforms(doc, "/webhooks/{path}", "post", answer)
        assert _undeclared(doc, "RunAccepted", answer.get_json()) == set(), answer.get_json()


TYPED_INPUT = """\
version: 1
name: NAME
blocks:
  start:
    type: manual
    input_schema:
      type: object
      properties: {n: {type: integer}}
  f:
    type: function
    code: |
      return {"n": <start.n>}
edges: [start -> f]
"""


def test_a_refused_input_s_problems_are_declared_as_the_texts_they_are(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A manual run's 422 has `problems` as objects for an invalid workflow and as
    texts for an input its input_schema refuses (as `flowyard run` prints them): the
    document declared a bare object, so a client reading `problems[0].message` met
    a string without a word of warning."""
    doc = _document(client, auth)
    name = f"typed_{uuid.uuid4().hex[:8]}"
    (workflows_dir / f"{name}.yaml").write_text(TYPED_INPUT.replace("NAME", name))
    try:
        refused = client.post(f"/api/workflows/{name}/runs", json={"n": "seven"}, headers=auth)
    finally:
        (workflows_dir / f"{name}.yaml").unlink()
    assert refused.status_code == 422
    assert refused.get_json()["problems"] == ["n: 'seven' is not of type 'integer'"]
    _conforms(doc, "/api/workflows/{name}/runs", "post", refused)
    for path in ("/api/workflows/{name}/runs", "/api/events/orders/{order_id}/replay"):
        declared = doc["paths"][path]["post"]["responses"]["422"]["content"]["application/json"]
        validator = jsonschema.Draft202012Validator(
            {**declared["schema"], "components": doc["components"]}
        )
        assert validator.is_valid({"error": "e", "problems": ["n: 'x' is not an integer"]})
        assert validator.is_valid({"error": "e", "problems": [{"block": "f", "message": "m"}]})
        assert not validator.is_valid({"error": "e", "problems": [7]}), path


def test_the_pages_query_parameters_are_documented(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """`/runs` reads `status` and `before` (its filter and its pages) and `/login`
    reads `next`, but the document listed only `workflow`: a link built from it
    could not keep the filter or the page. A page takes any value (an unknown status
    is said on the page and all runs shown; a before naming no run, the newest)."""
    doc = _document(client, auth)

    def query(path: str) -> dict[str, Any]:
        params = doc["paths"][path]["get"].get("parameters", [])
        return {p["name"]: p["schema"] for p in params if p["in"] == "query"}

    runs = query("/runs")
    assert {"workflow", "status", "before"} <= set(runs)
    assert "enum" not in runs["status"] and "format" not in runs["before"]
    assert "next" in query("/login")
    for url in ("/runs?status=done", f"/runs?before={uuid.uuid4()}", "/runs?before=x"):
        answer = client.get(url, headers=auth)
        assert answer.status_code == 200, url
        _conforms(doc, "/runs", "get", answer)


def test_error_answers_declare_their_one_body(client: FlaskClient, auth: dict[str, str]) -> None:
    """Every error of the API is JSON with an `error` text (docs/api.md), but the
    document's 400, 401 and 404 declared no body at all: a client built from it had
    no way to read why. Now an `Error` body, which real answers meet."""
    doc = _document(client, auth)
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    gone = str(uuid.uuid4())
    for method, path, url, headers in [
        ("get", "/api/runs/{execution_id}", f"/api/runs/{gone}", auth),
        ("get", "/api/workflows/{name}", "/api/workflows/no_such_file", auth),
        ("get", "/api/workflows/{name}", "/api/workflows/hello?format=xml", auth),
        ("get", "/api/runs", "/api/runs?limit=x", auth),
        ("post", "/api/runs/{execution_id}/cancel", f"/api/runs/{gone}/cancel", auth),
        ("get", "/api/runs", "/api/runs", {}),
        ("post", "/api/workflows/{name}/runs", "/api/workflows/hello/runs", {}),
    ]:
        answer = client.open(url, method=method.upper(), headers=headers)
        assert answer.status_code in (400, 401, 404), (url, answer.status_code)
        declared = doc["paths"][path][method]["responses"][str(answer.status_code)]
        assert "application/json" in declared.get("content", {}), (method, path)
        _conforms(doc, path, method, answer)
