"""A URL whose host came out empty at run time is said so, once, and nothing is sent.

`url: https://<env.PAYMENTS_HOST?>/v1/charges` with the setting unset resolves to
`https:///v1/charges`: the HTTP block failed with `POST https:/v1/charges:
UnsupportedProtocol: /v1/charges` (the protocol was https), and retried it, though
another attempt can only fail the same way; the Slack block said `UnsupportedProtocol:
***`.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    "block",
    [
        "{type: http, method: POST, url: 'https://<env.DOC_NO_HOST?>/v1/charges',"
        " retries: 2, retry_backoff: 0.01}",
        "{type: http, url: 'http://<input.host>:8080/orders', retries: 2, retry_backoff: 0.01}",
        "{type: slack, webhook_url: 'https://<env.DOC_NO_HOST?>/services/T/B/X', text: hi,"
        " retries: 2, retry_backoff: 0.01}",
    ],
)
async def test_a_url_with_no_host_fails_once_saying_so(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch, block: str
) -> None:
    monkeypatch.delenv("DOC_NO_HOST", raising=False)
    result = await run_yaml(
        f"""
        name: no_host
        blocks:
          call: {block}
        """,
        {"host": ""},
    )
    assert result["status"] == "failed"
    error = result["blocks"]["call"]["error"]
    assert "the url names no host" in error["message"], error
    assert "UnsupportedProtocol" not in error["message"], error
    assert result["blocks"]["call"]["attempts"] == 1
