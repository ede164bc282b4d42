"""A provider's 200 answer to the Agent block, read from its body.

Read here rather than through the openai SDK's models: those are built without
checking (a body with no ``choices`` became a completion without a reply, and the
block succeeded with ``""``), so what is missing or of the wrong kind has to be
found by us anyway, and said plainly. An answer that holds no usable reply will
hold none on another attempt either: it fails at once, unless it names a status
the block retries (a gateway's 200 carrying a 429).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import httpx

from engine.redaction import excerpt

#: How much of an unusable answer an error quotes.
ANSWER_EXCERPT = 4000

_NOT_A_COMPLETION = (
    "the provider's answer is not a chat completion (is base_url an OpenAI-compatible API?)"
)


class UnusableAnswer(ValueError):
    """A 200 answer with no reply to use. ``status``: the HTTP status its error
    object names (``{"error": {"code": 429}}``), for whether another attempt may help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NoReply(ValueError):
    """A message with no text in it but why: the model refused (OpenAI's
    ``message.refusal``), called a tool, or the provider filtered the reply. Read as
    "", each passed for an empty answer (text), or failed "not valid JSON; raw
    reply: " without the reason (json)."""


def completion_of(response: httpx.Response, secrets: Iterable[str]) -> dict[str, Any]:
    """The chat completion in ``response``'s body, with at least one choice."""
    if "json" not in response.headers.get("content-type", "").lower():
        # A proxy's or captive portal's page, or a base_url that is no OpenAI API.
        raise UnusableAnswer(
            f"{_NOT_A_COMPLETION}: {excerpt(response.text, ANSWER_EXCERPT, secrets)}"
        )
    try:
        body = response.content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnusableAnswer(
            f"the provider's answer is not UTF-8 text, as JSON must be ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise UnusableAnswer(
            f"the provider's answer is not valid JSON ({exc}): {excerpt(body, ANSWER_EXCERPT, secrets)}"
        ) from None
    if not isinstance(answer, dict):
        raise UnusableAnswer(f"{_NOT_A_COMPLETION}: {_quoted(answer, secrets)}")
    choices = answer.get("choices")
    if isinstance(choices, list) and choices:
        return answer
    error = answer.get("error")
    if error:
        raise UnusableAnswer(
            f"the provider answered with an error: {_error_text(error, secrets)}",
            status=_error_status(error),
        )
    raise UnusableAnswer(
        f"the provider's answer holds no reply (no choices): {_quoted(answer, secrets)}"
    )


def reply_text(completion: dict[str, Any], secrets: Iterable[str]) -> str:
    """The text of the first choice's message: its content, or the text parts of a
    content list (``[{"type": "text", "text": …}, …]``) joined; "" for none. `NoReply`
    when there is none but a refusal, a tool call or a content filter."""
    choice = completion["choices"][0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise UnusableAnswer(
            f"the provider's answer has no message in its first choice: {_quoted(choice, secrets)}"
        )
    content = message.get("content")
    refusals = [message.get("refusal")]
    if content is None or isinstance(content, str):
        text = content or ""
    elif isinstance(content, list) and all(isinstance(part, dict) for part in content):
        text = "".join(
            part["text"]
            for part in content
            if part.get("type") == "text" and isinstance(part.get("text"), str)
        )
        refusals += [part.get("refusal") for part in content if part.get("type") == "refusal"]
    else:
        raise UnusableAnswer(
            f"the provider's answer is not text in its message's content: {_quoted(content, secrets)}"
        )
    refused = " ".join(r for r in refusals if isinstance(r, str) and r.strip())
    if not text and refused:
        raise NoReply(f"the model refused to answer: {excerpt(refused, ANSWER_EXCERPT, secrets)}")
    # Null or "": OpenAI sends null beside a tool call, Ollama and vLLM send "".
    if not text and (called := _tools_called(message)):
        raise NoReply(
            f"the model answered with a call of {excerpt(called, 200, secrets)} instead of"
            " text: the Agent block offers the model no tools"
        )
    if not text and choice.get("finish_reason") == "content_filter":
        raise NoReply("the provider withheld the reply (finish_reason: content_filter)")
    return text


def _tools_called(message: dict[str, Any]) -> str:
    """The names of the tools (or the legacy function) ``message`` calls, if any."""
    calls = message.get("tool_calls")
    calls = calls if isinstance(calls, list) else []
    calls = [c.get("function") for c in calls if isinstance(c, dict)] + [
        message.get("function_call")
    ]
    names = [str(c.get("name") or "a tool") for c in calls if isinstance(c, dict)]
    return ", ".join(names)


def answered_model(completion: dict[str, Any], asked: str) -> str:
    """The model the answer names; the one asked when it names none (or a number)."""
    model = completion.get("model")
    return model if isinstance(model, str) and model else asked


def finish_reason(completion: dict[str, Any]) -> Any:
    choice = completion["choices"][0]
    return choice.get("finish_reason") if isinstance(choice, dict) else None


def usage_of(completion: dict[str, Any]) -> dict[str, int | None] | None:
    """The token counts the provider reported; None when it reported none. A count
    that is no usable number is None (unknown), not 0: a NaN or a 1e999 read as 0
    made the call cost $0.0."""
    usage = completion.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt_tokens = _count(usage.get("prompt_tokens"))
    completion_tokens = _count(usage.get("completion_tokens"))
    total_tokens = _count(usage.get("total_tokens"))
    if total_tokens is None and prompt_tokens is not None and completion_tokens is not None:
        total_tokens = prompt_tokens + completion_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total_tokens,
    }


def _count(value: Any) -> int | None:
    """A token count as the server reported it, if it is one: a whole number, not
    negative (``10.0`` too); None for none, NaN, infinity, text or a fraction."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value) if value >= 0 else None


def _quoted(value: Any, secrets: Iterable[str]) -> str:
    return excerpt(json.dumps(value, ensure_ascii=False), ANSWER_EXCERPT, secrets)


def _error_text(error: Any, secrets: Iterable[str]) -> str:
    """The provider's own words: OpenAI's ``{"message": …}``, else the error as sent."""
    message = error.get("message") if isinstance(error, dict) else error
    if isinstance(message, str) and message:
        return excerpt(message, ANSWER_EXCERPT, secrets)
    return _quoted(error, secrets)


def _error_status(error: Any) -> int | None:
    """The HTTP status an error object names in ``code`` or ``status`` (some
    gateways answer 200 and put the upstream's status there); None for a name
    such as ``insufficient_quota``."""
    if not isinstance(error, dict):
        return None
    for field in ("code", "status"):
        value = error.get(field)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None
