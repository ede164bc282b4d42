"""The Database block's query text at validation: one statement, and references only
where a bind parameter can go (never spliced in as text)."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1;", 1),
        ("SELECT ';' AS semi; -- done", 1),
        ("DO $$ BEGIN PERFORM 1; PERFORM 2; END $$", 1),
        ("/* a; b */ SELECT 'it''s;'", 1),
        ("SELECT 1; SELECT 2", 2),
        ("DO $fn$ BEGIN PERFORM 1; END $fn$; SELECT 1", 2),
        ("DO $f1$ BEGIN PERFORM 1; PERFORM 2; END $f1$", 1),
        ("/* a; /* b; */ c; */ SELECT 1", 1),
        ("SELECT 1; /* a /* b */ */", 1),
    ],
)
def test_statement_count_skips_literals_comments_and_bodies(sql: str, count: int) -> None:
    from blocks._sql import statement_count

    assert statement_count(sql) == count


def test_a_query_of_two_statements_is_refused_at_validation(write_workflow: Any) -> None:
    """PostgreSQL refuses several commands in one prepared statement; the run used to
    find out only when it reached the block."""
    from engine.model import WorkflowError

    wf = """
    name: two_statements
    blocks:
      start: {type: manual}
      q: {type: database, query: "INSERT INTO t VALUES (1); DELETE FROM t"}
    edges: [start -> q]
    """
    with pytest.raises(WorkflowError) as info:
        write_workflow(wf)
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("q", "query")
    assert "2 statements" in problem.message


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("select E'x <f.s>' as v", "an E'…' string"),
        ("select $$<f.s>$$ as v", "a dollar-quoted $$…$$ body"),
        ("select $a1$<f.s>$a1$ as v", "a dollar-quoted $$…$$ body"),
        ('select 1 as "<f.s>"', 'a quoted "…" identifier'),
        ("select U&'<f.s>' as v", "a B'…', X'…', N'…' or U&'…' literal"),
        ("select B'<f.s>' as v", "a B'…', X'…', N'…' or U&'…' literal"),
    ],
)
def test_a_reference_where_no_bind_parameter_can_go_is_refused(
    tmp_path: Any, query: str, where: str
) -> None:
    """Such a reference used to become invalid SQL at run time (`E$1`), or stay as
    literal text without a word."""
    from engine.model import WorkflowError, load_file

    file = tmp_path / "wf.yaml"
    file.write_text(
        "name: q\nblocks:\n  f: {type: function, code: 'return {\"s\": 1}'}\n"
        f"  d: {{type: database, query: {json.dumps(query)}}}\nedges: [f -> d]\n"
    )
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("d", "query")
    assert f"<f.s> is inside {where}" in problem.message


async def test_an_escape_string_is_kept_whole_around_references(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        name: estrings
        blocks:
          f: {type: function, code: 'return {"s": "x"}'}
          d:
            type: database
            query: "select E'it\\\\'s' || '<f.s>' as v"
        edges: [f -> d]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["v"] == "it'sx"


def test_named_placeholders_inside_dollar_quotes_and_nested_comments_are_text() -> None:
    from blocks._sql import bind_named

    sql = "SELECT $a1$ :x $a1$, /* /* :x */ :x */ :x, a[1:x]"
    assert bind_named(sql, {"x": 1}, 1) == (
        "SELECT $a1$ :x $a1$, /* /* :x */ :x */ $1, a[1:x]",
        ["x"],
    )


async def test_a_reference_in_a_nested_comment_is_not_a_parameter(run_yaml: Any) -> None:
    """The comment pattern ended at the first `*/`: the reference after it became
    `$1` inside the comment, and the run failed on "the statement has 0 parameter(s)
    but 1 value(s) were given"."""
    result = await run_yaml(
        """
        name: nested_comment
        blocks:
          f: {type: function, code: 'return {"s": "x"}'}
          d: {type: database, query: "SELECT /* a /* b */ '<f.s>' */ 1 AS t"}
        edges: [f -> d]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["t"] == 1


async def test_a_typed_literal_around_a_reference_becomes_a_cast(run_yaml: Any) -> None:
    """`date '<f.d>'` is SQL's typed-literal form; as `date $1` it did not parse."""
    result = await run_yaml(
        """
        name: typed_literals
        blocks:
          f: {type: function, code: 'return {"d": "2024-01-15", "days": 3}'}
          d:
            type: database
            query: "select date '<f.d>' + integer '<f.days>' as due, DATE '<f.d>' < now() as past"
        edges: [f -> d]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["due"] == "2024-01-18" and result["output"]["past"] is True


async def test_one_reference_used_as_text_and_as_a_number_gets_two_parameters(
    run_yaml: Any,
) -> None:
    """One `$n` per reference gave the two uses one type: "column v is of type
    integer but expression is of type text", "operator does not exist: text + integer"."""
    result = await run_yaml(
        """
        name: one_ref_two_types
        blocks:
          f: {type: function, code: 'return {"n": 5, "d": {"a": 1}}'}
          d:
            type: database
            query: |
              SELECT 'id-<f.n>' AS k, <f.n> + 1 AS next, 'n=' || <f.n> AS s,
                     '<f.d>'::jsonb AS j, '<f.d>' AS t
        edges: [f -> d]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["k"] == "id-5" and result["output"]["next"] == 6
    assert result["output"]["s"] == "n=5"
    assert result["output"]["j"] == {"a": 1} and result["output"]["t"] == '{"a":1}'


async def test_a_bare_reference_takes_the_type_of_its_position(run_yaml: Any) -> None:
    """As docs/blocks/database.md says: a bare reference is `$n`, typed by where it
    stands; with nothing there to say (`SELECT <f.n>`) PostgreSQL reads text, and a
    cast gives it the type."""
    result = await run_yaml(
        """
        name: bare_refs
        blocks:
          f: {type: function, code: 'return {"n": 1, "flag": True, "doc": {"a": [1]}}'}
          d:
            type: database
            query: |
              SELECT <f.n> AS as_text, <f.n>::int AS as_int, <f.n> + 1 AS next,
                     jsonb_build_object('k', <f.n>::numeric) AS j,
                     <f.flag>::boolean AS flag, <f.doc>::jsonb AS doc
        edges: [f -> d]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row"] == {
        "as_text": "1",
        "as_int": 1,
        "next": 2,
        "j": {"k": 1},
        "flag": True,
        "doc": {"a": [1]},
    }


async def test_a_bare_reference_of_no_type_is_named_with_the_way_out(run_yaml: Any) -> None:
    """PostgreSQL's "could not determine data type of parameter $1" did not say which
    reference that was, nor what to do."""
    result = await run_yaml(
        """
        name: untyped
        blocks:
          f: {type: function, code: 'return {"n": 1}'}
          d: {type: database, query: "SELECT jsonb_build_object('k', <f.n>) AS j"}
        edges: [f -> d]
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["message"].startswith(
        "could not determine data type of parameter $1 (<f.n>): give it a type with a "
        "cast, e.g. <f.n>::numeric [SQLSTATE 42P18]"
    )
