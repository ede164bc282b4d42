"""UI fixtures: a real engine Runtime on the server's background loop (as `serve`
runs it), the Flask app over it, and a live waitress server for the browser tests.

The Runtime uses the session's embedded PostgreSQL (``database_url`` from
``tests/conftest.py``) but its own event loop thread, exactly like production;
the lead's loop-bound ``runtime`` fixture cannot serve synchronous Flask threads.
"""

from __future__ import annotations

import contextlib
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from processes import free_port

from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge

TOKEN = "test-token-0123456789"
SECRET_KEY = "test-secret-key"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"

HELLO = """\
version: 1
name: hello
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return {"sum": 1 + 2}
  check:
    type: condition
    if: <add.sum> == 3
  on_true:
    type: function
    code: |
      return {"ok": True}
  on_false:
    type: function
    code: |
      return {"ok": False}
edges:
  - start -> add
  - add -> check
  - check.true -> on_true
  - check.false -> on_false
layout: {start: [40, 80], add: [260, 80]}
"""

HOOKS = """\
version: 1
name: hooks
blocks:
  async_hook:
    type: webhook
    path: test/async
  echo:
    type: function
    code: |
      return {"got": input.async_hook.body}
edges:
  - async_hook -> echo
"""

SYNC_HOOK = """\
version: 1
name: sync_hooks
blocks:
  hook:
    type: webhook
    path: test/sync
    respond: sync
  double:
    type: function
    code: |
      return {"double": input.hook.body.n * 2}
edges:
  - hook -> double
"""

SIGNED_HOOK = """\
version: 1
name: signed_hooks
blocks:
  hook:
    type: webhook
    path: test/signed
    secret: s3cret
  noop:
    type: function
    code: |
      return {"ok": True}
edges:
  - hook -> noop
"""

LOOP = """\
version: 1
name: looper
blocks:
  start:
    type: manual
  fold:
    type: loop
    items: [1, 2, 3]
    as: n
    body: [square]
  square:
    type: function
    code: |
      return {"sq": <n> * <n>}
edges:
  - start -> fold
"""

SEED_WORKFLOWS = {
    "hello": HELLO,
    "hooks": HOOKS,
    "sync_hooks": SYNC_HOOK,
    "signed_hooks": SIGNED_HOOK,
    "looper": LOOP,
}


@pytest.fixture(scope="session")
def ui_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ui-workspace")
    wf = ws / "workflows"
    wf.mkdir()
    for name, text in SEED_WORKFLOWS.items():
        (wf / f"{name}.yaml").write_text(textwrap.dedent(text))
    return ws


@pytest.fixture(scope="session")
def engine_bridge(ui_workspace: Path, database_url: str) -> Iterator[EngineBridge]:
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    rt = Runtime(
        ui_workspace / "workflows", database_url, ui_workspace, function_workers=2, resume=False
    )
    bridge = EngineBridge(rt).start()
    yield bridge
    bridge.stop()


@pytest.fixture(scope="session")
def app(engine_bridge: EngineBridge, ui_workspace: Path) -> Flask:
    cfg = UIConfig(
        engine_bridge, TOKEN, SECRET_KEY, ui_workspace / "workflows", max_body=1024 * 1024
    )
    return create_app(cfg)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def workflows_dir(ui_workspace: Path) -> Path:
    return ui_workspace / "workflows"


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The app under waitress on a free port, as `flowyard serve` runs it."""
    from ui.server import make_server

    server: Any = make_server(app, "127.0.0.1", free_port())
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def append_order(
    engine_bridge: EngineBridge, oid: str, data: Callable[[int], dict[str, Any]]
) -> None:
    """Order ``oid``'s created, payment_received and shipped events (versions 1–3, each
    with ``data(version)`` beside its order_id), appended the template's way: events
    and the order's snapshot, the schema applied first (idempotently)."""
    from templates import apply_schemas
    from templates.event_store import append_batch

    kinds = ("order_created", "payment_received", "order_shipped")
    events = [
        {"event_type": kind, "aggregate_id": oid, "data": {"order_id": oid, **data(v)}}
        for v, kind in enumerate(kinds, start=1)
    ]

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            await apply_schemas(conn)
            assert await append_batch(conn, events) == 3

    engine_bridge.call(setup())


@pytest.fixture(scope="session")
def order_id(engine_bridge: EngineBridge) -> str:
    """Three events of one fresh order in the runtime's database, amounts 10, 20, 30."""
    oid = f"ui-{uuid.uuid4().hex[:10]}"
    append_order(engine_bridge, oid, lambda v: {"amount": 10 * v, "charge_id": "ch_ui"})
    return oid


# -- a real browser: Debian's chromium driven by Playwright (never `playwright install`) --

CHROMIUM = Path("/usr/bin/chromium")
#: Every browser test module: ``pytestmark = BROWSER_TESTS``.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # imported only where chromium runs

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def logged_in_page(browser: Any, live_server: str, init_script: str | None = None) -> Iterator[Any]:
    """A page logged in with the token; fails the test on any JavaScript error
    (collected in ``page.js_errors``)."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1440, "height": 900})
    if init_script:
        context.add_init_script(init_script)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto("/login")
    pg.fill("#token", TOKEN)
    pg.click("#login-submit")
    pg.wait_for_url(f"{live_server}/")
    pg.js_errors = errors
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    with logged_in_page(browser, live_server) as pg:
        yield pg


@pytest.fixture
def scratch(workflows_dir: Path) -> Iterator[Callable[[str, str], Path]]:
    """Write ``workflows/<name>.yaml`` (``{name}`` in the text is the name);
    removed after the test."""
    made: list[Path] = []

    def write(name: str, text: str) -> Path:
        path = workflows_dir / f"{name}.yaml"
        path.write_text(text.format(name=name), encoding="utf-8")
        made.append(path)
        return path

    yield write
    for path in made:
        path.unlink(missing_ok=True)
