"""A `.json` workflow file is read as strictly as a YAML one: a key written twice (a
block id, `name`, a block's `type`) is refused naming it, where the last copy used
to win silently; NaN and Infinity, which JSON does not have, are refused too."""

from __future__ import annotations

from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

START = '"start": {"type": "manual"}'


def test_a_duplicate_block_id_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '{"name": "d", "blocks": {' + START + ', "f": {"type": "function", "code": "return 1"},'
        ' "f": {"type": "function", "code": "return 2"}}, "edges": ["start -> f"]}',
        "bad.json",
    )
    assert found == [f"{tmp_path / 'bad.json'}: block 'f': field 'blocks': duplicate block id 'f'"]


def test_a_duplicate_name_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, '{"name": "a", "name": "b", "blocks": {' + START + "}}", "bad.json")
    assert found == [f"{tmp_path / 'bad.json'}: duplicate key 'name'"]


def test_a_duplicate_key_in_a_block_names_block_and_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '{"name": "a", "blocks": {"start": {"type": "manual", "type": "webhook"}}}',
        "bad.json",
    )
    assert found == [f"{tmp_path / 'bad.json'}: block 'start': field 'type': duplicate key 'type'"]


def test_a_duplicate_key_deeper_in_a_block_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '{"name": "a", "blocks": {' + START + ', "h": {"type": "http", "url": "http://x",'
        ' "json": {"a": 1, "a": 2}}}, "edges": ["start -> h"]}',
        "bad.json",
    )
    assert found == [f"{tmp_path / 'bad.json'}: block 'h': field 'json.a': duplicate key 'a'"]


def test_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    for number in ("NaN", "Infinity", "-Infinity", "1e999"):
        found = problems(
            tmp_path,
            '{"name": "a", "blocks": {"start": {"type": "manual", "timeout": ' + number + "}}}",
            "bad.json",
        )
        assert len(found) == 1 and "cannot parse" in found[0], found
        assert number.lstrip("-") in found[0], found
