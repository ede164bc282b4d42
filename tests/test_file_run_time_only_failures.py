"""Values validation used to accept although they could only fail, or mean nothing,
when a run reached them: each is now a problem naming file, block and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

BASE = "name: t\nblocks:\n  s: {type: manual}\n"


@pytest.mark.parametrize(
    ("blocks", "block", "field", "says"),
    [
        ('  l: {type: loop, count: "three", body: [x]}\n  x: {type: function, code: return 1}\nedges: [s -> l]\n',
         "l", "count", "not 'three'"),
        ("  l: {type: loop, count: -1, body: [x]}\n  x: {type: function, code: return 1}\nedges: [s -> l]\n",
         "l", "count", "0 or more"),
        ('  l: {type: loop, items: [1], body: [x], accumulate: {initial: 0, next: ""}}\n'
         "  x: {type: function, code: return 1}\nedges: [s -> l]\n", "l", "accumulate", "one reference"),
        ("  c: {type: condition, cases: []}\nedges: [s -> c]\n", "c", "cases", "at least one case"),
        ('  h: {type: http, url: "  "}\nedges: [s -> h]\n', "h", "url", "the url is empty"),
        ("  h: {type: http, url: 'ftp://example.com/x'}\nedges: [s -> h]\n", "h", "url",
         "the url must start with http:// or https://, not ftp://"),
        ("  h: {type: http, url: 'example.com/<s.x>'}\nedges: [s -> h]\n", "h", "url",
         "the url must start with http:// or https://, and this one has no scheme"),
        ('  d: {type: database, query: " ; -- nothing\\n ; "}\nedges: [s -> d]\n', "d", "query",
         "the query is empty"),
        ('  f: {type: function, code: "return <workflow.nope>"}\nedges: [s -> f]\n', "f", "code",
         "<workflow.nope>: <workflow.execution_id>, <workflow.name> and <workflow.rerun_of>"),
        # 0 meant no limit to some blocks and 30 s to a Function: no meaning is given to it.
        ("  f: {type: function, timeout: 0, code: 'while True: pass'}\nedges: [s -> f]\n", "f",
         "timeout", "timeout is the seconds an attempt may take, more than 0, not 0: leave it out"),
        ("  h: {type: http, url: 'http://x', timeout: 0}\nedges: [s -> h]\n", "h", "timeout",
         "more than 0, not 0"),
        # The general advice ("write it in quotes") made text no loop counts.
        *(
            (f"  l: {{type: loop, count: {v}, body: [x]}}\n  x: {{type: function, code: return 1}}\n"
             "edges: [s -> l]\n", "l", "count",
             f"`count` is a whole number of times (0 or more) or one reference, not {v}")
            for v in ("null", "2.5", "true")
        ),
    ],
)  # fmt: skip
def test_a_value_that_can_only_fail_at_run_time_is_refused(
    tmp_path: Path, blocks: str, block: str, field: str, says: str
) -> None:
    [problem] = problems(tmp_path, BASE + blocks)
    assert f"block '{block}'" in problem and f"field '{field}'" in problem
    assert says in problem


def test_what_those_fields_accept_still_loads(tmp_path: Path) -> None:
    from engine.model import load_file

    path = tmp_path / "ok.yaml"
    path.write_text(
        BASE
        + "  n: {type: function, code: 'return {\"n\": 2}'}\n"
        + "  l: {type: loop, count: <n.n>, body: [x], accumulate: {initial: 0, next: <x.v>}}\n"
        + '  x: {type: function, code: "return {\\"v\\": <workflow.name>}"}\n'
        + "  z: {type: loop, count: 0, body: [y]}\n  y: {type: function, code: return 1}\n"
        # A url whose scheme comes from a reference is only known at run time.
        + "  h: {type: http, url: '<env.FLOWYARD_TEST_BASE>/ok'}\n"
        + "  k: {type: http, url: 'HTTPS://example.com/<n.n>'}\n"
        + "edges: [s -> n, n -> l, s -> z, s -> h, n -> k]\n"
    )
    load_file(path)


@pytest.mark.parametrize(
    ("n", "says"),
    [(None, "null"), (2.5, "2.5"), (True, "true"), (-1, "-1"), ("x", '"x"'), ([1], "a list")],
)
async def test_a_count_from_a_reference_is_a_whole_number_or_the_loop_fails_saying_so(
    run_yaml, n: object, says: str
) -> None:
    """int() said "int() argument must be … not 'NoneType'", cut 2.5 to 2 and read
    true as 1, and a negative count ran nothing."""
    wf = BASE + (
        "  l: {type: loop, count: <s.n>, body: [x]}\n  x: {type: function, code: return 1}\n"
        "edges: [s -> l]\n"
    )
    result = await run_yaml(wf, {"n": n})
    assert result["status"] == "failed"
    assert result["error"]["message"] == (
        f"loop `count` must be a whole number of times, 0 or more: <s.n> is {says}"
    )
    for ok, times in ((3, 3), (3.0, 3), ("2", 2), (0, 0)):
        result = await run_yaml(wf, {"n": ok})
        assert result["status"] == "succeeded", result["error"]
        assert result["blocks"]["l"]["output"]["iterations"] == times
