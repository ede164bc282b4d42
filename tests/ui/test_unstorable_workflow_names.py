"""A workflow `name:` with a NUL or a lone UTF-16 surrogate saved as valid, and then
every run and delivery was a 500: PostgreSQL text holds neither (the name is stored
with each run and each workflow version). Validation refuses such a name, naming
the field; a file written by hand with one is not loaded, so its webhook is a 503."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

HOOKED = """\
version: 1
name: {name}
blocks:
  hook:
    type: webhook
    path: {path}
  work:
    type: function
    code: |
      return 1
edges: [hook -> work]
"""

# As each arrives: a YAML escape, and JSON's \u escapes (JSON text sent as is).
YAML_NAMES = ['"Nul\\0Name"', '"Sur\\uD800Name"']
JSON_NAMES = ["J\\u0000N", "J\\ud800N"]
SAID = {
    "Nul": "a NUL character (\\u0000)",
    "Sur": "a lone UTF-16 surrogate (\\ud800)",
    "J\\u0000N": "a NUL character (\\u0000)",
    "J\\ud800N": "a lone UTF-16 surrogate (\\ud800)",
}


def _refused_name(answer: object, kind: str) -> None:
    body = answer.get_json()  # type: ignore[attr-defined]
    assert answer.status_code == 422, body  # type: ignore[attr-defined]
    named = [p for p in body["problems"] if p.get("field") == "name"]
    assert [p["message"] for p in named] == [
        f"the workflow name contains {kind}, which cannot be stored"
    ], body


@pytest.mark.parametrize("name", YAML_NAMES)
def test_a_yaml_name_postgresql_cannot_hold_is_refused_on_save_and_validate(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str
) -> None:
    stem = f"unstorable_{uuid.uuid4().hex[:8]}"
    text = HOOKED.format(name=name, path=f"{stem}/hook")
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    kind = SAID[name[1:4]]
    _refused_name(
        client.post(f"/api/workflows/{stem}/validate", data=text, headers=yaml_type), kind
    )
    _refused_name(client.put(f"/api/workflows/{stem}", data=text, headers=yaml_type), kind)
    assert not (workflows_dir / f"{stem}.yaml").exists()


@pytest.mark.parametrize("name", JSON_NAMES)
def test_a_json_name_postgresql_cannot_hold_is_refused_on_save(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str
) -> None:
    stem = f"unstorable_{uuid.uuid4().hex[:8]}"
    text = (
        f'{{"version": 1, "name": "{name}", "blocks": {{"start": {{"type": "manual"}},'
        ' "work": {"type": "function", "code": "return 1"}}, "edges": ["start -> work"]}'
    )
    json_type = {**auth, "Content-Type": "application/json"}
    _refused_name(client.put(f"/api/workflows/{stem}", data=text, headers=json_type), SAID[name])
    assert not (workflows_dir / f"{stem}.yaml").exists()


def test_a_hand_written_file_with_such_a_name_is_no_500_on_its_webhook(
    client: FlaskClient, scratch: Callable[[str, str], Path]
) -> None:
    """Not loaded (it has errors): the delivery is the 503 of a webhook whose
    workflow has errors, which a sender retries once the file is fixed."""
    stem = f"unstorable_{uuid.uuid4().hex[:8]}"
    scratch(stem, HOOKED.format(name='"Nul\\0Name"', path=f"{stem}/hook"))
    delivered = client.post(f"/webhooks/{stem}/hook", json={"a": 1})
    assert delivered.status_code == 503, delivered.get_json()
    assert delivered.get_json()["error"] == "workflow unavailable"


@pytest.mark.parametrize("field", ["concurrency_key", "idempotency_key"])
def test_a_webhook_key_postgresql_cannot_hold_is_refused_on_save(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, field: str
) -> None:
    """The text around a key's reference is stored with each run as it is."""
    stem = f"unstorable_{uuid.uuid4().hex[:8]}"
    text = HOOKED.format(name=stem, path=f"{stem}/hook").replace(
        "    path:", f'    {field}: "a\\0b:<hook.body.id>"\n    path:'
    )
    assert f"{field}: " in text
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    saved = client.put(f"/api/workflows/{stem}", data=text, headers=yaml_type)
    body = saved.get_json()
    assert saved.status_code == 422, body
    assert [(p["block"], p["field"], p["message"]) for p in body["problems"]] == [
        ("hook", field, f"the {field} contains a NUL character (\\u0000), which cannot be stored")
    ]
    assert not (workflows_dir / f"{stem}.yaml").exists()
