"""A secret encoded as base64 is redacted, at any offset (real embedded PostgreSQL).

A service that takes HTTP Basic auth in a header is called with ``Authorization:
"Basic <creds.token>"``, the token made by a Function as ``base64(user:password)``.
The HTTP block's credential header was recorded ``[redacted]``, but the Function's
output held the token in clear in the run's records and result: base64 decodes to
the password. A secret's base64 forms are now looked for at each of the three offsets
a text before it can put it at (the characters that mix in its neighbours left out),
in the standard and the URL-safe alphabet.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from test_secret_leaks import recorded_text

from engine.redaction import redact_text
from engine.runtime import Runtime

PASSWORD = "s3cr3t-pass/word+xyz?"

WORKFLOW = """
name: basic_token
blocks:
  start: {type: manual}
  creds:
    type: function
    code: |
      import base64
      raw = (<input.user> + ":" + <env.FY_B64_PASSWORD>).encode()
      return {"token": base64.b64encode(raw).decode(),
              "urlsafe": base64.urlsafe_b64encode(raw).decode()}
edges: [start -> creds]
output: <creds>
"""


@pytest.mark.parametrize("user", ["u", "ab", "bob", "alice"])
async def test_a_basic_auth_token_made_from_a_secret_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: Any, user: str
) -> None:
    monkeypatch.setenv("FY_B64_PASSWORD", PASSWORD)
    result = await run_yaml(WORKFLOW, {"user": user})
    assert result["status"] == "succeeded", result["error"]
    raw = f"{user}:{PASSWORD}".encode()
    token, urlsafe = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    for text in (str(result["output"]), await recorded_text(runtime, result)):
        assert token not in text and urlsafe not in text
        # What is left of the token decodes to no part of the password longer than
        # the few characters that share a base64 group with the user name.
        assert "***" in text
    # Left: the user name's characters and at most two at each end of the password.
    before, after = result["output"]["token"].split("***")
    assert len(before) <= len(base64.b64encode(user.encode() + b":")) + 2, before
    assert len(after.rstrip("=")) <= 2, after


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_each_offset_of_the_secret_in_base64_is_found(offset: int) -> None:
    secret = "correct horse battery staple"
    encoded = base64.b64encode(b"x" * offset + secret.encode()).decode()
    redacted = redact_text(f"Basic {encoded}", [secret])
    assert redacted.startswith("Basic ") and "***" in redacted
    # No run of 4 characters of the secret's own encoding is left.
    left = redacted.removeprefix("Basic ").replace("***", " ")
    assert all(len(piece) <= 4 for piece in left.split()), redacted


def test_short_secrets_have_no_base64_form() -> None:
    """A 4-character secret encodes to ~4 characters: looked for in base64 it would
    turn unrelated tokens into `***`. Only secrets of 8 characters or more are."""
    text = base64.b64encode(b"pin=2468").decode()
    assert redact_text(text, ["2468"]) == text
