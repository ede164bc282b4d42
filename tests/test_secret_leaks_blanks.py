"""A secret read with blanks around it is redacted without them too (real embedded
PostgreSQL).

A key kept in a file and handed to the server as a variable (a mounted Kubernetes
or Docker secret, `KEY=$(cat key.txt)` in a unit file) often ends with a line break.
The HTTP block refuses a header holding one, so a workflow strips it in a Function
(`<env.API_KEY>.strip()`) and sends that: the key itself, which the redactor did not
know (it looked for the value with its line break), was recorded in clear in the
Function's output, the run's result and a sync webhook's answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_secret_leaks import recorded_text

from engine.redaction import redact_text
from engine.runtime import Runtime

WORKFLOW = """
name: blank_secret
blocks:
  start: {type: manual}
  key:
    type: function
    code: |
      return {"key": <env.FY_BLANK_SECRET>.strip()}
  fail:
    type: function
    code: |
      raise ValueError("refused key " + <key.key>)
    on_error: continue
edges: [start -> key, key -> fail]
"""


@pytest.mark.parametrize("around", ["{}\n", "{}\r\n", "  {}  ", "\t{}"], ids=repr)
async def test_a_secret_stripped_of_its_blanks_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: Any, around: str
) -> None:
    key = "sk_live_blank5ecret42"
    monkeypatch.setenv("FY_BLANK_SECRET", around.format(key))
    result = await run_yaml(WORKFLOW)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "error": {"type": "ValueError", "message": "refused key *** (line 1)", "block": "fail"}
    }
    stored = (await runtime.run_result(result["execution_id"]))["blocks"]
    assert stored["key"]["output"] == {"key": "***"}
    assert key not in await recorded_text(runtime, result)


def test_blanks_alone_are_no_secret() -> None:
    """A value that is blank but for a few characters keeps the floor on short
    secrets: `" ab "` would otherwise turn every `ab` into `***`."""
    assert redact_text("ab abc", [" ab ", "\nabc\n"]) == "ab abc"
