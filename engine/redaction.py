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

A value may hold a secret JSON-escaped any number of times: a peer's error body
quoting the JSON request it got (the secret escaped once), inside the block's error
message (twice), inside the stored JSON (three times). Each form of a secret is
looked for at any depth of escaping: what escaping changes (``"``, ``\\``, control
and non-ASCII characters) is matched with however many backslashes it got, so a
depth needs no form of its own (:class:`_Form`).

A page quoting a secret escapes it as markup (a peer's HTML error page, a SOAP
fault): each form of a secret holding ``&``, ``<``, ``>``, ``"`` or ``'`` is also
looked for as HTML and XML write it (:func:`_in_markup`).

A text cut short (``…``) may end inside a secret: the engine redacts before it
cuts (:func:`excerpt`), and the redactor blanks the beginning of a secret left just
before a ``…`` by a cut made elsewhere (engine/_cut_secrets.py).

Not tracked: a secret transformed other than by quoting, encoding (base64 too:
engine/_secret_encodings.py), changing its case or stripping its blanks.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import orjson
import yarl

from engine._cut_secrets import CUT_MARK, Beginnings
from engine._json import dumps, loads
from engine._json_escapes import escaped_forms
from engine._secret_encodings import in_base64
from engine._secret_url_parts import request_parts
from engine.references import references_in

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


def env_names(values: Iterable[Any]) -> frozenset[str]:
    """The NAME of every ``<env.NAME…>`` written anywhere in these config values
    (text, SQL, code, conditions, bodies; in a comment or a literal too: a name
    written there is a secret all the same)."""
    return frozenset(
        ref.path[0]
        for value in values
        for ref in references_in(value)
        if ref.is_secret and ref.path
    )


def secrets_of(names: Iterable[str]) -> set[str]:
    """The values of the environment variables ``names`` that are set: a run's
    secrets from its first event on, before any block has read them (a webhook's
    body holding the token a later condition checks is stored redacted too)."""
    return {value for name in names if (value := os.environ.get(name))}


def excerpt(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """``text`` as a message quotes it: its first ``limit`` characters and ``…`` when
    it is longer, the ``secrets`` in it (every form :class:`Redactor` knows) replaced
    by ``***`` first. Cut first, a secret cut in two was no longer recognised, and
    its beginning stayed in clear in the records and wherever the message went."""
    text = redact_text(text, secrets)
    return text if len(text) <= limit else text[:limit] + CUT_MARK


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` in it, in every form :class:`Redactor` knows,
    replaced by ``***``: for a message made outside the run's records."""
    return Redactor(set(secrets)).text(text) if secrets else text


class Redactor:
    """Replaces secret values (as they appear in JSON text) with ``***``."""

    __slots__ = ("secrets", "_noted", "_secrets", "_forms_of", "_starts")

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets
        self._noted = -1  # how many secrets the forms below are of

    def _forms(self) -> tuple[_Form, ...]:
        """Every form of every secret, longest first (one secret may hold another).
        A run's secrets may grow as its blocks read them: the forms are collected
        again when their number changes, not for every event."""
        if self._noted != len(self.secrets):
            self._secrets, self._forms_of, self._starts = _compiled(frozenset(self.secrets))
            self._noted = len(self.secrets)
        return self._forms_of

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

    def value(self, value: Any) -> tuple[Any, bool]:
        """``value`` (JSON data: a run's input) with its secrets replaced, and
        whether one was."""
        if not self.secrets:
            return value, False
        text = dumps(value)
        redacted = self(text)
        return (value, False) if redacted is text else (loads(redacted), True)

    def text(self, value: str) -> str:
        """``value`` (a text, not JSON) with every form of the secrets replaced."""
        for form in self._forms():
            if form.needle in value:
                value = form.out_of_text(value)
        return value

    def __call__(self, text: str) -> str:
        redacted = text
        for form in self._forms():
            if form.needle in redacted:  # the common case: one substring search a form
                redacted = form.out_of_json(redacted)
        redacted = self._starts.blank(redacted)
        if redacted is text:
            return text
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
        forms = [f for f in self._forms_of if f.needle in token]
        cut = self._starts.blank(token) is not token
        if not forms and not cut:
            return token
        value = json.loads(token)
        for form in forms:
            value = form.out_of_text(value)
        value = self._starts.blank(value)
        return json.dumps(value)  # ASCII-escaped: a lone surrogate stays an escape


#: What splits a text into the runs of characters no common JSON encoder escapes
#: (printable ASCII but ``"``, ``\`` and ``/<>&='``: engine/_json_escapes.py): such a
#: run of a form of a secret is in the text whatever the depth of escaping.
_ESCAPABLE = re.compile(r"[^ -!#-%(-.0-;?-\[\]-~]")

_BACKSLASHES = re.compile(r"(\\+)")


class _Form:
    """One form of a secret (as a value holds it), found at any depth of JSON escaping.

    JSON-escaping a text escapes each character on its own: ``"`` becomes ``\\"``, a
    backslash two, a newline ``\\n``, ``ä`` stays or becomes ``\\u00e4``; escaping
    again doubles each backslash and escapes each ``"``. So at any depth the form
    reads as its escaped text once, with each run of backslashes longer. A run of
    backslashes in the pattern matches any run of them (possessively: what follows
    one never starts with a backslash, so giving one back could not help).
    """

    __slots__ = ("text", "needle", "_in_json", "_in_text")

    def __init__(self, text: str) -> None:
        self.text = text
        # The longest part no escaping changes: where it is absent, so is the form.
        self.needle = max(_ESCAPABLE.split(text), key=len)
        self._in_json: re.Pattern[str] | None = None
        self._in_text: re.Pattern[str] | None = None
        if self.needle != text:  # it has a character escaping changes
            escaped = {_any_depth(f) for f in escaped_forms(text)}
            self._in_json = re.compile(_alternatives(escaped))
            # In a value, the form may also be there as is (depth 0).
            self._in_text = re.compile(_alternatives({*escaped, re.escape(text)}))

    def out_of_json(self, text: str) -> str:
        """``text`` (JSON text, where every string is escaped at least once) with
        this form replaced by ``***``; the very object when it was not there."""
        if self._in_json is None:
            return text.replace(self.text, "***") if self.text in text else text
        redacted, found = self._in_json.subn("***", text)
        return redacted if found else text

    def out_of_text(self, value: str) -> str:
        """The same in a value (a decoded JSON string)."""
        if self._in_text is None:
            return value.replace(self.text, "***")
        return self._in_text.sub("***", value)


def _any_depth(escaped: str) -> str:
    """A pattern for ``escaped`` (a JSON-escaped text) escaped again any number of
    times: each run of backslashes, as long as it may have grown."""
    parts = [r"\\++" if p[0] == "\\" else re.escape(p) for p in _BACKSLASHES.split(escaped) if p]
    if parts and parts[0] == r"\\++":
        # Starting with a run of backslashes: it starts where the run does (the
        # escaped backslash of the character before may be taken with it). Else a
        # long run would be searched again from each backslash in it.
        parts.insert(0, r"(?<!\\)")
    return "".join(parts)


def _alternatives(patterns: set[str]) -> str:
    return "|".join(sorted(patterns, key=len, reverse=True))


@functools.lru_cache(maxsize=256)  # ~70 µs a set; every run of a workflow reads the same
def _compiled(secrets: frozenset[str]) -> tuple[tuple[str, ...], tuple[_Form, ...], Beginnings]:
    """The secrets long enough to redact, every form of them longest first, and
    the beginnings of those forms a cut may leave (:class:`Beginnings`)."""
    # Stripped too: a key read from a file (a mounted secret) ends with a line break
    # the HTTP block refuses in a header, so a workflow strips it and sends the rest,
    # the key itself, which redaction looking for the whole value did not recognise.
    kept = tuple(
        {s for s in {*secrets, *(s.strip() for s in secrets)} if len(s) >= MIN_SECRET_CHARS}
    )
    forms = {f.text: f for s in kept for f in _forms_of(s)}
    longest_first = tuple(sorted(forms.values(), key=lambda f: len(f.text), reverse=True))
    return kept, longest_first, Beginnings(forms, MIN_SECRET_CHARS)


@functools.lru_cache(maxsize=4096)
def _forms_of(secret: str) -> tuple[_Form, ...]:
    """Every form of ``secret`` (:func:`_in_text`), each to be found at any depth."""
    return tuple(_Form(f) for f in (*_in_text(secret), *in_base64(secret)))


def _longest_first(forms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(forms), key=len, reverse=True))


@functools.lru_cache(maxsize=4096)  # ~0.1 ms a secret, for every run that reads it
def _in_text(secret: str) -> tuple[str, ...]:
    """How ``secret`` appears inside a text value, longest first (a longer form may
    contain a shorter one).

    As is, and in each form a value may already hold it in: Python's quoting (a
    KeyError, ``{x!r}``), percent-encoded as a URL or a form carries it (an HTTP
    error quoting the URL it requested, a peer echoing its path: :func:`_in_url`),
    lower-cased as a URL's host, and upper-cased. A secret that is an http(s) URL
    also as the request target and the path a peer echoes (``Cannot POST /hooks/…``:
    :func:`request_parts`), each in all those forms. A plain lower-case ASCII token
    has one form only. Escaped as markup (:func:`_in_markup`). JSON-escaped (a payload built with json.dumps, a peer's JSON error
    body quoted in a message), each of them is found by :class:`_Form`, at any depth.
    """
    forms = {
        secret,
        # Host names are case-insensitive: HTTP clients lower-case a secret in the
        # host part of a URL they quote in an error.
        secret.lower(),
        secret.upper(),
        repr(secret)[1:-1],
        quote_plus(secret, safe=""),
        *(quote(secret, safe=safe) for safe in _QUOTE_SAFE),
        *_in_url(secret),
        *_in_markup(secret),
    }
    for part in request_parts(secret):
        forms.update(_in_text(part))  # a part is no URL: it has no parts of its own
    return _longest_first(forms)


#: How markup writes `"` and `'`, after `&`, `<` and `>`: Python's html.escape,
#: MarkupSafe (Jinja and Flask pages), PHP's htmlspecialchars, XML's named entities,
#: and as they are (text outside an attribute: html.escape(quote=False)).
_MARKUP_QUOTES = (
    {'"': "&quot;", "'": "&#x27;"},
    {'"': "&#34;", "'": "&#39;"},
    {'"': "&quot;", "'": "&#039;"},
    {'"': "&quot;", "'": "&apos;"},
    {},
)
_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _in_markup(secret: str) -> set[str]:
    """How an HTML or XML page quotes ``secret``: escaped as markup, as is and
    JSON-escaped (a peer's error page showing the JSON request it got, where a `"`
    in the secret reads ``\\&quot;``). A peer answering a refused request with such a
    page had the secret recorded in clear in the HTTP block's error, which quotes
    the body."""
    if not any(c in secret for c in "&<>\"'"):
        return set()
    quoted = {secret, *(json.dumps(secret, ensure_ascii=a)[1:-1] for a in (False, True))}
    forms = {
        "".join(quotes.get(c, c) for c in text.translate(_MARKUP))
        for text in quoted
        for quotes in _MARKUP_QUOTES
    }
    return forms - quoted


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
        # `query:` values and keys (blocks/http.py appends them to the url's query,
        # encoded as copy_merge_params encodes them).
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
