"""One evaluation of a JavaScript Function in a V8 context of its own, which another
thread can stop wherever the code is: a cancelled run or a stopping process ends it
at once instead of waiting for the Function's timeout.

mini-racer runs V8 on a thread of its own and ends code only by terminating a
*cancelable* evaluation (TerminateExecution) or by freeing the context. Two things
kept it out of reach before:

- ``MiniRacer.eval(timeout_sec=…)`` waits on a future no other thread can cancel,
  so a cancelled block left its thread (and V8) running to the timeout: `flowyard
  run` waited for that thread to exit, and `flowyard serve` never exited.
- Code after an ``await`` runs in V8's microtask checkpoint, which is part of no
  evaluation. Waiting for the promise (``JSPromise.get``) calls ``then`` on the
  isolate, which waits behind that checkpoint and blocks mini-racer's loop thread:
  not even the timeout ended ``await null; while (true) {}``.

So the context is created inside an asyncio loop run on the calling thread (mini-racer
then uses that loop and starts none of its own); the code runs by
``eval_cancelable``; its promise settles into a value that short cancelable
evaluations look at, so nothing ever waits uncancelably on the isolate; and the
context is freed (``MiniRacer.close``) on the way out, which terminates whatever
still runs in it, the microtask checkpoint included. :meth:`Evaluation.stop`
cancels that loop's task from any thread. Killable worker processes (as Python
Functions have) would end anything too, but a call would then wait for a free worker
of a pool, or for a process to start; freeing the context ends the code in about a
millisecond, and each call gets a new context anyway (_javascript.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

__all__ = ["Evaluation", "EvaluationStopped", "settling"]


class EvaluationStopped(Exception):
    """:meth:`Evaluation.stop` ended the evaluation."""


#: Put before the wrapped code, on its first line (the wrapper starts with a newline,
#: so V8's line numbers stay those ``_CODE_LINE`` maps back to the user's code). It
#: runs before the code (a call's callee is evaluated before its argument): the
#: settled value is then read through a property the code cannot replace. What a
#: rejection says: an error's stack (as mini-racer said it), else the thrown value
#: as JavaScript's String() writes it.
_SETTLE = (
    "(function () {"
    " let settled = null;"
    ' Object.defineProperty(globalThis, "__flowyard_settled", {get: () => settled});'
    " const said = (e) => { try {"
    ' return e !== null && (typeof e === "object" || typeof e === "function") && "stack" in e'
    " ? String(e.stack) : String(e);"
    ' } catch (_) { return "a value that cannot be shown as text"; } };'
    " const then = Promise.prototype.then;"  # as it was before the code could replace it
    ' return (p) => { then.call(p, (v) => { settled = "v" + v; },'
    ' (e) => { settled = "e" + said(e); }); };'
    " })()("
)
_SETTLE_END = ");\n0"

#: The settled value: null while the code's promise is pending, else "v" and the
#: returned JSON text, or "e" and what the rejection said.
_SETTLED = "globalThis.__flowyard_settled"

#: Looks at a pending promise (code awaiting a timer) back off to this: a settled
#: one is seen within it.
_MOST_BETWEEN_LOOKS_S = 0.02


def settling(source: str) -> str:
    """``source`` (an expression giving a promise) made to settle into ``_SETTLED``."""
    return _SETTLE + source + _SETTLE_END


class Evaluation:
    """One run of code in a fresh V8 context, on the thread calling :meth:`run`;
    :meth:`stop` ends it from any other thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        #: Evaluated in the context once the code's promise is rejected (``run``'s
        #: ``after_error``), before the context is freed: what it printed.
        self.after_error: Any = None

    def run(
        self, prelude: str, source: str, timeout: float, after_error: str | None = None
    ) -> tuple[str, str]:
        """Evaluate ``prelude``, then ``source`` (made by :func:`settling`); return
        ``("v", JSON text)`` or ``("e", what the rejection said)``, and then with
        ``after_error`` evaluated into :attr:`after_error`. Raises
        :class:`TimeoutError` past ``timeout`` seconds from the code's start,
        :class:`EvaluationStopped`, and mini-racer's ``JSEvalException`` (a syntax
        error)."""
        return asyncio.run(self._run(prelude, source, timeout, after_error))

    def stop(self) -> bool:
        """End the evaluation (or have it end before it starts); True when it was
        under way, so its thread ends within moments."""
        with self._lock:
            self._stopped = True
            running = self._running
        if running is None:
            return False
        loop, task = running
        with contextlib.suppress(RuntimeError):  # its loop closed: it has just ended
            loop.call_soon_threadsafe(task.cancel)
        return True

    async def _run(
        self, prelude: str, source: str, timeout: float, after_error: str | None
    ) -> tuple[str, str]:
        from py_mini_racer import MiniRacer

        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            if self._stopped:
                raise EvaluationStopped
            self._running = (asyncio.get_running_loop(), task)
        try:
            # Created in this running loop, it uses the loop (eval_cancelable is
            # awaited here) and starts no thread of its own for one.
            racer = MiniRacer()
            racer.set_hard_memory_limit(JS_MEMORY_LIMIT)
            try:
                await racer.eval_cancelable(prelude)
                async with asyncio.timeout(timeout):
                    await racer.eval_cancelable(source)
                    settled = await _settled(racer)
                    if settled.startswith("e") and after_error:
                        try:
                            self.after_error = await racer.eval_cancelable(after_error)
                        except Exception:  # noqa: BLE001 - the code broke what it reads: the error stands
                            self.after_error = None
            finally:
                # Freeing the context terminates what still runs in it: code stopped
                # or timed out, or left running by code that returned.
                racer.close()
        except asyncio.CancelledError:
            raise EvaluationStopped from None
        finally:
            with self._lock:
                self._running = None
        return settled[0], settled[1:]


#: The most memory one JavaScript call's heap may take. Code that allocates without
#: end ran V8 into its own heap limit (~1.4 GB), which is fatal to the whole process
#: ("Fatal JavaScript out of memory"): the server and every run in it, and again on
#: every restart, as the resumed run ran the code again. Past this limit V8 ends the
#: code (checked as it collects garbage, so well below its own) and the block fails.
#: One allocation past V8's limit at once (`new Array(3e8)`) is still fatal.
JS_MEMORY_LIMIT = 512 * 1024 * 1024


async def _settled(racer: Any) -> str:
    """The settled value, once the promise settled. Each look is an evaluation of its
    own, cancelable: while code runs in the microtask checkpoint it waits, and a
    stop or the timeout abandons it. The first look comes after the checkpoint
    that follows the code, so code that awaits no timer is seen settled at once."""
    between = 0.001
    while True:
        settled = await racer.eval_cancelable(_SETTLED)
        if isinstance(settled, str):
            return settled
        await asyncio.sleep(between)
        between = min(between * 2, _MOST_BETWEEN_LOOKS_S)
