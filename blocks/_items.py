"""What a loop's or a parallel's `items` resolved to, as the items to run: both
iterate the same way, so one workflow's loop and parallel over a value agree."""

from __future__ import annotations

import json
from typing import Any

from engine.references import is_one_reference


def items_to_run(value: Any, block_type: str) -> list[Any] | tuple[Any, ...]:
    """A list as it is; a mapping as its ``{key, value}`` pairs, in order; null as no
    items (0 iterations). Anything else fails the block, naming what it got."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [{"key": key, "value": item} for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return value
    kind = _KINDS.get(type(value), "a value of another kind")
    hint = ""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        # A list sent as JSON text (a form field, a header): it is one string.
        hint = ": JSON text is not parsed; return json.loads(…) of it from a Function block"
    raise TypeError(f"{block_type} `items` must be a list, a mapping or null, got {kind}{hint}")


#: What a value is, in the words of JSON rather than Python's type names (`str`).
_KINDS = {str: "text", int: "a number", float: "a number", bool: "a boolean"}


def written_items_problem(value: Any) -> str | None:
    """Why ``items`` as written in the file can never be run over (a number, a
    boolean, text that is not one reference), or None: said at validation, as for a
    loop's ``count``, rather than by every run."""
    if value is None or isinstance(value, (list, dict)):
        return None
    if isinstance(value, str) and is_one_reference(value):
        return None
    shown = json.dumps(value, ensure_ascii=False)
    return f"`items` is a list, a mapping or one reference, not {shown}"


def one_reference_fields(config: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``config`` with each of ``keys`` that is one reference written with blanks
    around it (`items: " <start.xs> "`) stripped: validation takes it for the one
    reference it is, while compiled as it stood it was text (the list's JSON), and
    every run failed (`items` must be a list … got str). A copy: the file's own
    config is what the editor saves."""
    stripped = {
        k: config[k].strip()
        for k in keys
        if isinstance(config.get(k), str) and is_one_reference(config[k])
    }
    return {**config, **stripped} if stripped else config
