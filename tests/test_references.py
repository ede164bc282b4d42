"""References: parsing, typed resolution, optional refs, SQL and code rewriting."""

from __future__ import annotations

import string
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scopes import Scope as DictScope

from engine.python_refs import rewrite_python
from engine.references import MissingReference, compile_value, parse, resolve
from engine.sql_references import rewrite_sql

SCOPE = DictScope(
    {
        "db": {"rows": [{"id": 7, "tags": ["a"]}], "n": 3, "obj": {"k": "v"}},
        "env": {"KEY": "s3cret"},
    }
)


def test_lone_reference_keeps_type() -> None:
    assert compile_value("<db.rows>").resolve(SCOPE) == [{"id": 7, "tags": ["a"]}]
    assert compile_value("<db.rows.0.id>").resolve(SCOPE) == 7
    assert compile_value("<db.n>").resolve(SCOPE) == 3


def test_reference_in_text_renders_text_and_json() -> None:
    assert compile_value("n=<db.n>").resolve(SCOPE) == "n=3"
    assert compile_value("o=<db.obj>").resolve(SCOPE) == 'o={"k":"v"}'
    assert compile_value({"a": ["x <db.n>", "<db.rows.0.tags>"]}).resolve(SCOPE) == {
        "a": ["x 3", ["a"]]
    }


def test_keys_in_any_script_are_path_segments() -> None:
    # `<start.größe?>` was "not a valid reference": segments were ASCII only.
    scope = DictScope({"order": {"größe": "XL", "数量": 2, "x²": [5]}})
    assert compile_value("<order.größe>").resolve(scope) == "XL"
    assert compile_value("Menge <order.数量>").resolve(scope) == "Menge 2"
    # `²` is a digit to str.isdigit; it is a key, never a list index.
    assert compile_value("<order.x².0>").resolve(scope) == 5
    with pytest.raises(MissingReference, match="'²'"):
        compile_value("<order.x².²>").resolve(scope)


def test_optional_reference_is_null() -> None:
    assert compile_value("<db.missing?>").resolve(SCOPE) is None
    assert compile_value("<nothere.x?>").resolve(SCOPE) is None


def test_missing_field_names_the_reference() -> None:
    with pytest.raises(MissingReference, match=r"<db\.rows\.0\.nope>.*'nope'"):
        compile_value("<db.rows.0.nope>").resolve(SCOPE)
    with pytest.raises(MissingReference, match=r"<db\.rows\.5>"):
        compile_value("<db.rows.5>").resolve(SCOPE)


def test_env_values_are_noted_as_secrets() -> None:
    scope = DictScope(SCOPE.values)
    assert compile_value("Bearer <env.KEY>").resolve(scope) == "Bearer s3cret"
    assert scope.secrets == {"s3cret"}


def test_html_is_not_a_reference_but_dotted_typos_are() -> None:
    assert [r.text for _, _, r in parse("<b>hi</b> <db.n>", known_roots={"db"})] == ["<db.n>"]
    assert [r.text for _, _, r in parse("<dbx.n>", known_roots={"db"})] == ["<dbx.n>"]
    assert parse("a < b and c > d") == []


def test_sql_rewriting_forms() -> None:
    sql, refs = rewrite_sql("SELECT '<a.x>', '<a.y>'::jsonb, <a.z>, '<a.x>' -- '<a.q>'")
    assert sql == "SELECT $1, $2::jsonb, $3, $4 -- '<a.q>'"
    assert [r.text for r in refs] == ["<a.x>", "<a.y>", "<a.z>", "<a.x>"]
    sql, refs = rewrite_sql("SELECT 'id-<a.x>-end', $tag$ <a.y> $tag$")
    assert sql == "SELECT ('id-' || coalesce($1::text, '') || '-end'), $tag$ <a.y> $tag$"


async def test_sql_injection_value_is_stored_verbatim(database_url: str, tmp_path) -> None:
    table = f"refs_victim_{abs(hash(str(tmp_path))) % 10**8}"
    evil = f"x'); DROP TABLE {table}; --"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (v text)")
        sql, refs = rewrite_sql(f"INSERT INTO {table} (v) VALUES ('<a.v>') RETURNING v")
        row = await conn.fetchrow(sql, *[resolve(r, DictScope({"a": {"v": evil}})) for r in refs])
        assert row["v"] == evil
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


def test_code_gets_variables_not_source() -> None:
    code, refs = rewrite_python("return <a.b> + <a.b> * <c.d>")
    assert code == "return __ref_0 + __ref_0 * __ref_1"
    assert [r.text for r in refs] == ["<a.b>", "<c.d>"]


# -- property-based ---------------------------------------------------------------

ident = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
segment = st.one_of(ident, st.integers(0, 99).map(str))
texts = st.text(alphabet=string.ascii_letters + string.digits + " .,;:'\"()=!", max_size=30)


@given(
    root=ident,
    path=st.lists(segment, max_size=4),
    optional=st.booleans(),
    before=texts,
    after=texts,
)
def test_parser_finds_any_reference_embedded_in_text(
    root: str, path: list[str], optional: bool, before: str, after: str
) -> None:
    ref_text = "<" + ".".join([root, *path]) + ("?" if optional else "") + ">"
    found = parse(before + ref_text + after)
    assert len(found) == 1
    start, end, ref = found[0]
    assert (ref.root, list(ref.path), ref.optional) == (root, path, optional)
    assert (before + ref_text + after)[start:end] == ref_text


@given(texts)
def test_text_without_angle_brackets_is_constant(text: str) -> None:
    assert compile_value(text).resolve(SCOPE) == text


@given(
    st.recursive(
        st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none()),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(ident, c, max_size=3),
        max_leaves=10,
    )
)
def test_lone_reference_round_trips_any_json_value(value: Any) -> None:
    assert compile_value("<db.v>").resolve(DictScope({"db": {"v": value}})) == value


@given(st.text(max_size=40))
def test_sql_rewrite_never_leaves_a_reference_outside_literals(value: str) -> None:
    sql, refs = rewrite_sql(f"SELECT '<a.x>', <a.y>, '{value.replace(chr(39), chr(39) * 2)}'")
    assert sql.startswith("SELECT $1, $2, ")
    assert [r.text for r in refs][:2] == ["<a.x>", "<a.y>"]
