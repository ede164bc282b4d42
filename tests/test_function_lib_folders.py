"""Which `lib/` folders a Function imports from, and what looking at them may cost.

Black-box report: `flowyard run /tmp/min.yaml` (a bare `return 1`) hung with 6.7 GB:
"one folder up" from /tmp is /, so the engine walked /lib → /usr/lib on its event
loop, following `/usr/lib/llvm-14/build/Debug+Asserts -> ..` without end; the same
with `lib/up -> ..` in a workflows folder, and a big `lib/` (`pip install --target`)
doubled a loop's run time. The folder above is searched only within the workflows
folder or the workspace; a look enters no symlinked folder, is bounded, and runs off
the event loop (docs/blocks/function.md).

Real worker processes, inline calls and the embedded PostgreSQL of the session runtime.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import function_libs
from engine.model import load_file
from engine.runtime import Runtime

#: Imports a module and returns its VALUE, in a worker and inline.
IMPORTS = """\
name: lib_reader_{tag}
blocks:
  start: {{type: manual}}
  worker:
    type: function
    code: |
      try:
          from {module} import VALUE
      except ModuleNotFoundError as exc:
          return str(exc)
      return VALUE
  inline:
    type: function
    isolation: inline
    code: |
      try:
          from {module} import VALUE
      except ModuleNotFoundError as exc:
          return str(exc)
      return VALUE
edges: [start -> worker, start -> inline]
"""


def _module(tag: str) -> str:
    return f"libmod_{tag}_{uuid.uuid4().hex[:8]}"


def _reader(folder: Path, module: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reader_{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(IMPORTS.format(tag=path.stem[-8:], module=module))
    return path


async def _values(runtime: Runtime, path: Path) -> dict[str, object]:
    """Each block's value (the import's error message when it failed)."""
    result = await runtime.execute(load_file(path), {})
    assert result["status"] == "succeeded", result["error"]
    return {block: result["blocks"][block]["output"]["result"] for block in ("worker", "inline")}


@pytest.fixture
def in_workflows(runtime: Runtime) -> Iterator[Path]:
    """A folder of the session runtime's workflows folder, removed afterwards."""
    folder = runtime.workflows_dir / f"libs_{uuid.uuid4().hex[:8]}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_a_file_outside_the_workflows_folder_does_not_import_from_the_folder_above(
    runtime: Runtime, tmp_path: Path
) -> None:
    """As /tmp/x.yaml, whose folder above is /: only the lib/ beside the file counts."""
    above = _module("above")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / f"{above}.py").write_text("VALUE = 'above'\n")
    values = await _values(runtime, _reader(tmp_path / "flows", above))
    assert values == {
        "worker": f"No module named '{above}'",
        "inline": f"No module named '{above}'",
    }
    beside = _module("beside")
    (tmp_path / "flows" / "lib").mkdir()
    (tmp_path / "flows" / "lib" / f"{beside}.py").write_text("VALUE = 'beside'\n")
    values = await _values(runtime, _reader(tmp_path / "flows", beside))
    assert values == {"worker": "beside", "inline": "beside"}


async def test_a_file_in_a_subfolder_of_the_workflows_folder_imports_from_the_folder_above(
    runtime: Runtime, in_workflows: Path
) -> None:
    module = _module("shared")
    (in_workflows / "lib").mkdir(parents=True)
    (in_workflows / "lib" / f"{module}.py").write_text("VALUE = 'shared'\n")
    values = await _values(runtime, _reader(in_workflows / "orders", module))
    assert values == {"worker": "shared", "inline": "shared"}


def test_no_lib_folder_of_the_system_is_searched(tmp_path: Path) -> None:
    roots = [Path("/")]  # even with / as the workspace
    assert function_libs.lib_folders("/min.yaml", roots) == []
    assert function_libs.lib_folders("/tmp/min.yaml", [tmp_path]) == []


def test_a_look_enters_no_symlinked_folder(tmp_path: Path) -> None:
    """`lib/up -> ..` would be a cycle (two such links made the walk grow without end)."""
    lib = tmp_path / "lib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "pkg" / "__init__.py").write_text("")
    (lib / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (lib / "up").symlink_to("..")
    (lib / "also_pkg").symlink_to("pkg")
    found = function_libs.fingerprint(str(lib))
    assert found is not None
    assert sorted(found) == [str(lib / "pkg" / "__init__.py"), str(lib / "pkg" / "mod.py")]


async def test_a_lib_folder_past_the_bound_is_said_once_and_no_longer_watched(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Looked at on every call (the test does not wait out the look interval), and a
    # bound the test can pass with a few hundred files.
    monkeypatch.setattr(function_libs, "LOOK_EVERY_S", 0.0)
    monkeypatch.setattr(function_libs, "LOOK_SHARE", 1.0)
    monkeypatch.setattr(function_libs, "MOST_ENTRIES", 200)
    caplog.set_level(logging.WARNING, logger="flowyard.function_libs")
    module = _module("big")
    lib = tmp_path / "lib"
    (lib / "data").mkdir(parents=True)
    for i in range(250):
        (lib / "data" / f"{i}.txt").write_text("")
    (lib / f"{module}.py").write_text("VALUE = 1\n")
    path = _reader(tmp_path, module)
    assert await _values(runtime, path) == {"worker": 1, "inline": 1}
    (lib / f"{module}.py").write_text("VALUE = 2\n")
    # No longer noticed: a restart uses it. (Inline only: a worker that never
    # imported the module would read the new file.)
    assert (await _values(runtime, path))["inline"] == 1
    said = [r.getMessage() for r in caplog.records if str(lib) in r.getMessage()]
    assert said == [
        f"lib folder {lib} holds more than 200 files and folders: changes to its modules"
        " are no longer noticed, a restart uses them (docs/blocks/function.md)"
    ]
