"""The editor keeps a workflow's integers exact, in a real browser: Replay Events'
``input_schema`` caps ``version`` at 9223372036854775807 (a BIGINT's maximum), which
JSON.parse reads as 9223372036854775808. Opening the file and clicking Save with no
edit wrote ``maximum: 9223372036854776000`` over it (a run with version
9223372036854775808 then passed the check and failed in the database), and rewrote
the section with its comments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, select

pytestmark = BROWSER_TESTS

ROOT = Path(__file__).resolve().parents[2]
BIGINT_MAX = 9223372036854775807
#: "Saved", with the save's warnings after it: another test of the session may have
#: left a copy of Replay Events under its name, which the save warns about.
SAVED = re.compile(r"^Saved\b")


def replay_events_copy(workflows_dir: Path, name: str) -> Path:
    """The shipped Replay Events file, byte for byte, as ``workflows/<name>.yaml``."""
    text = (ROOT / "templates" / "replay_events" / "workflow.yaml").read_bytes()
    assert b"maximum: 9223372036854775807\n" in text
    path = workflows_dir / f"{name}.yaml"
    path.write_bytes(text)
    return path


def version_schema(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc["blocks"]["start"]["input_schema"]["properties"]["version"]


def test_saving_with_no_edit_leaves_the_file_as_it_was(page: Any, workflows_dir: Path) -> None:
    path = replay_events_copy(workflows_dir, "exact_unchanged")
    try:
        before = path.read_bytes()
        written = path.stat().st_mtime_ns
        open_editor(page, "exact_unchanged")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text(SAVED)
        assert path.read_bytes() == before
        assert path.stat().st_mtime_ns == written  # not even rewritten with the same text

        # The panel shows the number with its digits, and committing the field as
        # shown is no edit.
        select(page, "start", position={"x": 12, "y": 12})
        schema = page.locator("#props-form [data-field='input_schema']")
        expect(schema).to_have_value(re.compile(f'"maximum": {BIGINT_MAX},'))
        schema.focus()
        schema.dispatch_event("change")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text(SAVED)
        assert path.read_bytes() == before
    finally:
        path.unlink()


def test_an_integer_past_2_53_typed_in_a_field_is_saved_with_its_digits(
    page: Any, workflows_dir: Path
) -> None:
    path = replay_events_copy(workflows_dir, "exact_edited")
    try:
        open_editor(page, "exact_edited")
        select(page, "start", position={"x": 12, "y": 12})
        schema = page.locator("#props-form [data-field='input_schema']")
        text = schema.input_value()
        schema.fill(text.replace(f'"maximum": {BIGINT_MAX}', '"maximum": 9007199254740993'))
        schema.dispatch_event("change")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text(SAVED)
        assert version_schema(path)["maximum"] == 9007199254740993  # 2^53 + 1
    finally:
        path.unlink()
