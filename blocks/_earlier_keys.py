"""The forms earlier releases stored a webhook delivery's idempotency key in.

A sender resends a delivery it is not sure of, also after flowyard is upgraded; the
run the earlier release accepted holds the key as that release wrote it, and a
lookup of the key as this release writes it missed it: the resend started a second
run and repeated its effects (a second payment capture). What changed:

- until 2b5e5d9, a key that is one reference was Python's text of the value:
  ``7.0``, ``True``, ``{'b': 1, 'a': 2}`` (now the JSON value: ``7``, ``true``,
  ``{"a":2,"b":1}``: blocks/_delivery_keys.py, ``_as_key``);
- until 078984c (schema version 4), a key with text around its references had each
  rendered as a reference in text then was: ``d:7.0``, ``d:true``, an object's
  JSON in its own key order (now ``d:7``: each part as a key);
- until 51d015d, a key of any length was stored as it came (now one over
  ``MAX_KEY_CHARS`` is stored as its ``sha256:…``), a header's too.

Each earlier form is matched only against runs without a key scope
(engine/_key_scopes.py): all of those releases ran before schema version 3, and
every run accepted since schema version 8 has a scope, so no new delivery is taken
for another by an earlier form. A key that reads a credential header or holds a
secret has none: those releases stored it unreadably (``[redacted]``) or in clear,
and the clear text is not sent to the database again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from engine.intake import hashed


class Part(NamedTuple):
    """A piece of a key as the request gave it: the template's text, or the value a
    reference read (any JSON value)."""

    value: Any
    read: bool  # a reference's value, not the template's own text


def read_key_forms(parts: Sequence[Part], text: str, key: str, max_chars: int) -> tuple[str, ...]:
    """The forms earlier releases stored a key read from the request in, other than
    ``key`` (how this release stores it), from the key's ``parts`` and its ``text``
    as this release writes it before a long one is hashed."""
    if len(parts) == 1 and parts[0].read:  # one reference, nothing around it
        forms = {str(parts[0].value), text}  # before 2b5e5d9; then, whole
    else:
        rendered = "".join(p.value if not p.read else _in_text(p.value) for p in parts)
        forms = {rendered, rendered if len(rendered) <= max_chars else hashed(rendered)}
    forms.discard(key)
    return tuple(sorted(forms))


def sent_key_forms(sent: str | None, key: str | None) -> tuple[str, ...]:
    """A key sent in a header (or a signed ``webhook-id``): as it came, when this
    release stores it otherwise (its hash, when it is long)."""
    return (sent,) if sent and key and sent != key else ()


def _in_text(value: Any) -> str:
    """A reference's value in text, as the engine rendered one until 078984c (kept
    here as it was: the engine's may change, the stored keys do not)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)
