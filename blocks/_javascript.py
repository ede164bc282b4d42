"""JavaScript for Function blocks (``language: javascript``), run in V8 via mini-racer.

The code is the body of an (async) function receiving ``input``, as in the Python
Function block, so a snippet written for Sim/n8n runs unchanged::

    return {event_id: crypto.randomUUID(), at: new Date().toISOString(),
            order: input.webhook.body.order_id}

Each call gets a fresh V8 context (about 5 ms): nothing a snippet leaves on
``globalThis`` can leak into another run. A call cancelled (its run cancelled, the
process stopping) ends the code at once, wherever it is (_javascript_evaluation.py).
Values cross the boundary as JSON, so the result is plain dicts/lists/str/numbers;
an integer beyond 2^53 goes in as a BigInt and a BigInt comes out as its exact
integer (JavaScript's numbers would round it). mini-racer is the optional
``flowyard[js]`` extra; it is imported lazily so the engine works without it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import re
import time
from typing import Any

from blocks._javascript_evaluation import (
    JS_MEMORY_LIMIT,
    Evaluation,
    EvaluationStopped,
    settling,
)
from engine._function_values import MAX_OUTPUT_CHARS, encode_output
from engine._function_worker import MAX_PRINTED_CHARS, cut_note

__all__ = [
    "EvaluationStopped",
    "JavaScriptError",
    "JavaScriptUnavailable",
    "run_js",
    "run_js_parts",
    "run_js_async",
    "run_js_parts_async",
    "syntax_error",
]


class JavaScriptError(RuntimeError):
    """The snippet threw, did not parse, or returned something JSON cannot carry."""

    def __init__(self, message: str, stdout: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout

    @property
    def printed_output(self) -> dict[str, str] | None:
        """What the code printed before it threw, as the failed block's output
        (engine/executor.py records it), as a Python Function's."""
        return {"stdout": self.stdout} if self.stdout else None


#: What the code printed, read once it threw (the prelude's console keeps it).
_PRINTED = (
    "JSON.stringify({stdout: globalThis.__flowyard_stdout.join('\\n'),"
    " dropped: globalThis.__flowyard_dropped()})"
)


class JavaScriptUnavailable(RuntimeError):
    """mini-racer is not installed."""


# Bare V8 has no `crypto` (it is a Web/Node API). The polyfill draws from bytes that
# Python's os.urandom supplies per call, so UUIDs are cryptographically random; once
# the pool is used up it falls back to Math.random rather than failing the snippet.
_PRELUDE = r"""
(function () {
  const pool = %(pool)s;
  let pos = 0;
  function getRandomValues(arr) {
    for (let i = 0; i < arr.length; i++) {
      arr[i] = pos < pool.length ? pool[pos++] : Math.floor(Math.random() * 256);
    }
    return arr;
  }
  function randomUUID() {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }
  if (typeof globalThis.crypto === "undefined") globalThis.crypto = {};
  if (!globalThis.crypto.randomUUID) globalThis.crypto.randomUUID = randomUUID;
  if (!globalThis.crypto.getRandomValues) globalThis.crypto.getRandomValues = getRandomValues;
  const lines = [];
  // Printing never fails the code, as in Node: what JSON cannot hold (a BigInt, an
  // object that contains itself) is shown as text. A failure here would be reported
  // at a line of this prelude, which is no line of the user's code.
  const shown = (k, v) => (typeof v === "bigint" ? v + "n" : v);
  const fmt = (a) => {
    if (typeof a === "string") return a;
    if (typeof a === "bigint") return a + "n";
    try { return JSON.stringify(a, shown); } catch (_) {}
    try { return String(a); } catch (_) { return "[unprintable]"; }
  };
  // The first MAX_PRINTED_CHARS characters are kept, the rest counted (as Python's).
  let room = %(room)d, dropped = 0;
  const log = (...args) => {
    const line = args.map(fmt).join(" ");
    const kept = line.slice(0, Math.max(room, 0));
    if (room > 0) { lines.push(kept); room -= kept.length + 1; }
    dropped += line.length - kept.length;
  };
  globalThis.__flowyard_dropped = () => dropped;
  globalThis.console = {log: log, info: log, warn: log, error: log, debug: log};
  globalThis.__flowyard_stdout = lines;
})();
"""

# `input` and the reference variables are parameters, never source text: values
# arrive as one JSON string literal and are parsed inside V8.
_WRAPPER = """
(async function () {
  const __args = JSON.parse(%(args)s, %(reviver)s);
  const __fn = async function (input, %(names)s) {
%(code)s
  };
  let __value;
  try {
    __value = await __fn(__args.input, ...__args.vars);
  } catch (e) {
    // A thrown object is no Error: the host showed its Python repr. Said as JSON.
    if (e === null || typeof e !== "object" || e instanceof Error) throw e;
    let shown;
    try { shown = JSON.stringify(e); } catch (_) { shown = String(e); }
    throw "threw " + shown;
  }
  const __out = {
    value: __value === undefined ? null : __value,
    stdout: globalThis.__flowyard_stdout.join("\\n"),
    dropped: globalThis.__flowyard_dropped(),
  };
  try {
    return JSON.stringify(__out);
  } catch (_) {
    // A BigInt (an integer beyond 2^53 from the input, or the code's own) is written
    // as its exact digits; only then is the slower replacer worth it.
  }
  try {
    return JSON.stringify(__out, (k, v) => (typeof v === "bigint" ? JSON.rawJSON(String(v)) : v));
  } catch (e) {
    // Thrown by this wrapper, after the code: V8 would name a line past its end.
    // Said as text (no line), naming what failed: the returned value.
    const why = e instanceof Error ? e.message.split("\\n").map((s) => s.trim()).join(" ") : String(e);
    throw "TypeError: the returned value is not JSON: " + why;
  }
})()
"""


_REF_NAME = re.compile(r"^__ref_\d+$")

#: JavaScript numbers hold integers exactly up to 2^53 - 1 (16 digits): one longer in
#: the input (an ID, an amount in cents) would be rounded silently, so it reaches the
#: code as a BigInt, parsed from its own digits. The reviver is used only when the
#: input's JSON has 16 digits in a row somewhere (cheap to look for; it slows parsing).
_MAYBE_BIG_INTEGER = re.compile(r"\d{16}")
_EXACT_INTEGERS = (
    "(k, v, c) => (typeof v === 'number' && !Number.isSafeInteger(v) && c"
    " && /^-?[0-9]+$/.test(c.source) ? BigInt(c.source) : v)"
)

# Line of the wrapped source where the user's code starts, for error line numbers.
_CODE_LINE = _WRAPPER[: _WRAPPER.index("%(code)s")].count("\n")


def _wrap(code: str, input: Any, variables: dict[str, Any]) -> str:
    names = list(variables)
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"not a JavaScript identifier: {name!r}")
    args = json.dumps({"input": input, "vars": [variables[n] for n in names]}, default=str)
    return _WRAPPER % {
        "args": json.dumps(args),
        "reviver": _EXACT_INTEGERS if _MAYBE_BIG_INTEGER.search(args) else "undefined",
        "names": ", ".join(names) or "__unused",
        "code": code,
    }


def _mini_racer() -> tuple[Any, Any]:
    """mini-racer's MiniRacer class and its exceptions module."""
    try:
        from py_mini_racer import MiniRacer
        from py_mini_racer import _exc as js_exc
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise JavaScriptUnavailable(
            "JavaScript Function blocks need the optional extra: pip install 'flowyard[js]'"
        ) from exc
    return MiniRacer, js_exc


def syntax_error(
    code: str, names: list[str], timeout: float = 2.0
) -> tuple[int | None, str] | None:
    """V8's syntax error in ``code`` as ``run_js`` would wrap it: (line in ``code``, or
    None when V8 only stumbled past its last line; message), or None when it parses.

    The wrapped source is compiled inside a function that is never called, so the
    snippet does not run. ``names`` are the variables the code is given
    (``__ref_N``). Raises :class:`JavaScriptUnavailable` without mini-racer.
    """
    _mini_racer()  # JavaScriptUnavailable here, in the caller's thread
    return _checker().submit(_syntax_error, code, names, timeout).result()


@functools.cache
def _checker() -> concurrent.futures.ThreadPoolExecutor:
    """The thread syntax checks run on. mini-racer adopts the event loop running in
    the thread that creates a context and then refuses a timeout (validation runs
    inside the engine's loop); a thread of our own has none."""
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flowyard-js-check")


def _syntax_error(code: str, names: list[str], timeout: float) -> tuple[int | None, str] | None:
    mini_racer, js_exc = _mini_racer()
    # The wrapper starts with a newline: prefixing keeps V8's line numbers the same
    # as at run time, so _CODE_LINE maps them back to the user's code.
    source = "(function () {" + _wrap(code, None, dict.fromkeys(names)) + "});\ntrue"
    ctx = mini_racer()
    try:
        ctx.eval(source, timeout_sec=timeout)
    except js_exc.JSParseException as exc:
        return _syntax_message(str(exc), code)
    except js_exc.JSTimeoutException:
        # Only code that closed the wrapper's braces itself runs here; at run time
        # it would run the same way, so validation has nothing to say about it.
        time.sleep(0.05)  # see run_js: let V8 report the termination before closing
        return None
    except js_exc.JSEvalException:
        return None  # it parsed; something outside a function body threw
    finally:
        ctx.close()
    return None


def _syntax_message(message: str, code: str) -> tuple[int | None, str]:
    m = re.search(r"<anonymous>:(\d+): (?:SyntaxError: )?(.+)", message)
    if m is None:
        return None, message.strip().splitlines()[0] if message.strip() else "syntax error"
    line = int(m.group(1)) - _CODE_LINE
    # Past the last line: V8 read on into the wrapper's text, so something in the
    # code was left open (bracket, string, expression) or a brace closed it early.
    return (line if 0 < line <= max(1, len(code.splitlines())) else None), m.group(2)


def run_js(
    code: str,
    input: dict[str, Any],
    timeout: float = 30.0,
    *,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``code`` as the body of ``function (input) {…}``; return the block output.

    The output is the returned object (a non-object value becomes ``{"result": value}``)
    plus ``stdout`` (console output, when there is any) unless the object already has that key.
    ``variables`` binds extra names (e.g. ``__ref_0`` for references rewritten by
    ``engine.javascript_refs.rewrite_javascript``). Raises :class:`TimeoutError` past ``timeout``
    seconds and :class:`JavaScriptError` when the snippet fails.
    """
    return _output(*run_js_parts(code, input, timeout, variables=variables))


def _output(value: Any, stdout: str) -> dict[str, Any]:
    output: dict[str, Any] = value if isinstance(value, dict) else {"result": value}
    if stdout:  # as Python's: `stdout` only when something was printed
        output.setdefault("stdout", stdout)
    return output


def run_js_parts(
    code: str,
    input: dict[str, Any],
    timeout: float = 30.0,
    *,
    variables: dict[str, Any] | None = None,
    evaluation: Evaluation | None = None,
) -> tuple[Any, str]:
    """:func:`run_js`'s returned value and console output, apart (the Function block
    puts them together itself, as for Python). Blocks the calling thread, which must
    run no event loop; ``evaluation.stop()`` from another thread ends the code
    (raising :class:`EvaluationStopped`)."""
    _, js_exc = _mini_racer()
    if variables is None:
        # Callers that pass rewritten references inside `input` (as `__ref_N` keys)
        # still get them bound as the variables the rewritten code names.
        variables = {k: v for k, v in input.items() if isinstance(k, str) and _REF_NAME.match(k)}
    source = settling(_wrap(code, input, variables))
    prelude = _PRELUDE % {"pool": json.dumps(list(os.urandom(512))), "room": MAX_PRINTED_CHARS}
    evaluation = evaluation or Evaluation()
    try:
        kind, said = evaluation.run(prelude, source, timeout, after_error=_PRINTED)
    except TimeoutError as exc:
        raise TimeoutError(f"JavaScript ran longer than {timeout:g}s") from exc
    except js_exc.JSOOMException:
        raise JavaScriptError(
            f"the code used more than the {JS_MEMORY_LIMIT // 2**20} MiB of memory a"
            " JavaScript Function may take, and was stopped"
        ) from None
    except js_exc.JSEvalException as exc:
        raise JavaScriptError(_clean(str(exc), code)) from None
    if kind == "e":
        raise JavaScriptError(_clean(said, code), _printed(evaluation.after_error))
    result = json.loads(said)
    if len(said) > MAX_OUTPUT_CHARS:
        # Printed text aside, the value may pass what a run record keeps: the block
        # fails as a Python Function's does (OutputTooLarge). V8 caps a string at
        # ~512 MB, so this text is bounded; the value is measured only when it is big.
        encode_output(result.get("value"))
    return result.get("value"), _printed(said, result)


def _printed(said: Any, result: Any = None) -> str:
    """The console text in the JSON ``said`` (or its parsed ``result``), cut as it was."""
    if result is None:
        try:
            result = json.loads(said) if isinstance(said, str) else {}
        except ValueError:  # the code replaced the console's globals: nothing to say
            return ""
    stdout = result.get("stdout", "") if isinstance(result, dict) else ""
    if not isinstance(stdout, str):
        return ""
    dropped = result.get("dropped")
    return stdout + cut_note(dropped) if isinstance(dropped, int) and dropped else stdout


async def run_js_parts_async(
    code: str,
    input: dict[str, Any],
    timeout: float = 30.0,
    *,
    variables: dict[str, Any] | None = None,
) -> tuple[Any, str]:
    """:func:`run_js_parts` in a worker thread, so V8 never blocks the event loop.

    Cancelled (the run cancelled, the process stopping), it stops the code and waits
    for the thread to end, within moments: nothing of the code runs on once the
    block is recorded stopped, and no thread is left that a process exiting waits
    for (it waited for the Function's timeout)."""
    evaluation = Evaluation()
    call = functools.partial(
        run_js_parts, code, input, timeout, variables=variables, evaluation=evaluation
    )
    running = asyncio.get_running_loop().run_in_executor(_runners(), call)
    running.add_done_callback(_retrieved)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        # Under way: V8 is terminated, and its thread ends within moments. Not begun
        # (no thread free yet): once it has one, it ends without running anything.
        if evaluation.stop():
            await asyncio.wait([running])
        raise


@functools.cache
def _runners() -> concurrent.futures.ThreadPoolExecutor:
    """The threads JavaScript Functions run on: as many as the loop's default executor
    has, but not its own. That one also sends email (blocks/email.py): spinning
    Functions held every thread of it, and an Email block of any run waited for a
    JavaScript timeout before it could connect, failing on its own timeout."""
    size = min(32, (os.cpu_count() or 1) + 4)  # the default executor's
    return concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix="flowyard-js")


def _retrieved(done: asyncio.Future[Any]) -> None:
    """Take the outcome of a stopped evaluation nobody awaits (EvaluationStopped), so
    asyncio does not log it as never retrieved."""
    if not done.cancelled():
        done.exception()


async def run_js_async(
    code: str,
    input: dict[str, Any],
    timeout: float = 30.0,
    *,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`run_js` in a worker thread, stopped when cancelled (:func:`run_js_parts_async`)."""
    return _output(*await run_js_parts_async(code, input, timeout, variables=variables))


def _clean(message: str, code: str) -> str:
    """V8's message without the wrapper's noise, with the line number of the user's
    code: none when V8 names a line outside it (the wrapper's, before or after)."""
    message = message.replace("JavaScript rejected promise with reason: ", "")
    lines = max(1, len(code.splitlines()))
    m = re.search(r"<anonymous>:(\d+): (.+)", message)
    if m:
        line = int(m.group(1)) - _CODE_LINE
        return f"{m.group(2)} (line {line})" if 0 < line <= lines else m.group(2)
    m = re.search(r"<anonymous>:(\d+):\d+", message)
    first = message.strip().splitlines()[0] if message.strip() else "JavaScript error"
    if m and 0 < int(m.group(1)) - _CODE_LINE <= lines:
        return f"{first} (line {int(m.group(1)) - _CODE_LINE})"
    return first
