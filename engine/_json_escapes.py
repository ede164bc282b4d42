"""A text JSON-escaped as the common encoders write it, for the redactor
(engine/redaction.py) to find a secret a peer quotes in its own JSON."""

from __future__ import annotations

import json
import re

#: How encoders other than Python's json escape what it leaves as it is (a peer's
#: error text quoting the JSON request it refused, unparsed): Go's encoding/json
#: writes ``<``, ``>`` and ``&`` as ``\u003c``…, Gson ``=`` and ``'`` too, PHP's
#: json_encode ``/`` as ``\/``. Each applies to Python's escaping of a form, and
#: each of those is also looked for with its ``\uXXXX`` hex in upper case (Jackson,
#: .NET). Only Python's forms were known: the others were recorded in clear.
_DIALECTS = (
    str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&"}),
    str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&='"}),
    str.maketrans({"/": "\\/"}),
)
_HEX_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")


def escaped_forms(text: str) -> set[str]:
    """``text`` JSON-escaped once (no quotes around) as the common encoders write it."""
    python = {json.dumps(text, ensure_ascii=a)[1:-1] for a in (False, True)}
    forms = python | {f.translate(d) for f in python for d in _DIALECTS}
    return forms | {_HEX_ESCAPE.sub(lambda m: m[0].upper().replace("U", "u"), f) for f in forms}
