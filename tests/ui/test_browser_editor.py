"""The editor and run viewer in a real browser: Playwright driving Debian's chromium.

Never `playwright install`: these tests use /usr/bin/chromium and are skipped
(with the reason below) only where it does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import ARTIFACTS, BROWSER_TESTS

pytestmark = BROWSER_TESTS


def open_editor(page: Any, name: str) -> None:
    page.goto(f"/editor/{name}")
    page.wait_for_selector("#editor[data-ready='true']")


def drop(page: Any, block_type: str, x: float, y: float) -> None:
    """Drag a palette item onto the canvas at (x, y) relative to the canvas."""
    page.drag_and_drop(
        f".palette-item[data-type='{block_type}']", "#canvas", target_position={"x": x, "y": y}
    )


def node(page: Any, cell: str) -> Any:
    return page.locator(f"g.x6-node[data-cell-id='{cell}']")


def center(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Any, src: str, dst: str, port: str = "out") -> None:
    sx, sy = center(node(page, src).locator(f"[port='{port}']").first.bounding_box())
    tx, ty = center(node(page, dst).locator("[port='in']").first.bounding_box())
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=5)
    page.mouse.move(tx, ty, steps=5)
    page.mouse.up()


def select(page: Any, cell: str, position: dict[str, float] | None = None) -> None:
    # Click the node's group near its top-left corner: away from the label and ports.
    node(page, cell).click(position=position or {"x": 24, "y": 8})
    page.wait_for_selector(f"#props-form[data-bid='{cell}']")


def set_field(page: Any, key: str, value: str) -> None:
    field = page.locator(f"#props-form [data-field='{key}']")
    field.fill(value)
    field.dispatch_event("change")


def save(page: Any) -> None:
    page.click("#btn-save")
    # (wait_for_function would need 'unsafe-eval', which the page's CSP rightly refuses)
    page.wait_for_selector("#status.ok, #status.error")


def test_build_save_and_run_a_workflow(page: Any, workflows_dir: Path, artifacts: Path) -> None:
    open_editor(page, "browser_flow")
    # Three blocks from the palette, connected.
    drop(page, "manual", 120, 120)
    drop(page, "function", 380, 120)
    drop(page, "function", 640, 120)
    for cell in ("manual", "function", "function_2"):
        node(page, cell).wait_for()
    connect(page, "manual", "function")
    connect(page, "function", "function_2")
    assert page.locator("g.x6-edge").count() == 2

    select(page, "function")
    set_field(page, "code", 'return {"n": 41}')
    # A reference picked from the autocomplete of upstream blocks.
    select(page, "function_2")
    code = page.locator("#props-form [data-field='code']")
    code.fill('return {"m": ')
    code.press("End")
    code.press_sequentially("<fun")
    page.wait_for_selector("#ref-suggest")
    options = page.locator("#ref-suggest li").all_inner_texts()
    assert any("<function>" in o for o in options) and not any("function_2" in o for o in options)
    page.click("#ref-suggest li[data-ref='<function>']")
    code.press("End")
    code.press_sequentially("}")
    code.dispatch_event("change")
    assert code.input_value() == 'return {"m": <function>}'

    # A Loop container (`loop_1`: a block named `loop` would be hidden in the body
    # of any loop after it), and a block dropped into it.
    drop(page, "loop", 200, 330)
    node(page, "loop_1").wait_for()
    drop(page, "function", 330, 430)
    node(page, "function_3").wait_for()
    select(page, "function_3")
    # Inside the loop, its fields are offered too.
    inner = page.locator("#props-form [data-field='code']")
    inner.fill("return ")
    inner.press("End")
    inner.press_sequentially("<loop.")
    page.wait_for_selector("#ref-suggest")
    options = page.locator("#ref-suggest li").all_inner_texts()
    assert any("<loop.index>" in o for o in options), options
    assert any("<loop.iteration>" in o for o in options), options
    set_field(page, "code", 'return {"i": <item>}')
    select(page, "loop_1", {"x": 260, "y": 8})
    set_field(page, "items", "[1, 2]")
    connect(page, "function_2", "loop_1")
    # Nothing selected: the panel edits the workflow itself (its output here).
    page.locator("#canvas").click(position={"x": 860, "y": 700})
    page.wait_for_selector("#workflow-form")
    page.fill("#wf-output", "<loop_1.results>")
    page.dispatch_event("#wf-output", "change")

    save(page)
    assert page.inner_text("#status") == "Saved", (
        page.inner_text("#problems") if page.is_visible("#problems") else ""
    )
    page.screenshot(path=str(artifacts / "editor.png"))

    text = (workflows_dir / "browser_flow.yaml").read_text()
    doc = yaml.safe_load(text)
    assert list(doc)[-1] == "layout"
    assert set(doc["blocks"]) == {"manual", "function", "function_2", "loop_1", "function_3"}
    assert doc["blocks"]["loop_1"]["body"] == ["function_3"]
    assert doc["blocks"]["loop_1"]["items"] == [1, 2]
    assert doc["blocks"]["function_2"]["code"] == 'return {"m": <function>}'
    assert set(doc["edges"]) == {
        "manual -> function",
        "function -> function_2",
        "function_2 -> loop_1",
    }
    assert set(doc["layout"]) == set(doc["blocks"])
    assert doc["output"] == "<loop_1.results>"

    # Run with an input; blocks light up live, then the run viewer shows them all succeeded.
    page.click("#btn-run")
    page.fill("#run-input", '{"hello": "world"}')
    page.click("#run-start")
    page.wait_for_selector("#run-state.succeeded", timeout=30_000)
    expect(page.locator("g.x6-node rect[data-status='succeeded']")).to_have_count(5)
    page.screenshot(path=str(artifacts / "editor-after-run.png"))
    page.click("#run-link")
    page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
    assert page.inner_text("#run-status") == "succeeded"
    statuses = page.locator("#blocks details.block").evaluate_all(
        "els => els.map(e => [e.dataset.block, e.dataset.status])"
    )
    paths = {p for p, _ in statuses}
    assert {
        "manual",
        "function",
        "function_2",
        "loop_1",
        "loop_1[0].function_3",
        "loop_1[1].function_3",
    } <= paths
    assert all(s == "succeeded" for _, s in statuses), statuses
    assert page.locator("#blocks details.iteration").count() == 2
    assert page.locator("#gantt .gantt-row").count() >= 6
    assert '"i": 2' in page.inner_text("#run-output")
    page.screenshot(path=str(artifacts / "run-viewer.png"), full_page=True)


def test_validation_errors_show_inline(page: Any, workflows_dir: Path, artifacts: Path) -> None:
    open_editor(page, "browser_invalid")
    drop(page, "function", 200, 150)
    node(page, "function").wait_for()
    select(page, "function")
    set_field(page, "code", 'return {"x": <nowhere.field>}')
    save(page)
    page.wait_for_selector("#problem-list li")
    assert "nowhere" in page.inner_text("#problem-list")
    assert page.locator("#status.error").count() == 1
    # The block's field shows its error in the properties panel.
    select(page, "function")
    page.wait_for_selector("#props-form .field-error:not([hidden])")
    assert "nowhere" in page.inner_text("#props-form")
    assert node(page, "function").locator("rect").first.get_attribute("stroke") == "#e03131"
    page.screenshot(path=str(artifacts / "editor-validation.png"))
    assert not (workflows_dir / "browser_invalid.yaml").exists()


def test_undo_redo_and_existing_workflow(page: Any) -> None:
    open_editor(page, "hello")
    assert node(page, "check").locator("[port='true']").count() == 1
    assert node(page, "check").locator("[port='false']").count() == 1
    assert page.locator("g.x6-edge").count() == 4
    select(page, "check")  # selecting is not an edit: nothing to undo
    assert page.is_disabled("#btn-undo")
    drop(page, "http", 500, 400)
    node(page, "http").wait_for()
    page.click("#btn-undo")
    expect(node(page, "http")).to_have_count(0)  # X6 renders on the next frame
    page.click("#btn-redo")
    node(page, "http").wait_for()
    assert page.is_visible("#dirty")
    # Deleting a wired block is one step: one Undo brings it back with its edges.
    for delete in ("button", "key"):
        select(page, "check")
        if delete == "button":
            page.click("#delete-block")
        else:
            page.keyboard.press("Delete")
        expect(node(page, "check")).to_have_count(0)
        expect(page.locator("g.x6-edge")).to_have_count(1)
        page.click("#btn-undo")
        node(page, "check").wait_for()
        expect(page.locator("g.x6-edge")).to_have_count(4)


def test_events_page_time_travel(page: Any, order_id: str, live_server: str) -> None:
    page.request.post(
        "/api/templates/replay_events/instantiate",
        data={"name": "replay_for_events"},
        headers={"X-CSRF-Token": page.get_attribute("meta[name='csrf-token']", "content") or ""},
    )
    page.goto("/events")
    page.fill("#order-id", order_id)
    page.click("#order-form button")
    expect(page.locator("#event-list li")).to_have_count(3)
    expect(page.locator("#time-slider")).to_be_enabled()
    page.locator("#time-slider").fill("1")
    expect(page.locator("#event-list li.current")).to_have_count(1)
    expect(page.locator("#as-of")).to_contain_text("v1")
    expect(page.locator("#state[data-version='1']")).to_contain_text(
        "order_created", timeout=30_000
    )
    assert "order_shipped" not in page.inner_text("#state")
    # An order with no events clears what the previous one showed.
    page.fill("#order-id", "no-such-order")
    page.click("#order-form button")
    expect(page.locator("#events-status")).not_to_have_text("loading…")
    expect(page.locator("#event-list li")).to_have_count(0)
    expect(page.locator("#state")).to_have_text("")
    expect(page.locator("#time-slider")).to_be_disabled()
    page.wait_for_selector("#chart-types")
    page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)
