"""JSON Schemas a workflow gives (an Agent's ``response_format``, a manual trigger's
``input_schema``), applied without fetching anything.

jsonschema's default resolver fetched a ``$ref`` to a URL with urllib, with no time
limit, on the engine's event loop: a schema from a run's input (a webhook body) could
make the server request any URL, and one that never answered froze every run. Only
references inside the schema itself (``#/$defs/…``) are read; any other is refused.
Those are resolved when the workflow is validated (`refs_problem`): one to nothing, to
no schema, or only to itself passed validation and then failed every run.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema

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


def refs_problem(schema: Any) -> str | None:
    """One line saying which ``$ref`` cannot be read: it points outside the schema,
    to nothing in it, to no schema (``#/required``), or round to itself without
    reading anything (``$defs: {a: {$ref: "#/$defs/a"}}``). None when all can."""
    return outside_refs_problem(schema) or _inside_refs_problem(schema)


# The keywords that apply their schemas to the very value the schema is applied to:
# a chain of references through these alone never ends.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")


def _inside_refs_problem(schema: Any) -> str | None:
    dialect = schema.get("$schema", "") if isinstance(schema, dict) else ""
    spec = referencing.jsonschema.specification_with(
        dialect if isinstance(dialect, str) else "", default=referencing.jsonschema.DRAFT202012
    )
    root = spec.create_resource(schema)
    resolver = referencing.Registry().with_resource("", root).crawl().resolver("")
    targets: dict[int, list[Any]] = {}  # id(subschema) -> the schemas it refers to
    subschemas: dict[int, Any] = {}
    stack = [(root, resolver)]
    while stack:
        resource, outer = stack.pop()
        here = outer.in_subresource(resource)
        node = resource.contents
        if isinstance(node, dict):
            subschemas[id(node)] = node
            for key in _REF_KEYS:
                ref = node.get(key)
                if not isinstance(ref, str):
                    continue
                try:
                    target = here.lookup(ref).contents
                except referencing.exceptions.Unresolvable as exc:
                    return f"$ref {ref!r} cannot be resolved: {_unresolvable(exc)}"
                if not isinstance(target, (dict, bool)):
                    return f"$ref {ref!r} points to {target!r}, which is no schema"
                targets.setdefault(id(node), []).append(target)
        stack.extend((sub, here) for sub in resource.subresources())
    return _ref_loop(subschemas, targets)


def _ref_loop(subschemas: dict[int, Any], targets: dict[int, list[Any]]) -> str | None:
    """A ``$ref`` that leads back to its own schema through references and in-place
    keywords only: applying it would recurse until Python's stack ran out."""

    def in_place(node: Any) -> list[Any]:
        if not isinstance(node, dict):
            return []
        found = list(targets.get(id(node), []))
        for key in _IN_PLACE:
            value = node.get(key)
            if isinstance(value, list):
                found.extend(value)
            elif isinstance(value, dict) and key == "dependentSchemas":
                found.extend(value.values())
            elif isinstance(value, dict):
                found.append(value)
        return found

    for start in targets:
        seen, stack = set(), in_place(subschemas[start])
        while stack:
            node = stack.pop()
            if node is subschemas[start]:
                ref = next(v for k, v in node.items() if k in _REF_KEYS)
                return f"$ref {ref!r} refers back to itself: the schema would never be done"
            if id(node) not in seen:
                seen.add(id(node))
                stack.extend(in_place(node))
    return None


def _unresolvable(exc: referencing.exceptions.Unresolvable) -> str:
    if isinstance(exc, referencing.exceptions.PointerToNowhere):
        return f"nothing at {exc.ref!r} in the schema"
    if isinstance(exc, referencing.exceptions.NoSuchAnchor):
        return f"no anchor {exc.anchor!r} in the schema"
    return type(exc).__name__


#: The `format`s a manual trigger's input_schema asserts: those jsonschema checks with
#: the standard library alone (`email`: that there is an @). The others (`date-time`,
#: `uri`, `hostname`…) need packages flowyard does not depend on: checked or not
#: depending on what else happens to be installed, they stay annotations, as JSON
#: Schema 2020-12 has every format by default. Documented in docs/blocks/control.md.
ASSERTED_FORMATS = ("date", "email", "idn-email", "ipv4", "ipv6", "regex", "uuid")


def draft_of(schema: Any) -> type[jsonschema.protocols.Validator]:
    """The validator of the draft ``schema``'s ``$schema`` names (draft-04, draft-07…),
    2020-12 when it names none or one jsonschema does not know. One choice for both
    checking the schema and applying it: a schema checked as 2020-12 and applied as
    draft 4 was refused when valid, and accepted when invalid."""
    dialect = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(dialect, str):  # the 2020-12 meta-schema says what is wrong with it
        return jsonschema.Draft202012Validator
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is no JSON Schema of the draft it names (`draft_of`), in one
    line (jsonschema's own error is a dump of the meta-schema), or why one of its
    ``$ref`` cannot be read (`refs_problem`); None when it is one."""
    try:
        draft_of(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        return f"not a valid JSON Schema: {exc.message}" + (f" (at {where})" if where else "")
    return refs_problem(schema)


def validation_errors(
    schema: dict[str, Any], value: Any, *, formats: bool = False
) -> list[jsonschema.ValidationError]:
    """Where ``value`` does not match ``schema`` (by the draft its ``$schema`` names,
    2020-12 by default), references resolved inside the schema only; raises
    ``ValueError`` for one pointing elsewhere. ``formats``: assert the
    `ASSERTED_FORMATS` the draft knows (else ``format`` is an annotation only)."""
    if (why := outside_refs_problem(schema)) is not None:
        raise ValueError(why)
    cls = draft_of(schema)
    format_checker = None
    if formats:
        known = cls.FORMAT_CHECKER.checkers
        format_checker = jsonschema.FormatChecker([f for f in ASSERTED_FORMATS if f in known])
    # An empty registry: nothing is fetched.
    checker = cls(schema, registry=referencing.Registry(), format_checker=format_checker)
    try:
        return list(checker.iter_errors(value))
    except referencing.exceptions.Unresolvable as exc:  # `#/$defs/missing`
        raise ValueError(f"the schema's $ref cannot be resolved: {exc}") from None
    except RecursionError:  # refused by refs_problem at validation; never a traceback
        raise ValueError("the schema's $ref refers back to itself without end") from None
