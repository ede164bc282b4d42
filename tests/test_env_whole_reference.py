"""`<env.NAME>` reads one environment variable, a secret redacted in run records
(SPEC.md, References). `<env>` alone named none: it read the whole environment
(FLOWYARD_TOKEN, DATABASE_URL with its password, every API key), sent it wherever
the block sent its value and stored it in the run unredacted, since no one variable
was read. Refused at validation, naming file, block and field; and at run time,
for a version stored before the check, it is a block error, never the environment.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

import os

import pytest

from engine.model import WorkflowError
from engine.references import MissingReference, Reference, resolve


def _problems(write_workflow, text: str) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        write_workflow(text)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("key", "send"),
    [
        ("json", '{type: http, url: "http://127.0.0.1:9/x", json: {all: "<env>"}}'),
        ("json", '{type: http, url: "http://127.0.0.1:9/x", json: {all: "env: <env?>"}}'),
        ("url", '{type: http, url: "http://127.0.0.1:9/x?e=<env>"}'),
        ("code", '{type: function, code: "return <env>"}'),
    ],
)
def test_env_without_a_name_is_refused_naming_the_field(write_workflow, key, send) -> None:
    problems = _problems(
        write_workflow,
        f"""
        name: whole_env
        blocks:
          start: {{type: manual}}
          send: {send}
        edges: [start -> send]
        """,
    )
    assert any("block 'send'" in p and f"field '{key}'" in p and "<env" in p for p in problems), (
        problems
    )


def test_top_level_output_of_env_is_refused(write_workflow) -> None:
    problems = _problems(
        write_workflow,
        """
        name: whole_env_output
        blocks:
          start: {type: manual}
        output: <env>
        """,
    )
    assert any("field 'output'" in p and "<env" in p for p in problems), problems


class _Environment:
    """The run's names as engine.context.Frame gives them: `env` is os.environ."""

    def lookup(self, root: str) -> object:
        if root == "env":
            return os.environ
        raise KeyError(root)

    def note_secret(self, value: object) -> None:
        pass


@pytest.mark.parametrize("optional", [False, True])
def test_env_without_a_name_never_resolves_to_the_environment(optional: bool) -> None:
    ref = Reference("env", (), optional, "<env?>" if optional else "<env>")
    with pytest.raises(MissingReference) as info:
        resolve(ref, _Environment())
    assert "<env" in str(info.value)


async def test_env_with_a_name_still_reads_that_variable(run_yaml, monkeypatch) -> None:
    monkeypatch.setenv("SPEC2_ONE_VARIABLE", "only-this")
    result = await run_yaml(
        """
        name: one_env
        blocks:
          start: {type: manual}
          f: {type: function, code: "return len(<env.SPEC2_ONE_VARIABLE>)"}
        edges: [start -> f]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"result": len("only-this")}
