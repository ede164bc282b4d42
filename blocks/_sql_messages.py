"""What a failed Database block says: the parameter and its types, never its value.

Parameter values may be secrets or personal data, and the block error is kept in
the run record. asyncpg quotes a value its codec refuses, and the server quotes
one in many messages and details; these turn such text into text without it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from blocks._sql import unusable
from engine.redaction import Redactor
from engine.references import to_text

#: asyncpg's own message when a codec refuses a value: "invalid input for query
#: argument $1: '<the value, cut at 40 characters>' (<the codec's reason>)", or for
#: its InterfaceError "query argument $1: <reason>". Both may quote the value.
_ARGUMENT_ERROR_RE = re.compile(r"^(?:invalid input for )?query argument \$(\d+)\b")


def argument_error(
    message: str, values: Sequence[Any], types: Sequence[Any], labels: Sequence[str]
) -> str | None:
    """asyncpg's refusal of a parameter, said without the value; None for any other
    message."""
    m = _ARGUMENT_ERROR_RE.match(message)
    if m is None or not 0 < int(m.group(1)) <= min(len(values), len(types)):
        return None
    i = int(m.group(1)) - 1
    return unusable(i + 1, values[i], types[i].name, labels[i])


#: PostgreSQL's word for a parameter whose position says nothing about its type:
#: `jsonb_build_object('k', $1)`, `$1 IS NULL`, `format('%s', $1)`.
_UNTYPED_RE = re.compile(r"^could not determine data type of parameter \$(\d+)$")


def untyped_parameter(message: str, labels: Sequence[str]) -> str | None:
    """That message naming the reference and the way out (a cast); None for others."""
    m = _UNTYPED_RE.match(message)
    if m is None or not 0 < int(m.group(1)) <= len(labels):
        return None
    label = labels[int(m.group(1)) - 1]
    return f"{message} ({label}): give it a type with a cast, e.g. {label}::numeric"


def scrub(text: str, values: Sequence[Any], quoted: bool = False) -> str:
    """Remove parameter values from a server message (e.g. a unique violation's detail).

    ``quoted``: only where the text quotes one (``"…"``), as the primary message of
    an error does (``invalid input syntax for type integer: "…"``): its prose must
    not lose a word that happens to equal a value. The items of a list or a mapping
    count too: the server quotes the element of an array it refuses.
    """
    for s in _texts(values):
        if len(s) >= 3:
            text = text.replace(f'"{s}"', '"…"') if quoted else text.replace(s, "…")
    return text


#: A detail line quoting the values of a row or a key: a not-null, check or
#: partition violation's "Failing row contains (…)", "Partition key of the failing
#: row contains (…) = (…)", a unique, foreign or exclusion key's "Key (…)=(…) …".
_ROW_VALUES_RE = re.compile(r"^(?:Failing row contains |Partition key of the failing row |Key \()")

#: What a detail left out says instead.
ROW_VALUES_LEFT_OUT = (
    "left out: it quotes the row's values, and a parameter of the statement holds a secret"
)


def holds_secret(values: Sequence[Any], secrets: Iterable[str]) -> bool:
    """Whether a parameter value (or an item of one) holds one of the run's
    ``secrets``, in any form the run's redaction knows."""
    if not secrets:
        return False
    redactor = Redactor(set(secrets))
    return any(redactor.text(text) != text for text in _texts(values))


def without_row_values(detail: str) -> str:
    """``detail`` without its lines that quote a row's or a key's values.

    For a statement whose parameters hold a secret: the row may hold a value SQL
    made of it (``substr('<env.CARD>', 2)``), neither the parameter's text, which
    :func:`scrub` replaces, nor the secret's, which the run's redaction replaces."""
    lines = detail.splitlines()
    kept = [line for line in lines if not _ROW_VALUES_RE.match(line)]
    return detail if len(kept) == len(lines) else "\n".join([*kept, ROW_VALUES_LEFT_OUT])


#: A value a server message quotes: ``"…"``, a quote inside doubled.
_QUOTED_RE = re.compile(r'"(?:[^"]|"")*"')


def without_quoted_values(message: str) -> str:
    """``message`` with every ``"…"`` it quotes blanked to ``"…"``.

    For a statement whose parameters hold a secret: the primary message of a data
    error quotes the value it refused (``invalid input syntax for type integer:
    "_live_…"``, ``invalid value "k_li" for "YYYY"``), which SQL may have made of
    the secret. Applied to data exceptions (SQLSTATE class 22) only, whose quotes hold
    values; other errors quote names (a relation, a constraint)."""
    return _QUOTED_RE.sub('"…"', message)


def _texts(values: Any) -> Iterator[str]:
    """The text of each value, and of each item of a list or value of a mapping
    (also of a string that holds one: it was bound as an array, item by item)."""
    for v in values:
        if isinstance(v, (list, tuple, Mapping)):
            yield from _texts(v.values() if isinstance(v, Mapping) else v)
            yield to_text(v)
        elif isinstance(v, str):
            yield v
            yield from _texts(_items_in(v))
        elif v is not None and not isinstance(v, bool):
            yield str(v)


#: An item of PostgreSQL's array literal: "quoted, with \\ escapes" or bare.
_ARRAY_ITEM_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|([^{},"\s][^{},"]*)')


def _items_in(text: str) -> list[Any]:
    """What a string holding a JSON list or object, or an array literal, holds."""
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        return []
    try:
        decoded = json.loads(text)
        return [decoded] if isinstance(decoded, (list, dict)) else []
    except ValueError:
        pass
    items = _ARRAY_ITEM_RE.findall(text) if head == "{" else []
    return [re.sub(r"\\(.)", r"\1", quoted) if quoted else bare.strip() for quoted, bare in items]
