"""What a Python Function is given and what it gives back (imported by the worker
at spawn: standard library only).

In: the input and the references' values are the call's own objects, made once
when they arrive — parsed from the request (``object_hook=AttrDict``) in a worker,
deep-copied (:func:`own`) inline — so reads return the same object every time,
changes are seen by later reads and by the returned value, and no change reaches
another block's output or the engine's data. (Copying once beats wrapping each
read: a wrapper made per read loses changes to nested values.)

Out: the returned value as JSON text (:func:`encode_output`). Dates and times become
ISO 8601, UUIDs their text, a Decimal a number when a float holds it exactly (else
its text, as the Database block), a tuple a list; a value JSON has no form for (a
set, bytes, NaN, ±Infinity, any other object) fails the block, naming where it is.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import uuid
from decimal import Decimal
from typing import Any, NamedTuple

from engine._cut_secrets import CUT_MARK
from engine.suggest import did_you_mean


class AttrDict(dict):
    """``input.webhook.body.order_id``: a JSON object whose fields are also attributes,
    to read (``b.owner``), set (``b.owner = "me"``) and delete (``del b.owner``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise NoField(self, name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise NoField(self, name) from None

    def copy(self) -> AttrDict:  # dict.copy would give a plain dict: no attributes
        return AttrDict(self)


#: The input of the call running in this process, and whether it holds all of it
#: rather than only the fields the code reads (set by engine/_function_worker.call;
#: calls never overlap in a process), to say where a missing field was looked for.
call_input: list[Any] = [None, True]


class NoField(AttributeError):
    """``x.owner`` or ``del x.owner`` on an object without that field. The message
    names where the object is in the input (``input.start.meta``) — the field alone
    left the author guessing which object of a long path lacked it. The place is
    looked for only when the message is made (``hasattr``, ``getattr`` with a
    default make none)."""

    def __init__(self, fields: dict[Any, Any], name: str) -> None:
        # args[0] as an AttributeError has it (`e.args[0]`), cheap to make.
        super().__init__(f"no field {name!r}", name=name, obj=fields)

    def __str__(self) -> str:
        fields = self.obj
        root, whole = call_input
        if fields is root and not whole:
            # Given only the fields the code reads, the input lists none of the rest:
            # "(fields: none)" read as if nothing upstream had given anything.
            return (
                f"no field {self.name!r} in input: no block upstream that ran for this"
                " one, loop variable or field of the run's input has that name"
            )
        where = _place(fields, root)
        at = f" in {where}" if where else ""
        listed = ", ".join(map(str, fields)) or "none"
        return f"no field {self.name!r}{at} (fields: {listed}){did_you_mean(self.name, fields)}"


# The code catches and reads it as the AttributeError it is: the block's error type
# and a traceback the code prints say so, not this module's class name.
NoField.__name__ = NoField.__qualname__ = "AttributeError"
NoField.__module__ = "builtins"


def _place(target: Any, root: Any) -> str | None:
    """Where ``target`` is inside the call's input, as code reads it
    (``input.start.rows[0]``), or None when it is not there (a reference's value, an
    object the code made)."""
    stack = [(root, "input")]
    while stack:
        value, path = stack.pop()
        if value is target:
            return path
        if isinstance(value, dict):
            stack += [
                (v, f"{path}.{k}" if isinstance(k, str) and k.isidentifier() else f"{path}[{k!r}]")
                for k, v in value.items()
                if isinstance(v, (dict, list))
            ]
        elif isinstance(value, list):
            stack += [
                (v, f"{path}[{i}]") for i, v in enumerate(value) if isinstance(v, (dict, list))
            ]
    return None


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


# -- out ---------------------------------------------------------------------------------


def _as_json(value: Any) -> Any:
    """The JSON form of a value the encoder has none for (its ``default``)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()  # 2024-01-01T00:00:00: ISO 8601, as JSON dates are read
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        as_float = float(value)
        # An amount must not drift: a float only when it reads back as the same number.
        return as_float if Decimal(repr(as_float)) == value else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


#: allow_nan=False: NaN and ±Infinity are refused (naming where), not written as
#: JSON no reader takes. A worker's reply crosses a pipe as bytes: ASCII, so text
#: holding a lone surrogate still encodes; inline text stays as it is.
_ENCODERS = {
    ascii_only: json.JSONEncoder(
        allow_nan=False, default=_as_json, separators=(",", ":"), ensure_ascii=ascii_only
    )
    for ascii_only in (True, False)
}


class OutputNotJSON(Exception):
    """The returned value holds something JSON has no form for; ``kind`` is the
    exception type the block's error names."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: The most characters of JSON a Function's output may have: what a run record keeps
#: of an output (engine._recordable.MAX_RECORDED_CHARS, which imports this module; a
#: test holds them equal). Returned whole, a 400 MB output took the server to 2.1 GB
#: (the worker's reply, the engine's copy, the run's result) and a bigger one killed
#: it with every run in it, while its record kept none of it. Checked where the
#: output is encoded, so a worker's never reaches the engine.
MAX_OUTPUT_CHARS = 64 * 1024 * 1024


def too_large(text: str, value: Any) -> None:
    """Raise :class:`OutputNotJSON` (``OutputTooLarge``) when ``text``, the JSON of the
    returned ``value``, passes MAX_OUTPUT_CHARS as the run log counts it (text as it
    is, not escaped as a worker's ASCII reply escapes it: re-encoded only then)."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return
    chars = len(text) if "\\u" not in text else len(_ENCODERS[False].encode(value))
    if chars > MAX_OUTPUT_CHARS:
        raise OutputNotJSON(
            "OutputTooLarge",
            f"the output is {chars:,} characters of JSON, over the {MAX_OUTPUT_CHARS:,} a run"
            " record keeps of an output: return less (store big data in the database, or"
            " work on it in pieces in a loop, and return what later blocks need)",
        )


def encode_output(value: Any, ascii_only: bool = False) -> str:
    """The returned ``value`` as JSON text, or :class:`OutputNotJSON` saying where
    and what is not JSON (looked for only once the encoder refused), or that it is
    too large to keep (:func:`too_large`)."""
    try:
        text = _ENCODERS[ascii_only].encode(value)
        too_large(text, value)
        return text
    except OutputNotJSON:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        try:
            found = first_not_json(value, "" if isinstance(value, dict) else "result")
        except Exception as failed:  # the value's own code again: say that
            raise _own_code_failed(failed) from None
        if found is None:  # not expected: the encoder's own words then
            raise OutputNotJSON(type(exc).__name__, f"the output is not JSON: {exc}") from None
        place = f"field {found.where}" if found.where else "the returned value"
        fix = f": {found.fix}" if found.fix else ""
        raise OutputNotJSON(
            found.kind, f"the output is not JSON: {place} {found.what}{fix}"
        ) from None
    except Exception as exc:
        # Writing the value ran code of the user's own — a date subclass's isoformat,
        # a dict subclass's items — which raised. Through to the worker's loop, that
        # ended the worker, and the block said "WorkerDied … a crash in a C extension".
        raise _own_code_failed(exc) from None


def _own_code_failed(exc: Exception) -> OutputNotJSON:
    args = ", ".join(a if isinstance(a, str) else type(a).__name__ for a in exc.args)
    return OutputNotJSON(
        "TypeError",
        "the output is not JSON: writing it ran the returned value's own code, which"
        f" raised {type(exc).__name__}: {args}",
    )


#: How deep the search for what is not JSON goes (the encoder gives up near 1000).
_MAX_DEPTH = 500


class NotJSON(NamedTuple):
    """The first value JSON has no form for, found inside a value."""

    #: The exception type a block's error names (ValueError, TypeError).
    kind: str
    #: Its path (``stats.mean``), "" for the value itself.
    where: str
    #: What it is, as the rest of a sentence: ``is a set ({1, 2})``.
    what: str
    #: What a Function should return instead, "" when there is nothing to add: other
    #: callers (a condition's expression) give advice in their own words.
    fix: str


#: (the exception type the block's error names, what is wrong, what to return
#: instead): where is added.
_Problem = tuple[str, str, str]


def first_not_json(value: Any, where: str = "") -> NotJSON | None:
    """The first value inside ``value`` that JSON cannot hold, in the order the
    encoder writes, or None when there is none. ``where``: the path of ``value``."""
    return _first_not_json(value, where, set())


def _first_not_json(value: Any, where: str, inside: set[int]) -> NotJSON | None:
    """``inside``: the ids of the containers being walked, to name one that contains
    itself."""
    if not isinstance(value, (dict, list, tuple)):
        problem = _value_problem(value)
        return None if problem is None else NotJSON(problem[0], where, *problem[1:])
    if id(value) in inside:
        return NotJSON("ValueError", where, "contains itself (a circular reference)", "")
    if len(inside) >= _MAX_DEPTH:
        return NotJSON(
            "ValueError", where, f"is nested too deeply (more than {_MAX_DEPTH} levels)", ""
        )
    inside.add(id(value))
    try:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            problem = _key_problem(key) if isinstance(value, dict) else None
            if problem is not None:
                return NotJSON(problem[0], where, *problem[1:])
            found = _first_not_json(item, f"{where}.{key}" if where else str(key), inside)
            if found is not None:
                return found
        return None
    finally:
        inside.discard(id(value))


def _value_problem(value: Any) -> _Problem | None:
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return _int_problem(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return (
            "ValueError",
            f"is {value!r}, which JSON has no number for",
            "return None (null) or a finite number (math.isfinite(x) tells them apart)",
        )
    kind = type(value).__name__
    if isinstance(value, (set, frozenset)):
        return "TypeError", f"is a {kind} ({_shown(value)})", "return a list, e.g. sorted(…)"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return (
            "TypeError",
            f"is {kind} ({_shown(value)})",
            "return text, e.g. ….decode() or base64.b64encode(…).decode()",
        )
    try:
        _as_json(value)
        return None
    except TypeError:
        pass
    if isinstance(value, Decimal):  # NaN or ±Infinity: a finite one is a number
        return "ValueError", f"is Decimal({str(value)!r}), which JSON has no number for", ""
    # No repr(): that would run the object's own code, outside the inline timeout.
    return (
        "TypeError",
        f"is an object of type {kind}, which has no JSON form",
        "return a dict or text",
    )


def _int_problem(value: int) -> _Problem | None:
    """An integer is a JSON number, but one of more digits than Python writes as text
    (sys.get_int_max_str_digits, 4300 by default) cannot be written; 2000 bits are
    fewer digits than the lowest limit Python allows (640)."""
    if value.bit_length() < 2000:
        return None
    try:
        repr(value)
        return None
    except ValueError:
        limit = sys.get_int_max_str_digits()
        what = f"is an integer of more than {limit:,} digits, which Python will not write as text"
        return "ValueError", what, ""


def _key_problem(key: Any) -> _Problem | None:
    """JSON keys are text; the encoder writes None, booleans and numbers as text too."""
    if isinstance(key, float) and not math.isfinite(key):
        return "ValueError", f"has the key {key!r}: JSON keys are text", ""
    if key is None or isinstance(key, (str, int, float, bool)):
        return None
    return (
        "TypeError",
        f"has a key that is a {type(key).__name__} ({_shown(key)}): JSON keys are text",
        "",
    )


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # an element's own __repr__ may raise
        text = f"<{type(value).__name__}>"
    # Cut where the run's secrets are not known (a worker process): the redactor
    # blanks the beginning of one left before the "…" (engine/_cut_secrets.py).
    return text if len(text) <= 60 else text[:57] + CUT_MARK
