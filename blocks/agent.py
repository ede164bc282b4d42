"""Agent block: one chat completion from any OpenAI-compatible server.

The key comes from the block's ``api_key`` (normally ``<env.SOMETHING>``) or
``OPENAI_API_KEY``; the server from ``base_url`` or ``OPENAI_BASE_URL``. A key read
here is registered as a run secret so no run record can carry it, and it is never
part of the output or the recorded inputs.

With ``response_format: json`` (or a JSON Schema) the reply is parsed, and checked
against the schema; a reply that does not parse is a block error that carries the
raw text, so the run viewer shows what the model said.

Retries are the engine's (the SDK's are off): connection errors, timeouts, 408/409/429
and 5xx can pass on another attempt (``Retry-After`` honoured); other 4xx and a
missing key cannot, so they fail at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema

from blocks._agent_client import (
    base_url_problem,
    bounded_client,
    empty_setting,
    note_url_credentials,
    warm_sdk,
)
from blocks._agent_prices import PRICES, call_cost, cost_usd  # noqa: F401 - the block's prices, as before
from blocks._agent_replies import (
    NoReply,
    UnusableAnswer,
    answered_model,
    completion_of,
    finish_reason,
    reply_text,
    usage_of,
)
from blocks._http_answers import TooBig
from blocks._http_errors import MAX_RETRY_AFTER, parse_retry_after
from blocks._http_urls import shown_url, written_credentials
from blocks._json_schemas import schema_problem, validation_errors
from engine._json import loads_finite
from engine.context import BlockContext
from engine.model import Problem
from engine.redaction import excerpt
from engine.references import references_in, to_text
from engine.registry import BlockHandler, register

if TYPE_CHECKING:
    from engine.model import BlockModel

DEFAULT_MODEL = "gpt-4o-mini"

_FENCE_RE = re.compile(r"^\s*```(?:json|JSON)?\s*\n(.*?)\n?```\s*$", re.DOTALL)
RAW_EXCERPT = 4000

#: OpenAI's reasoning models (o1, o3-mini, o4-mini-2025-04-16 …).
_REASONING = re.compile(r"o\d+(?:-|$)")

#: What an ``Authorization`` header can carry of a key: visible ASCII, no blanks.
_SENDABLE_KEY = re.compile(r"[\x21-\x7e]+")


class AgentError(RuntimeError):
    """A failed call; ``retriable`` and ``retry_after`` tell the engine's retry loop
    whether another attempt can help and how long the provider asked us to wait."""

    kind = "AgentError"

    def __init__(
        self, message: str, *, retriable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after


def retriable_status(status: int) -> bool:
    """Whether a provider's answer with this HTTP status may pass on another attempt."""
    return status in (408, 409, 429) or status >= 500


def status_failure(status: int, message: str, retry_after_header: str | None) -> AgentError:
    """The provider's non-2xx answer: 408/409/429 and 5xx can pass, others will not
    (a 400 or 401 stays one however often it is asked)."""
    retriable = retriable_status(status)
    wait = parse_retry_after(retry_after_header) if retriable else None
    return AgentError(
        f"the provider answered {status}: {message}",
        retriable=retriable,
        retry_after=min(wait, MAX_RETRY_AFTER) if wait is not None else None,
    )


def schema_of(response_format: Any) -> tuple[str, dict[str, Any] | None]:
    """``text`` | ``json`` | a JSON Schema (bare, ``{json_schema: …}`` or OpenAI's shape)."""
    if response_format in (None, "", "text"):
        return "text", None
    if response_format in ("json", "json_object"):
        return "json", None
    if isinstance(response_format, dict):
        inner = response_format.get("json_schema", response_format)
        if isinstance(inner, dict) and isinstance(inner.get("schema"), dict):
            return "json_schema", inner  # OpenAI's {name, schema, strict}
        if isinstance(inner, dict):
            return "json_schema", {"name": "response", "schema": inner}
    raise ValueError("response_format must be text, json, or a JSON Schema")


def schema_field(response_format: dict[str, Any]) -> str:
    """Where in ``response_format`` its JSON Schema is, named as a field."""
    inner = response_format.get("json_schema", response_format)
    where = "response_format.json_schema" if "json_schema" in response_format else "response_format"
    return (
        f"{where}.schema"
        if isinstance(inner, dict) and isinstance(inner.get("schema"), dict)
        else where
    )


def parse_reply(text: str, schema: dict[str, Any] | None, secrets: Iterable[str] = ()) -> Any:
    """The reply as JSON (code fences tolerated), validated against ``schema``; with
    none (``json``), a JSON object. An
    error quotes the reply's start, the run's ``secrets`` in it redacted before the
    cut (a model may repeat a key the prompt held; a cut one is not recognised)."""
    m = _FENCE_RE.match(text)
    candidate = m.group(1) if m else text
    try:
        value = loads_finite(candidate)
    except ValueError as exc:
        raise AgentError(
            f"the reply is not valid JSON ({exc}); raw reply: {excerpt(text, RAW_EXCERPT, secrets)}"
        ) from None
    if schema is None and not isinstance(value, dict):
        # `json` asks for a JSON object (OpenAI's json_object): a list, text or number
        # passed for one, and `<ask.content.status>` failed a later block instead.
        raise AgentError(
            f"the reply is JSON but not a JSON object, as response_format json asks for"
            f" (it is {_json_kind(value)}); raw reply: {excerpt(text, RAW_EXCERPT, secrets)}"
        )
    if schema is not None:
        try:
            errors = validation_errors(schema, value)
        except ValueError as exc:  # a $ref it cannot read
            raise AgentError(str(exc)) from None
        if errors:
            exc = jsonschema.exceptions.best_match(errors)
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise AgentError(
                f"the reply does not match the schema at {where}: {exc.message}; raw reply: {excerpt(text, RAW_EXCERPT, secrets)}"
            ) from None
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "text" if isinstance(value, str) else "an array"


def _a_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<") and any(references_in(value))


def response_schema(response_format: Any) -> tuple[str, dict[str, Any] | None]:
    """`schema_of` a resolved ``response_format``, its JSON Schema checked (it may
    have come from a reference): an ``AgentError`` that will not pass on another
    attempt, raised before the model is called (and paid for) rather than after."""
    try:
        kind, schema = schema_of(response_format)
    except ValueError as exc:
        raise AgentError(str(exc), retriable=False) from None  # it names response_format
    problem = schema_problem(schema["schema"]) if schema is not None else None
    if problem is not None:
        raise AgentError(f"{schema_field(response_format)}: {problem}", retriable=False)
    return kind, schema


@register
class AgentBlock(BlockHandler):
    type = "agent"
    category = "action"
    description = "Ask an LLM (any OpenAI-compatible API); optionally get JSON back."
    credential_fields = ("api_key",)
    config_schema: ClassVar[dict[str, Any]] = {
        "model": {"type": "string", "default": DEFAULT_MODEL},
        "system": {"type": "string"},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
        "response_format": {
            "description": "text | json | a JSON Schema ({json_schema: {...}} or OpenAI's {name, schema})",
            "anyOf": [
                {"type": "string", "enum": ["text", "json", "json_object"]},
                {"type": "object"},
            ],
        },
        "base_url": {
            "type": "string",
            "description": "OpenAI-compatible server; default OPENAI_BASE_URL",
        },
        "api_key": {
            "type": "string",
            "description": "Default OPENAI_API_KEY; use <env.NAME>, never a literal",
        },
    }
    required = ("prompt",)
    outputs = ("content", "model", "usage", "cost_usd")
    side_effects = True
    # A chat completion changes nothing the provider keeps: asked again, it costs
    # one more call (as a retry does) and may word its answer differently.
    repeatable = True
    default_timeout = 120.0

    def __init__(self, block: BlockModel) -> None:
        super().__init__(block)
        warm_sdk()

    def problems(self) -> list[Problem]:
        return self.key_problems() + self.base_url_problems() + self.schema_problems()

    def credential_texts(self) -> list[Any]:
        """``api_key``, and a proxy's ``user:password@`` or ``?key=`` in ``base_url``."""
        return [*super().credential_texts(), *written_credentials(self.config.get("base_url"))]

    def base_url_problems(self) -> list[Problem]:
        written = self.config.get("base_url")
        if not isinstance(written, str) or not written or any(references_in(written)):
            return []
        problem = base_url_problem(written)
        return [Problem(problem, block=self.block.id, field="base_url")] if problem else []

    def key_problems(self) -> list[Problem]:
        """A key written into the file: kept in clear there, in its copies and history,
        and readable by anyone who can read workflows. (Never quoted.)"""
        written = self.config.get("api_key")
        if not isinstance(written, str) or not written or any(references_in(written)):
            return []
        message = (
            "a key written into the workflow file: use <env.NAME> "
            "(or leave api_key out for OPENAI_API_KEY)"
        )
        return [Problem(message, block=self.block.id, field="api_key")]

    def schema_problems(self) -> list[Problem]:
        response_format = self.config.get("response_format")
        if isinstance(response_format, dict) and _a_reference(response_format.get("json_schema")):
            return []  # `{json_schema: <a.schema>}`: checked when the block runs
        try:
            kind, schema = schema_of(response_format)
        except ValueError as exc:
            return [Problem(str(exc), block=self.block.id, field="response_format")]
        if kind != "json_schema" or schema is None or any(references_in(response_format)):
            return []  # one with references in it is checked when the block runs
        problem = schema_problem(schema["schema"])
        if problem is None:
            return []
        return [Problem(problem, block=self.block.id, field=schema_field(response_format))]

    def setting(self, field: str) -> str:
        """Where the key (``api_key``) or server (``base_url``) came from, for an
        error: never its value."""
        written = self.config.get(field)
        if not written:
            return "OPENAI_API_KEY" if field == "api_key" else "OPENAI_BASE_URL"
        if any(references_in(written)):
            return f"the block's {field} ({written})"
        return f"the block's {field}"

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        import openai  # imported by warm_sdk() when the workflow was loaded

        if why := empty_setting(self, config):
            raise AgentError(why, retriable=False)
        api_key = config.get("api_key") or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise AgentError(
                "no API key: set OPENAI_API_KEY (or the block's api_key, e.g. <env.MY_KEY>)",
                retriable=False,
            )
        ctx.run.note_secret(str(api_key))
        if not _SENDABLE_KEY.fullmatch(str(api_key)):
            # httpx refused it (h11's "illegal header value" came out as a connection
            # error, a non-ASCII one as a UnicodeEncodeError), on every attempt.
            raise AgentError(
                f"the API key in {self.setting('api_key')} has a space, a line break or a "
                "non-ASCII character in it, which an HTTP header cannot carry: check the setting",
                retriable=False,
            )
        base_url = config.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
        if base_url is not None:
            base_url = str(base_url)
            note_url_credentials(ctx, base_url, from_environment=not config.get("base_url"))
            if problem := base_url_problem(base_url):  # a setting to fix, not to ask again
                raise AgentError(f"{problem}: check {self.setting('base_url')}", retriable=False)
        # Where the run records and errors say it went: without `user:password@` and
        # query, which may be a proxy's login or an `?api-key=`.
        shown_base_url = shown_url(base_url, ctx.run.secrets) if base_url else None
        model = str(config.get("model") or DEFAULT_MODEL)
        kind, schema = response_schema(config.get("response_format"))

        messages: list[dict[str, str]] = []
        # A prompt that is one reference (`prompt: <a.order>`) is that value's text, as
        # inside longer text: an order as JSON, not Python's `{'id': 1}`.
        if config.get("system") not in (None, ""):
            messages.append({"role": "system", "content": to_text(config["system"])})
        messages.append({"role": "user", "content": to_text(config.get("prompt"))})
        kwargs: dict[str, Any] = {"model": model, "messages": messages}
        limit_name = None
        if config.get("temperature") is not None:
            kwargs["temperature"] = float(config["temperature"])
        if config.get("max_tokens") is not None:
            # OpenAI's reasoning models refuse `max_tokens` (a 400) and take this one;
            # other servers may know no other.
            limit_name = "max_completion_tokens" if _REASONING.match(model) else "max_tokens"
            kwargs[limit_name] = int(config["max_tokens"])
        if kind == "json":
            kwargs["response_format"] = {"type": "json_object"}
            # OpenAI refuses json_object unless a message mentions JSON.
            if not any("json" in m["content"].lower() for m in messages):
                messages.insert(0, {"role": "system", "content": "Respond with a JSON object."})
        elif kind == "json_schema" and schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.get("name", "response"),
                    "schema": schema["schema"],
                    "strict": bool(schema.get("strict", False)),
                },
            }
        # Recorded inputs: what was asked, never the key.
        ctx.inputs = {k: v for k, v in kwargs.items() if k != "messages"} | {
            "messages": messages,
            "base_url": shown_base_url,
        }

        try:
            # A client per call: a model call takes far longer than a TLS handshake,
            # and nothing is left open when the runtime stops. Its retries are off (they
            # are the engine's: `retries: 0` means one call, not the SDK's three), and
            # its answers are read up to FLOWYARD_MAX_RESPONSE bytes.
            async with bounded_client(str(api_key), base_url) as client:
                # The body as sent, read by completion_of: the SDK's models are built
                # unchecked, and a completion without choices succeeded with "".
                reply = await client.chat.completions.with_raw_response.create(**kwargs)
        except TooBig as exc:
            # Asked again, the provider answers the same (and is paid again).
            raise AgentError(
                f"the provider's answer is bigger than {exc.limit:,} bytes, the most the "
                "block reads (FLOWYARD_MAX_RESPONSE)",
                retriable=False,
            ) from None
        except openai.AuthenticationError as exc:
            raise AgentError(
                f"the provider refused the API key (401): {exc.message}", retriable=False
            ) from None
        except openai.APIStatusError as exc:
            raise status_failure(
                exc.status_code, exc.message, exc.response.headers.get("retry-after")
            ) from None
        except openai.APIConnectionError as exc:
            raise AgentError(f"cannot reach {shown_base_url or 'the OpenAI API'}: {exc}") from None

        try:
            completion = completion_of(reply.http_response, ctx.run.secrets)
            text = reply_text(completion, ctx.run.secrets)
        except UnusableAnswer as exc:
            retriable = exc.status is not None and retriable_status(exc.status)
            raise AgentError(str(exc), retriable=retriable) from None
        except NoReply as exc:  # the model's answer: asked again, it may answer
            raise AgentError(str(exc)) from None
        used = usage_of(completion)
        content: Any = text
        if kind != "text":
            try:
                content = parse_reply(text, schema["schema"] if schema else None, ctx.run.secrets)
            except AgentError as exc:
                if finish_reason(completion) != "length":
                    raise
                # Cut off by the token limit: asked again, it is cut off again (and paid).
                limit = f", max_tokens {config['max_tokens']}" if limit_name else ""
                raise AgentError(
                    f"the reply was cut off at the token limit (finish_reason: length{limit}) "
                    f"before its JSON ended: raise max_tokens; {exc}",
                    retriable=False,
                ) from None
        answered = answered_model(completion, model)
        return {
            "content": content,
            "model": answered,
            # A server that reports no usage: usage and cost are unknown, not 0.
            "usage": used,
            "cost_usd": call_cost(answered, model, used) if used is not None else None,
            "finish_reason": finish_reason(completion),
        }
