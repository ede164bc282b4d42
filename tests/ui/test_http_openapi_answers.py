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
