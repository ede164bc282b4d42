"""A secret encoded as base64, as the redactor looks for it.

Encoded inside a longer text (``base64(user:password)``, an HTTP Basic auth token a
Function made), a secret's base64 depends on where it starts: base64 writes three
bytes as four characters, so the text before it shifts it by 0, 1 or 2 bytes, and the
characters at its two ends mix in its neighbours' bits. What is always there is, for
each shift, the characters made of the secret's bits alone: those three forms, in the
standard alphabet and the URL-safe one, are what is looked for. Left in a redacted
token: its neighbours' characters and at most two characters at each end of the
secret (a few bits of its first and last character).
"""

from __future__ import annotations

import base64

#: Secrets shorter than this have no base64 form: ~5 characters of base64 would turn
#: unrelated tokens (ids, hashes, signatures) into "***".
MIN_ENCODED_SECRET_CHARS = 8


def in_base64(secret: str) -> set[str]:
    """The base64 forms of ``secret`` (UTF-8) at each of the three shifts, in both
    alphabets; none for a short secret."""
    raw = secret.encode("utf-8", "surrogatepass")
    if len(secret) < MIN_ENCODED_SECRET_CHARS:
        return set()
    forms = set()
    for shift in range(3):
        # Pad to whole groups on both sides, then keep the characters whose six bits
        # all fall inside the secret's bytes: [8*shift, 8*(shift+len)).
        text = base64.b64encode(b"\0" * shift + raw + b"\0" * 2).decode("ascii")
        first = -(-8 * shift // 6)  # the first character starting at or after the secret
        last = (8 * (shift + len(raw))) // 6  # characters ending at or before its end
        inner = text[first:last]
        if len(inner) >= MIN_ENCODED_SECRET_CHARS:
            forms |= {inner, inner.translate(_URL_SAFE)}
    return forms


_URL_SAFE = str.maketrans("+/", "-_")
