"""Secrets out of run records: every ``<env.…>`` value a run read becomes ``***``
in the JSON text of its events, its result and its output.

Redaction works on JSON text (what is stored and what a caller receives) but token
by token, so the text stays JSON whatever the secret is. Inside a string, the
secret's forms are replaced in the decoded text. A number that *is* the secret (a
PIN read with ``int()``) becomes the string ``"***"``. ``true``, ``false`` and
``null`` stay as they are: a secret ``BB_DEBUG=true`` is one bit, and replacing it
would turn every boolean of the record into ``"***"``. Replacing in the raw text had
turned ``true`` into a bare ``***``, which PostgreSQL refused: the run could not be
recorded, stayed running, and repeated its side effects on every restart.

What is not tracked: a secret transformed other than by quoting, encoding or
changing its case (sliced, reversed, hashed) is no longer that secret's text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

from engine._json import dumps, loads

#: Shorter secrets are not redacted: "***" would replace unrelated text everywhere.
MIN_SECRET_CHARS = 4

#: What httpx (the runtime's HTTP client) leaves unencoded in a URL path, besides
#: letters, digits and ``-._~``: a secret in a path is sent, and quoted, in this form.
_URL_PATH_SAFE = "!$&'()*+,;=:@/[\\]^|"

_LITERALS = frozenset({"true", "false", "null"})

#: A JSON string, or a bare token (number, true, false, null).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s",:\[\]{}]+')


#: The fields of a run's records that hold what its data made: outputs, resolved
#: inputs, errors. The rest is the engine's own (statuses, times, ids, counts, ports)
#: and is never redacted, so a secret that reads like part of it ("status", a PIN
#: like 2026 inside every timestamp) cannot rewrite a record's structure.
DATA_FIELDS = ("output", "inputs", "error")


class Redactor:
    """Replaces secret values (as they appear in JSON text) with ``***``."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets

    def fields(
        self, data: Mapping[str, Any], encode: Callable[[Any], str]
    ) -> tuple[str, frozenset[str]]:
        """JSON text of an event's ``data``, each of its :data:`DATA_FIELDS` redacted
        (``encode``: a value to its JSON text), and the fields that lost a secret."""
        parts, lost = [], []
        for key, value in data.items():
            text = encode(value)
            if key in DATA_FIELDS:
                redacted = self(text)
                if redacted != text:
                    text = redacted
                    lost.append(key)
            parts.append(f"{encode(key)}:{text}")
        return "{" + ",".join(parts) + "}", frozenset(lost)

    def result(self, result: dict[str, Any]) -> dict[str, Any]:
        """A run's result (or one block's record in it) with its data fields redacted."""
        out = dict(result)
        for key in DATA_FIELDS:
            if out.get(key) is not None:
                text = dumps(out[key])
                redacted = self(text)
                if redacted != text:
                    out[key] = loads(redacted)
        if isinstance(out.get("blocks"), dict):
            out["blocks"] = {
                b: self.result(r) if isinstance(r, dict) else r for b, r in out["blocks"].items()
            }
        return out

    def __call__(self, text: str) -> str:
        secrets = [s for s in self.secrets if len(s) >= MIN_SECRET_CHARS]
        redacted = text
        for secret in secrets:
            for form in _in_json(secret):
                if form in redacted:
                    redacted = redacted.replace(form, "***")
        if redacted is text:
            return text  # the common case: a substring search per form, nothing found
        # Replaced in the raw text (fast) and still JSON: every match was inside a
        # string. Otherwise (a bare `true`, a number, an escape cut in two) token by
        # token, about 30 times slower.
        try:
            orjson.loads(redacted)
        except orjson.JSONDecodeError:
            return _TOKEN.sub(functools.partial(_redact_token, tuple(secrets)), text)
        return redacted


def _redact_token(secrets: tuple[str, ...], match: re.Match[str]) -> str:
    token = match.group()
    if token[0] != '"':
        # true, false and null are never replaced: every boolean and null of the
        # record would become "***" for a one-bit "secret" like BB_DEBUG=true.
        return '"***"' if token in secrets and token not in _LITERALS else token
    if not any(form in token for s in secrets for form in _in_json(s)):
        return token
    value = json.loads(token)
    for secret in secrets:
        for form in _in_text(secret):
            value = value.replace(form, "***")
    return json.dumps(value)  # ASCII-escaped: a lone surrogate stays an escape


@functools.lru_cache(maxsize=4096)  # a run's few secrets, looked up for every event
def _in_text(secret: str) -> tuple[str, ...]:
    """How ``secret`` appears inside a text value, longest first (a longer form may
    contain a shorter one).

    As is, and in each form a value may already hold it in: JSON text as a string
    (a payload built with json.dumps, a peer's JSON error body quoted in a message),
    Python's quoting (a KeyError, ``{x!r}``), percent-encoded as a URL or a form
    carries it (an HTTP error quoting the URL it requested, a peer echoing its
    path), lower-cased as a URL's host, and upper-cased. A plain lower-case ASCII
    token has one form only.
    """
    forms = {
        secret,
        # Host names are case-insensitive: HTTP clients lower-case a secret in the
        # host part of a URL they quote in an error.
        secret.lower(),
        secret.upper(),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret, safe=_URL_PATH_SAFE),
        quote_plus(secret, safe=""),
    }
    return tuple(sorted(forms, key=len, reverse=True))


@functools.lru_cache(maxsize=4096)
def _in_json(secret: str) -> tuple[str, ...]:
    """How ``secret`` appears inside JSON text: each of its text forms as engine._json
    writes it (non-ASCII as is: an ASCII-only form would miss "pässwort" in the run
    log) and, should any text come from an encoder that escapes it, ASCII-escaped."""
    forms = {
        f
        for s in _in_text(secret)
        for f in (json.dumps(s, ensure_ascii=False)[1:-1], json.dumps(s)[1:-1])
    }
    return tuple(sorted(forms, key=len, reverse=True))
