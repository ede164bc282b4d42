"""The shipped ``lib/`` keeps every name a shipped workflow file imports from it.

Black-box report: after `flowyard new` with the new release replaced the unedited
``workflows/lib/*.py``, an Order Processing copy made by release 63674be failed every
event at ``apply``: ``cannot import name 'capture_refusal' from 'order_events'``
(it had moved to order_capture.py). docs/templates.md promises the opposite.

``templates/lib_imports.json`` lists what every version of every
``templates/*/workflow.yaml`` in git history imported, so these tests need no
history (a CI clone may be shallow); tests/templates/test_earlier_release_copies.py
runs some of those copies end to end.
"""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path

import es_support  # noqa: F401  (puts templates/lib on sys.path, as the engine does)

from templates import LIB
from templates.lib_imports import IMPORTS, build, imported_names

ROOT = Path(__file__).resolve().parents[2]


def _listed() -> dict[str, dict[str, list[str]]]:
    return json.loads(IMPORTS.read_text(encoding="utf-8"))


def test_every_name_a_shipped_workflow_imported_is_in_the_current_lib() -> None:
    missing = [
        f"{module}.{name} (imported by {', '.join(by)})"
        for module, names in sorted(_listed().items())
        for name, by in sorted(names.items())
        if not hasattr(importlib.import_module(module), name)
    ]
    assert not missing, (
        "a workflow copy made by an earlier release imports these, and `flowyard new`"
        " gives it the current lib/: keep each one importable where it was (re-export"
        f" it): {missing}"
    )


def test_the_list_holds_what_the_current_templates_import() -> None:
    listed = _listed()
    modules = {p.stem for p in LIB.glob("*.py")}
    for workflow in sorted((ROOT / "templates").glob("*/workflow.yaml")):
        template = workflow.parent.name
        for module, name in imported_names(workflow.read_text(encoding="utf-8"), modules):
            assert f"{template}@current" in listed.get(module, {}).get(name, []), (
                f"{template} imports {module}.{name}, which {IMPORTS.name} does not list."
                " Rebuild it from git and commit it: python -m templates.lib_imports"
            )


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _commit(repo: Path, workflow: str, code: str) -> str:
    path = repo / "templates" / "order_processing" / "workflow.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(workflow.format(code=code), encoding="utf-8")
    _git("add", "-A", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v", cwd=repo)
    return _git("rev-parse", "--short", "HEAD", cwd=repo).strip()


WORKFLOW = """\
version: 1
name: t
blocks:
  apply:
    type: function
    code: |
{code}
  page:
    type: function
    language: javascript
    code: "const x = 1; return x"  # not Python: never parsed as Python
"""


def test_the_list_is_built_from_every_commit_and_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "templates" / "lib").mkdir(parents=True)
    (repo / "templates" / "lib" / "order_events.py").write_text("def apply_event(): ...\n")
    _git("init", "-q", cwd=repo)
    first = _commit(
        repo,
        WORKFLOW,
        "      from order_events import apply_event, capture_refusal\n"
        "      return capture_refusal(<load.state?>, <enrich.event_type>)",
    )
    second = _commit(
        repo,
        WORKFLOW,
        "      import order_events as ev\n"
        "      import json\n"
        "      return ev.apply_event(<load.state?>, json.loads('{{}}'))",
    )
    path = repo / "templates" / "order_processing" / "workflow.yaml"
    path.write_text(WORKFLOW.format(code="      from order_capture import capture_refusal"))
    (repo / "templates" / "lib" / "order_capture.py").write_text("def capture_refusal(): ...\n")

    assert build(repo) == {
        "order_events": {
            "apply_event": [f"order_processing@{second}"],
            "capture_refusal": [f"order_processing@{first}"],
        },
        "order_capture": {"capture_refusal": ["order_processing@current"]},
    }
