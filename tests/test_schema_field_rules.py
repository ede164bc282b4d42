"""docs/workflow.schema.json says what validation says of a field's value, no more and
no less, where it says anything: a webhook's `path` and `method`, an HTTP block's
`method` and `url`, a condition's port names. A Slack `webhook_url` the schema lets
through may still be refused (it also needs a host), never the other way round.

Editors and CI linters read the schema's patterns as ECMA-262 regular expressions:
each is run here in V8 (mini-racer), with and without the `u` flag, as well as by
Python's jsonschema. A pattern that refused what validation accepts would mark a
valid file wrong in the editor of whoever uses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from py_mini_racer import MiniRacer

import blocks  # noqa: F401 - registers the block types
from engine.model import WorkflowError
from engine.validate import validate_document

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "workflow.schema.json").read_text()
)

PATHS = [
    "orders/events", "/orders/events/", " orders ", "\u3000orders\u2028", "\x1corders\x1f",
    "orders\n", "...", ".hidden/x", "a..b/c", "a~b_c-d.e", "\ufefforders", "orders//events",
    "orders/./x", "orders/../x", "./x", "orders events", "orders?x", "orders#x", "ord%20ers",
    "ördérs", "", "/", "///", " ", "/ /", "/ orders", "orders /", "orders/\n/x",
]  # fmt: skip
WEBHOOK_METHODS = [
    "POST", "post", "Post", "pOsT", "GET", "get", "DELETE", "delete", "PATCH", "put",
    "HEAD", "OPTIONS", "poſt", "poﬆ", "POST ", " POST", "POST\n", "", "FETCH",
]  # fmt: skip
HTTP_METHODS = [*WEBHOOK_METHODS, "head", "Options", "optionſ"]
URLS = [
    "http://x.example", "HTTPS://x.example/a", "hTtP://x", "<input.url>", "<input.host>/path",
    "ftp://x.example", "x.example", "", " ", " http://x.example", "http:/x", "https//x",
    "httpx://x", "\nhttp://x", "https://",
]  # fmt: skip
PORTS = ["other", "no_match", "a-b", "Z9", "", "no match", "sonst_ä", "x\n", "a.b", "a/b"]


def workflow(kind: str, value: str) -> dict[str, Any]:
    """A workflow whose only questionable value is ``value`` in field :func:`field`."""
    block: dict[str, Any] = {
        "webhook_path": {"type": "webhook", "path": value},
        "webhook_method": {"type": "webhook", "path": "x", "method": value},
        "http_method": {"type": "http", "url": "http://x.example", "method": value},
        "http_url": {"type": "http", "url": value},
        "slack_url": {"type": "slack", "webhook_url": value, "text": "hi"},
        "case_name": {"type": "condition", "cases": [{"name": value, "if": "1 == 1"}]},
        "else": {"type": "condition", "cases": [{"name": "a", "if": "1 == 1"}], "else": value},
    }[kind]
    in_file = {"start": {"type": "manual"}, "b": block}
    edges = [] if block["type"] == "webhook" else ["start -> b"]
    return {"name": "rules", "blocks": in_file, "edges": edges}


def field(kind: str) -> list[str]:
    """The field's path in the block (``items`` for a list's items)."""
    return {
        "webhook_path": ["path"],
        "webhook_method": ["method"],
        "http_method": ["method"],
        "http_url": ["url"],
        "slack_url": ["webhook_url"],
        "case_name": ["cases", "items", "name"],
        "else": ["else"],
    }[kind]


def validation_accepts(kind: str, value: str) -> bool:
    where = ".".join("0" if step == "items" else step for step in field(kind))
    try:
        validate_document(workflow(kind, value), "rules.yaml")
    except WorkflowError as exc:
        return not [p for p in exc.problems if p.block == "b" and p.field == where]
    return True


def rules_for(kind: str) -> Iterator[dict[str, Any]]:
    """Each schema the published schema applies to the field: the block's property,
    and the property in each of the block's rules (`allOf`)."""
    block_type = workflow(kind, "")["blocks"]["b"]["type"]
    block = SCHEMA["$defs"][block_type]
    for schema in [block, *block.get("allOf", [])]:
        for step in field(kind):
            schema = schema.get("items" if step == "items" else "properties", {})
            schema = schema if step == "items" else schema.get(step, {})
        yield schema


@pytest.fixture(scope="module")
def v8() -> MiniRacer:
    return MiniRacer()


def ecma_accepts(v8: MiniRacer, kind: str, value: str, flags: str) -> bool:
    for rule in rules_for(kind):
        if len(value) < rule.get("minLength", 0):
            return False
        if "pattern" in rule:
            test = f"new RegExp({json.dumps(rule['pattern'])}, {flags!r}).test({json.dumps(value)})"
            if not v8.eval(test):
                return False
    return True


def python_schema_accepts(kind: str, value: str) -> bool:
    errors = jsonschema.Draft202012Validator(SCHEMA).iter_errors(workflow(kind, value))
    return not [e for e in errors if list(e.absolute_path)[:3] == ["blocks", "b", field(kind)[0]]]


EXACT = [
    *(("webhook_path", v) for v in PATHS),
    *(("webhook_method", v) for v in WEBHOOK_METHODS),
    *(("http_method", v) for v in HTTP_METHODS),
    *(("http_url", v) for v in URLS),
    *(("case_name", v) for v in PORTS),
    *(("else", v) for v in PORTS),
]


@pytest.mark.parametrize(("kind", "value"), EXACT)
def test_the_schema_says_exactly_what_validation_says(v8: MiniRacer, kind: str, value: str) -> None:
    accepted = validation_accepts(kind, value)
    assert [r for r in rules_for(kind) if "pattern" in r], "the schema says nothing of it"
    for flags in ("", "u"):
        assert ecma_accepts(v8, kind, value, flags) == accepted, (flags, accepted)
    # Python's `$` also matches before a final newline: never stricter, at least.
    assert python_schema_accepts(kind, value) or not accepted


@pytest.mark.parametrize("value", URLS)
def test_the_schema_refuses_no_slack_url_validation_accepts(v8: MiniRacer, value: str) -> None:
    if validation_accepts("slack_url", value):
        assert ecma_accepts(v8, "slack_url", value, "u") and ecma_accepts(
            v8, "slack_url", value, ""
        )
        assert python_schema_accepts("slack_url", value)
    else:  # what the schema can say: not http(s):// nor a reference, or blank
        assert validation_accepts("http_url", value) or not ecma_accepts(
            v8, "slack_url", value, "u"
        )


def test_else_beside_if_is_refused_by_the_schema_too() -> None:
    block = {"type": "condition", "if": "1 == 1", "else": "other"}
    doc = {"name": "rules", "blocks": {"start": {"type": "manual"}, "b": block}}
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))
    del block["else"]
    assert not list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))


KEY_RULES = [
    ({"type": "http", "url": "http://x.example", "json": {"a": 1}, "body": "x"}, False),
    ({"type": "http", "url": "http://x.example", "json": {"a": 1}, "form": {"a": 1}}, False),
    ({"type": "http", "url": "http://x.example", "form": {"a": 1}, "body": "x"}, False),
    ({"type": "http", "url": "http://x.example", "json": None}, True),
    ({"type": "email", "to": "a@b.example", "subject": "s"}, False),
    ({"type": "email", "to": "a@b.example", "subject": "s", "html": "<p>hi</p>"}, True),
    ({"type": "slack", "webhook_url": "https://hooks.example/x"}, False),
    ({"type": "slack", "webhook_url": "https://hooks.example/x", "blocks": []}, True),
    ({"type": "parallel", "items": [1]}, False),
    ({"type": "parallel", "branches": {"a": ["x"]}, "body": ["x"]}, False),
    ({"type": "parallel", "branches": {"a": ["x"]}, "as": "it"}, False),
    ({"type": "parallel", "branches": {"a": []}}, False),
    ({"type": "parallel", "items": [1], "body": ["x"], "as": "it"}, True),
    ({"type": "condition", "cases": []}, False),
]


@pytest.mark.parametrize(("block", "valid"), KEY_RULES)
def test_the_schema_says_which_keys_go_together_as_validation_does(
    block: dict[str, Any], valid: bool
) -> None:
    # The schema let through an HTTP block with both `json` and `body` (SPEC: json or
    # form or body), an email with no body and a Slack post with nothing to post:
    # an editor reading docs/workflow.schema.json marked them valid, validate did not.
    doc = {"name": "rules", "blocks": {"start": {"type": "manual"}, "b": block}}
    doc["edges"] = ["start -> b"]
    if block["type"] == "parallel":  # its body's (or branch's) block
        doc["blocks"]["x"] = {"type": "function", "code": "return 1"}
    assert validation_accepts_block(doc) == valid
    schema_errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))
    assert (not schema_errors) == valid, schema_errors


def validation_accepts_block(doc: dict[str, Any]) -> bool:
    try:
        validate_document(doc, "rules.yaml")
    except WorkflowError as exc:
        return not [p for p in exc.problems if p.block == "b"]
    return True
