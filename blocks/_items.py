"""What a loop's or a parallel's `items` resolved to, as the items to run: both
iterate the same way, so one workflow's loop and parallel over a value agree."""

from __future__ import annotations

from typing import Any


def items_to_run(value: Any, block_type: str) -> list[Any] | tuple[Any, ...]:
    """A list as it is; a mapping as its ``{key, value}`` pairs, in order; null as no
    items (0 iterations). Anything else fails the block, naming what it got."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [{"key": key, "value": item} for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return value
    raise TypeError(
        f"{block_type} `items` must be a list, a mapping or null, got {type(value).__name__}"
    )
