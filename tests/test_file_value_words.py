"""A value out of its set, a `version` other than 1 and seconds written with their unit
are said in the user's words: the schema said "'ignore' is not one of ['fail',
'continue']" (a Python list), "1 was expected" for `version: "1"` (which reads as 1
to a person) and "'5s' is not of type 'number'"."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

BASE = "name: t\nblocks:\n  start: {type: manual}\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            BASE + "  f: {type: function, code: 'return 1', on_error: contineu}\n",
            "block 'f': field 'on_error': 'contineu' is not one of fail, continue; did you mean "
            "'continue'?",
        ),
        (
            BASE + "  f: {type: function, code: 'return 1', language: pyhton}\n",
            "block 'f': field 'language': 'pyhton' is not one of python, javascript; did you "
            "mean 'python'?",
        ),
        (
            'version: "1"\n' + BASE,
            "field 'version': `version` is the format's version, the number 1 (no quotes): "
            "write `version: 1`, not '1'",
        ),
        (
            "version: 2\n" + BASE,
            "field 'version': `version` is the format's version, the number 1 (no quotes): "
            "write `version: 1`, not 2",
        ),
        (
            BASE + "  f: {type: function, code: 'return 1', timeout: 5s}\n",
            "block 'f': field 'timeout': `timeout` is a number of seconds, not text: write "
            "`timeout: 5`, not '5s'",
        ),
        (
            BASE + "  f: {type: function, code: 'return 1', retry_backoff: 0.5 seconds}\n",
            "block 'f': field 'retry_backoff': `retry_backoff` is a number of seconds, not "
            "text: write `retry_backoff: 0.5`, not '0.5 seconds'",
        ),
    ],
)
def test_the_value_is_said_in_words(tmp_path: Path, text: str, says: str) -> None:
    assert problems(tmp_path, text) == [f"{tmp_path}/bad.yaml: {says}"]
