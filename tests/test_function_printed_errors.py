"""Text a Python Function writes to standard error — ``print(…, file=sys.stderr)``,
``traceback.print_exc()`` — is part of what it printed (``stdout``), in the
order it was written, as JavaScript's ``console.error`` is. In a worker it went to
/dev/null, lost; inline it went to the server's own standard error, unredacted.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import os

import pytest

from tests.function_workflows import one_function

CODE = """
import sys, traceback
print("one")
print("two", <env.FN1_PRINTED_SECRET>, file=sys.stderr)
try:
    1 / 0
except ZeroDivisionError:
    traceback.print_exc()
print("three")
return 1
"""


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_text_written_to_standard_error_is_in_stdout_redacted(
    run_yaml, isolation: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(os.environ, "FN1_PRINTED_SECRET", "hunter2-printed-secret")
    result = await run_yaml(one_function(f"printed_errors_{isolation}", CODE, isolation))
    assert result["status"] == "succeeded", result["error"]
    printed = result["output"]["stdout"]
    assert printed.startswith("one\ntwo ***\nTraceback (most recent call last):\n"), printed
    assert "ZeroDivisionError: division by zero\n" in printed
    assert printed.endswith("three\n")
    assert "hunter2-printed-secret" not in capfd.readouterr().err
