"""Helpers shared by the template end-to-end tests (a module of its own, so that
test files never import each other or a conftest)."""

from __future__ import annotations

import email
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from db_helpers import new_database
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from blocks.webhook import accept
from templates import LIB, apply_schemas

if str(LIB) not in sys.path:
    sys.path.append(str(LIB))
from order_events import CURRENT_VERSION, apply_event  # noqa: E402 - the templates' lib/

#: Settings of the templates, pointed at the stand-ins. SNAPSHOT_EVERY is read by
#: the Function workers when they start, so it is set before the runtime starts.
SNAPSHOT_EVERY = 10
STRIPE_KEY = "sk_test_flowyard_e2e_secret"

#: The webhook path of each Order Processing variant, and the Replay Events that
#: checks the snapshots it writes (the ``variant`` fixture runs a test on both).
VARIANTS = {"orders/events": "replay_events", "orders/agent-events": "replay_events_agent"}

#: Replay Events and its Agent variant, for the checks both make (the ``template_rt``
#: fixture gives a test the runtime, with the model stand-in for the Agent variant).
REPLAYS = tuple(VARIANTS.values())


class Mailbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


async def deliver(
    rt: Any,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    path: str = "orders/events",
) -> dict[str, Any]:
    """POST one event the way the Flask route does, then wait for its run."""
    raw = json.dumps(body).encode()
    hdrs = {
        "Content-Type": "application/json",
        "User-Agent": "shop/1.0",
        "X-Forwarded-For": "203.0.113.9, 10.0.0.1",
    }
    resp = await accept(rt, path, "POST", {**hdrs, **(headers or {})}, {}, raw)
    assert resp.status == 202, resp.body
    result = await rt.wait(resp.body["execution_id"], timeout=timeout)
    assert result["status"] == "succeeded", json.dumps(result["error"] or result, default=str)[
        :3000
    ]
    return result


async def submit(
    rt: Any,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    path: str = "orders/events",
) -> dict[str, Any]:
    """POST one event and return its finished run, whatever its status (for the
    deliveries a template must refuse)."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    resp = await accept(rt, path, "POST", hdrs, {}, json.dumps(body).encode())
    assert resp.status == 202, resp.body
    return await rt.wait(resp.body["execution_id"], timeout=60)


def charge(charge_id: str, amount_cents: int = 1250) -> dict[str, Any]:
    """A processor's answer to a capture that took ``amount_cents`` (Stripe's charge
    object, the fields the templates read): a 2xx that says less is not a capture."""
    return {"id": charge_id, "object": "charge", "status": "succeeded", "captured": True,
            "amount_captured": amount_cents}  # fmt: skip


def stand_ins(httpserver: HTTPServer) -> None:
    """The peers, answering as they should; the capture of ``ch_123`` for the
    ``lifecycle`` payment's 1250 cents."""
    httpserver.expect_request("/v1/charges/ch_123/capture", method="POST").respond_with_json(
        charge("ch_123")
    )
    httpserver.expect_request("/customer/events", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")


def calls(httpserver: HTTPServer, path: str) -> list[Any]:
    return [req for req, _ in httpserver.log if req.path == path]


def lifecycle(order: str) -> list[dict[str, Any]]:
    return [
        {"event_type": "order_created", "order_id": order, "user_id": "u1", "email": "ada@example.com",
         "first_name": "Ada", "last_name": "Lovelace", "event_version": 2, "total_cents": 1250,
         "items": [{"sku": "A", "qty": 1}]},
        {"event_type": "payment_received", "order_id": order, "user_id": "u1", "charge_id": "ch_123",
         "amount_cents": 1250, "event_version": 2},
        {"event_type": "order_shipped", "order_id": order, "carrier": "DHL", "tracking_number": "T-1"},
        {"event_type": "order_delivered", "order_id": order, "delivered_at": "2025-01-03"},
    ]  # fmt: skip


async def new_event_store(pg_uri: str) -> str:
    """A new database holding the templates' tables."""
    url = await new_database(pg_uri, "es")
    conn = await asyncpg.connect(url)
    try:
        await apply_schemas(conn)
    finally:
        await conn.close()
    return url


@asynccontextmanager
async def template_workspace(
    pg_uri: str, peers_base: str, mailbox: Mailbox
) -> AsyncIterator[tuple[str, Path]]:
    """A fresh database with the event store, a workspace where `flowyard new`
    put the templates, and the templates' settings pointed at the stand-ins
    (set before any Runtime starts: SNAPSHOT_EVERY is read by the Function
    workers when they start). Yields (database url, workflows dir)."""
    from templates import instantiate

    url = await new_event_store(pg_uri)
    workspace = Path(tempfile.mkdtemp(prefix="flowyard-es-ws-"))  # see pg_uri
    workflows = workspace / "workflows"
    for template in ("order_processing", "replay_events"):
        instantiate(template, workflows)
    base = peers_base.rstrip("/")
    env = {
        "SNAPSHOT_EVERY": str(SNAPSHOT_EVERY),
        "STRIPE_API_BASE": base,
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "CUSTOMER_WEBHOOK_URL": f"{base}/customer/events",
        "SLACK_WEBHOOK_URL": f"{base}/slack/hook",
        "ORDER_EMAIL_FROM": "orders@shop.example",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield url, workflows
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- an OpenAI-compatible stand-in for the Agent variants ---------------------------


def _line(text: str, label: str) -> str:
    for line in text.splitlines():
        if line.startswith(label):
            return line[len(label) :].strip()
    raise AssertionError(f"no {label!r} line in the prompt")


def _section(text: str, label: str) -> Any:
    raw = _line(text, label)
    return json.loads(raw) if raw else None


class StandInModel:
    """Answers chat completions by applying the prompt's event with the
    deterministic reducer, so tests check the wiring, not a model. ``twist``
    (event, correct state) -> reply makes it answer something else, as a real
    model may."""

    def __init__(self) -> None:
        self.twist: Callable[[dict[str, Any], Any], Any] | None = None
        self.fail_next = 0  # answer this many requests with a 500 first
        self.prompts: list[str] = []

    def __call__(self, request: Request) -> Response:
        body = request.get_json()
        self.prompts.append(body["messages"][-1]["content"])
        if self.fail_next:
            self.fail_next -= 1
            return Response('{"error": {"message": "overloaded"}}', status=500)
        assert body["model"] == "gpt-4o-mini"
        assert body["response_format"] == {"type": "json_object"}
        prompt = body["messages"][-1]["content"]
        # Replay Events (Agent) sends the stored event whole; Order Processing
        # (Agent) field by field (its `enrich` also holds settings).
        event = (
            _section(prompt, "Event:")
            if "\nEvent:" in prompt
            else {
                "event_id": _line(prompt, "Event id:"),
                "event_type": _line(prompt, "Event type:"),
                "event_version": int(_line(prompt, "Event version:")),
                "aggregate_id": _line(prompt, "Order id:"),
                "data": _section(prompt, "Event data:"),
                "metadata": _section(prompt, "Event metadata:"),
            }
        )
        # A model knows no event versions: it reads any payload as the newest shape
        # it was told about, which is the guess the workflows must not let it make.
        newest = CURRENT_VERSION.get(event["event_type"], event["event_version"])
        event["event_version"] = min(event["event_version"], newest)
        state = apply_event(_section(prompt, "Current state:"), event)
        answer = {"state": state} if self.twist is None else self.twist(event, state)
        reply = {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": json.dumps(answer)},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
        return Response(json.dumps(reply), content_type="application/json")
