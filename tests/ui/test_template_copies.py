"""Copying a template beside a workflow that already serves its webhook path or has
its `name:` (docs/templates.md): the copy gets its own path and name, says so, and
the installed original keeps its deliveries. Nothing else of the copy changes."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from engine.model import WorkflowError
from engine.workflows import WorkflowStore
from templates import instantiate
from ui.bridge import EngineBridge

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "templates"
ORDERS = "Order Processing with Event Sourcing"


_FORM = "application/x-www-form-urlencoded"


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_copy_in_a_fresh_folder_is_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    # What `serve` installs on first run, and `flowyard new` where nothing clashes.
    folder = tmp_path / "workflows"
    instantiate("order_processing", folder)
    instantiate("replay_events", folder)
    instantiate("order_processing_agent", folder, name="agent")
    pairs = {
        "order_processing.yaml": "order_processing/workflow.yaml",
        "order_processing.schema.sql": "order_processing/schema.sql",
        "order_processing.analytics.sql": "order_processing/analytics.sql",
        "order_processing.README.md": "order_processing/README.md",
        "replay_events.yaml": "replay_events/workflow.yaml",
        "replay_events.README.md": "replay_events/README.md",
        "agent.yaml": "order_processing_agent/workflow.yaml",
        "lib/order_events.py": "lib/order_events.py",
    }
    for copied, shipped in pairs.items():
        assert (folder / copied).read_bytes() == (SHIPPED / shipped).read_bytes(), copied


def test_a_second_copy_gets_its_own_webhook_path_and_name(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    original = instantiate("order_processing", folder)
    copy = instantiate("order_processing", folder, name="op_copy")
    doc = yaml.safe_load(copy.read_text())
    assert doc["blocks"]["webhook"]["path"] == "op_copy/events"
    assert doc["name"] == f"{ORDERS} (op_copy)"
    # Only those lines (and the description's URL) differ: comments and all stay.
    assert _changed_lines(original.read_text(), copy.read_text()) == [
        f"-name: {ORDERS}",
        f"+name: {ORDERS} (op_copy)",
        "-  Append each order event (POST /webhooks/orders/events) to an append-only event",
        "+  Append each order event (POST /webhooks/op_copy/events) to an append-only event",
        "-    path: orders/events",
        "+    path: op_copy/events",
    ]
    for sql in ("schema.sql", "analytics.sql"):
        assert (folder / f"op_copy.{sql}").read_bytes() == (SHIPPED / "order_processing" / sql).read_bytes()  # fmt: skip
    # Deliveries: the original keeps its path; the copy answers on its own.
    store = WorkflowStore(folder)
    assert Path(store.find_webhook("orders/events")[0].file) == original  # type: ignore[index]
    assert Path(store.find_webhook("op_copy/events")[0].file) == copy  # type: ignore[index]
    # A third copy clashes with neither.
    third = instantiate("order_processing", folder, name="op_third")
    assert yaml.safe_load(third.read_text())["blocks"]["webhook"]["path"] == "op_third/events"
    # A template without a webhook: only its name: changes.
    replay = instantiate("replay_events", folder)
    replay_copy = instantiate("replay_events", folder, name="replay_copy")
    assert _changed_lines(replay.read_text(), replay_copy.read_text()) == [
        "-name: Replay Events",
        "+name: Replay Events (replay_copy)",
    ]
    # `flowyard validate` finds no clash of path or name among them.
    proc = _validate(original, copy, third, replay, replay_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def stems(workflows_dir: Path) -> Iterator[list[str]]:
    """Unique workflow names; their files (and SQL, README) are removed afterwards:
    the workspace is shared, and a copy left behind would take the template's path."""
    made: list[str] = []
    yield made
    for stem in made:
        for path in workflows_dir.glob(f"{stem}.*"):
            path.unlink()


def test_instantiate_beside_the_original_answers_the_copy_s_path_and_name(
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    engine_bridge: EngineBridge,
    stems: list[str],
) -> None:
    orig, copy = f"tc_orig_{uuid.uuid4().hex[:6]}", f"tc_copy_{uuid.uuid4().hex[:6]}"
    stems += [orig, copy]
    url = "/api/templates/order_processing/instantiate"
    assert client.post(url, json={"name": orig}, headers=auth).status_code == 201
    resp = client.post(url, json={"name": copy}, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    # The original's path: orders/events, unless a file of the shared workspace had it.
    served = yaml.safe_load((workflows_dir / f"{orig}.yaml").read_text())["blocks"]["webhook"]
    copied = yaml.safe_load((workflows_dir / f"{copy}.yaml").read_text())
    assert copied["blocks"]["webhook"]["path"] == f"{copy}/events" != served["path"]
    runtime = engine_bridge.runtime
    assert Path(runtime.find_webhook(served["path"])[0].file).name == f"{orig}.yaml"
    assert Path(runtime.find_webhook(f"{copy}/events")[0].file).name == f"{copy}.yaml"

    body = resp.get_json()
    assert body["name"] == copy and body["title"] == copied["name"] != ORDERS
    hook = {"block": "webhook", "method": "POST", "path": f"{copy}/events"}
    assert body["webhooks"] == [{**hook, "url": f"/webhooks/{copy}/events"}]
    changes = {c["field"]: c for c in body["changes"]}
    assert changes["path"]["block"] == "webhook" and changes["path"]["now"] == f"{copy}/events"
    # The clash named is with the file that serves the template's path (the original,
    # or one the shared workspace already had).
    owner = Path(runtime.find_webhook("orders/events")[0].file).name
    assert f"already the webhook of {owner}" in changes["path"]["message"]
    assert changes["name"]["was"] == ORDERS and changes["name"]["now"] == copied["name"]
    # The copy saves with neither a problem nor a warning.
    doc = client.get(f"/api/workflows/{copy}?format=json", headers=auth).get_json()
    saved = client.put(f"/api/workflows/{copy}", json=doc, headers=auth)
    assert saved.status_code == 200 and "warnings" not in saved.get_json()


def test_the_page_s_use_template_form_makes_a_copy_that_does_not_clash(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    orig, copy = f"tp_orig_{uuid.uuid4().hex[:6]}", f"tp_copy_{uuid.uuid4().hex[:6]}"
    stems += [orig, copy]
    for stem in (orig, copy):
        resp = client.post("/templates/order_processing/use", data={"name": stem}, headers=auth)
        assert resp.status_code == 302 and resp.location.endswith(f"/editor/{stem}")
    proc = _validate(workflows_dir / f"{orig}.yaml", workflows_dir / f"{copy}.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_an_unknown_template_s_message_has_no_stray_quotes(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    resp = client.post("/api/templates/nosuch/instantiate", json={}, headers=auth)
    assert resp.status_code == 404
    detail = resp.get_json()["detail"]
    assert detail.startswith("unknown template 'nosuch' (known: "), detail
    assert "order_processing" in detail and not detail.endswith('"')


def test_instantiate_keeps_an_edited_lib_file_and_lists_it_in_changes(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    """A copy never overwrites a lib/ file the user edited (the live reducer): the
    answer's `changes` says it was kept (docs/templates.md)."""
    copy = f"tl_copy_{uuid.uuid4().hex[:6]}"
    stems.append(copy)
    reducer = workflows_dir / "lib" / "order_events.py"
    before = reducer.read_bytes()
    edited = before + b"\n\n# the user's handler for a new event type would go here\n"
    reducer.write_bytes(edited)
    try:
        url = "/api/templates/replay_events/instantiate"
        resp = client.post(url, json={"name": copy}, headers=auth)
        assert resp.status_code == 201, resp.get_json()
        assert reducer.read_bytes() == edited
        kept = [c for c in resp.get_json()["changes"] if c["field"] == "lib/order_events.py"]
        assert len(kept) == 1 and kept[0]["block"] is None
        assert kept[0]["message"].startswith("kept your edited lib/order_events.py")
    finally:
        reducer.write_bytes(before)


@pytest.mark.parametrize("name", ["a" * 300, "x" + "a" * 100, "a b", "a.b", 5, ["x"]])
def test_a_name_the_api_refuses_is_said_as_flowyard_new_says_it(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: object
) -> None:
    """The API's 400 named no length limit ("letters, digits, '_' and '-'") where
    `flowyard new` says "at most 100 characters" (tests/test_ops_new_names.py)."""
    before = sorted(p.name for p in workflows_dir.iterdir())
    resp = client.post(
        "/api/templates/order_processing/instantiate", json={"name": name}, headers=auth
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == (
        f"invalid workflow name {name!r}: letters, digits, '_' and '-',"
        " starting with a letter or digit, at most 100 characters"
    )
    assert sorted(p.name for p in workflows_dir.iterdir()) == before


def test_the_api_takes_a_name_with_yaml_as_flowyard_new_does(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    stem = f"ty_{uuid.uuid4().hex[:6]}"
    stems.append(stem)
    resp = client.post(
        "/api/templates/replay_events/instantiate", json={"name": f"{stem}.yaml"}, headers=auth
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["name"] == stem and (workflows_dir / f"{stem}.yaml").is_file()


@pytest.mark.parametrize("name", ["_x", "x" + "a" * 100])
def test_a_name_put_refuses_is_said_as_the_template_copy_says_it(
    client: FlaskClient, auth: dict[str, str], name: str
) -> None:
    """`PUT /api/workflows/_x` said "letters, digits, '_' and '-'" of a name made of
    exactly those: the rule is one, said the same by every route."""
    doc = {"version": 1, "name": "t", "blocks": {"start": {"type": "manual"}}}
    resp = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == (
        f"invalid workflow name {name!r}: letters, digits, '_' and '-',"
        " starting with a letter or digit, at most 100 characters"
    )


@pytest.mark.parametrize("name", ["", "   "])
@pytest.mark.parametrize("as_form", [False, True])
def test_an_empty_name_is_refused_not_taken_as_no_name(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str, as_form: bool
) -> None:
    """`{"name": ""}` made the template's default copy (or a false 409 when it was
    there): a name given empty is refused, as `flowyard new replay_events ""` does."""
    before = sorted(p.name for p in workflows_dir.iterdir())
    sent = {"data": {"name": name}} if as_form else {"json": {"name": name}}
    resp = client.post("/api/templates/replay_events/instantiate", headers=auth, **sent)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "a workflow name cannot be empty"
    assert sorted(p.name for p in workflows_dir.iterdir()) == before


def _counting_calls(code: Any) -> tuple[list[int], Callable[[], None]]:
    """Count calls of the function whose code is ``code`` on this thread (where the
    test client serves a request), until the returned stop is called."""
    calls = [0]

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            calls[0] += 1

    sys.setprofile(profile)
    return calls, lambda: sys.setprofile(None)


def test_instantiate_reads_no_workflow_the_server_has_loaded(
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    engine_bridge: EngineBridge,
    stems: list[str],
) -> None:
    """Each instantiate parsed and validated every workflow of the folder again to
    find clashes (11 s with 420 copies): the server's loaded workflows are used."""
    from engine import model

    made = [f"tr_pre_{uuid.uuid4().hex[:6]}" for _ in range(3)]
    copy = f"tr_copy_{uuid.uuid4().hex[:6]}"
    stems += [*made, copy]
    url = "/api/templates/replay_events/instantiate"
    for stem in made:  # workflows the folder has, beside the shared workspace's
        assert client.post(url, json={"name": stem}, headers=auth).status_code == 201
    store = engine_bridge.runtime.workflows  # every file loaded, as serving loads them
    for name in store.names():
        with contextlib.suppress(WorkflowError):
            store.load(name)
    calls, stop = _counting_calls(model.load_file.__code__)
    try:
        resp = client.post(url, json={"name": copy}, headers=auth)
    finally:
        stop()
    assert resp.status_code == 201, resp.get_json()
    assert calls == [0]


def test_a_copy_again_keeps_the_sql_and_readme_left_by_a_deleted_one(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    """A deleted workflow's `<name>.schema.sql` and `<name>.README.md` are the user's and
    stay (docs/api.md): a copy of that name again wrote the template's over the user's
    edits, silently. Kept, and said in `changes` as a kept lib/ file is."""
    stem = f"tk_{uuid.uuid4().hex[:6]}"
    stems.append(stem)
    url = "/api/templates/order_processing/instantiate"
    assert client.post(url, json={"name": stem}, headers=auth).status_code == 201
    schema, readme = workflows_dir / f"{stem}.schema.sql", workflows_dir / f"{stem}.README.md"
    schema.write_bytes(schema.read_bytes() + b"-- my own index\n")
    readme.write_bytes(readme.read_bytes() + b"\nOur team's notes.\n")
    edited = {schema: schema.read_bytes(), readme: readme.read_bytes()}
    assert client.delete(f"/api/workflows/{stem}", headers=auth).status_code == 204

    again = client.post(url, json={"name": stem}, headers=auth)
    assert again.status_code == 201, again.get_json()
    assert {path: path.read_bytes() for path in edited} == edited
    analytics = workflows_dir / f"{stem}.analytics.sql"  # unedited: the same, nothing said
    assert analytics.read_bytes() == (SHIPPED / "order_processing" / "analytics.sql").read_bytes()
    kept = {c["field"]: c for c in again.get_json()["changes"] if c["field"].startswith(stem)}
    assert sorted(kept) == sorted([readme.name, schema.name])
    for path, shipped in ((schema, "schema.sql"), (readme, "README.md")):
        change = kept[path.name]
        assert change["block"] is None
        template_file = SHIPPED / "order_processing" / shipped
        assert change["was"] == f"sha256:{hashlib.sha256(template_file.read_bytes()).hexdigest()}"
        assert change["now"] == f"sha256:{hashlib.sha256(edited[path]).hexdigest()}"
        assert change["message"] == (
            f"kept your {path.name}: it differs from the template's {shipped}, which was not"
            f" copied over it (compare it with {template_file})"
        )


def test_an_unknown_key_is_400_naming_it_and_nothing_is_copied(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`{"nmae": "eu_replay"}` made the template's default copy, the misspelled name
    dropped without a word; the re-run and replay routes name such a key (400)."""
    before = sorted(p.name for p in workflows_dir.iterdir())
    url = "/api/templates/replay_events_agent/instantiate"
    for body, named in (
        ({"nmae": "eu_replay"}, "'nmae'"),
        ({"name": "eu_replay", "title": "x", "force": True}, "'force', 'title'"),
    ):
        resp = client.post(url, json=body, headers=auth)
        assert resp.status_code == 400, resp.get_json()
        assert resp.get_json()["error"] == (
            f'unknown keys {named}: the body is {{"name": "<workflow name>"}}, or {{}} for'
            " the template's id"
        )
    assert sorted(p.name for p in workflows_dir.iterdir()) == before


def test_an_unknown_field_of_a_form_is_400_naming_it(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`-d 'nmae=re9'` (curl's form) was answered "the body is not JSON"."""
    before = sorted(p.name for p in workflows_dir.iterdir())
    url = "/api/templates/replay_events/instantiate"
    for form, named in (({"nmae": "re9"}, "'nmae'"), ({"name": "re9", "x": "1"}, "'x'")):
        resp = client.post(url, data=form, headers=auth)
        assert resp.status_code == 400, resp.get_json()
        assert resp.get_json()["error"].startswith(f"unknown keys {named}: ")
    assert sorted(p.name for p in workflows_dir.iterdir()) == before
    resp = client.post(url, data="{bad", headers={**auth, "Content-Type": _FORM})
    assert resp.status_code == 400 and "not JSON" in resp.get_json()["error"]
