"""What the run log can keep: JSON text PostgreSQL stores, within a size it holds."""

from __future__ import annotations

import re
from typing import Any

from engine._function_values import first_not_json
from engine._json import SURROGATE, dumps
from engine.refusals import KEPT, omitted

#: A NUL escape in JSON text, not preceded by an escaped backslash (``\\u0000`` is
#: the six characters, not a NUL).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def storable(text: str) -> str:
    """JSON text PostgreSQL can store, for every write of the run log (events, the
    run row's output and error): PostgreSQL text cannot hold U+0000 (a json value
    keeps the escape, but reading the string out of it fails; jsonb refuses it) and
    UTF-8 cannot encode a lone UTF-16 surrogate (a peer's ``"\\ud800"``, Python's
    ``chr(0xD800)``), so a NUL or a surrogate a block returned is recorded as U+FFFD
    instead of failing the run log's write and leaving the run unfinished for good.

    A surrogate is raw text here: orjson refuses it and engine._json.dumps falls back
    to an encoder that writes non-ASCII as is. ASCII text (most) is not looked at;
    other text is encoded once to find one (several times faster than a search)."""
    if "\\u0000" in text:
        text = _NUL_ESCAPE.sub(lambda m: m.group(1) + "\\ufffd", text)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = SURROGATE.sub("\ufffd", text)
    return text


#: The largest JSON text one run event or the run's output keeps. PostgreSQL's jsonb
#: (the run log's type before schema version 7) held at most ~256 MB, json 1 GB; a
#: bigger value failed every write of the run's log, and the run stayed `running` and
#: was resumed — run again — on every start.
MAX_RECORDED_CHARS = 64 * 1024 * 1024


def within_limit(text: str, data: Any, step_limit: int | None = None) -> str:
    """``text`` (``data`` as JSON), or when it is too big to keep, a note saying so in
    its place: for an event's ``data``, its output is not kept and the record is
    marked ``omitted`` (a resume or re-run runs the block again rather than reuse a
    value it does not have); for a value (``data`` None), the note alone.

    ``step_limit``: the smaller size a block in a fold's body keeps (engine.context,
    ``Frame.step_limit``)."""
    if step_limit is not None and step_limit < len(text) <= MAX_RECORDED_CHARS:
        note = (
            f"not recorded: {len(text):,} characters of JSON, over the {step_limit:,} a step"
            " of a fold keeps (the loop's own record has the state it folded)"
        )
    elif len(text) <= MAX_RECORDED_CHARS:
        return text
    else:
        note = f"not recorded: {len(text):,} characters of JSON, over the {MAX_RECORDED_CHARS:,} a run record keeps"
    if isinstance(data, dict):  # a failure keeps its error: it is small (an excerpt)
        return omitted(data, note, (*KEPT, "error", "handled"))
    return dumps({"omitted": note})


class NotRecordable(Exception):
    """A block's output the run log cannot hold, though JSON has a form for it (an
    integer longer than Python writes as text): the block fails. ``kind``: the
    exception type its error names."""

    #: The same inputs give the same output: another attempt would meet it again.
    retriable = False

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def not_recordable(output: Any, exc: Exception) -> NotRecordable:
    """The block's error for ``exc``, raised encoding its event: where in ``output``
    the value is and what it is, when that can be found, else the encoder's words."""
    found = first_not_json(output)
    if found is None:
        return NotRecordable(type(exc).__name__, f"its output cannot be recorded: {exc}")
    place = f"field {found.where} of its output" if found.where else "its output"
    return NotRecordable(found.kind, f"{place} {found.what}, so it cannot be recorded")
