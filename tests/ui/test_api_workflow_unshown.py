"""A file the engine reads only in part (a header named `1`, which YAML reads as a
number; a merge key `<<: *defaults`; a key given twice) is refused by validation, and
its JSON form, which the editor edits, leaves that part out. A save of that document
over the file was accepted (the document itself is valid) and silently removed the
header, the merged settings or the first key from the file. It is refused now,
naming what the file holds, until the file is fixed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

HEADER = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  call:
    type: http
    url: http://127.0.0.1:9/x
    headers: {{X-A: a, 1: b}}
edges:
  - start -> call
"""

MERGED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  first:
    type: http
    url: http://127.0.0.1:9/x
    headers: &common {{X-Tenant: t1, X-Api-Version: "2"}}
  call:
    type: http
    url: http://127.0.0.1:9/y
    headers:
      <<: *common
      X-B: b
edges:
  - start -> first
  - first -> call
"""


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [("unshown_header", HEADER, "key 1"), ("unshown_merge", MERGED, "merge keys")],
)
def test_a_save_over_a_file_its_document_cannot_hold_whole_is_refused(
    client: FlaskClient, auth: dict[str, str], scratch, name: str, text: str, says: str
) -> None:
    path: Path = scratch(name, text)
    before = path.read_text()
    got = client.get(f"/api/workflows/{name}?format=json", headers=auth)
    doc = got.get_json()
    doc["blocks"]["start"]["description"] = "an edit elsewhere"
    resp = client.put(
        f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": got.headers["ETag"]}
    )
    assert resp.status_code == 422, resp.get_json()
    messages = [p["message"] for p in resp.get_json()["problems"]]
    assert any(says in m and "fix it in the file first" in m for m in messages), messages
    assert path.read_text() == before


def test_the_file_sent_as_yaml_replaces_it(
    client: FlaskClient, auth: dict[str, str], scratch
) -> None:
    """The fix by hand: the file's new text, sent whole, is saved as before."""
    path: Path = scratch("unshown_fixed", HEADER)
    fixed = HEADER.format(name="unshown_fixed").replace("1: b", "'1': b")
    resp = client.put(
        "/api/workflows/unshown_fixed",
        data=fixed,
        headers={**auth, "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 200, resp.get_json()
    assert path.read_text() == fixed
