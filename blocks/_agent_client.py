"""The openai SDK client an Agent block's call goes through, its answers held to
``FLOWYARD_MAX_RESPONSE`` bytes as the HTTP and Slack blocks' are.

The SDK reads an answer whole (an error's too), however big: a 300 MB completion
grew ``flowyard run`` to 1.6 GB, and a small gzip body that inflates to gigabytes,
or a ``base_url`` that streams without end, grew the server until the block's
timeout (or until the kernel killed it with every run in it), on every retry. A
response hook reads the body first, bounded (`read_answer`), before the SDK's
transport would read it whole; past the limit it raises `TooBig`, which the SDK
passes on as it is (it wraps only its transport's own errors).
"""

from __future__ import annotations

import functools
from typing import Any

import httpx

from blocks._http_answers import max_answer_bytes, read_answer
from blocks._http_urls import is_http_url, scheme_of, url_secrets
from blocks.http import note_basic_auth
from engine.context import BlockContext


def base_url_problem(base_url: str) -> str | None:
    """Why ``base_url`` can be sent no request, as the HTTP block says it of a
    ``url`` (its scheme only, never the rest: it may hold a proxy's login). Such a
    URL failed every attempt as *cannot reach localhost:11434/v1: Connection
    error.* (Ollama's address without http://), or with httpx's bare InvalidURL."""
    if not is_http_url(base_url):
        return f"the base_url must start with http:// or https://, {scheme_of(base_url)}"
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        return f"the base_url is not a valid URL: {exc}"
    # `https://` or `http://:11434/v1` (a host setting left empty): every attempt
    # said *cannot reach https:: Connection error.*, and was asked again.
    return None if url.host else "the base_url names no host"


def endpoint(base_url: str | None) -> dict[str, Any]:
    """The client's ``base_url`` and ``default_query``: the SDK appends its path to
    the whole text, so ``…/v1?api-key=K`` became ``/v1/?api-key=Kchat/completions``;
    the query goes with each request instead."""
    if not base_url:
        return {"base_url": None}
    url = httpx.URL(base_url)
    if not url.query:
        return {"base_url": base_url}
    return {"base_url": str(url.copy_with(query=None)), "default_query": dict(url.params)}


def bounded_client(api_key: str, base_url: str | None) -> Any:
    """An ``AsyncOpenAI`` for one call (use it with ``async with``): the SDK's own
    retries and time limits off but connecting (``retries`` and ``timeout`` are the
    engine's, each attempt in the run log), its answers read up to
    ``FLOWYARD_MAX_RESPONSE`` bytes."""
    import openai  # imported by warm_sdk() when the workflow was loaded

    limit = max_answer_bytes()

    async def read_bounded(response: Any) -> None:
        await read_answer(response, limit)

    http_client = openai.DefaultAsyncHttpxClient(event_hooks={"response": [read_bounded]})
    # The block's `timeout` (the engine's) bounds the call: the SDK's 600 s without a
    # byte cut a longer one the block allowed, as "cannot reach …: Request timed
    # out.", and it was asked (and paid for) again. Its connect limit stays.
    waits = openai.Timeout(None, connect=openai.DEFAULT_TIMEOUT.connect)
    return openai.AsyncOpenAI(
        api_key=api_key,
        max_retries=0,
        timeout=waits,
        http_client=http_client,
        **endpoint(base_url),
    )


def note_url_credentials(ctx: BlockContext, base_url: str, *, from_environment: bool) -> None:
    """Make what in ``base_url`` is a credential a secret of the run, so no record
    holds it even where a provider or proxy quotes it back: the ``Basic`` token
    httpx sends for a ``user:password@`` in it, and, for a URL from the environment
    (``OPENAI_BASE_URL``, an ``<env.…>``), its password and query values on their own
    (the engine redacts an ``<env.…>`` value whole, not the parts quoted alone)."""
    note_basic_auth(ctx, base_url)
    if from_environment or base_url in ctx.run.secrets:
        for secret in url_secrets(base_url):
            ctx.run.note_secret(secret)


@functools.cache
def warm_sdk() -> None:
    """Import the openai SDK and build a first client, once per process, when a
    workflow with an Agent block is loaded.

    Done by the first call instead, it took 0.5-1 s (importing the SDK, then its
    HTTP transport when the first client is built) out of that block's ``timeout``
    before any request: ``timeout: 1`` timed out against a server answering at
    once. Not at module import: every flowyard command, ``--help`` too, would
    pay it (it doubles their start-up) for a block few workflows use."""
    import openai

    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1/")  # never sends
    client.chat.completions  # noqa: B018 - imported on first use, as by the first call


#: What a block's own field stands in for when the block does not give it.
DEFAULTS = {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL"}


def empty_setting(block: Any, resolved: dict[str, Any]) -> str | None:
    """Why the call is not made when ``block`` gives ``api_key`` or ``base_url`` and it
    comes out empty (BlockHandler.came_out_empty): read as "not given", the prompt went
    to OPENAI_BASE_URL, or to OpenAI itself, not to the server the workflow names; or
    OPENAI_API_KEY, the server's own key, went to the block's base_url."""
    for field, default in DEFAULTS.items():
        if block.came_out_empty(field, resolved):
            return (
                f"the block's {field} is empty ({block.config[field]} has no value): nothing"
                f" was sent, and {default} is not used in its place"
            )
    return None
