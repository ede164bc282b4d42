"""What the HTTP block sends for a value of its ``headers``, ``query``, ``form`` and
``body``: the text a reference renders as inside longer text (docs/engine.md,
"References"), so ``<start.flag>`` is sent as ``true`` whether it stands alone or in
``"flag=<start.flag>"`` — never Python's ``True``, ``None`` or ``{'a': 1}``.

A null is no value: the header, parameter or field is left out (``<a.key?>`` with
no key sends no header, where ``str(None)`` sent every run the same ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from engine.references import to_text


def header_values(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Each header's value as text; a null one is left out."""
    return {str(k): to_text(v) for k, v in (headers or {}).items() if v is not None}


def field_values(fields: Mapping[str, Any] | None) -> dict[str, str | list[str]]:
    """A query's parameters or a form's fields as text: a list is the field repeated
    (``l=1&l=2``, as a webhook reads a repeated field back), a null is left out,
    in a list too."""
    values: dict[str, str | list[str]] = {}
    for name, value in (fields or {}).items():
        if isinstance(value, list):
            values[str(name)] = [to_text(x) for x in value if x is not None]
        elif value is not None:
            values[str(name)] = to_text(value)
    return values


def body_text(body: Any) -> str | None:
    """A raw body as text; None (no body) for a null."""
    return None if body is None else to_text(body)


def with_query_added(url: str, params: Mapping[str, str | list[str]]) -> str:
    """``url`` with ``params`` percent-encoded and appended to its own query.

    Added, not merged: a parameter the url already has stays, and one of the same
    name follows it (``?a=1`` with ``{a: 3}`` is ``?a=1&a=3``), as a list repeats one.
    The url's own query is kept as written (a signed url's signature covers its
    text), where httpx's ``copy_merge_params`` replaced same-named parameters and
    encoded the rest again. Raises ``httpx.InvalidURL`` for a url httpx refuses.
    """
    parsed = httpx.URL(url)
    added = str(httpx.QueryParams(params)).encode("ascii")
    if not added:
        return url
    own = parsed.query
    return str(parsed.copy_with(query=own + b"&" + added if own else added))
