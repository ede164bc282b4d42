"""Objects of the user's own whose methods fail while flowyard describes the call's
end: an exception whose message cannot be made, a returned value whose own
``isoformat``/``items`` raise. The block fails naming what the code did, with the
line where it can; the worker lives on (it died, and the block said "WorkerDied …
a crash in a C extension", pointing the author at the wrong thing).

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.function_workflows import one_function

ISOLATIONS = pytest.mark.parametrize("isolation", ["process", "inline"])

FAULTY_MESSAGES = [
    # __str__ raising: the worker died making the message.
    (
        "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
        "raise Odd()",
        "Odd",
        "raised Odd, whose message could not be made (RuntimeError: no) (line 4)",
    ),
    # __str__ returning no text.
    (
        "class Odd(Exception):\n    def __str__(self):\n        return 5\nraise Odd()",
        "Odd",
        "raised Odd, whose message could not be made (TypeError: __str__ returned"
        " non-string (type int)) (line 4)",
    ),
    # sys.exit with an object whose repr raises.
    (
        "import sys\nclass O:\n    def __repr__(self):\n        raise RuntimeError('r')\n"
        "sys.exit(O())",
        "SystemExit",
        "the code called sys.exit(<O>) (line 5); a function returns its output",
    ),
]


async def _still_works(run_yaml, isolation: str) -> None:
    again = await run_yaml(one_function("after", "return 2", isolation))
    assert again["output"] == {"result": 2}


@ISOLATIONS
@pytest.mark.parametrize(("code", "kind", "says"), FAULTY_MESSAGES)
async def test_an_exception_whose_message_fails_is_named_with_its_line(
    run_yaml, isolation: str, code: str, kind: str, says: str
) -> None:
    result = await run_yaml(one_function("odd_message", code, isolation))
    assert result["status"] == "failed"
    assert result["error"]["type"] == kind, result["error"]
    assert result["error"]["message"] == says
    await _still_works(run_yaml, isolation)


FAULTY_OUTPUTS = [
    (
        "import datetime\nclass Day(datetime.date):\n    def isoformat(self):\n"
        "        raise RuntimeError('iso')\nreturn {'d': Day(2020, 1, 1)}",
        "the output is not JSON: writing it ran the returned value's own code, which"
        " raised RuntimeError: iso",
    ),
    (
        "class D(dict):\n    def items(self):\n        raise RuntimeError('items')\n"
        "return {'d': D(a=1)}",
        "the output is not JSON: writing it ran the returned value's own code, which"
        " raised RuntimeError: items",
    ),
]


@ISOLATIONS
@pytest.mark.parametrize(("code", "says"), FAULTY_OUTPUTS)
async def test_a_returned_value_whose_own_code_fails_fails_the_block_saying_so(
    run_yaml, isolation: str, code: str, says: str
) -> None:
    result = await run_yaml(one_function("odd_output", code, isolation))
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TypeError", result["error"]
    assert result["error"]["message"] == says
    await _still_works(run_yaml, isolation)
