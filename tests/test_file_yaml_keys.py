"""Workflow YAML is read as YAML 1.2's core schema has it, and every key is text.

PyYAML follows YAML 1.1: a block id `on` became True (it validated, ran, and then
could not be saved from the editor), `yes:` inside a JSON body became true, `name:
0123` was said to be 83, and a list as a key was a TypeError traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file, load_text, read_document
from engine.yaml_writer import dump_yaml

HEAD = "name: t\nblocks:\n  start: {type: manual}\n"


def _load(tmp_path: Path, text: str):  # noqa: ANN202 - a Workflow
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return load_file(path)


def test_yaml_11_words_are_text(tmp_path: Path) -> None:
    wf = _load(
        tmp_path,
        "name: yes\nblocks:\n  start: {type: manual}\n  on: {type: function, code: 'return 5'}\n"
        "  h: {type: http, url: 'http://x', json: {on: 1, off: 2, yes: 3, no: 4, y: 5, n: Y}}\n"
        "edges: [start -> on, on -> h]\n",
    )
    assert wf.name == "yes"
    assert list(wf.blocks) == ["start", "on", "h"]
    assert wf.blocks["h"].config["json"] == {"on": 1, "off": 2, "yes": 3, "no": 4, "y": 5, "n": "Y"}


def test_only_true_and_false_are_booleans_and_nothing_is_a_date(tmp_path: Path) -> None:
    wf = _load(
        tmp_path,
        "name: t\ndescription: 2024-01-01\nblocks:\n  start: {type: manual}\n"
        "  h: {type: http, url: 'http://x', fail_on_status: FALSE,"
        " json: {a: True, b: 0123, c: 0o17, d: 1:20, e: 1_000, f: ~}}\n"
        "edges: [start -> h]\n",
    )
    assert wf.description == "2024-01-01"
    assert wf.blocks["h"].config["fail_on_status"] is False
    assert wf.blocks["h"].config["json"] == {
        "a": True, "b": 123, "c": 15, "d": "1:20", "e": "1_000", "f": None,
    }  # fmt: skip


def test_an_unknown_key_in_a_block_is_unknown_whatever_it_looks_like(tmp_path: Path) -> None:
    found = problems(
        tmp_path, HEAD + "  f: {type: function, code: 'return 5', on: 1}\nedges: [start -> f]\n"
    )
    assert len(found) == 1 and "block 'f': field 'on': unknown key 'on'" in found[0], found
    found = problems(
        tmp_path, HEAD + "  f: {type: function, code: 'return 5', 12: x}\nedges: [start -> f]\n"
    )
    assert len(found) == 1 and "block 'f': field '12': unknown key 12 (line 4" in found[0], found


def test_a_key_that_is_not_text_is_named_at_top_level(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + "1: x\n")
    assert len(found) == 1 and "field '1': unknown key 1 (line 4" in found[0], found


def test_a_list_as_a_key_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + "layout: {? [a] : [1, 2]}\n")
    assert len(found) == 1 and "field 'layout': key [a] (line 4" in found[0], found


def test_no_false_duplicate_between_yes_and_1(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  h: {type: http, url: 'http://x', json: {yes: 1, 1: 2}}\nedges: [start -> h]\n",
    )
    assert not any("duplicate key" in p for p in found), found
    assert len(found) == 1 and "block 'h': field 'json': key 1 (line 4" in found[0], found


def test_null_or_true_as_a_block_id_is_refused(tmp_path: Path) -> None:
    for word in ("null", "true", "false"):
        found = problems(tmp_path, HEAD + f"  {word}: {{type: function, code: 'return 1'}}\n")
        assert len(found) == 1 and f"block id {word} (line 4" in found[0], found
    # Quoted, it is text like any id.
    assert "null" in _load(tmp_path, HEAD + "  'null': {type: function, code: 'return 1'}\n").blocks


def test_a_number_as_text_says_what_was_written(tmp_path: Path) -> None:
    found = problems(tmp_path, "name: 0123\nblocks:\n  start: {type: manual}\n")
    assert found == [
        f"{tmp_path / 'bad.yaml'}: field 'name': 0123 is read as a number (123), not text: "
        "write it in quotes ('0123') to keep it as text"
    ]


@pytest.mark.parametrize("written", ["null", "5", "~"])
def test_a_time_zone_that_is_no_text_is_told_to_be_a_zone_name(
    tmp_path: Path, written: str
) -> None:
    # "write it in quotes ('null')" was advised, and 'null' is then an unknown time zone.
    text = f'name: t\nblocks:\n  tick: {{type: schedule, cron: "0 9 * * *", timezone: {written}}}\n'
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'bad.yaml'}: block 'tick': field 'timezone': `timezone` is a time zone"
        f" name such as 'Europe/Berlin' (leave it out for UTC), not {written}"
    ]


def test_an_empty_value_is_not_told_to_be_quoted(tmp_path: Path) -> None:
    # It said "write it in quotes ('') to keep it as text", and `if: ''` is then
    # `bad expression '': invalid syntax`.
    for field in ("if: ", "if:"):
        found = problems(
            tmp_path, HEAD + f"  c:\n    type: condition\n    {field}\nedges: [start -> c]\n"
        )
        assert found == [
            f"{tmp_path / 'bad.yaml'}: block 'c': field 'if': is empty (YAML reads nothing"
            " after the colon as null): write a value"
        ]


def test_merge_keys_are_refused_in_words(tmp_path: Path) -> None:
    found = problems(tmp_path, "d: &d {type: manual}\nname: t\nblocks:\n  start: {<<: *d}\n")
    assert len(found) == 1 and "merge keys (`<<: *anchor`, line 4) are not supported" in found[0]


def test_a_value_holding_itself_or_nested_too_deep_is_a_problem(tmp_path: Path) -> None:
    for value in ("&x [*x]", "&x {a: *x}", "[" * 3000 + "]" * 3000, "[" * 150 + "]" * 150):
        found = problems(
            tmp_path,
            HEAD + f"  h: {{type: http, url: 'http://x', json: {value}}}\nedges: [start -> h]\n",
        )
        assert len(found) == 1, found
        assert "contains itself" in found[0] or "nested" in found[0], found


def test_text_a_yaml_12_reader_sees_as_a_number_is_written_quoted() -> None:
    doc = {"name": "t", "json": {"a": "1e3", "b": "0o17", "c": "y", "d": "on", "e": "0123"}}
    text = dump_yaml(doc)
    assert "a: '1e3'" in text and "b: '0o17'" in text and "c: 'y'" in text
    assert read_document(text) == doc and yaml.safe_load(text) == doc


def test_the_saved_form_of_a_yaml_11_word_loads_back() -> None:
    doc = read_document(HEAD + "  on: {type: function, code: 'return 5'}\nedges: [start -> on]\n")
    assert load_text(dump_yaml(doc), "t.yaml").blocks.keys() == {"start", "on"}


@pytest.mark.parametrize("text", ["x\x85y", "ends\x85", "\x85", "a\x85b\nc", "l\u2028s\u2029p"])
def test_text_holding_a_next_line_character_is_written_as_it_reads_back(text: str) -> None:
    """U+0085 (NEL, what Windows-1252's "…" becomes read as Latin-1) is a line break
    to YAML: written raw inside quotes it read back as a space, so a save (the editor's,
    a template copy) changed the text — an email's body, a JSON field sent on."""
    doc = {"name": "t", "json": {"a": text}}
    written = dump_yaml(doc)
    assert read_document(written) == doc and yaml.safe_load(written) == doc


LITERAL_TEXTS = [
    "if a:\n    b\n    \nreturn 2\n",  # a blank line keeping its indentation
    "x = 1   \nreturn x\n",  # trailing blanks on a line
    "x = 1\n\treturn x\n",  # a tab
    "  indented\n\n    more\nlast",  # leading blanks, no final newline
    "\n\nafter two newlines\n",
    "x = 1\n\n\n",  # blank lines at the end
    "a  \n  \n\t\n b\t\n",
]


@pytest.mark.parametrize("text", LITERAL_TEXTS)
def test_multi_line_text_with_blanks_at_line_ends_or_tabs_is_a_literal_block(text: str) -> None:
    """Code with a line's trailing blanks, a blank line keeping its indentation or a tab
    (what a text area and a pasted snippet hold) was written as one double-quoted line,
    "if a:\\n    b\\n    \\nreturn 2\\n": the file's diff of a one-line edit of the code
    was one unreadable line. A literal block holds such text as written."""
    doc = {"name": "t", "code": text}
    written = dump_yaml(doc)
    assert written.startswith("name: t\ncode: |"), written
    assert read_document(written) == doc and yaml.safe_load(written) == doc
