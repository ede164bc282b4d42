"""The beginning of a secret left where a text was cut short (``…``).

A message quoting a long text keeps its first N characters and marks the cut with
``…``. Cut inside a secret, what is left of it is no longer the secret's text, and
redaction, which looks for whole forms, let it through: a 400 echoing the request
was recorded as ``…PPPPsk_test_StripeSecret4242X…``.

Two rules keep it out. The engine's cuts redact first, then cut
(:func:`engine.redaction.excerpt`): nothing of a secret is left to cut. Where a cut
is made without the run's secrets at hand (a Function's worker quoting the value it
could not encode), the redactor blanks, just before each ``…``, the longest end of
the text that is the beginning of a form of a secret (:meth:`Beginnings.blank`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

#: How the engine marks a text it cut short.
CUT_MARK = "…"

#: The mark as JSON text holds it: as is, or ``\\u2026`` (escaped any number of times).
#: Also V8's: a JavaScript Function's ``JSON.parse(text)`` error quotes a text of 20
#: characters or more by its first 10, then ``"...`` (``"sk_test_St"... is not
#: valid JSON``), the quote escaped as often as the message was.
_MARKS = re.compile(r'…|\\+u2026|\\*"\.\.\.')
_V8_MARK = '"...'

#: A run of backslashes: JSON-escaping again makes each longer, and nothing else.
_BACKSLASHES = re.compile(r"\\+")

#: A run of backslashes, or of other characters.
_PIECES = re.compile(r"\\+|[^\\]+")

#: How far before a mark a beginning is looked for, in characters a beginning
#: holds: an escaped character is several (``\\\\\\\"`` three times escaped).
_WINDOW_PER_CHAR = 8


class Beginnings:
    """What a cut may leave the beginning of: each form of a secret, as is and
    JSON-escaped, each run of backslashes one backslash (so they stand for the form
    at any depth of escaping), longest first; only those of at least ``shortest``
    characters."""

    __slots__ = ("starts", "shortest", "reach", "_heads")

    def __init__(self, forms: Iterable[str], shortest: int) -> None:
        found = set()
        for form in forms:
            for each in (form, *(json.dumps(form, ensure_ascii=a)[1:-1] for a in (False, True))):
                found.add(_BACKSLASHES.sub(r"\\", each))
        self.starts = tuple(sorted((f for f in found if len(f) >= shortest), key=len, reverse=True))
        self.shortest = shortest
        self.reach = len(self.starts[0]) * _WINDOW_PER_CHAR if self.starts else 0
        # What a beginning starts with: one search tells most windows hold none.
        heads = sorted({s[:shortest] for s in self.starts}, key=len, reverse=True)
        self._heads = re.compile("|".join(map(re.escape, heads))) if heads else None

    def blank(self, text: str) -> str:
        """``text`` with ``***`` for the longest end (``shortest`` characters or
        more) before each cut mark that is the beginning of a secret, at any depth
        of JSON escaping; the very object when there was none."""
        if self._heads is None or (
            CUT_MARK not in text and "u2026" not in text and _V8_MARK not in text
        ):
            return text
        parts: list[str] = []
        done = 0  # where the text not yet copied to parts starts
        after = 0  # where the previous mark ends: a beginning does not reach over it
        for mark in _MARKS.finditer(text):
            at = mark.start()
            window = max(after, at - self.reach)
            begins = self._longest_beginning(text[window:at])
            if begins is not None:
                parts += [text[done : window + begins], "***"]
                done = at
            after = mark.end()
        if not parts:
            return text
        return "".join(parts) + text[done:]

    def _longest_beginning(self, window: str) -> int | None:
        """Where in ``window`` its longest end that is the beginning of a secret
        begins, each run of backslashes taken as one; None for none."""
        single, at = _one_backslash(window)
        if self._heads is None or not self._heads.search(single):
            return None
        best = 0
        for start in self.starts:
            head = start[: self.shortest]
            found = single.find(head)
            # The first place it begins is the longest end; a later one may fit instead.
            while found != -1 and len(single) - found > best:
                if start.startswith(single[found:]):
                    best = len(single) - found
                    break
                found = single.find(head, found + 1)
        if not best:
            return None
        return len(single) - best if at is None else at[len(single) - best]


def _one_backslash(window: str) -> tuple[str, list[int] | None]:
    """``window`` with each run of backslashes as one, and where each of its
    characters is in ``window`` (None: where it is, no backslash in it)."""
    if "\\" not in window:
        return window, None
    one: list[str] = []
    at: list[int] = []
    for piece in _PIECES.finditer(window):
        if piece.group()[0] == "\\":
            one.append("\\")
            at.append(piece.start())
        else:
            one.append(piece.group())
            at.extend(range(piece.start(), piece.end()))
    return "".join(one), at
