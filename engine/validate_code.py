"""Validation of what blocks hold as code (Function code, expressions): references
written where they would be text — inside a string literal — and `<nosuch>` that is
neither a reference nor code. A part of engine.validate, kept apart to stay short."""

from __future__ import annotations

import ast
import textwrap

from engine._json import SURROGATE
from engine.graph import Plan
from engine.javascript_refs import LiteralReference, references_in_javascript_literals
from engine.model import Problem
from engine.python_refs import StringReference, references_in_python_strings, rewrite_python
from engine.references import REFERENCE_RE, references_in
from engine.validate_scope import checked_fields


def string_literal_problems(plan: Plan) -> list[Problem]:
    """References inside string literals of Python code (Function code, expressions)
    and of JavaScript Function code.

    There a reference is text, not the value: `return "<input.s>"` cannot mean what
    it seems to. Refused with the way to write it, rather than run with a string
    that silently holds something else than the user wrote.
    """
    problems = []
    for bid, h in plan.handlers.items():
        # Condition and loop blocks expose their compiled expressions by field.
        sources = {field: e.text for field, e in getattr(h, "expressions", {}).items()}
        code = h.config.get("code")
        if h.type == "function" and h.language == "python":
            sources["code"] = code
        elif h.type == "function" and h.language == "javascript":
            # JavaScript: a literal's text is text too (strings, template text, regexes).
            for found in references_in_javascript_literals(str(code or ""), plan.known_roots):
                message = _in_a_javascript_literal(found)
                problems.append(Problem(message, plan.workflow.file, bid, "code"))
        for field, text in sources.items():
            if not isinstance(text, str):
                continue
            for found in references_in_python_strings(text, plan.known_roots):
                many_lines = field == "code" or "\n" in text.strip()
                message = _in_a_string(found, f" on line {found.line}" if many_lines else "")
                problems.append(Problem(message, plan.workflow.file, bid, field))
    return problems


def bare_name_problems(plan: Plan) -> list[Problem]:
    """``<nosuch>`` as Python Function code: not a reference (no such block or
    variable, so it is left as written, like an HTML tag) and not Python either —
    found here, naming it, rather than as a SyntaxError when a run reaches it."""
    problems = []
    for bid, h in plan.handlers.items():
        code = h.config.get("code")
        if h.type != "function" or h.language != "python":
            continue
        if not isinstance(code, str) or SURROGATE.search(code):
            continue  # a lone surrogate cannot be compiled: the Function block says so
        source, _ = rewrite_python(code, plan.known_roots)
        try:
            compile(f"def f():\n{textwrap.indent(source, '    ')}", "<code>", "exec")
        except RecursionError:
            continue  # too deeply nested to compile: the Function block says so
        except SyntaxError as exc:
            # The error may sit past the code's last line (empty code, an open bracket).
            lines, at = code.splitlines(), (exc.lineno or 2) - 2
            line = lines[at] if 0 <= at < len(lines) else ""
            for m in REFERENCE_RE.finditer(line):
                if m.group(1) not in plan.known_roots:
                    message = (
                        f"<{m.group(1)}{m.group(2)}> on line {(exc.lineno or 2) - 1} names no "
                        "block upstream, nor a loop variable here"
                    )
                    problems.append(Problem(message, plan.workflow.file, bid, "code"))
                    break
    return problems


#: What a Function block's output holds however its code ends: a non-dict return's
#: `result`, printed text's `stdout`, and with `on_error: continue` the `error`.
_ALWAYS_THERE = frozenset({"result", "stdout", "error"})


def no_return_problems(plan: Plan) -> list[Problem]:
    """A reference to a field of a Python Function whose code has no `return`: its
    output is always {result: null}, so `<f.total>` failed every run, blamed on the
    block reading it (or, in Function code, as NoneType arithmetic) while the mistake
    is the forgotten `return`. Said at the reference, naming the block to fix."""
    silent = {
        bid
        for bid, h in plan.handlers.items()
        if h.type == "function" and h.language == "python" and _never_returns(h.config.get("code"))
    }
    if not silent:
        return []
    wf, problems = plan.workflow, []
    fields = [
        (bid, key, value) for bid, h in plan.handlers.items() for key, value, _ in checked_fields(h)
    ]
    for bid, key, value in [*fields, (None, "output", wf.output)]:
        for ref in references_in(value, plan.known_roots):
            if ref.root in silent and ref.path and ref.path[0] not in _ALWAYS_THERE:
                message = (
                    f"reference {ref.text}: the code of block {ref.root!r} has no return "
                    f"statement, so its output is always {{result: null}}: end that code with "
                    f'return {{"{ref.path[0]}": …}}'
                )
                problems.append(Problem(message, wf.file, bid, key))
    return problems


def _never_returns(code: object) -> bool:
    """Whether Python Function code has no `return` of its own (one inside a function
    or class it defines does not count); False for code that does not compile."""
    if not isinstance(code, str) or SURROGATE.search(code):
        return False
    source, _ = rewrite_python(code)
    try:
        tree = ast.parse(f"def f():\n{textwrap.indent(source, '    ')}")
    except (SyntaxError, RecursionError, ValueError):
        return False
    todo: list[ast.AST] = list(tree.body[0].body) if tree.body else []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            return False
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return True


def _in_a_string(found: StringReference, where: str) -> str:
    ref = found.ref.text
    if found.fstring:
        return (
            f"reference {ref} is in the text of an f-string{where}, where it is not "
            f'replaced: put it in braces, f"…{{{ref}}}…"'
        )
    return (
        f"reference {ref} is inside a string literal{where}: in code a reference is a "
        f'variable holding the value, not text; write it outside the quotes, e.g. "…" + '
        f'str({ref}) or f"…{{{ref}}}…"'
    )


def _in_a_javascript_literal(found: LiteralReference) -> str:
    ref, where = found.ref.text, f" on line {found.line}"
    if found.where == "template":
        return (
            f"reference {ref} is in the text of a template literal{where}, where it is not "
            f"replaced: put it in ${{…}}, `…${{{ref}}}…`"
        )
    if found.where == "regex":
        return (
            f"reference {ref} is inside a regular expression literal{where}, where it is "
            f'only text: build the pattern from the value, e.g. new RegExp("…" + {ref})'
        )
    return (
        f"reference {ref} is inside a string literal{where}: in code a reference is a "
        f'variable holding the value, not text; write it outside the quotes, e.g. "…" + '
        f"{ref} or `…${{{ref}}}…`"
    )
