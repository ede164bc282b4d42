"""``/webhooks/<path>``: hand the raw request to the webhook block's delivery logic.

Public (no token): a webhook authenticates with its own signature, checked by
``blocks.webhook.accept``. The body size is checked here, before reading it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, request

from blocks.webhook import METHODS, SYNC_TIMEOUT_S
from ui import long_requests
from ui.api import jresponse
from ui.app import bridge, db_watch, settings

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger("flowyard.ui")

#: A sync webhook (and a manual run's `?wait=1`) waits SYNC_TIMEOUT_S for its run (read
#: from this module, so tests can shorten it); past it ``accept`` answers 504 with the
#: run's id and status_url. BACKSTOP_S is the wait for ``sync_answer`` itself past that,
#: only a backstop for a loop that does not answer. (Storing the run is bounded apart:
#: UIConfig.accept_timeout.)
BACKSTOP_S = 30.0


_SLASHES = re.compile(r"/{2,}")
_WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def merging_slashes(wsgi_app: _WsgiApp) -> _WsgiApp:
    """``wsgi_app`` with ``//`` merged in a ``/webhooks/`` path before routing, as
    docs/blocks/webhook.md says: Werkzeug matched `test//hook` to no hook (a 404)
    and answered `/webhooks//test/hook` with a 308 and an HTML page, a redirect not
    every sender follows with its POST. Other paths are left to Werkzeug."""

    def merged(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/webhooks/") and "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return wsgi_app(environ, start_response)

    return merged


def _read_limited(limit: int) -> bytes | None:
    """The raw body, or None when it is over ``limit`` (also without Content-Length)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    stream = request.environ.get("wsgi.input")
    if length is None and stream is not None and request.environ.get("HTTP_TRANSFER_ENCODING"):
        data = stream.read(limit + 1)
        return None if len(data) > limit else data
    return request.get_data(cache=False)


# `/webhooks` and `/webhooks/` too (one rule, no redirect between them: not every
# sender follows one with its POST): a sender that forgot the path gets the JSON 404
# of a wrong path, not the login page or a Flask page of another shape.
# OPTIONS is answered here, not by Flask, whose answer listed every method the route
# has (PUT, PATCH, DELETE… on a POST hook) while they were a 405.
_ROUTE: dict[str, Any] = {"methods": [*METHODS, "OPTIONS"], "provide_automatic_options": False}


@bp.route("/", defaults={"path": ""}, strict_slashes=False, **_ROUTE)
@bp.route("/<path:path>", **_ROUTE)
def deliver(path: str) -> Response:
    if request.method == "OPTIONS":
        return _options(path)
    max_body = settings().max_body
    raw = _read_limited(max_body)
    if raw is None:
        return jresponse({"error": "payload too large", "max_bytes": max_body}, 413)
    try:
        from blocks import webhook
        from blocks._form_data import parse_fields
    except ImportError:
        return jresponse({"error": "webhook delivery is not available"}, 503)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        # As a form body is read: a repeated parameter is a list, and a value that
        # is not UTF-8 (`%E4`) is refused, not turned into U+FFFD.
        query = parse_fields(request.query_string, "the query string")
    except ValueError as exc:
        return jresponse({"error": str(exc)}, 400)
    runtime = bridge().runtime
    # A sync delivery holds this thread until its run ends: only with a slot of the
    # cap it shares with streams and `?wait=1` (ui/long_requests.py), taken by
    # ``accept`` before anything is stored, so a refusal loses nothing and the
    # sender's retry runs it.
    slot = long_requests.WaitSlot()
    try:
        resp = _accept(webhook, runtime, path, headers, query, raw, slot.take)
        if resp.waits_for is not None:  # respond: sync, its run accepted
            resp = _sync_answer(webhook, runtime, resp.body)
        return _answer(resp)
    finally:
        slot.release()


def _accept(
    webhook: Any,
    runtime: Any,
    path: str,
    headers: dict[str, str],
    query: Any,
    raw: bytes,
    wait_slot: Callable[[], bool],
) -> Any:
    """``webhook.accept``'s answer, bounded by FLOWYARD_ACCEPT_TIMEOUT."""
    waited, watch = settings().accept_timeout, db_watch()
    try:
        # Bounded on its own: a database that hangs rather than refuses (paused, a
        # network dropping packets) held the sender, and this thread, as long as it
        # hung — shorter still once it is known not to answer (ui/db_watch.py).
        # Cancelled then, the INSERT may still commit: the engine runs it.
        return watch.call(
            webhook.accept(runtime, path, request.method, headers, query, raw, wait=False,
                           database_stalled=watch.stalled, wait_slot=wait_slot),
            timeout=waited,
        )  # fmt: skip
    except TimeoutError:
        return webhook.not_answered(path)


def _sync_answer(webhook: Any, runtime: Any, the_run: dict[str, Any]) -> Any:
    """A ``respond: sync`` delivery's answer once its run was accepted."""
    try:
        return bridge().wait(
            webhook.sync_answer(runtime, the_run, SYNC_TIMEOUT_S),
            timeout=SYNC_TIMEOUT_S + BACKSTOP_S,
        )
    except concurrent.futures.CancelledError:
        # The server is stopping (EngineBridge.release_waits): the run is accepted and
        # resumes at its next start. A 2xx with its links, not a 500 a sender retries
        # (a delivery without an idempotency key would start a second run).
        return webhook.WebhookResponse(202, the_run)
    except TimeoutError:  # the run is stored all the same, and goes on
        return webhook.unfinished(the_run)


def _answer(resp: Any) -> Response:
    status = int(getattr(resp, "status", 500))
    body = getattr(resp, "body", None)
    extra = getattr(resp, "headers", None) or {}
    # Always JSON, a sync run's output included when it is a bare string: the body
    # is the output's JSON value (as `GET /api/runs/<id>` shows it), and a string
    # served as text/html would render a caller's input as a page on our origin.
    return jresponse(body, status, headers=extra)


def _options(path: str) -> Response:
    from blocks import webhook

    resp = bridge().call(webhook.options(bridge().runtime, path))
    if resp.status == 204:
        answer = Response(status=204, headers=resp.headers)
        del answer.headers["Content-Type"]  # no body: Flask's text/html default said one
        return answer
    return jresponse(resp.body, resp.status, headers=resp.headers)
