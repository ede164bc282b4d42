"""Checks beside engine.validate (kept apart so each module stays short): what a
schema error says about a value YAML read as something else than the text written."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from engine.strict_load import _kind


def schema_message(err: jsonschema.ValidationError, doc: dict[str, Any]) -> str:
    """The schema's message, quoting the file's text when YAML read it as a number, a
    boolean or null: `name: 0123` is "0123 is read as a number (123) …", where the
    schema alone said "123 is not of type 'string'", a value nobody wrote."""
    written = getattr(doc, "written", {})
    text = written.get(tuple(str(p) for p in err.absolute_path))
    if err.validator != "type" or text is None:
        return err.message
    expected = (
        err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    )
    as_json = json.dumps(err.instance)
    read = _kind(err.instance) + ("" if as_json == text else f" ({as_json})")
    if "string" in expected:
        return (
            f"{text} is read as {read}, not text: write it in quotes ('{text}') to keep it as text"
        )
    return f"{text} is read as {read}, not of type {' or '.join(map(repr, expected))}"
