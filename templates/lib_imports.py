"""Rebuild ``templates/lib_imports.json``: every name a shipped workflow file
imports from ``templates/lib``, from this repository's git history.

    python -m templates.lib_imports

``workflows/lib/`` is shared by every copy in a folder, and ``flowyard new``
replaces its unedited files with the current ones, while copies made by earlier
releases stay as they were (docs/templates.md). So the current lib must keep every
name any shipped ``templates/*/workflow.yaml`` ever imported: a name that moved
stays re-exported where it was. tests/templates/test_lib_imports.py checks the
current lib against this list, which needs no git history (a CI clone may be
shallow); building it does, so a shallow clone is refused.

Every commit that touched a workflow file counts as a release of it, and so does
the working tree's file. Recorded per module and name: the templates that
imported it and the last commit whose file did (``<template>@<commit>``; the
working tree's is ``<template>@current``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import yaml

from engine.python_refs import rewrite_python

IMPORTS = Path(__file__).resolve().parent / "lib_imports.json"
_WORKFLOWS = "templates/*/workflow.yaml"
_WORKING_TREE = "current"

#: module → name → the ``<template>@<commit>`` that last imported it
Imports = dict[str, dict[str, list[str]]]


def build(repo: Path) -> Imports:
    """What each version of ``templates/*/workflow.yaml`` in ``repo``'s history and
    working tree imports from a module of ``templates/lib`` (any it ever had)."""
    if _git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise RuntimeError(f"{repo} is a shallow clone: its history lacks earlier releases")
    modules = _lib_modules(repo)
    last: dict[tuple[str, str, str], str] = {}  # (module, name, template) → commit
    versions = [
        (_WORKING_TREE, p.relative_to(repo).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted(repo.glob(_WORKFLOWS))
    ]
    # Newest first: the first commit seen for a name is the last that imported it.
    for commit in _git(repo, "log", "--format=%h", "--", _WORKFLOWS).split():
        listed = _git(repo, "ls-tree", "-r", "--name-only", commit, "templates")
        for path in sorted(p for p in listed.split() if Path(p).match(_WORKFLOWS)):
            versions.append((commit, path, _git(repo, "show", f"{commit}:{path}")))
    for commit, path, text in versions:
        template = Path(path).parent.name
        for module, name in imported_names(text, modules, where=f"{commit}:{path}"):
            last.setdefault((module, name, template), commit)
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (module, name, template), commit in sorted(last.items()):
        out[module][name].append(f"{template}@{commit}")
    return {m: dict(names) for m, names in out.items()}


def imported_names(text: str, modules: set[str], where: str = "") -> set[tuple[str, str]]:
    """``(module, name)`` for each name the Python Function blocks of a workflow
    file import from one of ``modules``: ``from m import n``, or ``import m`` and
    then ``m.n``."""
    found: set[tuple[str, str]] = set()
    doc = yaml.safe_load(text) or {}
    for block in (doc.get("blocks") or {}).values():
        code = block.get("code") if isinstance(block, dict) else None
        if not isinstance(code, str) or block.get("language", "python") != "python":
            continue
        source = rewrite_python(code)[0]  # `<a.b>` is not Python; `__ref_1` is
        try:  # the engine runs the code as a function's body: `return` is allowed
            tree = ast.parse(f"def f():\n{textwrap.indent(source, '    ')}")
        except SyntaxError as exc:
            raise ValueError(f"{where}: a Function block's code does not parse: {exc}") from None
        found |= _names(tree, modules)
    return found


def _names(tree: ast.AST, modules: set[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}  # `import m as a`: a → m
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in modules and not node.level:
            found |= {(node.module, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            aliases |= {a.asname or a.name: a.name for a in node.names if a.name in modules}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.add((aliases[node.value.id], node.attr))
    return found


def _lib_modules(repo: Path) -> set[str]:
    """Every module ``templates/lib`` has had, in history or in the working tree."""
    paths = _git(repo, "log", "--format=", "--name-only", "--", "templates/lib").split()
    paths += [p.relative_to(repo).as_posix() for p in (repo / "templates/lib").glob("*.py")]
    return {Path(p).stem for p in paths if p.endswith(".py")}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def write(imports: Imports) -> None:
    IMPORTS.write_text(json.dumps(imports, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main() -> int:
    imports = build(IMPORTS.parents[1])
    write(imports)
    total = sum(map(len, imports.values()))
    print(f"{IMPORTS}: {total} names of {len(imports)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
