"""A JSON body that starts with a UTF-8 byte order mark, as Windows tools write one
(PowerShell's `Out-File -Encoding utf8`, Notepad): RFC 8259 lets a parser ignore it,
and the webhooks did, but the API refused it — a manual run, a re-run, a time travel
and a JSON save were a 400/422 "Unexpected UTF-8 BOM (decode using utf-8-sig)", advice
for a Python programmer, not for the client that sent it. Now the mark is skipped."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from flask.testing import FlaskClient

BOM = b"\xef\xbb\xbf"
JSON = {"Content-Type": "application/json"}


def test_a_json_body_with_a_byte_order_mark_is_read_as_without_it(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    headers = {**auth, **JSON}
    started = client.post("/api/workflows/hello/runs?wait=1", data=BOM + b"{}", headers=headers)
    assert started.status_code == 200, started.get_data(as_text=True)
    run = started.get_json()["execution_id"]
    again = client.post(f"/api/runs/{run}/rerun", data=BOM + b'{"from_failed": false}', headers=headers)  # fmt: skip
    assert again.status_code == 202, again.get_data(as_text=True)
    assert again.get_json()["from_failed"] is False
    name = f"bom_{uuid.uuid4().hex[:8]}"
    doc = {"version": 1, "name": name, "blocks": {"start": {"type": "manual"}}}
    try:
        saved = client.put(
            f"/api/workflows/{name}", data=BOM + json.dumps(doc).encode(), headers=headers
        )
        assert saved.status_code == 201, saved.get_data(as_text=True)
        assert client.get(f"/api/workflows/{name}", headers=auth).get_json()["name"] == name
        checked = client.post(
            f"/api/workflows/{name}/validate", data=BOM + json.dumps(doc).encode(), headers=headers
        )
        assert checked.get_json() == {"valid": True, "problems": []}
    finally:
        (workflows_dir / f"{name}.yaml").unlink(missing_ok=True)


def test_a_mark_anywhere_else_is_still_no_json(client: FlaskClient, auth: dict[str, str]) -> None:
    for body in (b"{}" + BOM, BOM + BOM + b"{}", b" " + BOM + b"{}"):
        refused = client.post("/api/workflows/hello/runs", data=body, headers={**auth, **JSON})
        assert refused.status_code == 400, body
