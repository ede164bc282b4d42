"""A condition's ports are names an edge can write, and `else` belongs to `cases`.

`cases[].name` had to match `^[A-Za-z0-9_-]+$`, `else` nothing: `else: ""`, `else: "no
match"` or `else: "sonst_ä"` passed validation, and no edge `route.<port> -> next` can
name such a port, so a run that took it went nowhere. `else` beside `if` (whose ports
are `true` and `false`) was accepted and ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

from engine.model import load_file

ROUTE = """\
name: ports
blocks:
  start: {{type: manual}}
  route:
    type: condition
    {choice}
edges: [start -> route]
"""

CASES = 'cases: [{{name: {name}, if: "1 == 1"}}]'


@pytest.mark.parametrize("port", ['""', '"no match"', '"sonst_ä"', '"tab\\there"', '"end\\n"'])
@pytest.mark.parametrize("where", ["else", "case"])
def test_a_port_no_edge_can_name_is_refused(tmp_path: Path, port: str, where: str) -> None:
    if where == "else":
        choice, field = CASES.format(name="paid") + f"\n    else: {port}", "field 'else'"
    else:
        choice, field = CASES.format(name=port), "field 'cases.0.name'"
    [found] = problems(tmp_path, ROUTE.format(choice=choice), "ports.yaml")
    assert found.startswith(f"{tmp_path / 'ports.yaml'}: block 'route': {field}: "), found
    assert "can only be letters, digits, '_' and '-'" in found, found


@pytest.mark.parametrize("port", ["other", "no_match", "not-paid", "Else2"])
def test_a_port_an_edge_can_name_is_accepted(tmp_path: Path, port: str) -> None:
    choice = CASES.format(name="paid") + f"\n    else: {port}"
    text = ROUTE.format(choice=choice).replace(
        "edges: [start -> route]",
        "  next: {type: function, code: 'return 1'}\n"
        f"edges: [start -> route, route.{port} -> next]",
    )
    (tmp_path / "ok.yaml").write_text(text)
    assert load_file(tmp_path / "ok.yaml").blocks["route"].config["else"] == port


def test_else_beside_if_is_refused(tmp_path: Path) -> None:
    choice = 'if: "1 == 1"\n    else: other'
    [found] = problems(tmp_path, ROUTE.format(choice=choice), "ports.yaml")
    assert found.startswith(f"{tmp_path / 'ports.yaml'}: block 'route': field 'else': "), found
    assert "`if` has no cases: its ports are `true` and `false`" in found, found
