"""A traceback a Python Function prints or keeps (``traceback.format_exc()``, a
frame's ``f_lineno``) names the line of the code as written, as the block's error
does. The code was compiled below a line of flowyard's own, so every such line was
one too many: an author looking for the failing line looked at the next one.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.function_workflows import one_function

CODE = """
import sys, traceback
here = sys._getframe().f_lineno
try:
    {}["missing"]
except KeyError:
    kept = traceback.format_exc()
return {"here": here, "kept": kept}
"""


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_lines_the_code_sees_are_its_own(run_yaml, isolation: str) -> None:
    result = await run_yaml(one_function(f"traceback_lines_{isolation}", CODE, isolation))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["here"] == 2
    assert 'File "<function>", line 4, in ' in result["output"]["kept"]
