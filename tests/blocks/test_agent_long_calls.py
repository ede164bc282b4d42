"""An Agent block's `timeout` is the call's, however long (docs/blocks/agent.md): the
openai SDK's own limit of 600 s without a byte of the answer no longer cuts a call
the block allows more (a local model on a CPU, a long reasoning call). It failed at
600 s as *cannot reach …: Request timed out.*, and was asked again (and paid again
for a hosted model that had been working on it), before the block's `timeout: 900`.

Ten minutes cannot be waited out here: the client each call goes through is built
as the block builds it, and asked what it waits for."""

from __future__ import annotations

from blocks._agent_client import bounded_client


async def test_the_client_waits_for_the_answer_as_long_as_the_block_allows() -> None:
    async with bounded_client("sk-unused", "http://127.0.0.1:9/v1") as client:
        limits = client.timeout
    # The block's timeout (the engine's) bounds the call; nothing of the SDK's below it.
    assert (limits.read, limits.write, limits.pool) == (None, None, None)
    assert limits.connect is not None  # an address that takes no connection still fails
