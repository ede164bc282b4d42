"""Workflows CRUD, runs, block types and templates over HTTP (real engine + PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from flask.testing import FlaskClient

NEW_DOC = {
    "version": 1,
    "name": "made via api",
    "layout": {"first": [10, 20], "second": [200, 20]},
    "blocks": {
        "first": {"type": "function", "code": "return {'n': 1}"},
        "second": {"code": "return {'m': <first.n> + 1}", "type": "function"},
    },
    "edges": ["first -> second"],
}


def test_list_and_read(client: FlaskClient, auth: dict[str, str]) -> None:
    names = [w["name"] for w in client.get("/api/workflows", headers=auth).get_json()["workflows"]]
    assert {"hello", "hooks", "looper"} <= set(names)
    as_yaml = client.get("/api/workflows/hello", headers={**auth, "Accept": "application/yaml"})
    assert as_yaml.mimetype == "application/yaml" and "check.true -> on_true" in as_yaml.get_data(
        as_text=True
    )
    as_json = client.get(
        "/api/workflows/hello", headers={**auth, "Accept": "application/json"}
    ).get_json()
    assert as_json["blocks"]["check"]["type"] == "condition"
    assert client.get("/api/workflows/missing", headers=auth).status_code == 404
    assert client.get("/api/workflows/..%2Fsecret", headers=auth).status_code == 404


def test_save_writes_stable_yaml_with_layout_last(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    resp = client.put("/api/workflows/made_via_api", json=NEW_DOC, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    text = (workflows_dir / "made_via_api.yaml").read_text()
    doc = yaml.safe_load(text)
    assert list(doc) == ["version", "name", "blocks", "edges", "layout"]
    assert list(doc["blocks"]["second"]) == ["type", "code"]
    assert doc["edges"] == ["first -> second"]
    assert text.rstrip().splitlines()[-1].startswith("  second:")  # layout is the last section
    assert client.put("/api/workflows/made_via_api", json=NEW_DOC, headers=auth).status_code == 200
    # YAML bodies are accepted too.
    resp = client.put(
        "/api/workflows/made_via_api",
        data=text,
        headers={**auth, "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 200
    assert client.delete("/api/workflows/made_via_api", headers=auth).status_code == 204
    assert not (workflows_dir / "made_via_api.yaml").exists()
    assert client.delete("/api/workflows/made_via_api", headers=auth).status_code == 404


def test_save_invalid_lists_every_problem(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    bad = {
        "version": 1,
        "name": "bad",
        "blocks": {
            "a": {"type": "function", "code": "return {}", "bogus": 1},
            "b": {"type": "no_such_type"},
            "c": {"type": "function", "code": "return {'x': <zzz.out>}"},
        },
        "edges": ["a -> missing"],
    }
    resp = client.put("/api/workflows/bad_one", json=bad, headers=auth)
    assert resp.status_code == 422
    problems = resp.get_json()["problems"]
    assert len(problems) >= 3
    assert {p["block"] for p in problems} >= {"a", "b"}
    assert all({"file", "block", "field", "message"} <= set(p) for p in problems)
    assert not (workflows_dir / "bad_one.yaml").exists()
    resp = client.put(
        "/api/workflows/bad_one",
        data="blocks: [unclosed",
        headers={**auth, "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 422 and "cannot parse" in resp.get_json()["problems"][0]["message"]


def test_manual_run_and_runs_listing(client: FlaskClient, auth: dict[str, str]) -> None:
    resp = client.post("/api/workflows/hello/runs", json={"x": 1}, headers=auth)
    assert resp.status_code == 202
    eid = resp.get_json()["execution_id"]
    assert resp.get_json()["status_url"] == f"/api/runs/{eid}"
    done = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()
    assert done["status"] == "succeeded" and done["output"] == {"ok": True}
    assert done["blocks"]["on_false"]["status"] == "skipped"
    one = client.get(f"/api/runs/{done['execution_id']}", headers=auth).get_json()
    assert one["status"] == "succeeded" and set(one["blocks"]) == {
        "start",
        "add",
        "check",
        "on_true",
        "on_false",
    }
    runs = client.get("/api/runs?workflow=hello&status=succeeded&limit=5", headers=auth).get_json()[
        "runs"
    ]
    assert runs and all(r["workflow"] == "hello" and r["status"] == "succeeded" for r in runs)
    assert runs[0]["file"] == "hello"
    assert client.get("/api/runs?status=weird", headers=auth).status_code == 400
    for name in ("%00", "a%00b"):  # a NUL reached PostgreSQL: a 500
        bad = client.get(f"/api/runs?workflow={name}", headers=auth)
        assert bad.status_code == 400 and "NUL" in bad.get_json()["error"], bad.get_json()
    assert (
        client.get("/api/runs/00000000-0000-0000-0000-000000000000", headers=auth).status_code
        == 404
    )
    assert client.post("/api/workflows/nope/runs", json={}, headers=auth).status_code == 404
    assert (
        client.post(
            "/api/workflows/hello/runs",
            data="[1]",
            headers={**auth, "Content-Type": "application/json"},
        ).status_code
        == 400
    )


def test_rerun_uses_the_same_input(client: FlaskClient, auth: dict[str, str]) -> None:
    first = client.post(
        "/api/workflows/hello/runs?wait=1", json={"who": "me"}, headers=auth
    ).get_json()
    again = client.post(f"/api/runs/{first['execution_id']}/rerun", json={}, headers=auth)
    assert again.status_code == 202
    assert again.get_json()["execution_id"] != first["execution_id"]


def test_block_types_for_the_palette(client: FlaskClient, auth: dict[str, str]) -> None:
    types = client.get("/api/block-types", headers=auth).get_json()["block_types"]
    assert {"webhook", "function", "condition", "loop", "parallel", "http", "database"} <= set(
        types
    )
    assert types["condition"]["ports"] == ["true", "false"]
    assert types["loop"]["container"] and types["parallel"]["container"]
    assert "status" in types["http"]["outputs"] and "code" in types["function"]["config_schema"]
    schema = client.get("/api/schema", headers=auth).get_json()
    assert schema["title"] == "flowyard workflow"


def test_templates_gallery_and_instantiate(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    items = client.get("/api/templates", headers=auth).get_json()["templates"]
    ids = {t["id"] for t in items}
    assert {"order_processing", "replay_events"} <= ids
    resp = client.post(
        "/api/templates/replay_events/instantiate", json={"name": "replay_copy"}, headers=auth
    )
    assert resp.status_code == 201 and resp.get_json()["editor_url"] == "/editor/replay_copy"
    assert (workflows_dir / "replay_copy.yaml").is_file()
    again = client.post(
        "/api/templates/replay_events/instantiate", json={"name": "replay_copy"}, headers=auth
    )
    assert again.status_code == 409
    assert client.post("/api/templates/nope/instantiate", json={}, headers=auth).status_code == 404
    assert client.get("/", headers=auth).get_data(as_text=True).count("Use this template") >= 2


def test_runs_page_through_older_ones_with_before(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """A list is capped (500 at most); `next_before` and `?before=` reach every older
    run, page by page, none twice and none skipped."""
    made = [
        client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
            "execution_id"
        ]
        for _ in range(5)
    ]
    seen: list[str] = []
    page = client.get("/api/runs?workflow=hello&limit=2", headers=auth).get_json()
    while True:
        seen += [r["execution_id"] for r in page["runs"]]
        if "next_before" not in page or set(made) <= set(seen):
            break
        page = client.get(
            f"/api/runs?workflow=hello&limit=2&before={page['next_before']}", headers=auth
        ).get_json()
    assert len(seen) == len(set(seen))  # none twice
    assert seen[: len(made)] == made[::-1]  # newest first, none skipped
    assert client.get("/api/runs?before=nope", headers=auth).status_code == 400


def test_a_before_that_names_no_run_is_a_400(client: FlaskClient, auth: dict[str, str]) -> None:
    """Its run pruned while a client paged, the cursor answered an empty page: the
    client took it for the end of the list."""
    gone = str(uuid.uuid4())
    resp = client.get(f"/api/runs?limit=2&before={gone}", headers=auth)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"].startswith(f"before names no run ({gone})")


def test_a_file_whose_name_is_no_workflow_name_is_listed_as_ignored(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`Ünï.yaml` was left out of `/` and `/api/workflows` without a word."""
    odd = workflows_dir / "my flow.yaml"
    odd.write_text("version: 1\nname: odd\nblocks: {start: {type: manual}}\n")
    try:
        listed = client.get("/api/workflows", headers=auth).get_json()
        assert "my flow.yaml" in listed["ignored"]
        assert "my flow" not in [w["name"] for w in listed["workflows"]]
        page = client.get("/", headers=auth).get_data(as_text=True)
        assert 'id="ignored-files"' in page and "my flow.yaml" in page
    finally:
        odd.unlink()
    assert "my flow.yaml" not in client.get("/api/workflows", headers=auth).get_json()["ignored"]
