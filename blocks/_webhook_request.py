"""A webhook delivery's request as a run sees it: which paths a request can reach,
the body parsed, the headers as reference-friendly names (blocks/webhook.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from blocks._form_data import parse_fields
from blocks.http import is_credential_header, is_credential_param
from engine._json import strict_loads
from engine.schema import any_case

#: The methods a webhook block may listen on.
METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")


def normalize_path(path: str) -> str:
    return path.strip().strip("/")


#: What a webhook path may be made of: RFC 3986's unreserved characters, which every
#: client sends as they are, so the path a sender is given is the path that arrives.
PATH_RULE = (
    "use letters, digits, '-', '_', '.', '~', and '/' between non-empty segments, "
    "with no '.' or '..' segment"
)
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/")

#: Every character ``str.strip()`` takes off (none is past U+3000), as ``\uXXXX``
#: escapes, which Python's and ECMA-262's regular expressions both read.
_STRIPPED = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
#: A segment: those characters, not `.` or `..` alone.
_SEGMENT = r"(?:[A-Za-z0-9_~.\-]*[A-Za-z0-9_~\-][A-Za-z0-9_~.\-]*|\.{3,})"
#: The paths :func:`normalize_path` and :func:`unreachable` let through, exactly:
#: blanks, then slashes, around segments joined by one `/` (for the JSON Schema).
PATH_PATTERN = rf"^[{_STRIPPED}]*/*{_SEGMENT}(?:/{_SEGMENT})*/*[{_STRIPPED}]*$"

#: The webhook block's `path` and `method` as its problems() take them, for the JSON
#: Schema (the method in any case).
FIELD_RULES = (
    {
        "properties": {
            "path": {"minLength": 1, "pattern": PATH_PATTERN},
            "method": {"pattern": any_case(METHODS)},
        }
    },
)


def unreachable(path: str) -> str | None:
    """Why no ordinary request arrives at ``/webhooks/<path>`` (None: one does)."""
    for char in path:
        if char == "?":
            return "'?' starts the query string"
        if char == "#":
            return "'#' starts a fragment, which is never sent"
        if char not in _PATH_CHARS:
            return f"{char!r} would arrive only percent-encoded"
    segments = path.split("/")
    if "" in segments:
        return "an empty segment: '//' is merged into '/'"
    if "." in segments or ".." in segments:
        return "clients resolve '.' and '..' segments away before sending"
    return None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def header_key(name: str) -> str:
    """``User-Agent`` → ``user_agent``: headers as reference-friendly field names."""
    return name.lower().replace("-", "_")


def unread_encoding(content_encoding: str) -> str | None:
    """Why a body sent with this ``Content-Encoding`` is not read (None: it is as
    sent). Nothing is inflated: a few KB of gzip can be gigabytes of JSON, and read
    as it is, a compressed body was "not valid JSON" (or, if it parsed, not what the
    sender meant)."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    if all(c in ("", "identity") for c in codings):
        return None
    return (
        f"the body has Content-Encoding {content_encoding.strip()!r}: "
        "send it uncompressed (a webhook body is read as it is sent)"
    )


def parse_body(raw: bytes, content_type: str) -> Any:
    """JSON (the default) or a form; raises ValueError, saying which it was read as,
    for a body that is neither."""
    if not raw.strip():
        return {}
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        return parse_fields(raw, "the body (a form, application/x-www-form-urlencoded)")
    try:
        # Strict: NaN, Infinity and 1e999999 are refused, not stored as null in the run.
        return strict_loads(raw)
    except ValueError as exc:  # UnicodeDecodeError too
        raise ValueError(f"the body is not valid JSON: {exc}") from None


def is_secret_header(name: str, secret_header: str | None = None) -> bool:
    """Whether header ``name`` holds a credential: one the HTTP block keeps out of its
    recorded inputs (``Authorization``, ``X-Gitlab-Token``…), or the block's
    ``secret_header``, which carries the secret itself whatever it is called."""
    if secret_header and header_key(name) == header_key(secret_header):
        return True
    return is_credential_header(name)


def build_payload(
    path: str,
    method: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: Any,
    secret_header: str | None = None,
) -> dict[str, Any]:
    """The request as the run records it (its input's ``webhook``): credential
    headers are ``[redacted]``. Keys are read from `as_received` instead."""
    return {
        "body": body,
        "headers": {
            # Credentials, not data, are kept out of run records.
            header_key(k): ("[redacted]" if is_secret_header(k, secret_header) else v)
            for k, v in headers.items()
        },
        "query": dict(query),
        "method": method.upper(),
        "path": normalize_path(path),
        "received_at": now_iso(),
    }


def as_received(payload: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    """``payload`` with its headers as they arrived, credentials included: what the
    delivery's keys are read from (a key read from ``[redacted]`` would make every
    delivery one key). Never recorded: blocks/_delivery_keys.py hashes a key that
    reads a credential header."""
    return {**payload, "headers": {header_key(k): v for k, v in headers.items()}}


def credential_query_values(run_input: Any) -> list[Any]:
    """A delivery's query parameters named as credentials (``?token=``, ``?api_key=``,
    as the HTTP block knows them): senders that sign nothing put their shared token
    there. Unlike a credential header (``[redacted]`` to the run), the run sees the
    value — a workflow checks it itself, there being no ``secret_header`` for a query
    — and its records show ``***`` (BlockHandler.input_secrets)."""
    payload = run_input.get("webhook") if isinstance(run_input, dict) else None
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, dict):
        return []
    found: list[Any] = []
    for name, value in query.items():
        if is_credential_param(str(name)):
            found += value if isinstance(value, list) else [value]
    return found
