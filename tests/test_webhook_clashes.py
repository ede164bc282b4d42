"""Two workflows on one webhook path and method: only the first file would ever
receive deliveries, silently. Saving or validating such a pair says so."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

from engine.model import load_file
from engine.workflows import WorkflowStore

ROOT = Path(__file__).resolve().parent.parent


def _hook(folder: Path, name: str, path: str, method: str = "POST") -> Path:
    file = folder / f"{name}.yaml"
    file.write_text(
        textwrap.dedent(f"""\
        name: {name}
        blocks:
          hook: {{type: webhook, path: {path}, method: {method}}}
        """)
    )
    return file


def test_the_store_names_the_file_already_serving_a_path(tmp_path: Path) -> None:
    path = f"clash/{uuid.uuid4().hex[:6]}"
    _hook(tmp_path, "first", path)
    store = WorkflowStore(tmp_path)
    second = load_file(_hook(tmp_path, "second", path))
    [problem] = store.webhook_clashes(second)
    assert (problem.block, problem.field) == ("hook", "path")
    assert f"POST /webhooks/{path} is already the webhook of first.yaml" in problem.message
    # Another method on the same path is no clash; a file is never its own.
    assert store.webhook_clashes(load_file(_hook(tmp_path, "third", path, "PUT"))) == []
    (tmp_path / "second.yaml").unlink()
    assert store.webhook_clashes(load_file(tmp_path / "first.yaml")) == []


def test_a_clash_already_on_disk_is_logged_once_naming_who_gets_the_deliveries(
    tmp_path: Path, caplog: Any
) -> None:
    path = f"clash/{uuid.uuid4().hex[:6]}"
    _hook(tmp_path, "bbb", path)
    store = WorkflowStore(tmp_path)
    assert store.find_webhook(path)[0].name == "bbb"
    _hook(tmp_path, "aaa", path)  # copied in while serving: it takes the deliveries
    store.INDEX_TTL_S = 0.0
    for _ in range(3):
        assert store.find_webhook(path)[0].name == "aaa"
    said = [r.getMessage() for r in caplog.records if f"/webhooks/{path}" in r.getMessage()]
    assert said == [
        f"POST /webhooks/{path} is the webhook of aaa.yaml and of bbb.yaml: deliveries go "
        "to aaa.yaml (the first by file name); give each its own path"
    ]


def test_flowyard_validate_reports_a_clash_between_the_files_given(tmp_path: Path) -> None:
    one, two = _hook(tmp_path, "one", "orders/in"), _hook(tmp_path, "two", "/orders/in/")
    out = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", str(one), str(two)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"{one}: ok" in out.stdout
    assert "block 'hook': field 'path': POST /webhooks/orders/in is already the webhook of" in (
        out.stderr
    )


def test_a_broken_file_does_not_claim_a_route_another_file_serves(
    tmp_path: Path, caplog: Any
) -> None:
    path = f"clash/{uuid.uuid4().hex[:6]}"
    _hook(tmp_path, "aaa", path).write_text(
        f"name: aaa\nblocks:\n  hook: {{type: webhook, path: {path}}}\noops: 1\n"
    )
    _hook(tmp_path, "bbb", path)
    store = WorkflowStore(tmp_path)
    assert store.find_webhook(path)[0].name == "bbb"  # served, so not down
    assert store.broken_webhook(path) is None
    assert not [r for r in caplog.records if "answer 503" in r.getMessage()]
    (tmp_path / "bbb.yaml").unlink()  # now nobody serves it: aaa's route is down
    store.INDEX_TTL_S = 0.0
    assert store.find_webhook(path) is None and store.broken_webhook(path) == "aaa.yaml"
    assert [r for r in caplog.records if "aaa.yaml does not load" in r.getMessage()]
