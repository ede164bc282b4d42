"""A secret a peer echoes in JSON written by another encoder than Python's is
redacted (real embedded PostgreSQL, a peer on 127.0.0.1 answering 422 with a text
quoting the request body it refused, encoded as Go, PHP or Java encode JSON).

JSON lets an encoder escape any character as ``\\uXXXX`` (hex in either case) and
``/`` as ``\\/``, and the common ones do more than Python's json: Go's
encoding/json writes ``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``;
Gson (Java) also ``=`` and ``'``; PHP's json_encode writes ``/`` as ``\\/`` and
non-ASCII as ``\\u00e4``; Jackson and others write hex in upper case. The redactor
knew Python's escapes only and stored ``Tr0ub4dor\\u00263\\/x\\u003d…`` in clear.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_secret_leaks import recorded_text
from test_secret_leaks_echoed import REFUSED_BODY, escaped
from werkzeug import Response

from engine.runtime import Runtime

#: Base64 keys hold `/` and `=`; passwords `&`, `<`, `'` and letters beyond ASCII.
SECRET = "Tr0ub4dor&3/x=<é>'k"


def _u(chars: str) -> Callable[[str], str]:
    """A JSON text with each of ``chars`` written as its ``\\uXXXX`` escape."""
    return lambda text: re.sub(f"[{re.escape(chars)}]", lambda m: f"\\u{ord(m[0]):04x}", text)


def _upper_hex(text: str) -> str:
    """Every ``\\uXXXX`` escape of a JSON text (as Python writes it) in upper case."""
    return re.sub(r"\\u[0-9a-f]{4}", lambda m: "\\u" + m[0][2:].upper(), text)


ENCODERS: dict[str, Callable[[str], str]] = {
    "go": _u("<>&"),  # encoding/json's default HTML escaping
    "gson": _u("<>&='"),
    "php": lambda text: _u("é")(text).replace("/", "\\/"),  # json_encode's defaults
    "upper_hex": lambda text: _upper_hex(_u("<>&é")(text)),
}


@pytest.mark.parametrize("encoder", ENCODERS)
async def test_a_secret_a_peer_echoes_in_another_json_dialect_is_redacted(
    run_yaml: Any, runtime: Runtime, httpserver: HTTPServer, monkeypatch: Any, encoder: str
) -> None:
    encode = ENCODERS[encoder]
    monkeypatch.setenv("FY_JSON_SECRET", SECRET)
    httpserver.expect_request("/refuse", method="POST").respond_with_handler(
        lambda request: Response(
            "invalid request, got " + encode(json.dumps(request.get_json())),
            422,
            content_type="text/plain",
        )
    )
    result = await run_yaml(REFUSED_BODY.format(url=httpserver.url_for("/refuse")))
    assert result["status"] == "failed"
    [(request, _)] = httpserver.log
    assert request.get_json() == {"api_password": SECRET}  # the peer got the secret itself
    echoed = encode(json.dumps(SECRET)[1:-1])
    assert echoed != json.dumps(SECRET)[1:-1]  # the dialect differs from Python's

    stored = await runtime.run_result(result["execution_id"])
    for error in (result["error"], stored["error"], stored["blocks"]["call"]["error"]):
        message = error["message"]
        assert " returned 422: " in message, message
        answer = message.split(" returned 422: invalid request, got ", 1)[1]
        assert json.loads(answer) == {"api_password": "***"}
    text = await recorded_text(runtime, result)
    for depth in range(4):
        for form in escaped(echoed, depth):
            assert form not in text, f"{form!r} (escaped {depth} more times) leaked"
