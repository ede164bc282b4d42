"""What a Function prints is kept up to MAX_PRINTED_CHARS (1 MiB of text), the rest
counted and said at the end of `stdout`: a debug print in a long loop made the
block's output as large as everything printed (real embedded PostgreSQL)."""

from __future__ import annotations

import pytest

from engine._function_worker import MAX_PRINTED_CHARS

PRINTS = {
    "python": 'for i in range(3000):\n  print("y" * 999)\nreturn {"done": True}',
    "javascript": 'for (let i = 0; i < 3000; i++) console.log("y".repeat(999));\nreturn {done: true};',
}

WORKFLOW = """
name: printer_{suffix}
blocks:
  start: {{type: manual}}
  p:
    type: function
    language: {language}
    isolation: {isolation}
    code: {code}
edges: [start -> p]
"""


@pytest.mark.parametrize(
    ("language", "isolation"),
    [("python", "process"), ("python", "inline"), ("javascript", "process")],
)
async def test_printed_text_is_kept_up_to_the_limit_and_the_rest_counted(
    run_yaml, language: str, isolation: str
) -> None:
    text = WORKFLOW.format(
        suffix=f"{language}_{isolation}",
        language=language,
        isolation=isolation,
        code=__import__("json").dumps(PRINTS[language]),
    )
    result = await run_yaml(text, {})
    assert result["status"] == "succeeded", result["error"]
    output = result["blocks"]["p"]["output"]
    assert output["done"] is True
    stdout = output["stdout"]
    printed = 3000 * 1000 - (1 if language == "python" else 0)  # ~3 MB with the newlines
    assert len(stdout) < MAX_PRINTED_CHARS + 200
    assert stdout.startswith("y" * 999 + "\n" + "y" * 999)
    note = stdout[MAX_PRINTED_CHARS:]
    assert note.startswith("…\n[flowyard: ") and "more characters printed were not kept" in note
    dropped = int(note.split()[2].replace(",", ""))
    assert printed - MAX_PRINTED_CHARS - 3000 <= dropped <= printed - MAX_PRINTED_CHARS + 1


async def test_text_under_the_limit_is_kept_whole(run_yaml) -> None:
    code = 'print("a", 1); print("b"); return {"ok": 1}'
    text = WORKFLOW.format(suffix="short", language="python", isolation="process", code=repr(code))
    result = await run_yaml(text, {})
    assert result["blocks"]["p"]["output"] == {"ok": 1, "stdout": "a 1\nb\n"}


CUT_SECRET = {
    # The kept text ends with the secret's first 8 characters.
    "python": "import sys\nsys.stdout.write('x' * ({keep} - 8))\nprint(<env.FN1_CUT_SECRET>)\nreturn 1",
    "javascript": "console.log('x'.repeat({keep} - 8) + <env.FN1_CUT_SECRET>);\nreturn 1;",
}


@pytest.mark.parametrize(
    ("language", "isolation"),
    [("python", "process"), ("python", "inline"), ("javascript", "process")],
)
async def test_a_secret_cut_at_the_limit_leaves_nothing_of_itself(
    runtime, run_yaml, language: str, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut, made where the run's secrets are not known (a worker), kept the
    secret's first characters, and redaction, which looks for whole secrets, let
    them into the run's record."""
    monkeypatch.setitem(__import__("os").environ, "FN1_CUT_SECRET", "s3cr3t-VALUE-xyz")
    code = CUT_SECRET[language].format(keep=MAX_PRINTED_CHARS)
    text = WORKFLOW.format(
        suffix=f"cut_{language}_{isolation}",
        language=language,
        isolation=isolation,
        code=__import__("json").dumps(code),
    )
    result = await run_yaml(text, {})
    assert result["status"] == "succeeded", result["error"]
    stored = await runtime.run_result(result["execution_id"])
    for stdout in (
        result["blocks"]["p"]["output"]["stdout"],
        stored["blocks"]["p"]["output"]["stdout"],
    ):
        kept = stdout[: stdout.index("[flowyard: ")]
        assert "s3cr3t" not in kept, kept[-40:]
        assert kept.startswith("x" * 1000) and kept.rstrip("\n…").endswith("x***")
