"""A ``$ref`` inside a workflow's JSON Schema (a manual trigger's ``input_schema``,
an Agent's ``response_format``) that cannot be read is refused when the workflow is
validated: it passed, and then every run failed with a traceback (a 500 from the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn
from workflow_problems import problems

from blocks.manual import run_input_problems

MANUAL = """
name: bads
blocks:
  start:
    type: manual
    input_schema: {type: object, properties: {a: SCHEMA}}
"""

AGENT = """
name: badagent
blocks:
  ask:
    type: agent
    prompt: hi
    response_format: {json_schema: {type: object, properties: {a: SCHEMA}}}
"""


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ('{$ref: "#/$defs/missing"}', "$ref '#/$defs/missing' cannot be resolved: nothing at"),
        ('{$ref: "#nowhere"}', "$ref '#nowhere' cannot be resolved: no anchor 'nowhere'"),
        ('{$ref: "#/type"}', "$ref '#/type' points to 'object', which is no schema"),
        (
            '{anyOf: [{type: string}, {$ref: "#/properties/a"}]}',
            "$ref '#/properties/a' refers back to itself",
        ),
    ],
)
def test_an_unreadable_internal_ref_fails_validation(tmp_path: Path, schema: str, why: str) -> None:
    file = tmp_path / "bads.yaml"
    [manual] = problems(tmp_path, MANUAL.replace("SCHEMA", schema), name="bads.yaml")
    assert manual.startswith(f"{file}: block 'start': field 'input_schema': {why}"), manual
    [agent] = problems(tmp_path, AGENT.replace("SCHEMA", schema), name="badagent.yaml")
    assert agent.startswith(
        f"{tmp_path / 'badagent.yaml'}: block 'ask': field 'response_format.json_schema': {why}"
    ), agent


def test_readable_internal_refs_pass(write_workflow: Any) -> None:
    wf = write_workflow(
        """
name: goodrefs
blocks:
  start:
    type: manual
    input_schema:
      $defs:
        money: {$anchor: money, type: object, properties: {amount: {type: number}}}
        tree: {type: object, properties: {children: {type: array, items: {$ref: "#/$defs/tree"}}}}
      type: object
      properties: {price: {$ref: "#money"}, tree: {$ref: "#/$defs/tree"}}
"""
    )
    assert run_input_problems(wf, {"price": {"amount": 1}, "tree": {"children": [{}]}}) == []
    assert run_input_problems(wf, {"price": {"amount": "x"}}) == [
        "price.amount: 'x' is not of type 'number'"
    ]


async def test_an_agent_schema_from_the_input_that_loops_fails_before_any_call(
    run_yaml: Any, chat_standin: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given at run time, such a schema recursed until Python's stack ran out."""
    monkeypatch.setenv("OPENAI_API_KEY", chat_standin.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", chat_standin.base_url)
    chat_standin.reply_with('{"a": 1}')
    workflow = """
        version: 1
        name: loopagent
        blocks:
          ask: {type: agent, prompt: hi, response_format: {json_schema: <input.schema>}}
        """
    result = await run_yaml(
        workflow, {"schema": {"$defs": {"x": {"$ref": "#/$defs/x"}}, "$ref": "#/$defs/x"}}
    )
    assert result["status"] == "failed"
    assert "$ref '#/$defs/x' refers back to itself" in result["error"]["message"]
    assert chat_standin.requests == []  # refused before the provider was paid
