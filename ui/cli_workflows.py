"""`flowyard` commands and options about workflow files and run inputs, without a
runtime: `validate`, and reading `run --input` (kept apart from ui/cli.py, which
wires the runtime, so each stays short)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine._json import strict_loads, unstorable
from engine.model import Problem, WorkflowError, load_file


def read_input(spec: str | None) -> dict[str, Any]:
    """The run input: a JSON object, as ``POST /api/workflows/<name>/runs`` takes it
    (nothing, or only blanks, is ``{}``). Anything else is a ValueError: wrapping it
    in some object would run the workflow on an input nobody wrote."""
    if not spec:
        return {}
    if spec == "@":  # else Path("") reads as ".", and the error says "Is a directory"
        raise ValueError("a file name is needed after @ (--input @FILE, or @- for stdin)")
    if spec in ("-", "@-"):
        # `… | flowyard run f --input -` (curl's `-d @-`): it was parsed as JSON, and
        # "-" said "Expecting value: line 1 column 1 (char 0)".
        text = sys.stdin.read().removeprefix("\ufeff")
    elif spec.startswith("@"):
        text = _read_file(Path(spec[1:]))
    else:
        text = spec
    if not text.strip():
        return {}
    # Strict, as the API and webhooks parse: NaN and 1e999999 would be stored as null.
    value = strict_loads(text)
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "null")
        raise ValueError(f'the run input must be a JSON object such as {{"x": 1}}, not {kind}')
    # Said here in one line, not as a traceback from the run's INSERT (a NUL, a surrogate).
    refused = unstorable(value, "the run input", text)
    if refused:
        raise ValueError(refused)
    return value


def _read_file(path: Path) -> str:
    """The file's text; a file that cannot be read is said in words, not as
    "[Errno 2] No such file or directory: 'in.json'"."""
    try:
        # utf-8-sig: a file some Windows editors began with a byte-order mark is still JSON.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"no file {str(path)!r} (give @FILE, a JSON file to read)") from None
    except IsADirectoryError:
        raise ValueError(f"{str(path)!r} is a folder, not a JSON file") from None
    except PermissionError:
        raise ValueError(f"{str(path)!r} cannot be read: permission denied") from None


_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}  # fmt: skip


def file_beside(name: str, exc: WorkflowError) -> str:
    """For `flowyard run hello` refused as "no workflow named 'hello' in workflows"
    while hello.yaml sits in the current folder (a newcomer's first file): how to run
    it. A name is looked up in the workflows folder only."""
    said = exc.problems[0].message if len(exc.problems) == 1 else ""
    if not said.startswith("no workflow named"):
        return ""
    for suffix in (".yaml", ".yml", ".json"):
        if Path(f"{name}{suffix}").is_file():
            return (
                f"; {name}{suffix} here is not in that folder: run it by its path "
                f"(flowyard run {name}{suffix})"
            )
    return ""


def missing_file(spec: str) -> str | None:
    """The message for `flowyard run FILE` when FILE looks like a path (a `/`, or a
    workflow file's suffix) and does not exist; None otherwise. Looked up as a
    workflow name instead, it said "no workflow named '/tmp/x/a.yaml'" about a
    `/tmp/x/a.yaml.yaml` nobody wrote."""
    looks_like_a_path = "/" in spec or Path(spec).suffix in (".yaml", ".yml", ".json")
    if not looks_like_a_path:
        return None
    try:
        there = Path(spec).exists()
    except OSError as exc:  # a name the file system refuses: File name too long
        return f"{spec}: {exc.strerror}"
    return None if there else f"{spec}: no such file"


def _files_of(given: list[str]) -> tuple[list[str], int]:
    """The files given, a folder (`flowyard validate workflows`) as the workflow files
    `serve` would load from it, by name: it said "cannot read: Is a directory". And
    how many of those given were a folder without any (said on stderr)."""
    from engine.workflow_folder import list_folder

    files, empty = [], 0
    for f in given:
        if not Path(f).is_dir():
            files.append(f)
            continue
        listing = list_folder(Path(f))
        files += [str(Path(f) / p.name) for p in listing.workflows.values()]
        for ignored in listing.ignored:
            print(f"{Path(f) / ignored.file}: not loaded: {ignored.why}", file=sys.stderr)
        if not listing.workflows:
            print(f"{f}: no workflow files (.yaml, .yml, .json) in this folder", file=sys.stderr)
            empty += 1
    return files, empty


def cmd_validate(args: argparse.Namespace) -> int:
    """Every problem of each file, then what clashes between the files given (a
    webhook path and method, a `name:`): only one of such a pair would be found."""
    import blocks  # noqa: F401 - registers the block types
    from engine.workflows import name_clash, webhook_keys

    given, failed = _files_of(args.files)
    served: dict[tuple[str, str], str] = {}  # (path, METHOD) -> the first file with it
    named: dict[str, str] = {}  # name: -> the first file with it
    # A file given twice (`a.yaml ./a.yaml`, an overlapping glob) is checked once:
    # it would otherwise clash with itself over its name and its webhook path.
    once: dict[Path, str] = {}
    for f in given:
        once.setdefault(Path(f).resolve(), f)
    for f in once.values():
        try:
            workflow = load_file(f)
        except WorkflowError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        clashes = [
            Problem(
                f"{method} /webhooks/{path} is already the webhook of {served[(path, method)]}",
                f,
                b.id,
                "path",
            )
            for (path, method), b in webhook_keys(workflow)
            if (path, method) in served
        ]
        if workflow.name in named:
            clashes.append(name_clash(workflow, named[workflow.name]))
        for problem in clashes:
            print(problem, file=sys.stderr)
        for key, _ in webhook_keys(workflow):
            served.setdefault(key, f)
        named.setdefault(workflow.name, f)
        failed += bool(clashes)
        if not clashes:
            print(f"{f}: ok")
    return 1 if failed else 0
