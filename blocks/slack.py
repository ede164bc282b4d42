"""Slack block: post a message to a Slack incoming webhook.

Failures follow the HTTP block's rules (429/5xx and connection errors are retried by
the engine when ``retries`` is set; Slack's ``Retry-After`` is honoured), but for a
timeout after the message was sent, which is not retried (blocks/_slack_post.py).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from blocks._http_errors import HttpError, status_error
from blocks._http_urls import WRITTEN_URL
from blocks._slack_post import post
from blocks.http import is_http_url, parse_body, scheme_of, settle_failure
from engine.context import BlockContext, warm_http_client
from engine.executor import BlockFailed
from engine.model import BlockModel, Problem
from engine.references import (
    Compiled,
    Interpolation,
    ListValue,
    LoneRef,
    MappingValue,
    compile_value,
    is_one_reference,
    parse,
    to_text,
)
from engine.registry import BlockHandler, register
from engine.schema import any_of_keys

#: Said with a JSON error in `blocks` text that holds references.
_INSIDE_A_STRING = ': a reference in JSON text goes inside a string ("<a.b>")'


def without_url(exc: HttpError) -> HttpError:
    """The status error without the URL it names. That URL is httpx's normal form
    (`:443` dropped, the host lower-cased), which the run's redaction of the
    webhook URL as given does not recognise, and its path is the token."""
    status = exc.status
    detail = str(exc).split(f"returned {status}: ", 1)[-1]
    return HttpError(
        f"Slack webhook returned {status}: {detail}",
        retriable=exc.retriable,
        status=status,
        retry_after=exc.retry_after,
    )


def message_blocks(value: Any) -> list[Any]:
    """``blocks`` as Slack takes them: a list, or the JSON text of one; a ValueError
    saying what is wrong (never the text itself: a reference may have put a secret in)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"blocks is not JSON ({exc})") from None
    if not isinstance(value, list):
        raise ValueError(
            f"blocks must be a list of Block Kit blocks (or its JSON text), not {_kind(value)}"
        )
    return value


def blocks_template(raw: Any, known_roots: Any) -> Compiled:
    """``blocks`` as written, compiled for resolving at run time.

    JSON text with references is parsed first, then each reference resolved inside
    the string it sits in, as string contents: pasted into the text, a value's
    quote broke the JSON and a crafted one added blocks (`<!channel>`) of its own.
    A string that is exactly one reference is the value's text too (it was written
    in quotes, and so was sent before). One reference for the whole field, or
    blocks written as a list, resolve as any field does."""
    if isinstance(raw, str) and is_one_reference(raw):
        return compile_value(raw.strip(), known_roots)
    if isinstance(raw, str) and parse(raw, known_roots):
        try:
            return _as_text(json.loads(raw), known_roots)
        except ValueError as exc:
            raise ValueError(f"blocks is not JSON ({exc}){_INSIDE_A_STRING}") from None
    return compile_value(raw, known_roots)


def _as_text(value: Any, known_roots: Any) -> Compiled:
    """``value`` (parsed JSON) with every string's references rendered as text."""
    if isinstance(value, dict):
        return MappingValue({k: _as_text(v, known_roots) for k, v in value.items()})
    if isinstance(value, list):
        return ListValue([_as_text(v, known_roots) for v in value])
    compiled = compile_value(value, known_roots)
    return Interpolation([compiled.ref]) if isinstance(compiled, LoneRef) else compiled


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object (put it in a list: [{...}])"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else "null"


def _has_host(url: str) -> bool:
    """`http://` or `https:// x` passed as a URL: no request can be made of them.

    A reference in it is read as ``0``, which is a name and a port alike: the written
    text of ``http://<env.HOST>:<env.PORT>/hooks/…`` has no number for a port, and it
    was refused though it names its host once resolved."""
    for start, end, _ in reversed(parse(url)):
        url = url[:start] + "0" + url[end:]
    try:
        return bool(httpx.URL(url).host) and not any(c.isspace() for c in url.strip())
    except httpx.InvalidURL:
        return False


@register
class SlackBlock(BlockHandler):
    type = "slack"
    category = "action"
    description = "Post a message to a Slack incoming webhook."
    credential_fields = ("webhook_url",)
    config_schema: ClassVar[dict[str, Any]] = {
        "webhook_url": {
            "type": "string",
            "description": "The incoming-webhook URL, usually <env.SLACK_WEBHOOK_URL>",
        },
        "text": {"type": "string", "description": "Message text (Slack mrkdwn)."},
        "blocks": {"type": ["array", "string"], "description": "Block Kit blocks."},
        "channel": {"type": "string", "description": "Override channel (legacy webhooks only)."},
        "username": {"type": "string"},
        "icon_emoji": {"type": "string"},
    }
    required = ("webhook_url",)
    # Said in words by problems(), which also wants a host: the schema lets more through.
    schema_rules = (
        {"properties": {"webhook_url": {"pattern": WRITTEN_URL}}},
        any_of_keys("text", "blocks"),
    )
    outputs = ("status", "ok")
    side_effects = True
    # Incoming webhooks have no idempotency key: a repeat posts the message again.
    repeatable = False
    recorded_at_once = True
    default_timeout = 30.0
    # The post keeps to `timeout` itself: a timeout after the message went out is
    # not retried, one before it is (blocks/_slack_post.py).
    times_itself = True
    # Resolved by run(): JSON text is parsed before the references in it are.
    raw_keys = frozenset({"blocks"})

    def __init__(self, block: BlockModel) -> None:
        super().__init__(block)
        self._blocks: Compiled | None = None
        warm_http_client()  # not within the first post's timeout

    def problems(self) -> list[Problem]:
        found = []
        if "text" not in self.config and "blocks" not in self.config:
            found.append(
                Problem("give text or blocks (or both)", block=self.block.id, field="text")
            )
        url = self.config.get("webhook_url")
        if isinstance(url, str) and not url.strip():
            found.append(
                Problem("the webhook_url is empty", block=self.block.id, field="webhook_url")
            )
        elif isinstance(url, str) and not url.startswith("<") and not is_http_url(url):
            # Written out, it can only fail at run time. The message quotes no more
            # than the scheme: the URL is the credential.
            message = f"the webhook_url must start with http:// or https://, {scheme_of(url)}"
            found.append(Problem(message, block=self.block.id, field="webhook_url"))
        elif isinstance(url, str) and not url.startswith("<") and not _has_host(url):
            message = "the webhook_url names no host (https://hooks.slack.com/services/…)"
            found.append(Problem(message, block=self.block.id, field="webhook_url"))
        blocks = self.config.get("blocks")
        if isinstance(blocks, str) and not is_one_reference(blocks):
            try:
                message_blocks(blocks)
            except ValueError as exc:
                said = str(exc) + (_INSIDE_A_STRING if parse(blocks) else "")
                found.append(Problem(said, block=self.block.id, field="blocks"))
        return found

    def _resolved_blocks(self, ctx: BlockContext) -> Any:
        if self._blocks is None:  # compiled once, with the workflow's block names
            self._blocks = blocks_template(self.config["blocks"], ctx.run.plan.known_roots)
        return self._blocks.resolve(ctx.frame)

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        url = str(config.get("webhook_url") or "")
        # The URL is the credential (anyone holding it can post): keep it out of
        # records, also those of a URL refused below (a failed block records its inputs).
        ctx.run.note_secret(url)
        if not url.lower().startswith(("http://", "https://")):
            raise BlockFailed(
                {
                    "type": "SlackError",
                    "message": "webhook_url is empty or not an http(s) URL",
                    "block": ctx.path,
                }
            )
        message: dict[str, Any] = {}
        for key in ("text", "channel", "username", "icon_emoji"):
            if config.get(key) not in (None, ""):
                # Slack takes text: `text: <a.total>` is its text, as inside longer
                # text (`1250`, `true`, an object as JSON), not a JSON number.
                message[key] = to_text(config[key])
        if "blocks" in self.config:
            try:
                blocks = self._resolved_blocks(ctx)
                if blocks not in (None, ""):
                    message["blocks"] = message_blocks(blocks)
            except ValueError as exc:
                raise BlockFailed(
                    {"type": "SlackError", "message": str(exc), "block": ctx.path}
                ) from None
        ctx.inputs = dict(message)
        timeout = ctx.block.timeout if ctx.block.timeout is not None else self.default_timeout
        try:
            response = await post(ctx, url, message, timeout)
            body = parse_body(response)
            if not response.is_success:
                raise without_url(status_error(response, body, ctx.run.secrets, url))
        except HttpError as exc:
            raise settle_failure(ctx, exc) from None
        return {"status": response.status_code, "ok": True, "body": body}
