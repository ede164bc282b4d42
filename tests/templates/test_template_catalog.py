"""The template catalog: listing, instantiating (with SQL and the shared lib),
schema files for `flowyard db init`, and validation of every shipped workflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import blocks  # noqa: F401 - registers the block types the templates use
from engine.model import load_file
from templates import ROOT, instantiate, list_templates, schema_files

IDS = ["order_processing", "order_processing_agent", "replay_events", "replay_events_agent"]


def test_list_templates() -> None:
    found = {t["id"]: t for t in list_templates()}
    assert sorted(found) == IDS
    assert found["order_processing"]["name"] == "Order Processing with Event Sourcing"
    assert found["replay_events"]["name"] == "Replay Events"
    for t in found.values():
        # Relative to the templates folder: the API answers it (no install path there).
        assert t["description"] and not Path(t["path"]).is_absolute()
        assert (ROOT / t["path"]).is_file()


@pytest.mark.parametrize("template_id", IDS)
def test_every_template_validates(template_id: str) -> None:
    wf = load_file(ROOT / template_id / "workflow.yaml")
    assert wf.trigger() is not None
    assert (ROOT / template_id / "README.md").is_file()


def test_flowyard_validate_accepts_the_templates() -> None:
    files = [str(ROOT / t / "workflow.yaml") for t in IDS]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ui.cli import main; raise SystemExit(main())",
            "validate",
            *files,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_instantiate_copies_workflow_sql_readme_and_lib(tmp_path: Path) -> None:
    target = instantiate("order_processing", tmp_path / "workflows")
    assert target == tmp_path / "workflows" / "order_processing.yaml"
    names = sorted(p.name for p in target.parent.iterdir())
    assert names == [
        "lib",
        "order_processing.README.md",
        "order_processing.analytics.sql",
        "order_processing.schema.sql",
        "order_processing.yaml",
    ]
    assert (target.parent / "lib" / "order_events.py").read_text() == (
        ROOT / "lib" / "order_events.py"
    ).read_text()
    replay = instantiate("replay_events", target.parent, name="replay")
    assert replay.name == "replay.yaml"
    assert (target.parent / "replay.schema.sql").is_file()  # it runs on Order Processing's tables
    load_file(replay)  # still valid where it landed (lib/ beside it)


def test_instantiate_refuses_to_overwrite_and_unknown_ids(tmp_path: Path) -> None:
    instantiate("replay_events", tmp_path)
    with pytest.raises(FileExistsError):
        instantiate("replay_events", tmp_path)
    with pytest.raises(KeyError, match="unknown template 'nope'"):
        instantiate("nope", tmp_path)
    # A newcomer's typo is named with the id meant.
    with pytest.raises(
        KeyError, match="unknown template 'replay_event'; did you mean 'replay_events'"
    ):
        instantiate("replay_event", tmp_path)
    with pytest.raises(KeyError):
        instantiate("../order_processing", tmp_path)
    with pytest.raises(ValueError):
        instantiate("replay_events", tmp_path, name="../escape")


def test_schema_files_are_the_event_store_once() -> None:
    files = schema_files()
    assert files == [(ROOT / "order_processing" / "schema.sql").resolve()]
    sql = files[0].read_text()
    for must in ("IF NOT EXISTS", "CREATE OR REPLACE FUNCTION", "CREATE OR REPLACE TRIGGER"):
        assert must in sql
    assert "CREATE TABLE events" not in sql  # every CREATE is idempotent
