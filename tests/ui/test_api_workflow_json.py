"""`GET /api/workflows/<name>` as JSON is the workflow itself (SPEC "HTTP": read,
YAML or JSON by `Accept`): the same document the YAML answer holds, so a
downloaded JSON file is a workflow file `flowyard validate` accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]


def test_json_read_is_the_document_the_yaml_read_is(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, tmp_path: Path
) -> None:
    as_yaml = client.get("/api/workflows/hello", headers={**auth, "Accept": "application/yaml"})
    document = yaml.safe_load(as_yaml.get_data(as_text=True))
    by_accept = client.get("/api/workflows/hello", headers={**auth, "Accept": "application/json"})
    assert by_accept.status_code == 200 and by_accept.mimetype == "application/json"
    assert by_accept.get_json() == document
    # The editor asks with ?format=json: the same shape.
    assert client.get("/api/workflows/hello?format=json", headers=auth).get_json() == document

    downloaded = tmp_path / "hello.json"
    downloaded.write_bytes(by_accept.get_data())
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", str(downloaded)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # What was read saves back unchanged: the file is not rewritten.
    before = (workflows_dir / "hello.yaml").read_bytes()
    saved = client.put("/api/workflows/hello", data=by_accept.get_data(), headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert saved.status_code == 200, saved.get_json()
    # The older wrapped shape ({"document": …}) is still accepted on save.
    wrapped = client.put("/api/workflows/hello", json={"document": document}, headers=auth)
    assert wrapped.status_code == 200, wrapped.get_json()
    assert (workflows_dir / "hello.yaml").read_bytes() == before


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_format_yaml_alone_is_text_a_browser_shows(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The editor's YAML link: served as application/yaml, Chromium saved it as a
    file named `hello`, without a suffix, instead of showing it."""
    resp = client.get(
        "/api/workflows/hello?format=yaml", headers={**auth, "Accept": BROWSER_ACCEPT}
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'inline; filename="hello.yaml"'
    assert resp.get_data() == (workflows_dir / "hello.yaml").read_bytes()
    assert resp.headers["ETag"] == client.get("/api/workflows/hello", headers=auth).headers["ETag"]


def test_format_yaml_with_a_yaml_accept_is_still_application_yaml(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for accept in ("application/yaml", "application/x-yaml", "text/yaml"):
        resp = client.get("/api/workflows/hello?format=yaml", headers={**auth, "Accept": accept})
        assert resp.mimetype == "application/yaml", accept
        assert "Content-Disposition" not in resp.headers


def test_a_yaml_accept_in_capitals_is_application_yaml(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """Media types are case-insensitive (RFC 9110): `APPLICATION/YAML` picked the YAML
    text, then labelled it `text/plain` for a browser, as `?format=yaml` alone is."""
    for accept in ("APPLICATION/YAML", "Application/X-YAML", "Text/Yaml"):
        for url in ("/api/workflows/hello", "/api/workflows/hello?format=yaml"):
            resp = client.get(url, headers={**auth, "Accept": accept})
            assert resp.status_code == 200 and resp.mimetype == "application/yaml", (accept, url)
            assert "Content-Disposition" not in resp.headers


def test_a_yaml_accept_with_parameters_is_application_yaml(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A media type's parameters (RFC 9110: `; charset=utf-8`) do not change what it
    names. A PUT takes `Content-Type: application/yaml; charset=utf-8` as YAML, but a
    GET with the same type in `Accept` answered JSON: a script syncing files with one
    header for both wrote JSON into its `.yaml` files, comments lost."""
    for accept in (
        "application/yaml; charset=utf-8",
        "text/yaml;charset=UTF-8",
        "application/x-yaml; charset=utf-8, application/json;q=0.5",
    ):
        for url in ("/api/workflows/hello", "/api/workflows/hello?format=yaml"):
            resp = client.get(url, headers={**auth, "Accept": accept})
            assert resp.status_code == 200 and resp.mimetype == "application/yaml", (accept, url)
            assert resp.get_data() == (workflows_dir / "hello.yaml").read_bytes(), accept
    # `q` is a weight, not a parameter of the type: JSON still wins where it is preferred.
    resp = client.get(
        "/api/workflows/hello",
        headers={**auth, "Accept": "application/yaml; charset=utf-8; q=0.2, application/json"},
    )
    assert resp.mimetype == "application/json"


NON_FINITE = (
    '{"name": "nan_save", "blocks": {"start": {"type": "manual"}, '
    '"f": {"type": "function", "code": "return 1", "timeout": NUMBER}}, "edges": ["start -> f"]}'
)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_json_save_with_a_number_json_has_not_is_422_as_validate_says(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, number: str
) -> None:
    # Python's json reads NaN, Infinity and 1e999 (as inf): `timeout: NaN` passed
    # every check (NaN is neither below the minimum nor above the maximum), the save
    # was a 201, and the file it wrote (`timeout: .nan`) was one `flowyard validate`,
    # the runs route and the workflow list then refused.
    body = NON_FINITE.replace("NUMBER", number)
    json_type = {**auth, "Content-Type": "application/json"}
    checked = client.post("/api/workflows/nan_save/validate", data=body, headers=json_type)
    assert checked.status_code == 422, checked.get_json()
    saved = client.put("/api/workflows/nan_save", data=body, headers=json_type)
    assert saved.status_code == 422, saved.get_json()
    [problem] = saved.get_json()["problems"]
    assert number.lstrip("-") in problem["message"], problem
    assert not (workflows_dir / "nan_save.yaml").exists()


def test_a_json_save_is_read_as_flowyard_validate_reads_a_json_file(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, tmp_path: Path
) -> None:
    # The API read a JSON body with json.loads, not the engine's JSON loader: an
    # `output` nested 900 deep (within Python's recursion limit) was a 500 — a
    # RecursionError compiling it — where `flowyard validate` says it is nested too
    # deeply; and a duplicate block id named no block.
    json_type = {**auth, "Content-Type": "application/json"}
    deep = '{"name": "deep_save", "blocks": {"s": {"type": "manual"}}, "output": %s}' % (
        "[" * 900 + "]" * 900
    )
    saved = client.put("/api/workflows/deep_save", data=deep, headers=json_type)
    assert saved.status_code == 422, saved.get_data(as_text=True)[:300]
    [problem] = saved.get_json()["problems"]
    assert problem["file"] == "deep_save.yaml" and problem["field"].startswith("output.0.0")
    assert "nested" in problem["message"]
    (tmp_path / "deep_save.json").write_text(deep)
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", str(tmp_path / "deep_save.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and problem["message"] in proc.stderr, proc.stderr
    assert not (workflows_dir / "deep_save.yaml").exists()

    twice = (
        '{"name": "dup_save", "blocks": {"start": {"type": "manual"},'
        ' "work": {"type": "function", "code": "return 1"},'
        ' "work": {"type": "function", "code": "return 2"}}, "edges": ["start -> work"]}'
    )
    saved = client.put("/api/workflows/dup_save", data=twice, headers=json_type)
    assert saved.status_code == 422, saved.get_data(as_text=True)
    [problem] = saved.get_json()["problems"]
    assert (problem["file"], problem["block"]) == ("dup_save.yaml", "work"), problem
    assert "duplicate block id 'work'" in problem["message"]
