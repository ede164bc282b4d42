"""A secret that looks like an http(s) URL but is no valid one (a mistyped
`HOOK_URL=http://[::1/hooks/…`, an unclosed IPv6 bracket) is redacted like any
other, and the run that names it runs: its block fails with its own error (real
embedded PostgreSQL). Splitting it into the parts a peer echoes raised
urllib's ValueError ("Invalid IPv6 URL") while the run was being accepted, so
`flowyard run` ended in a traceback, and so did every run of the workflow."""

from __future__ import annotations

from typing import Any

import pytest
from test_secret_leaks import recorded_text

from engine.redaction import Redactor
from engine.runtime import Runtime

HOOK = "http://[::1/hooks/XXXXSECRET"


def test_a_secret_that_is_no_valid_url_is_redacted_whole() -> None:
    assert Redactor({HOOK}).text(f"sent to {HOOK}.") == "sent to ***."


async def test_a_run_naming_a_secret_that_is_no_valid_url_fails_its_block(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", HOOK)
    result = await run_yaml(
        """
        name: malformed_secret_url
        blocks:
          call: {type: http, method: POST, url: "<env.HOOK_URL>", json: {a: 1}}
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["block"] == "call"
    assert "XXXXSECRET" not in await recorded_text(runtime, result)
