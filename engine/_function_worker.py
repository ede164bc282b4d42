"""The loop of one Function worker process (kept tiny: it is imported at spawn)."""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import json
import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from engine._cut_secrets import CUT_MARK
from engine._function_values import AttrDict, OutputNotJSON, call_input, encode_output
from engine._worker_lifetime import arm_backstop, die_with_parent, disarm_backstop

#: Names a field may share with a dict method: `input.webhook.body.items` (an order's
#: items) read as attribute access would be dict.items.
_METHOD_NAMES = frozenset(n for n in dir(dict) if not n.startswith("_"))


def field_or_attribute(value: Any, name: str) -> Any:
    """``value.name`` in user code, where ``name`` is also a dict method and the code
    does not call it: the field when a mapping has one, else the attribute."""
    if isinstance(value, dict) and name in value:
        return value[name]
    return getattr(value, name)


def _rewrite_fields(tree: ast.AST, arg_names: list[str]) -> None:
    """``x.items`` not called becomes ``field_or_attribute(x, "items")``: the field
    of that name when there is one, so ``len(input.body.items)`` counts the items
    while ``input.body.items()`` stays the method.

    And each reference's variable ``__ref_N`` becomes ``__ref_N__``: inside a class
    the code defines, Python mangles a name with two leading underscores (and not
    two trailing ones), so a method reading ``<start.fee>`` looked up
    ``_Order__ref_0`` and failed with a NameError naming what nobody wrote.

    A walk with a queue, not a recursive NodeTransformer: that used two Python
    frames per level of the tree, so the join of a fan-out (``<f0.v> + … +
    <f599.v>``, nested one level per ``+``) was a RecursionError at ~450 terms,
    code Python itself compiles."""
    renamed = {name: unmangled(name) for name in arg_names}
    for node in ast.walk(tree):  # iterative (a deque); children are queued as found
        if isinstance(node, ast.Name):
            node.id = renamed.get(node.id, node.id)
        method = node.func if isinstance(node, ast.Call) else None  # a method call stays
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                value[:] = [_field_read(v) if v is not method else v for v in value]
            elif value is not method:
                setattr(node, name, _field_read(value))


def _field_read(node: Any) -> Any:
    """``node`` itself, or the call reading the field when it is ``x.<dict method>``
    read (not called, not assigned)."""
    if (
        not isinstance(node, ast.Attribute)
        or node.attr not in _METHOD_NAMES
        or not isinstance(node.ctx, ast.Load)
    ):
        return node
    # Each new node placed where the attribute was written (ast.fix_missing_locations
    # would do it, recursing once per level again).
    name = ast.copy_location(ast.Name("__flowyard_field__", ast.Load()), node)
    call = ast.Call(name, [node.value, ast.copy_location(ast.Constant(node.attr), node)], [])
    return ast.copy_location(call, node)


def unmangled(name: str) -> str:
    """A reference's variable as the compiled code names it (see :func:`_rewrite_fields`)."""
    return f"{name}__"


def compile_function(code: str, arg_names: list[str]) -> Any:
    namespace: dict[str, Any] = {"__flowyard_field__": field_or_attribute}
    exec(function_code(code, arg_names), namespace)  # noqa: S102 - the user's own code, in its own process
    return namespace["__flowyard_function__"]


def function_code(code: str, arg_names: list[str]) -> Any:
    """The module defining the code as ``__flowyard_function__`` (running it runs none
    of the code). Validation compiles it too (blocks/function.py), so a syntax error
    is found there exactly as a run would meet it, at the line as written."""
    params = ", ".join(["input", *map(unmangled, arg_names)])
    tree = ast.parse(f"def __flowyard_function__({params}):\n    pass\n", USER_CODE)
    # The code parsed as written and put in the function as its body: indenting its
    # text instead indented every line of a string spanning lines too, so a message
    # or a SQL text came out with four more spaces on each line. Its lines keep
    # their numbers (the `def` shares line 1), so a traceback the code prints or
    # keeps names its lines as written, as the block's error does.
    module = ast.parse(code, USER_CODE)
    tree.body[0].body = module.body or [ast.Pass()]
    _rewrite_fields(tree, arg_names)
    return compile(tree, USER_CODE, "exec")


#: The lib folders calls in this process named, and the lib version its modules
#: from them were imported at (engine/function_libs.py).
_lib_dirs: list[str] = []
_lib_version: int | None = None


def use_libs(dirs: list[str], version: int | None) -> None:
    """Put ``dirs`` on the import path; when the lib version moved, forget every
    module imported from a lib folder, so the next import reads the files again."""
    global _lib_version
    for d in dirs:
        if d not in _lib_dirs:  # on sys.path before (PYTHONPATH) or not, its modules count
            _lib_dirs.append(d)
        if d not in sys.path:
            sys.path.insert(0, d)
    if version is None or version == _lib_version:  # None: the call has no lib folder
        return
    if _lib_version is not None and _lib_dirs:
        under = tuple(os.path.join(d, "") for d in _lib_dirs)
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.startswith(under):
                del sys.modules[name]
        importlib.invalidate_caches()  # a new file in a folder already listed
    _lib_version = version


#: The printed text a call keeps (``stdout``), in characters: past it, what is printed
#: is counted, not kept. A debug print in a loop of a million wrote 110 MB into the
#: block's output, held several times over by the worker, the engine and the answer.
MAX_PRINTED_CHARS = 1024 * 1024


def cut_note(dropped: int) -> str:
    """What ends printed text cut at MAX_PRINTED_CHARS (JavaScript's says the same).

    It begins with the cut mark, right where the text was cut: the cut is made
    where the run's secrets are not known (a worker), and may leave a secret's first
    characters; the redactor blanks such a beginning before a ``…``
    (engine/_cut_secrets.py), and it recorded them without one."""
    return (
        f"{CUT_MARK}\n[flowyard: {dropped:,} more characters printed were not kept:"
        f" a Function keeps the first {MAX_PRINTED_CHARS:,}]"
    )


class PrintedText(io.TextIOBase):
    """``print``'s target during a call: the first MAX_PRINTED_CHARS characters, and
    how many more there were."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._room = MAX_PRINTED_CHARS
        self._dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as StringIO says it
            raise TypeError(f"string argument expected, got {type(text).__name__!r}")
        kept = text[: self._room]
        if kept:
            self._parts.append(kept)
            self._room -= len(kept)
        self._dropped += len(text) - len(kept)
        return len(text)

    def getvalue(self) -> str:
        text = "".join(self._parts)
        return text + cut_note(self._dropped) if self._dropped else text


#: The file name the user's code is compiled under: its frames are the ones to stop.
USER_CODE = "<function>"


class InlineTimeout(BaseException):
    """Raised inside runaway inline code by the watchdog (engine/functions.py;
    BaseException: user code's ``except Exception`` cannot swallow it). The one
    exception :func:`call` lets through.

    A bare ``except:`` (or ``except BaseException``) inside the code's loop swallowed
    it, and the loop went on holding the engine's thread, every run of the process,
    for ever. So, made in that thread when the watchdog raises it, it also has every
    later line of the user's code raise it again (a trace function, on the code's
    frames only, those of its call: the engine's own are left alone), also inside
    the handler that caught it, from where it leaves the code. The caller removes the trace function."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        below: list[Any] = []  # the frames :func:`call` runs: the code, what it called
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not call.__code__:
            below.append(frame)
            frame = frame.f_back
        if frame is None:  # raised as the code had returned: nothing to stop
            return
        for frame in below:
            frame.f_trace = _stop_line
        sys.settrace(_stop_calls)


def _stop_line(frame: Any, event: str, arg: Any) -> Any:
    if event == "line":
        raise InlineTimeout
    return _stop_line


def _stop_calls(frame: Any, event: str, arg: Any) -> Any:
    """A function of the user's code called from here on stops at its first line."""
    return _stop_line if frame.f_code.co_filename == USER_CODE else None


def call(cache: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Run one request. Its ``input`` and ``args`` are the call's own (AttrDict,
    engine/_function_values.py): the code may change them as it likes."""
    use_libs(request.get("lib_dirs") or [], request.get("lib_version"))
    key = request["code"] + "\0" + ",".join(request["arg_names"])
    fn = cache.get(key)
    out = PrintedText()
    # A missing field's message says where it was looked for.
    call_input[:] = [request["input"], request.get("whole_input", True)]
    try:
        if fn is None:
            fn = cache[key] = compile_function(request["code"], request["arg_names"])
        # Standard error too, in the order written (JavaScript's console.error is kept
        # alike): a worker's goes to /dev/null, and inline it reached the server's
        # own standard error, unredacted.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            value = fn(request["input"], *request["args"])
        return {"value": value, "stdout": out.getvalue()}
    except InlineTimeout:
        raise
    # Report the user's error with its line in their code, whatever it derives from:
    # SystemExit, KeyboardInterrupt, GeneratorExit, asyncio.CancelledError or a class
    # of the user's own raised through ended the worker ("exited with code 1"), or,
    # inline, the engine's run task: the run never ended and was taken over again.
    except BaseException as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        lines = [f.lineno for f in tb if f.filename == USER_CODE and f.lineno]
        where = f" (line {lines[-1]})" if lines else ""
        if isinstance(exc, SystemExit):
            said = (
                f"the code called sys.exit({_code_of(exc)}){where}; a function returns its output"
            )
        else:
            said = f"{_message_of(exc)}{where}"
        return {
            "error": {"type": type(exc).__name__, "message": said},
            "stdout": out.getvalue(),
        }
    finally:
        call_input[:] = [None, True]


def _message_of(exc: BaseException) -> str:
    """``str(exc)`` — the user's code, when the exception is a class of theirs: a
    ``__str__`` that raises (or returns no text) ended the worker here, and the
    block said "WorkerDied … a crash in a C extension"."""
    try:
        return str(exc) or f"raised {type(exc).__name__}"
    except InlineTimeout:
        raise
    except BaseException as failed:
        return (
            f"raised {type(exc).__name__}, whose message could not be made"
            f" ({type(failed).__name__}: {_plain(failed)})"
        )


def _code_of(exc: SystemExit) -> str:
    """``repr`` of what the code gave ``sys.exit``: its own object may fail that too."""
    try:
        return repr(exc.code)
    except InlineTimeout:
        raise
    except BaseException:
        return f"<{type(exc.code).__name__}>"


def _plain(exc: BaseException) -> str:
    """The message of an exception raised by the user's own method, without running
    more of their code (its args, read directly: its ``__str__`` may fail too)."""
    return ", ".join(a if isinstance(a, str) else type(a).__name__ for a in exc.args)


#: The builtins the guard uses, bound here: module globals are looked up before the
#: builtins, so code that replaced `len` or `list` cannot stop the guard undoing it.
_dict, _len, _list = dict, len, list


class StateGuard:
    """Undoes what a call changed of the process-wide state code most often touches
    by mistake, so it does not leak into later calls (other runs, other workflows):
    ``os.environ`` and the builtins (names added, removed or replaced), and in a
    worker (``worker``) the working directory too. Module globals are not restored
    (docs/blocks/function.md says what persists). Cost: ~1.5 µs a call for the
    environment, ~2 µs for the builtins, ~1 µs for the working directory.

    Inline calls run in the engine's own process, whose host may change its
    environment between calls (kept: it is taken before each call) or add builtins
    (kept: noticed by their number), or change its working directory (not looked at
    there: a syscall twice a call on the hot path)."""

    def __init__(self, worker: bool) -> None:
        self.worker = worker
        self._builtins = _dict(builtins.__dict__)
        self._values = _list(self._builtins.values())
        self._cwd = os.getcwd() if worker else ""

    def before(self) -> dict[bytes, bytes]:
        """Taken before each call: the environment to put back after it."""
        if _len(builtins.__dict__) != _len(self._builtins):  # the host's change: kept
            self._builtins = _dict(builtins.__dict__)
            self._values = _list(self._builtins.values())
        # os.environ's own mapping (bytes): a copy costs ~0.6 µs, dict(os.environ) ~10.
        return os.environ._data.copy()  # type: ignore[attr-defined]

    def after(self, environ: dict[bytes, bytes]) -> None:
        data = os.environ._data  # type: ignore[attr-defined]
        if data != environ:
            for key in [k for k in data if k not in environ]:
                os.unsetenv(key)
                del data[key]
            for key, value in environ.items():
                if data.get(key) != value:
                    os.putenv(key, value)
                    data[key] = value
        names = builtins.__dict__
        if _len(names) != _len(self._builtins) or _list(names.values()) != self._values:
            # Name by name, never cleared: another thread of the engine's process may
            # be looking a builtin up meanwhile.
            for name in [n for n in names if n not in self._builtins]:
                del names[name]
            for name, value in self._builtins.items():
                if names.get(name) is not value:
                    names[name] = value
        if self.worker and os.getcwd() != self._cwd:
            os.chdir(self._cwd)


def worker_main(conn: Connection, out: Connection) -> None:
    cache: dict[str, Any] = {}
    guard = StateGuard(worker=True)
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        answer(raw, cache, guard, out)
        # The call's input and output are let go of now, not when the next call comes:
        # each worker of the pool held the largest call it had last served (800 MB
        # for a 400 MB output), for as long as it stayed idle.
        del raw


def answer(raw: bytes, cache: dict[str, Any], guard: StateGuard, out: Connection) -> None:
    """Run one call and send its reply; what it held ends with this frame."""
    environ = guard.before()
    # Parsed into the call's own objects once (reads need no wrapping).
    request = json.loads(raw, object_hook=AttrDict)
    arm_backstop(request.get("timeout"))
    try:
        reply = call(cache, request)
    finally:  # before the reply is encoded, which uses builtins the code may have replaced
        guard.after(environ)
    text = encode_reply(reply)
    # Disarmed before the send: the engine reads a reply whole once it starts.
    disarm_backstop()
    out.send_bytes(text.encode())


def encode_reply(reply: dict[str, Any]) -> str:
    """A worker's reply as JSON text: the value checked by encode_output, so what is
    not JSON is the block's error, naming where it is."""
    if "error" in reply:
        return json.dumps(reply)
    stdout = json.dumps(reply["stdout"])
    try:
        return f'{{"value":{encode_output(reply["value"], ascii_only=True)},"stdout":{stdout}}}'
    except OutputNotJSON as exc:
        error = json.dumps({"type": exc.kind, "message": str(exc)})
        return f'{{"error":{error},"stdout":{stdout}}}'


if __name__ == "__main__":
    die_with_parent(int(sys.argv[3]))
    worker_main(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
