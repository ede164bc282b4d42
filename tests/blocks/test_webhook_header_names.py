"""A reference to a webhook's header in the spelling a sender writes it
(``<hook.headers.X-Request-Id>``) never finds a value: the request holds its headers
lower-case, with ``_`` for ``-``. Validation said ok, then every delivery keyed on
it was refused with a 400 (a sender that reads a 400 as final drops the event), and
a block reading it failed each run. It is refused, naming the spelling that works.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from blocks.webhook import accept
from engine.model import WorkflowError

WORKFLOW = """
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: test/NAME
    {extra}
  echo:
    type: function
    code: |
      return {{"order": input.hook.body.order_id}}
edges:
  - hook -> echo
"""


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("<webhook.headers.X-Request-Id>", "<webhook.headers.x_request_id>"),
        ("<webhook.headers.x-request-id>", "<webhook.headers.x_request_id>"),
        ("<webhook.headers.X_Request_Id>", "<webhook.headers.x_request_id>"),
        ("<hook.headers.X-Request-Id>", "<hook.headers.x_request_id>"),
        ("<input.webhook.headers.X-Request-Id?>", "<input.webhook.headers.x_request_id?>"),
    ],
)
@pytest.mark.parametrize("field", ["idempotency_key", "concurrency_key"])
def test_a_key_naming_a_header_as_it_is_sent_is_refused_with_the_spelling_that_works(
    install_workflow: Any, written: str, meant: str, field: str
) -> None:
    with pytest.raises(WorkflowError) as refused:
        install_workflow(WORKFLOW.format(extra=f'{field}: "id:{written}"'))
    said = [str(p) for p in refused.value.problems]
    assert len(said) == 1, said
    assert f"block 'hook': field '{field}'" in said[0]
    assert f"{written} never has a value" in said[0]
    assert said[0].endswith(f"write {meant}")


def test_a_block_reading_a_header_as_it_is_sent_is_refused(tmp_path: Path) -> None:
    """The same reference anywhere a workflow reads the request: a Function's code,
    another block's field, the run's output."""
    said = problems(
        tmp_path,
        """
version: 1
name: headers
blocks:
  hook:
    type: webhook
    path: orders/in
  f:
    type: function
    code: |
      return {"id": <hook.headers.X-Request-Id>}
  call:
    type: http
    url: "http://127.0.0.1:9/?agent=<input.webhook.headers.User-Agent>"
edges:
  - hook -> f
  - f -> call
output: <hook.headers.Content-Type?>
""",
    )
    assert sorted(s.split(": ", 1)[1] for s in said) == [
        "block 'call': field 'url': <input.webhook.headers.User-Agent> never has a value: a "
        "request's headers are named in lower case, with '_' for '-' (User-Agent is "
        "user_agent): write <input.webhook.headers.user_agent>",
        "block 'f': field 'code': <hook.headers.X-Request-Id> never has a value: a "
        "request's headers are named in lower case, with '_' for '-' (X-Request-Id is "
        "x_request_id): write <hook.headers.x_request_id>",
        "field 'output': <hook.headers.Content-Type?> never has a value: a request's "
        "headers are named in lower case, with '_' for '-' (Content-Type is "
        "content_type): write <hook.headers.content_type?>",
    ], said


def test_a_block_named_otherwise_leaves_other_webhook_references_to_the_block_check(
    tmp_path: Path,
) -> None:
    """`<webhook.…>` outside the keys names a block `webhook`: with none, it is an
    unknown block, said once, not also a header's spelling."""
    said = problems(
        tmp_path,
        """
version: 1
name: headers
blocks:
  hook:
    type: webhook
    path: orders/in
  f:
    type: function
    code: |
      return {"id": <webhook.headers.X-Request-Id>}
edges:
  - hook -> f
""",
    )
    assert len(said) == 1 and "names unknown block 'webhook'" in said[0], said


async def test_the_spelling_the_problem_names_keys_each_delivery(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra="idempotency_key: <webhook.headers.x_request_id>"))
    headers = {"Content-Type": "application/json", "X-Request-Id": f"r-{wf.name}"}
    body = b'{"order_id": "o-1"}'
    first = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, body)
    again = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, body)
    assert first.status == 202, first.body
    assert again.body["execution_id"] == first.body["execution_id"]
    assert again.body.get("duplicate") is True
    await blocks_runtime.wait(first.body["execution_id"], timeout=30)
