"""A read of a workflow honours the conditions a client sends with the `ETag` it got
(RFC 9110, 13.2): `If-None-Match` with the file's version is a `304` without a body
(a script syncing the folder asks "changed since?" without downloading it again),
and `If-Match` with another version a `412`. Both were ignored: every read was a
`200` with the whole file, whatever the client said it already had."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient

TEXT = "version: 1\nname: {name}\nblocks:\n  start: {{type: manual}}\n"


@pytest.fixture
def named(workflows_dir: Path) -> Iterator[tuple[str, Path]]:
    name = f"reads_{uuid.uuid4().hex[:8]}"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(TEXT.format(name=name))
    yield name, path
    path.unlink(missing_ok=True)


def test_a_read_with_the_version_the_client_has_is_304_until_the_file_changes(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    name, path = named
    url = f"/api/workflows/{name}"
    etag = client.get(url, headers=auth).headers["ETag"]
    for form in ({}, {"Accept": "application/yaml"}):
        for sent in (etag, f'"other", {etag}', f"W/{etag}", "*"):
            same = client.get(url, headers={**auth, **form, "If-None-Match": sent})
            assert same.status_code == 304, (form, sent, same.get_data(as_text=True)[:200])
            assert same.get_data() == b"" and same.headers["ETag"] == etag
    assert client.head(url, headers={**auth, "If-None-Match": etag}).status_code == 304
    path.write_text(TEXT.format(name=name) + "description: changed on disk\n")
    changed = client.get(url, headers={**auth, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["description"] == "changed on disk"
    assert changed.headers["ETag"] != etag


def test_a_read_if_the_file_is_at_another_version_is_412(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    name, _ = named
    url = f"/api/workflows/{name}"
    etag = client.get(url, headers=auth).headers["ETag"]
    assert client.get(url, headers={**auth, "If-Match": etag}).status_code == 200
    assert client.get(url, headers={**auth, "If-Match": "*"}).status_code == 200
    for stale in ('"0000"', f"W/{etag}"):  # If-Match compares strongly
        refused = client.get(url, headers={**auth, "If-Match": stale})
        assert refused.status_code == 412, stale
        assert refused.get_json()["etag"] == etag
    # Only a read that would succeed is conditional: no file is still a 404.
    gone = client.get(f"/api/workflows/{name}_gone", headers={**auth, "If-None-Match": "*"})
    assert gone.status_code == 404


def test_the_document_lists_the_conditions_and_their_answers(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    doc: dict[str, Any] = client.get("/api/openapi.json", headers=auth).get_json()
    read = doc["paths"]["/api/workflows/{name}"]["get"]
    assert {"304", "412"} <= set(read["responses"])
    headers = {p["name"] for p in read["parameters"] if p["in"] == "header"}
    assert {"If-Match", "If-None-Match"} <= headers
    name, _ = named
    url = f"/api/workflows/{name}"
    refused = client.get(url, headers={**auth, "If-Match": '"0000"'})
    schema = read["responses"]["412"]["content"]["application/json"]["schema"]
    jsonschema.validate(refused.get_json(), schema)


def test_a_delete_of_a_version_changed_since_it_was_read_is_412(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    """A delete took no `If-Match`: a client deleting the workflow it read removed a
    teammate's change saved since, unseen, where a save over it is a 412."""
    name, path = named
    url = f"/api/workflows/{name}"
    etag = client.get(url, headers=auth).headers["ETag"]
    path.write_text(TEXT.format(name=name) + "description: a teammate's change\n")
    refused = client.delete(url, headers={**auth, "If-Match": etag})
    assert refused.status_code == 412, refused.get_data(as_text=True)
    assert refused.get_json()["etag"] != etag and path.exists()
    current = client.get(url, headers=auth).headers["ETag"]
    assert client.delete(url, headers={**auth, "If-Match": current}).status_code == 204
    assert not path.exists()
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    delete = doc["paths"]["/api/workflows/{name}"]["delete"]
    assert "412" in delete["responses"]
    assert "If-Match" in {p["name"] for p in delete["parameters"] if p["in"] == "header"}


def test_a_save_if_none_match_a_weakened_version_is_412(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    """If-None-Match compares weakly (RFC 9110, 13.1.2): the file's version as a proxy
    that compresses answers hands it on, `W/"…"`, is still that version. A save with it
    was written over the file the client said it must not be."""
    name, path = named
    url = f"/api/workflows/{name}"
    read = client.get(url, headers=auth)
    before = path.read_text()
    doc = {**read.get_json(), "description": "must not land"}
    weak = {**auth, "If-None-Match": f"W/{read.headers['ETag']}"}
    refused = client.put(url, json=doc, headers=weak)
    assert refused.status_code == 412, refused.get_data(as_text=True)
    assert path.read_text() == before
