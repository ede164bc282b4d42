"""What a Python Function is given (imported by the worker at spawn: standard
library only).

The input and the references' values are the call's own objects, made once
when they arrive — parsed from the request (``object_hook=AttrDict``) in a worker,
deep-copied (:func:`own`) inline — so reads return the same object every time,
changes are seen by later reads and by the returned value, and no change reaches
another block's output or the engine's data. (Copying once beats wrapping each
read: a wrapper made per read loses changes to nested values.)
"""

from __future__ import annotations

from typing import Any


class AttrDict(dict):
    """``input.webhook.body.order_id``: a JSON object whose fields are also attributes,
    to read (``b.owner``), set (``b.owner = "me"``) and delete (``del b.owner``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(_no_field(self, name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(_no_field(self, name)) from None

    def copy(self) -> AttrDict:  # dict.copy would give a plain dict: no attributes
        return AttrDict(self)


def _no_field(fields: dict[Any, Any], name: str) -> str:
    return f"no field {name!r} (fields: {', '.join(map(str, fields)) or 'none'})"


def own(value: Any) -> Any:
    """A deep copy of a JSON-like value, its objects as :class:`AttrDict` (a tuple as
    a list, as JSON has it). Each container is copied whole at C speed and only the
    containers inside it visited: the scalars are immutable and shared."""
    if isinstance(value, dict):
        copied = AttrDict(value)
        for key, item in copied.items():
            if isinstance(item, _CONTAINERS):
                copied[key] = own(item)  # an existing key: iterating on is safe
        return copied
    if isinstance(value, (list, tuple)):
        return [own(item) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


_CONTAINERS = (dict, list, tuple)
