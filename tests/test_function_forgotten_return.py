"""A Python Function whose code forgets `return`: its output is always {result: null},
so a block reading `<f.total>` failed every run with "no field 'total'", blamed on the
reader (a condition, the workflow's output), while the mistake was the forgotten
`return` in f. Validation now says so at the reference, naming f."""

from __future__ import annotations

from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

FLOW = """\
name: t
blocks:
  start: {type: manual}
  f:
    type: function
    on_error: continue
    code: |
      total = <start.n> * 2
      def helper():
          return 1
  route: {type: condition, if: "<f.total> > 3"}
  g: {type: function, code: "return [<f.result>, <f.stdout?>, <f.error?>]"}
edges: [start -> f, f -> route, f -> g]
output: <f.total>
"""


def test_a_field_of_code_without_return_is_named_with_the_fix(tmp_path: Path) -> None:
    said = (
        "reference <f.total>: the code of block 'f' has no return statement, so its output "
        'is always {result: null}: end that code with return {"total": …}'
    )
    assert problems(tmp_path, FLOW) == [
        f"{tmp_path}/bad.yaml: block 'route': field 'if': {said}",
        f"{tmp_path}/bad.yaml: field 'output': {said}",
    ]


def test_code_with_a_return_and_the_fields_always_there_pass(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        FLOW.replace("      def helper", "      return {'total': total}\n      def helper")
    )
    load_file(tmp_path / "ok.yaml")
    (tmp_path / "ok2.yaml").write_text(
        FLOW.replace("<f.total> > 3", "<f.result> is None").replace("output: <f.total>\n", "")
    )
    load_file(tmp_path / "ok2.yaml")
