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
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import orjson
import yarl

from engine._json import dumps, loads

#: Shorter secrets are not redacted: "***" would replace unrelated text everywhere.
MIN_SECRET_CHARS = 4

#: What ``urllib.parse.quote`` is commonly told to leave unencoded, besides letters,
#: digits and ``-._~``: nothing (a form value), ``/`` (its default), what httpx's own
#: transport left in a path, and what JavaScript's encodeURIComponent and encodeURI leave.
_QUOTE_SAFE = ("", "/", "!$&'()*+,;=:@/[\\]^|", "!~*'()", ";,/?:@&=+$!~*'()#")

#: A URL to add ``query:`` parameters to, as the HTTP block does.
_BARE = httpx.URL("http://h/")

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

    __slots__ = ("secrets", "_noted", "_secrets", "_json_forms", "_text_forms")

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets
        self._noted = -1  # how many secrets the forms below are of

    def _forms(self) -> tuple[str, ...]:
        """Every form of every secret in JSON text, longest first (one secret may hold
        another). A run's secrets only grow, as its blocks read them: the forms are
        collected again when their number changes, not for every event."""
        if self._noted != len(self.secrets):
            self._secrets = tuple(s for s in self.secrets if len(s) >= MIN_SECRET_CHARS)
            self._json_forms = _longest_first(f for s in self._secrets for f in _in_json(s))
            self._text_forms = _longest_first(f for s in self._secrets for f in _in_text(s))
            self._noted = len(self.secrets)
        return self._json_forms

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
        redacted = text
        for form in self._forms():
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
            return _TOKEN.sub(self._redact_token, text)
        return redacted

    def _redact_token(self, match: re.Match[str]) -> str:
        token = match.group()
        if token[0] != '"':
            # true, false and null are never replaced: every boolean and null of the
            # record would become "***" for a one-bit "secret" like BB_DEBUG=true.
            return '"***"' if token in self._secrets and token not in _LITERALS else token
        if not any(form in token for form in self._json_forms):
            return token
        value = json.loads(token)
        for form in self._text_forms:
            value = value.replace(form, "***")
        return json.dumps(value)  # ASCII-escaped: a lone surrogate stays an escape


def _longest_first(forms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(forms), key=len, reverse=True))


@functools.lru_cache(maxsize=4096)  # ~0.1 ms a secret, for every run that reads it
def _in_text(secret: str) -> tuple[str, ...]:
    """How ``secret`` appears inside a text value, longest first (a longer form may
    contain a shorter one).

    As is, and in each form a value may already hold it in: JSON text as a string
    (a payload built with json.dumps, a peer's JSON error body quoted in a message),
    Python's quoting (a KeyError, ``{x!r}``), percent-encoded as a URL or a form
    carries it (an HTTP error quoting the URL it requested, a peer echoing its
    path: :func:`_in_url`), lower-cased as a URL's host, and upper-cased. A plain
    lower-case ASCII token has one form only.
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
        quote_plus(secret, safe=""),
        *(quote(secret, safe=safe) for safe in _QUOTE_SAFE),
        *_in_url(secret),
    }
    return _longest_first(forms)


def _in_url(secret: str) -> set[str]:
    """How the HTTP block sends ``secret`` in a URL, and how yarl quotes it.

    Derived from the encoders themselves, not guessed: httpx percent-encodes the URL
    (the form its errors quote), then aiohttp parses that text again with yarl, which
    quotes each part its own way (in a query it decodes ``%2F`` and ``%40`` but keeps
    ``%2B``; in a path it keeps ``+``). What a peer echoes is yarl's form of httpx's,
    different in a path, in the url's own query and in a ``query:`` mapping. yarl's
    quoting of each part of a URL it builds is added for code that uses it directly.
    """
    sent: list[tuple[Callable[[], httpx.URL], Callable[[yarl.URL], str]]] = [
        # `query:` values and keys (blocks/http.py merges them into the url).
        (lambda: _BARE.copy_merge_params({"k": secret}), lambda u: u.raw_query_string[2:]),
        (lambda: _BARE.copy_merge_params({secret: "v"}), lambda u: u.raw_query_string[:-2]),
    ]
    if "#" not in secret:  # inserted in the url as text, a `#` ends what is sent
        sent += [  # in its path (a `?` there starts the query, sent all the same), its query
            (lambda: httpx.URL(f"http://h/{secret}"), lambda u: u.raw_path_qs[1:]),
            (lambda: httpx.URL(f"http://h/?{secret}"), lambda u: u.raw_path_qs[2:]),
        ]
    built: list[Callable[[], str | None]] = [
        lambda: yarl.URL.build(path="/" + secret).raw_path[1:],
        lambda: yarl.URL.build(query={"k": secret}).raw_query_string[2:],
        lambda: yarl.URL.build(query_string=secret).raw_query_string,
        lambda: yarl.URL.build(fragment=secret).raw_fragment,
        lambda: yarl.URL.build(host="h", user=secret).raw_user,
    ]
    forms: set[str | None] = set()
    for build, part in sent:
        try:
            text = str(build())
            # httpx's form (encoded=True: the text as is), then yarl's quoting of it.
            forms |= {part(yarl.URL(text, encoded=True)), part(yarl.URL(text))}
        except (ValueError, httpx.InvalidURL):  # a value no URL can hold
            pass
    for make in built:
        try:
            forms.add(make())
        except ValueError:  # a value yarl refuses in that part
            pass
    return {f for f in forms if f}


@functools.lru_cache(maxsize=4096)
def _in_json(secret: str) -> tuple[str, ...]:
    """How ``secret`` appears inside JSON text: each of its text forms as engine._json
    writes it (non-ASCII as is: an ASCII-only form would miss "pässwort" in the run
    log) and, should any text come from an encoder that escapes it, ASCII-escaped."""
    return _longest_first(
        f
        for s in _in_text(secret)
        for f in (json.dumps(s, ensure_ascii=False)[1:-1], json.dumps(s)[1:-1])
    )
