"""The JSON Schema of the workflow format, generated from the block registry.

``docs/workflow.schema.json`` is this schema written out (a test keeps the file
in sync); the validator, the editor and ``flowyard validate`` all use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.registry import block_types

#: Block ids that would hide a reference root (<input.…>, <env.…>, <workflow.…>).
RESERVED_IDS = frozenset({"input", "env", "workflow"})

_DURATION = {"type": "number", "minimum": 0}

#: Ceilings: a timer cannot wait 1e308 s (a run waited for ever, and `flowyard run`
#: never exited), and nothing sensible waits longer than these.
MAX_TIMEOUT_S = 366 * 24 * 3600
MAX_RETRY_BACKOFF_S = 24 * 3600

COMMON_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "description": "Display name in the editor."},
    "description": {"type": "string"},
    "retries": {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "description": "Extra attempts after a failure.",
    },
    "retry_backoff": {
        **_DURATION,
        "maximum": MAX_RETRY_BACKOFF_S,
        "description": "Seconds before the first retry (a day at most); doubles each retry, up to 100 times itself.",
    },
    "timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": MAX_TIMEOUT_S,
        "description": "Seconds per attempt (more than 0, a year at most; left out: the block's default).",
    },
    "on_error": {
        "enum": ["fail", "continue"],
        "description": "continue: the output is {error: …} and the `error` port is taken.",
    },
}


#: Marks a schema fragment whose failures the validator leaves to a clearer message
#: of its own (a handler's ``problems()``, the reserved-id check).
IN_WORDS = "flowyard validate says this in words"


def in_words(rule: Any) -> Any:
    """``rule`` with every schema in it marked :data:`IN_WORDS` (a ``properties``
    mapping is no schema: its values are, and a ``$comment`` key in it would be a
    property of that name)."""
    if isinstance(rule, list):
        return [in_words(v) for v in rule]
    if not isinstance(rule, dict):
        return rule
    marked: dict[str, Any] = {"$comment": IN_WORDS}
    for key, value in rule.items():
        if key == "properties" and isinstance(value, dict):
            marked[key] = {name: in_words(schema) for name, schema in value.items()}
        else:
            marked[key] = in_words(value)
    return marked


def said_in_words(schema: Any) -> bool:
    """Whether a failing schema fragment is one of :func:`in_words`'s."""
    return isinstance(schema, dict) and schema.get("$comment") == IN_WORDS


def any_case(words: Iterable[str]) -> str:
    """A pattern for exactly ``words``, each in any mix of ASCII upper and lower case
    (``post``, ``Post``): what ``value.isascii() and value.upper() in words`` accepts.
    One character class a letter, so an ECMA-262 validator reads it as Python does."""
    spelled = (
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)
        for word in words
    )
    return "^(?:" + "|".join(spelled) + ")$"


def one_of_keys(*keys: str) -> dict[str, Any]:
    """Exactly one of ``keys`` is given."""
    return {"oneOf": [{"required": [k]} for k in keys]}


def any_of_keys(*keys: str) -> dict[str, Any]:
    """At least one of ``keys`` is given."""
    return {"anyOf": [{"required": [k]} for k in keys]}


def at_most_one_of_keys(*keys: str) -> dict[str, Any]:
    """No two of ``keys`` are given together."""
    pairs = [[a, b] for i, a in enumerate(keys) for b in keys[i + 1 :]]
    return {"not": {"anyOf": [{"required": pair} for pair in pairs]}}


def block_schema(type_name: str) -> dict[str, Any]:
    handler = block_types()[type_name]
    props = {"type": {"const": type_name}, **COMMON_PROPERTIES, **handler.config_schema}
    schema = {
        "type": "object",
        "title": type_name,
        "description": handler.description,
        "properties": props,
        "required": ["type", *handler.required],
        "additionalProperties": False,
    }
    if handler.schema_rules:
        schema["allOf"] = [in_words(rule) for rule in handler.schema_rules]
    return schema


def workflow_schema() -> dict[str, Any]:
    types = sorted(block_types())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flowyard.dev/workflow.schema.json",
        "title": "flowyard workflow",
        "type": "object",
        "required": ["name", "blocks"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1},
            "name": {"type": "string", "pattern": "\\S"},  # not empty, not blank
            "description": {"type": "string"},
            "blocks": {
                "type": "object",
                "propertyNames": {
                    "pattern": "^[a-z][a-z0-9_]*$",
                    "allOf": [in_words({"not": {"enum": sorted(RESERVED_IDS)}})],
                },
                "additionalProperties": {"$ref": "#/$defs/block"},
            },
            "edges": {
                "type": "array",
                "items": {
                    "type": "string",
                    "pattern": r"^\s*[a-z][a-z0-9_]*(\.[A-Za-z0-9_\-]+)?\s*->\s*[a-z][a-z0-9_]*\s*$",
                },
            },
            "output": {
                "description": "A reference (or a mapping of references): the run's result."
            },
            "layout": {
                "type": "object",
                "description": "Editor positions only: [x, y], or [x, y, width, height] "
                "for a container.",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "number"},
                    "anyOf": [
                        {"minItems": 2, "maxItems": 2},
                        {"minItems": 4, "maxItems": 4},
                    ],
                },
            },
        },
        "$defs": {
            "block": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": types}},
                "allOf": [
                    # `required` in the `if`: a block without `type` matches no branch
                    # (else every type's schema applies and each reports its own keys).
                    {
                        "if": {"properties": {"type": {"const": t}}, "required": ["type"]},
                        "then": {"$ref": f"#/$defs/{t}"},
                    }
                    for t in types
                ],
            },
            **{t: block_schema(t) for t in types},
        },
    }
