"""Two webhook blocks of one workflow on the same path and method: only the first
received deliveries (the folder's route index keeps the first), so the branch of the
second never ran, and validation said ok. Across files this was already refused."""

from __future__ import annotations

from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

TWO = """\
name: t
blocks:
  hook: {type: webhook, path: /orders/events}
  hook2: {type: webhook, path: "orders/events/"METHOD}
  a: {type: function, code: return 1}
  b: {type: function, code: return 2}
edges: [hook -> a, hook2 -> b]
"""


def test_a_second_webhook_on_the_same_route_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, TWO.replace("METHOD", ""))
    assert found == [
        f"{tmp_path}/bad.yaml: block 'hook2': field 'path': POST /webhooks/orders/events is "
        "already the route of webhook block 'hook', which alone would receive its "
        "deliveries: give this one another path or method"
    ]
    found = problems(tmp_path, TWO.replace("METHOD", ", method: post"))
    assert len(found) == 1 and "POST /webhooks/orders/events is already" in found[0], found


def test_the_same_path_with_another_method_is_two_routes(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(TWO.replace("METHOD", ", method: PUT"))
    assert len(load_file(tmp_path / "ok.yaml").triggers()) == 2
