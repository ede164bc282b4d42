"""The workflow list page (/): the "New workflow" name field says its rule, and the
templates gallery's "Use this template" suggests a free name, answers a taken name
on the page itself, says what the copy had to change, and creates the template's
tables as the API and `flowyard new` do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import templates
from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page
from ui.bridge import EngineBridge

TEMPLATE = "order_processing"


class _Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(html: str, tag: str, **attrs: str) -> list[dict[str, str]]:
    parser = _Tags()
    parser.feed(html)
    return [a for t, a in parser.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def article(html: str, template_id: str) -> str:
    """The gallery card of one template."""
    start = html.index(f'id="template-{template_id}"')
    return html[start : html.index("</article>", start)]


@pytest.fixture
def stems(workflows_dir: Path) -> Iterator[list[str]]:
    """Workflow names a test creates; their files go afterwards (the workspace is
    shared: a copy left behind would serve the template's webhook path)."""
    made: list[str] = []
    yield made
    for stem in made:
        for path in workflows_dir.glob(f"{stem}.*"):
            path.unlink()


@pytest.fixture
def installed(workflows_dir: Path, stems: list[str]) -> str:
    """The template installed under its own id, as `serve` does on a first run."""
    if not (workflows_dir / f"{TEMPLATE}.yaml").exists():
        templates.instantiate(TEMPLATE, workflows_dir)
        stems.append(TEMPLATE)
    return TEMPLATE


def _use(client: FlaskClient, auth: dict[str, str], name: str) -> Any:
    return client.post(f"/templates/{TEMPLATE}/use", data={"name": name}, headers=auth)


# -- "New workflow" -------------------------------------------------------------------


def test_new_workflow_name_field_explains_its_rule(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    html = client.get("/", headers=auth).get_data(as_text=True)
    (field,) = tags(html, "input", id="new-name")
    assert field["pattern"] == "[A-Za-z0-9][A-Za-z0-9_\\-]*"
    rule = field["title"].lower()
    assert "letters, digits" in rule and "_" in rule and "-" in rule and "start" in rule, rule
    # A visible hint, tied to the field for screen readers.
    (hint,) = tags(html, "small", id=field["aria-describedby"])
    assert "hidden" not in hint
    start = html.index(f'id="{field["aria-describedby"]}"')
    assert "letters, digits" in html[start : html.index("</small>", start)].lower()


def test_an_invalid_new_workflow_name_is_said_beside_the_field(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    resp = client.get("/new?name=My First Flow", headers=auth)
    assert resp.status_code == 302 and resp.location == "/#new-workflow"
    html = client.get("/", headers=auth).get_data(as_text=True)
    start = html.index('id="new-name-hint"')
    said = unescape(html[start : html.index("<table", start)])
    assert "'My First Flow' is not a workflow name" in said and "letters, digits" in said.lower()


def test_a_new_workflow_named_like_an_existing_one_is_refused_beside_the_field(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """It opened the existing file in the editor as if it were the new one."""
    resp = client.get("/new?name=hello", headers=auth)
    assert resp.status_code == 302 and resp.location == "/#new-workflow"
    html = client.get("/", headers=auth).get_data(as_text=True)
    start = html.index('id="new-name-hint"')
    said = unescape(html[start : html.index("<table", start)])
    assert "A workflow named 'hello' already exists" in said
    fresh = client.get("/new?name=hello_fresh", headers=auth)
    assert fresh.status_code == 302 and fresh.location == "/editor/hello_fresh"


def in_chromium(test: Any) -> Any:
    """BROWSER_TESTS's marks (browser; skipped without chromium) on one test."""
    for mark in BROWSER_TESTS:
        test = mark(test)
    return test


@in_chromium
def test_a_name_with_spaces_is_refused_in_the_browser_with_the_rule_shown(
    browser: Any, live_server: str
) -> None:
    with browser_page(browser, live_server) as page:
        page.goto("/")
        page.fill("#new-name", "My First Flow")
        page.click("#new-workflow button[type=submit]")
        assert page.url == f"{live_server}/", "the browser kept the form: the name is invalid"
        field = page.locator("#new-name")
        assert field.evaluate("f => f.validity.patternMismatch") is True
        assert "letters, digits" in (field.get_attribute("title") or "").lower()
        hint = page.locator("#new-name-hint")
        assert hint.is_visible() and "letters, digits" in hint.inner_text().lower()


# -- "Use this template" --------------------------------------------------------------


def test_use_template_suggests_a_free_name_and_that_name_works(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, installed: str, stems: list[str]
) -> None:
    html = client.get("/", headers=auth).get_data(as_text=True)
    (field,) = tags(article(html, installed), "input", name="name")
    suggested = field["value"]
    assert suggested.startswith(f"{installed}_"), field
    assert not list(workflows_dir.glob(f"{suggested}.*")), "the suggestion is free"
    stems.append(suggested)
    resp = _use(client, auth, suggested)
    assert resp.status_code == 302 and resp.location.endswith(f"/editor/{suggested}")


def test_use_template_with_the_name_left_empty_takes_a_free_name(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, installed: str, stems: list[str]
) -> None:
    resp = _use(client, auth, "")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    made = resp.location.rsplit("/", 1)[-1]
    stems.append(made)
    assert made != installed and (workflows_dir / f"{made}.yaml").is_file()


def test_use_template_with_a_taken_name_comes_back_to_the_list_with_a_message(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    before = (workflows_dir / "hello.yaml").read_text()
    resp = _use(client, auth, "hello")
    assert resp.status_code == 302 and resp.location.startswith("/"), resp.status_code
    assert resp.location.split("#")[0] in ("/", "")
    page = client.get("/", headers=auth)
    assert page.status_code == 200
    card = article(page.get_data(as_text=True), TEMPLATE)
    assert "A workflow named" in card and "hello" in card and "already exists" in card, card
    assert (workflows_dir / "hello.yaml").read_text() == before
    # Said once: the next visit of the page does not repeat it.
    assert "already exists" not in article(
        client.get("/", headers=auth).get_data(as_text=True), TEMPLATE
    )


def test_use_template_says_what_the_copy_changed_on_the_editor_page(
    client: FlaskClient, auth: dict[str, str], installed: str, stems: list[str]
) -> None:
    stem = f"pi_copy_{uuid.uuid4().hex[:6]}"
    stems.append(stem)
    resp = _use(client, auth, stem)
    assert resp.status_code == 302 and resp.location.endswith(f"/editor/{stem}")
    html = client.get(resp.location, headers=auth).get_data(as_text=True)
    start = html.index('id="flash"')
    notice = html[start : html.index("</dialog>", start)]
    assert f"{stem}/events" in notice, notice
    assert "already the webhook of" in notice and "already the name of" in notice, notice


def test_use_template_creates_the_template_tables(
    client: FlaskClient,
    auth: dict[str, str],
    engine_bridge: EngineBridge,
    stems: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A table of this test's own stands for the template's: the real ones exist in
    # the shared database already (and must not be dropped under other tests).
    table = f"pi_tables_{uuid.uuid4().hex[:8]}"
    sql = tmp_path / "schema.sql"
    sql.write_text(f"CREATE TABLE IF NOT EXISTS {table} (id int);\n")
    monkeypatch.setattr(templates, "schema_files", lambda: [sql])
    pool = engine_bridge.runtime.db.pool

    def exists() -> bool:
        return engine_bridge.call(pool.fetchval("SELECT to_regclass($1)", table)) is not None

    stem = f"pi_tables_{uuid.uuid4().hex[:6]}"
    stems.append(stem)
    try:
        assert not exists()
        assert _use(client, auth, stem).status_code == 302
        assert exists(), "the form created the template's tables"
    finally:
        engine_bridge.call(pool.execute(f"DROP TABLE IF EXISTS {table}"))


@in_chromium
def test_the_gallery_form_in_the_browser_opens_the_copy_with_its_changes_said(
    browser: Any, live_server: str, installed: str, stems: list[str], artifacts: Path
) -> None:
    with browser_page(browser, live_server) as page:
        page.goto("/")
        card = page.locator(f"#template-{installed}")
        suggested = card.locator("input[name=name]").input_value()
        stems.append(suggested)
        card.locator("button[type=submit]").click()
        page.wait_for_url(f"{live_server}/editor/{suggested}")
        page.wait_for_selector("#editor[data-ready='true']")
        notice = page.locator("#flash")
        assert notice.is_visible() and f"{suggested}/events" in notice.inner_text()
        page.screenshot(path=str(artifacts / "pages-template-copy-notice.png"))
        notice.locator("button").click()  # closes without script (method="dialog")
        assert not notice.is_visible()

        # A taken name: back on the list, the message beside the form.
        page.goto("/")
        card.locator("input[name=name]").fill("hello")
        card.locator("button[type=submit]").click()
        page.wait_for_url(f"{live_server}/#template-{installed}")
        assert "already exists" in card.locator("[role=alert]").inner_text()
        page.screenshot(path=str(artifacts / "pages-template-taken.png"), full_page=True)
