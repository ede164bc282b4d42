"""Function: the user's Python (or JavaScript) as the body of a function of ``input``.

References in the code become variables holding their values, never source text.
Python runs in the runtime's worker-process pool, so ``timeout`` can kill it.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import tokenize
from collections.abc import Container
from typing import Any

from engine._function_worker import function_code
from engine._json import SURROGATE
from engine.context import BlockContext
from engine.function_libs import WATCH, lib_folders
from engine.graph import Upstream
from engine.javascript_refs import rewrite_javascript
from engine.model import Problem
from engine.python_refs import rewrite_python
from engine.references import REFERENCE_RE, resolve
from engine.registry import BlockHandler, register

DEFAULT_TIMEOUT_S = 30.0

log = logging.getLogger("flowyard.blocks.function")

_INPUT_USE_RE = re.compile(r"\binput\b(?:\s*\.\s*([A-Za-z_]\w*)|\s*\[\s*(['\"])([^'\"]+)\2\s*\])?")
_DICT_METHODS = frozenset(dir(dict))
#: What looks like a reference with a broken path: `<start..x>`, `<start.>`, `<a.b c>`.
_MALFORMED_REF_RE = re.compile(r"<[A-Za-z_][A-Za-z0-9_]*\.[^<>\n]*>")


def _malformed_reference(code: str, line: int) -> str | None:
    """What is wrong on ``line`` of code that does not compile, when it holds text
    such as `<start..x>` or `<f.rows[0].id>`: no reference, so it stayed as text and
    broke the code; said rather than the compiler's "invalid syntax"."""
    lines = code.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    found = _MALFORMED_REF_RE.finditer(text)
    bad = next((m for m in found if not REFERENCE_RE.fullmatch(m.group(0))), None)
    if bad is None:
        return None
    return (
        f"{bad.group(0)} on line {line} is not a valid reference: its path is "
        "names or list indexes joined by single dots, e.g. <start.x> or <start.rows.0>"
    )


def input_names(code: str) -> frozenset[str] | None:
    """The fields of ``input`` the code reads (``input.x``, ``input["x"]``), or None
    when it uses ``input`` as a whole (``dict(input)``, ``input.get(...)``, ``input[k]``)."""
    names = set()
    for m in _INPUT_USE_RE.finditer(code):
        name = m.group(1) or m.group(3)
        if name is None or name in _DICT_METHODS:
            return None
        names.add(name)
    return frozenset(names)


_NOT_STATEMENTS = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)


def _has_statement(code: str, language: str) -> bool:
    """Whether the code holds anything but blanks and comments."""
    if language == "javascript":
        from engine.javascript_refs import _spans

        comments = [(a, b) for a, b, kind in _spans(code) if kind == "comment"]
        for a, b in reversed(comments):
            code = code[:a] + " " + code[b:]
        return bool(code.strip())
    try:
        return any(
            t.type not in _NOT_STATEMENTS
            for t in tokenize.generate_tokens(io.StringIO(code).readline)
        )
    except (tokenize.TokenError, SyntaxError):  # unfinished code is not empty code
        return True


@functools.cache
def _say_javascript_unchecked() -> None:
    """Once per process: without mini-racer nothing can parse JavaScript. Validation
    goes on (the block's run says what to install); the syntax check is skipped."""
    log.warning(
        "JavaScript Function blocks are not syntax-checked: mini-racer is not installed "
        "(pip install 'flowyard[js]')"
    )


@register
class Function(BlockHandler):
    type = "function"
    category = "action"
    description = (
        "Run Python code: the body of a function receiving `input`; `return` gives the output."
    )
    config_schema = {
        "code": {
            "type": "string",
            "description": "Function body; `input.block.field` reads upstream outputs.",
        },
        "language": {"enum": ["python", "javascript"], "default": "python"},
        "isolation": {
            "enum": ["process", "inline"],
            "default": "process",
            "description": "process: a worker process that a timeout can kill. inline: no process "
            "round trip, for small trusted code; its timeout interrupts Python code but not a "
            "blocking call such as time.sleep.",
        },
    }
    required = ("code",)
    raw_keys = frozenset({"code"})
    outputs = ("result", "stdout")
    # No engine-level timer: the worker pool, the inline watchdog and the JavaScript
    # runner enforce `timeout` (DEFAULT_TIMEOUT_S unset) from when the code starts, so
    # the wait for a free worker (or thread) is not counted against it.
    times_itself = True

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self.language = self.config.get("language", "python")
        self.source: str | None = None
        self.refs: list[Any] = []
        self._libs: list[str] | None = None
        self._input_names: frozenset[str] | None = None
        self._upstream: Container[str] | None = None
        self._said_printed_lost = False

    def problems(self) -> list[Problem]:
        code = self.config.get("code")
        if not isinstance(code, str):
            return []
        if lone := SURROGATE.search(code):
            # YAML's or JSON's "\ud800": compiling it (or handing it to the JavaScript
            # runner) raised UnicodeEncodeError, a traceback from `flowyard validate`
            # and a 500 on save.
            message = f"code contains a lone UTF-16 surrogate (\\u{ord(lone.group()):04x}), which is not text"
            return [Problem(message, block=self.block.id, field="code")]
        if not _has_statement(code, self.language):
            # Refused rather than run as `return None`: the editor starts a new block
            # with empty code to show what to fill in, and Python code holding only
            # comments would not compile when the run reaches it.
            return [
                Problem(
                    "code is empty (no statement, only blanks or comments): write the "
                    f"function body; `return {'null' if self.language == 'javascript' else 'None'}`"
                    " for a block whose output is null",
                    block=self.block.id,
                    field="code",
                )
            ]
        if self.language == "javascript":
            return self._javascript_problems(code)
        if self.language != "python":
            return []
        source, refs = rewrite_python(code)
        try:
            # As a run compiles it: the code indented below a line of our own named
            # lines (and Python's own "on line N") one off, and refused code indented
            # as a whole as "unindent does not match" on a line past its end.
            function_code(source, [f"__ref_{i}" for i in range(len(refs))])
        except RecursionError:
            # Python's own compiler gives up on an expression ~1,000 levels deep (a sum
            # of a thousand terms); a traceback from `flowyard validate`, a 500 on save.
            message = (
                "code is nested too deeply for Python to compile (an expression of about "
                "1,000 terms or levels): split it, e.g. sum([...]) over a list"
            )
            return [Problem(message, block=self.block.id, field="code")]
        except SyntaxError as exc:
            line = exc.lineno or 1
            if bad := _malformed_reference(code, line):
                return [Problem(bad, block=self.block.id, field="code")]
            return [
                Problem(
                    f"Python syntax error on line {line}: {exc.msg}",
                    block=self.block.id,
                    field="code",
                )
            ]
        return []

    def _javascript_problems(self, code: str) -> list[Problem]:
        """V8's syntax check of the code as it would run (references as variables),
        so a typo is found at validation rather than when a run reaches the block."""
        from blocks._javascript import JavaScriptUnavailable, syntax_error

        source, refs = rewrite_javascript(code)
        try:
            found = syntax_error(source, [f"__ref_{i}" for i in range(len(refs))])
        except JavaScriptUnavailable:
            _say_javascript_unchecked()
            return []
        if found is None:
            return []
        line, message = found
        if line is None:
            # V8 stopped on the wrapper's text after the code, and its message names
            # that text (a '}' the user never wrote): say what it means instead.
            message = (
                "JavaScript syntax error at the end of the code: something is left open "
                "(a bracket, brace, quote, comment or expression) or closed once too often"
            )
        else:
            # V8 said "Unexpected token '<'" for `<f.rows[0].id>`, as Python said
            # "invalid syntax": the reference is named for both.
            message = _malformed_reference(code, line) or (
                f"JavaScript syntax error on line {line}: {message}"
            )
        return [Problem(message, block=self.block.id, field="code")]

    def references_in_raw(self) -> dict[str, Any]:
        code = self.config.get("code")
        if not isinstance(code, str):
            return super().references_in_raw()
        # A reference a comment mentions is never resolved: it need not name a block
        # upstream (one in a string literal is refused by validation on its own).
        return {"code": [ref.text for ref in self._rewrite(code, None)[1]]}

    def _rewrite(self, code: str, known_roots: Any) -> tuple[str, list[Any]]:
        # Both leave comments (and literals, refused at validation) as written, so a
        # reference a comment mentions is never resolved.
        rewrite = rewrite_javascript if self.language == "javascript" else rewrite_python
        return rewrite(code, known_roots)

    def _compiled(self, known_roots: Any) -> tuple[str, list[Any]]:
        if self.source is None:
            self.source, self.refs = self._rewrite(self.config["code"], known_roots)
            self._input_names = input_names(self.source)
        return self.source, self.refs

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> Any:
        source, refs = self._compiled(ctx.run.plan.known_roots)
        args = [resolve(ref, ctx.frame) for ref in refs]
        ctx.inputs = {ref.text: value for ref, value in zip(refs, args, strict=True)}
        timeout = self.block.timeout or DEFAULT_TIMEOUT_S
        # Only what Python code reads of `input` is gathered (and crosses to the worker),
        # so a loop body does not ship a whole upstream result list every iteration.
        names = self._input_names if self.language == "python" else None
        visible = ctx.frame.visible(self._upstream_of(ctx), names)
        whole = names is None
        if self.language == "javascript":
            from blocks._javascript import run_js_parts_async

            # On a thread; a cancel of the run (or the process stopping) stops the code.
            variables = {f"__ref_{i}": a for i, a in enumerate(args)}
            value, stdout = await run_js_parts_async(source, visible, timeout, variables=variables)
        elif self.config.get("isolation") == "inline":
            names = [f"__ref_{i}" for i in range(len(refs))]
            libs = self._lib_dirs(ctx)
            version = await WATCH.current(libs) if libs else None
            value, stdout = ctx.services.functions.inline.call(
                source, names, args, visible, libs, version, timeout, whole_input=whole
            )
        else:
            value, stdout = await ctx.services.functions.call(
                source,
                [f"__ref_{i}" for i in range(len(refs))],
                args,
                visible,
                self._lib_dirs(ctx),
                timeout,  # the worker is killed at this deadline
                whole_input=whole,
            )
        return self._output(ctx, value, stdout)

    def _output(self, ctx: BlockContext, value: Any, stdout: str) -> dict[str, Any]:
        """The returned value (a non-dict as ``result``), and what the code printed
        as ``stdout`` when it printed anything and returned no ``stdout`` of its own.

        The returned value is the output, as in Windmill or n8n (where printed text is
        a log beside it): a returned ``stdout`` field is kept, and the printed text
        has no place left. That is said once per block and process, by its size
        only: printed text may hold a secret, which the log must not."""
        output = value if isinstance(value, dict) else {"result": value}
        if not stdout:
            return output
        if "stdout" not in output:
            return {**output, "stdout": stdout}
        if not self._said_printed_lost:
            self._said_printed_lost = True
            log.warning(
                "block %r of workflow %r printed %d characters that are not in its output: "
                "it returned a `stdout` field of its own, which is kept as returned "
                "(docs/blocks/function.md, 'Output'); rename that field to see the text",
                self.block.id, ctx.run.workflow.name, len(stdout),
            )  # fmt: skip
        return output

    def _upstream_of(self, ctx: BlockContext) -> Container[str]:
        """The blocks whose outputs ``input`` may hold, once per loaded workflow: of the
        names the code reads, those upstream; asked name by name when it reads
        ``input`` as a whole. (Each block's every upstream block, as a set, made a
        workflow of n Functions hold n² names: 700 MB for a chain of 5,000.)"""
        if self._upstream is None:
            upstream = Upstream(ctx.run.plan, self.block.id)
            names = self._input_names if self.language == "python" else None
            self._upstream = (
                upstream if names is None else frozenset(n for n in names if n in upstream)
            )
        return self._upstream

    def _lib_dirs(self, ctx: BlockContext) -> list[str]:
        """Shared Python modules next to the workflow (engine/function_libs.py)."""
        if self._libs is None:
            file = ctx.run.workflow.file
            self._libs = lib_folders(file, ctx.services.lib_roots) if file else []
        return self._libs
