"""The customer system's URL (``CUSTOMER_WEBHOOK_URL``, a setting read as
``<env.…>``) stays out of Order Processing's run records when the customer system
quotes its path back (real embedded PostgreSQL, stand-in peers on 127.0.0.1).

A customer system without the route (Express answering ``Cannot POST
/nf/hooks/<token>``) had its hook's token stored three times in the run's result:
in the notification's error, in ``subscriber_errors`` and in the run's error.
"""

from __future__ import annotations

import html
import json
import uuid
from typing import Any

import pytest
from es_support import lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "CUSTTOKEN998877"
HOOK_PATH = f"/nf/hooks/{TOKEN}"


def express_404(request: Request) -> Response:
    """Express's page for a route it does not have: it quotes the path."""
    page = f"<!DOCTYPE html>\n<pre>Cannot {request.method} {html.escape(request.path)}</pre>\n"
    return Response(page, status=404, content_type="text/html; charset=utf-8")


async def test_a_customer_system_quoting_its_hook_path_leaves_no_token_in_the_run(
    es_runtime: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_ins(httpserver)
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_handler(express_404)
    monkeypatch.setenv("CUSTOMER_WEBHOOK_URL", httpserver.url_for(HOOK_PATH))
    order = f"ord-{uuid.uuid4().hex[:8]}"
    result = await submit(es_runtime, lifecycle(order)[0])
    # The notification was sent to the hook, refused, and kept for a later run.
    assert [r.path for r, _ in httpserver.log if TOKEN in r.path] == [HOOK_PATH]
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    assert "the customer system did not take" in result["error"]["message"]

    stored = await es_runtime.run_result(result["execution_id"])
    for text in (json.dumps(result), json.dumps(stored)):
        assert "Cannot POST ***" in text, text
        assert TOKEN not in text and "/nf/hooks" not in text, text
    events = await es_runtime.db.pool.fetch(
        "SELECT data::text FROM flowyard_run_events WHERE execution_id = $1::uuid",
        result["execution_id"],
    )
    assert events and not [e for e in events if TOKEN in e[0]]
