"""JSON Schemas a workflow gives (an Agent's ``response_format``, a manual trigger's
``input_schema``), applied without fetching anything.

jsonschema's default resolver fetched a ``$ref`` to a URL with urllib, with no time
limit, on the engine's event loop: a schema from a run's input (a webhook body) could
make the server request any URL, and one that never answered froze every run. Only
references inside the schema itself (``#/$defs/…``) are read; any other is refused.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import referencing
import referencing.exceptions

_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")


def outside_refs(schema: Any) -> list[str]:
    """The ``$ref`` values of ``schema`` that point outside it (not ``#…``)."""
    found, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _REF_KEYS and isinstance(value, str) and not value.startswith("#"):
                    found.append(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def outside_refs_problem(schema: Any) -> str | None:
    """One line saying which ``$ref`` is refused, or None."""
    refs = outside_refs(schema)
    if not refs:
        return None
    return (
        f"$ref {refs[0]!r} points outside the schema: only references inside it"
        " (#/$defs/…) are read, nothing is fetched"
    )


def validation_errors(schema: dict[str, Any], value: Any) -> list[jsonschema.ValidationError]:
    """Where ``value`` does not match ``schema`` (by the draft its ``$schema`` names,
    2020-12 by default), references resolved inside the schema only; raises
    ``ValueError`` for one pointing elsewhere."""
    if (why := outside_refs_problem(schema)) is not None:
        raise ValueError(why)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker = cls(schema, registry=referencing.Registry())  # an empty one: nothing fetched
    try:
        return list(checker.iter_errors(value))
    except referencing.exceptions.Unresolvable as exc:  # `#/$defs/missing`
        raise ValueError(f"the schema's $ref cannot be resolved: {exc}") from None
