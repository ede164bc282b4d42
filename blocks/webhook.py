"""Webhook trigger: the block, and the delivery logic the ``POST /webhooks/<path>`` route calls.

:func:`accept` does everything between "bytes arrived" and "202": find the workflow,
check the signature, parse the body, derive the idempotency key, and submit the run
durably (the runtime inserts the run and its key in one statement before we answer).
The Flask route only reads the request, enforces the size limit and calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from blocks._delivery_keys import (
    REQUEST_FIELDS,
    delivery_key,
    key_problems,
    misspelt_header,
    request_path,
    request_value,
    same_delivery,
)
from blocks._signatures import (
    TOLERANCE_SECONDS,
    SignatureError,
    flowyard_signature,
    resolve_secret,
    standard_webhooks_signature,
    verify_signature,
    verify_token,
)
from blocks._webhook_answers import (
    RETRY_AFTER_S,
    WebhookResponse,
    no_thread_to_wait,
    not_answered,
    unavailable,
    unavailable_waiting,
    unfinished,
)
from blocks._webhook_auth import (
    PROVIDERS,
    SCHEMES,
    auth_problems,
    provider_delivery_id,
    verify_provider,
)
from blocks._webhook_request import (
    FIELD_RULES,
    METHODS,
    PATH_RULE,
    as_received,
    build_payload,
    credential_query_values,
    normalize_path,
    now_iso,
    parse_body,
    unreachable,
    unread_encoding,
)
from blocks.http import is_method
from engine._json import unstorable
from engine.context import BlockContext
from engine.database import server_unreachable
from engine.intake import IdempotencyBusy, IdempotencyConflict
from engine.model import BlockModel, Problem
from engine.references import Reference
from engine.registry import BlockHandler, register

log = logging.getLogger("flowyard.webhook")

__all__ = [  # the signature helpers are part of this module's surface (senders, tests)
    "TOLERANCE_SECONDS",
    "SignatureError",
    "WebhookBlock",
    "WebhookResponse",
    "accept",
    "flowyard_signature",
    "not_answered",
    "resolve_secret",
    "standard_webhooks_signature",
    "unfinished",
    "verify_signature",
]


#: How long a ``respond: sync`` delivery waits for its run; then a 504 naming the run.
SYNC_TIMEOUT_S = 300.0


@register
class WebhookBlock(BlockHandler):
    type = "webhook"
    category = "trigger"
    description = "Start the workflow when an HTTP request arrives at /webhooks/<path>."
    config_schema: ClassVar[dict[str, Any]] = {
        "path": {"type": "string", "description": "URL path under /webhooks/, e.g. orders/events"},
        "method": {
            "type": "string",
            "default": "POST",
            "examples": ["POST", "PUT", "PATCH", "GET", "DELETE"],
        },
        "secret": {
            "type": "string",
            "description": "HMAC secret (X-Flowyard-Signature), or whsec_… for Standard Webhooks; may be <env.NAME>",
        },
        "secret_header": {
            "type": "string",
            "description": "A header that carries the secret itself, e.g. X-Gitlab-Token or "
            "X-Telegram-Bot-Api-Secret-Token: the delivery must send the secret there "
            "(a shared token; no signature is checked)",
        },
        "signature": {
            "type": "string",
            "enum": list(SCHEMES),
            "description": "The one scheme secret is checked with: flowyard "
            "(X-Flowyard-Signature), standard_webhooks (webhook-*/svix-*), or the sender's own: "
            "stripe, github, shopify, slack; unset: flowyard or standard_webhooks",
        },
        "respond": {"type": "string", "enum": ["async", "sync"], "default": "async"},
        "idempotency_key": {
            "type": "string",
            "description": "Reference into the request, e.g. <webhook.body.event_id>; default the provider's delivery id (signature: stripe…), the signed webhook-id (Standard Webhooks; svix-id from Svix), else the Idempotency-Key, webhook-id or svix-id header",
        },
        "concurrency_key": {
            "type": "string",
            "description": "Reference into the request, with text around it if you like, e.g. "
            "order:<webhook.body.order_id>: runs with the same key, of any workflow, execute one "
            "at a time, in arrival order; other keys run in parallel",
        },
    }
    required = ("path",)
    schema_rules = FIELD_RULES  # said in words by problems()
    # `secret` is read at delivery time from the environment and never enters a run
    # record (nor does the header `secret_header` names: it is a name, not a value);
    # the two keys refer to this block's own output, which only exists once the
    # request has been turned into a payload (blocks/_delivery_keys.py).
    raw_keys = frozenset({"secret", "secret_header", "idempotency_key", "concurrency_key"})
    outputs = REQUEST_FIELDS

    def problems(self) -> list[Problem]:
        out = []
        path = self.config.get("path")
        if isinstance(path, str) and not path.strip("/"):
            out.append(Problem("the path is empty", block=self.block.id, field="path"))
        elif isinstance(path, str) and (why := unreachable(normalize_path(path))):
            message = f"{path!r} is not a path a request can reach ({why}): {PATH_RULE}"
            out.append(Problem(message, block=self.block.id, field="path"))
        method = self.config.get("method")
        if isinstance(method, str) and not is_method(method, METHODS):
            out.append(Problem(f"unknown method {method!r}", block=self.block.id, field="method"))
        out += auth_problems(self.config, self.block.id)
        for key_field in ("idempotency_key", "concurrency_key"):
            key = self.config.get(key_field)
            if isinstance(key, str):
                where = {"block": self.block.id, "field": key_field}
                out += [
                    Problem(why, **where) for why in key_problems(key_field, key, self.block.id)
                ]
        return out

    def reference_problem(self, ref: Reference) -> str | None:
        # `<webhook.…>` is this block's request only in its own keys, or as its id.
        if ref.root == "webhook" and self.block.id != "webhook":
            return None
        return misspelt_header(ref, request_path(ref, self.block.id))

    def references_in_raw(self) -> dict[str, Any]:
        return {}  # only <env.…> (secret) and this block's own payload (the two keys)

    def output_for(self, run_input: Any) -> dict[str, Any]:
        run_input = run_input if isinstance(run_input, dict) else {}
        payload = run_input.get("webhook")
        if isinstance(payload, dict):
            return payload
        # Run by hand (CLI/API) with a plain input: treat that input as the body.
        return {
            "body": run_input,
            "headers": {},
            "query": {},
            "method": str(self.config.get("method", "POST")).upper(),
            "path": normalize_path(str(self.config.get("path", ""))),
            "received_at": now_iso(),
        }

    def input_secrets(self, run_input: Any) -> list[Any]:
        return credential_query_values(run_input)

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        return self.output_for(ctx.run.input)


def _find(runtime: Any, path: str, method: str) -> tuple[Any, BlockModel | None]:
    found = runtime.find_webhook(path, method)
    if found is None:
        return None, None
    if isinstance(found, tuple):
        return found[0], found[1]
    wf = found
    for block in wf.blocks.values():
        if block.type == "webhook" and normalize_path(str(block.config.get("path", ""))) == path:
            return wf, block
    return wf, wf.trigger()


def allowed_methods(runtime: Any, path: str) -> list[str]:
    """The methods a workflow listens on at ``/webhooks/<path>`` (none: unknown path)."""
    path = normalize_path(path)
    return [m for m in METHODS if _find(runtime, path, m)[0] is not None]


async def options(runtime: Any, path: str) -> WebhookResponse:
    """``OPTIONS /webhooks/<path>``: the path's real methods in ``Allow``, or a 404."""
    allowed = allowed_methods(runtime, path)
    if not allowed:
        error = f"no workflow listens on /webhooks/{normalize_path(path)}"
        return WebhookResponse(404, {"error": error})
    return WebhookResponse(204, None, {"Allow": ", ".join([*allowed, "OPTIONS"])})


async def sync_answer(
    runtime: Any, the_run: dict[str, Any], sync_timeout: float = SYNC_TIMEOUT_S
) -> WebhookResponse:
    """A ``respond: sync`` delivery's answer: its run's output once it ends."""
    try:
        result = await runtime.wait(the_run["execution_id"], timeout=sync_timeout)
    except TimeoutError:
        return unfinished(the_run)
    except Exception as exc:
        # Its end is read from the database when another process runs it (`serve
        # --no-worker`, `--engine-process`): gone meanwhile, the run is accepted all
        # the same; a 503 naming it, not an HTML page or a 500 that says it failed.
        if not server_unreachable(exc):
            raise
        return unavailable_waiting(the_run, exc)
    if result.get("status") != "succeeded":
        body = {**the_run, "status": result.get("status"), "error": result.get("error")}
        return WebhookResponse(500, body)
    return WebhookResponse(200, result.get("output"))


async def accept(
    runtime: Any,
    path: str,
    method: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    raw_body: bytes,
    sync_timeout: float = SYNC_TIMEOUT_S,
    wait: bool = True,
    database_stalled: bool = False,
    wait_slot: Callable[[], bool] | None = None,
) -> WebhookResponse:
    """Verify, parse and durably submit one delivery; the route turns the result into HTTP.

    ``sync_timeout``: how long a ``respond: sync`` delivery waits for its run.
    ``wait=False``: a sync delivery is answered once accepted, with ``waits_for``:
    the route waits apart (``sync_answer``), a wait a stopping server can end.
    ``database_stalled``: the database is known not to answer (ui/db_watch.py): a
    delivery it would store is answered 503 at once, without asking it.
    ``wait_slot``: called for a sync delivery the route will wait for, before it is
    stored; False (no server thread may wait) refuses it 503 (ui/long_requests.py)."""
    path = normalize_path(path)
    workflow, block = _find(runtime, path, method.upper())
    if workflow is None or block is None:
        # A known path asked with another method is a 405 naming the right one (a GET
        # from a browser on a POST hook), not a 404 that says the path does not exist.
        allowed = allowed_methods(runtime, path)
        if allowed:
            # `Allow` as OPTIONS answers it: every method the path supports (RFC 9110),
            # OPTIONS too; the two answers disagreed on what the path allows.
            return WebhookResponse(
                405,
                {"error": f"/webhooks/{path} accepts {', '.join(allowed)}, not {method.upper()}"},
                {"Allow": ", ".join([*allowed, "OPTIONS"])},
            )
        if runtime.broken_webhook(path, method) is not None:
            # The file's errors are logged, not answered: the endpoint is public.
            reason = (
                "the workflow behind this webhook has errors; nothing was accepted, retry later"
            )
            body = {"error": "workflow unavailable", "reason": reason, "retry_after": RETRY_AFTER_S}
            return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})
        return WebhookResponse(
            404, {"error": f"no workflow listens on {method.upper()} /webhooks/{path}"}
        )
    config = block.config
    lower = {k.lower(): v for k, v in headers.items()}

    secret = config.get("secret")
    secret_header = config.get("secret_header") or None
    signed_id = None
    if secret is not None:  # set but blank: resolve_secret fails closed
        try:
            if secret_header:
                verify_token(resolve_secret(str(secret), token=True), str(secret_header), lower)
            elif (scheme := config.get("signature")) in PROVIDERS:
                # The provider's scheme alone: its secret is a key as text (Stripe's
                # whsec_ too), and no other scheme is tried (blocks/_webhook_auth.py).
                verify_provider(scheme, resolve_secret(str(secret), token=True), lower, raw_body)
            else:
                only = config.get("signature")  # flowyard | standard_webhooks | None: either
                signed_id = verify_signature(
                    resolve_secret(str(secret)), lower, raw_body, only=only
                )
        except SignatureError as exc:
            error = "invalid token" if secret_header else "invalid signature"
            return WebhookResponse(401, {"error": error, "reason": str(exc)})
        except LookupError as exc:
            # Fail closed, and keep the variable's name out of the caller's sight.
            log.error("workflow %r: %s", workflow.name, exc)
            return WebhookResponse(500, {"error": "the webhook secret is not configured"})

    unread = unread_encoding(lower.get("content-encoding", ""))
    if unread:
        return WebhookResponse(415, {"error": unread})
    try:
        body = parse_body(raw_body, lower.get("content-type", ""))
    except ValueError as exc:
        return WebhookResponse(400, {"error": str(exc)})
    # Refused here, not by the run's INSERT (a 500): a NUL or a lone surrogate.
    refused = (
        unstorable(body, "the body", raw_body)
        or unstorable(dict(query), "the query")
        or unstorable(dict(headers), "the headers")
    )
    if refused:
        return WebhookResponse(400, {"error": refused})

    payload = build_payload(path, method, headers, query, body, secret_header)
    # The keys read the request as it came: in the payload a credential header is
    # `[redacted]`, the same text on every delivery (every event one key).
    request = as_received(payload, headers)
    configured = config.get("idempotency_key")
    # A provider's own delivery id is its default key (blocks/_webhook_auth.py).
    signed_id = signed_id or provider_delivery_id(config.get("signature"), lower, body)
    key, earlier_keys = delivery_key(
        configured, block.id, request, lower, workflow.name, signed_id, secret_header
    )
    if configured and key is None and "?>" not in str(configured):
        # The workflow asked for deduplication; a delivery without its key would run
        # again on every retry (a second payment capture), so it is refused. A key
        # written as optional (`<webhook.body.id?>`) lets such a delivery run unkeyed.
        return WebhookResponse(
            400,
            {
                "error": f"no idempotency key: {configured} is missing or empty in the request "
                "(and there is no Idempotency-Key, webhook-id or svix-id header)"
            },
        )
    if database_stalled:
        return unavailable(workflow.name, None)
    sync = str(config.get("respond", "async")) == "sync"
    if sync and not wait and wait_slot is not None and not wait_slot():
        return no_thread_to_wait()
    run_input = {"webhook": payload, "workflow": {"name": workflow.name}}
    try:
        sub = await runtime.submit(
            workflow,
            run_input,
            trigger="webhook",
            # Keys are unique per workflow and trigger block (engine/_key_scopes.py):
            # the raw key is enough, and no other trigger block's key can match it.
            idempotency_key=key,
            # A delivery an earlier release accepted holds its key in the form that
            # release stored (blocks/_earlier_keys.py): its resend is still a repeat.
            earlier_keys=earlier_keys,
            concurrency_key=request_value(
                config.get("concurrency_key"), block.id, request, workflow.name, secret_header
            ),
            same_request=same_delivery,
            trigger_block=block.id,  # the workflow's other triggers are skipped
        )
    except IdempotencyConflict as exc:
        return WebhookResponse(409, {"error": str(exc), "execution_id": exc.execution_id})
    except IdempotencyBusy as exc:
        # Nothing was accepted: the sender's retry is judged anew.
        body = {"error": str(exc), "retry_after": RETRY_AFTER_S}
        return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})
    except Exception as exc:
        # Only an outage is a 503 the sender should retry; any other failure is a
        # bug that must stay a 500 with its traceback in the log.
        if not server_unreachable(exc):
            raise
        return unavailable(workflow.name, exc)
    execution_id = str(sub.execution_id)
    the_run = {"execution_id": execution_id, "status_url": f"/api/runs/{execution_id}"}
    if sub.pruned:
        # A repeat of a delivery whose run retention has deleted: it ran, and nothing
        # starts; its output is gone with it, so a sync delivery is answered so too.
        return WebhookResponse(202, {**the_run, "duplicate": True, "pruned": True})
    if sync:
        if not wait:
            return WebhookResponse(202, the_run, waits_for=execution_id)
        return await sync_answer(runtime, the_run, sync_timeout)
    body_out: dict[str, Any] = dict(the_run)
    if not sub.created:
        body_out["duplicate"] = True
    if sub.retry_of:
        body_out["retry_of"] = sub.retry_of
    return WebhookResponse(202, body_out)
