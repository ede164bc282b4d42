"""Validation says every problem of a block, naming file, block and field (README):
the HTTP, Database, Slack and Parallel blocks said only their first, and the next
appeared only once that one was fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

ROOT = Path(__file__).resolve().parent.parent
HEAD = "name: t\nblocks:\n  start: {type: manual}\n"


def said(found: list[str], file: Path) -> list[str]:
    """The problems without the file name each starts with."""
    return [p.removeprefix(f"{file}: ") for p in found]


def test_http_says_the_body_method_and_url_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + '  h: {type: http, method: FETCH, url: "ftp://x/y", json: {a: 1}, form: {b: 2}}\n'
        "edges: [start -> h]\n",
    )
    assert said(found, tmp_path / "bad.yaml") == [
        "block 'h': field 'form': use one of json, form and body, not json and form",
        "block 'h': field 'method': unknown method 'FETCH'",
        "block 'h': field 'url': the url must start with http:// or https://, not ftp://",
    ]


def test_database_says_each_problem_of_query_params_and_connection(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  d:\n    type: database\n"
        "    query: \"SELECT E'<start.x>' AS e, <start.y> AS y, :a AS a, :b AS b, :a AS c;"
        ' SELECT 1"\n'
        "    params: [1]\n    transaction: g\n    connection: postgresql://elsewhere/db\n"
        "edges: [start -> d]\n",
    )
    assert said(found, tmp_path / "bad.yaml") == [
        "block 'd': field 'query': the query holds 2 statements; a Database block runs one"
        " (one block per statement, sharing a `transaction` if they must commit together)",
        "block 'd': field 'query': <start.x> is inside an E'…' string, where it cannot become"
        " a bind parameter (and is never spliced in as text): write it outside, e.g."
        " E'\\n' || <start.x>",
        "block 'd': field 'query': :a is a named placeholder, but `params` is a list (used as"
        " $1, $2…); make it a mapping",
        "block 'd': field 'query': :b is a named placeholder, but `params` is a list (used as"
        " $1, $2…); make it a mapping",
        "block 'd': field 'params': a list of params (used as $1, $2…) cannot be mixed with"
        " references in the query; use a mapping of params (used as :name) instead",
        "block 'd': field 'connection': a transaction group runs on the runner's database;"
        " `connection` cannot be used with `transaction` (remove one of them)",
    ]


def test_an_empty_query_is_said_once(tmp_path: Path) -> None:
    """Nothing else can be said of a query that holds no statement."""
    found = problems(
        tmp_path,
        HEAD
        + "  d: {type: database, query: ' -- :a', transaction: g, connection: 'postgresql://x/y'}\n"
        "edges: [start -> d]\n",
    )
    assert said(found, tmp_path / "bad.yaml") == [
        "block 'd': field 'query': the query is empty",
        "block 'd': field 'connection': a transaction group runs on the runner's database;"
        " `connection` cannot be used with `transaction` (remove one of them)",
    ]


def test_slack_says_the_missing_text_and_the_bad_url(tmp_path: Path) -> None:
    found = problems(
        tmp_path, HEAD + "  s: {type: slack, webhook_url: 'ftp://hooks/x'}\nedges: [start -> s]\n"
    )
    assert said(found, tmp_path / "bad.yaml") == [
        "block 's': field 'text': give text or blocks (or both)",
        "block 's': field 'webhook_url': the webhook_url must start with http:// or https://,"
        " not ftp://",
    ]


def test_parallel_says_each_problem(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  p: {type: parallel, branches: {a: [], b: [x]}, as: n}\n"
        "  x: {type: function, code: return 1}\n"
        "  q: {type: parallel, items: text, body: []}\n"
        "edges: [start -> p, start -> q]\n",
    )
    assert said(found, tmp_path / "bad.yaml") == [
        "block 'p': field 'as': `as` names the item of a parallel over `items`; a parallel"
        " with `branches` runs each branch once, with no item: remove `as`",
        "block 'p': field 'branches.a': branch 'a' has no blocks",
        "block 'q': field 'items': `items` is a list, a mapping or one reference, not \"text\"",
        "block 'q': field 'body': a parallel needs at least one block in `body`",
    ]


def test_flowyard_validate_prints_every_problem(tmp_path: Path) -> None:
    (tmp_path / "h.yaml").write_text(
        "name: h\nblocks:\n"
        '  h: {type: http, method: FETCH, url: "ftp://x/y", json: {a: 1}, form: {b: 2}}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", "h.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "h.yaml: block 'h': field 'form': use one of json, form and body, not json and form",
        "h.yaml: block 'h': field 'method': unknown method 'FETCH'",
        "h.yaml: block 'h': field 'url': the url must start with http:// or https://, not ftp://",
    ]
