"""Python Function blocks, run in a pool of pre-started worker processes.

A worker can be killed, so a ``timeout`` really stops runaway code (``while
True: pass``): the pool kills the worker, starts a replacement and fails the
block. Inputs and outputs cross as JSON. Each worker compiles a code string once
and caches the function (DESIGN.md 5).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from engine._function_values import OutputNotJSON, encode_output, own
from engine._function_worker import InlineTimeout, StateGuard
from engine._json import loads_finite
from engine._worker_processes import ReplyReader, WorkerProcess, spawn
from engine.function_libs import WATCH


class FunctionError(Exception):
    """The user's code raised; ``message`` carries its exception and line."""

    def __init__(self, kind: str, message: str, stdout: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.stdout = stdout

    @property
    def printed_output(self) -> dict[str, str] | None:
        """What the code printed before it failed, as the failed block's output
        (engine/executor.py records it): the prints added to find a failure."""
        return {"stdout": self.stdout} if self.stdout else None


def pool_size() -> int:
    """FLOWYARD_FUNCTION_WORKERS: the Function worker processes of each engine process
    (unset or blank: one per CPU, from 2 to 8). Raises ValueError for anything but a
    number from 1 to 256 (ui/config.py says it before a command starts)."""
    raw = os.environ.get("FLOWYARD_FUNCTION_WORKERS", "").strip()
    if not raw:
        return max(2, min(8, os.cpu_count() or 2))
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 256):
        raise ValueError(
            f"FLOWYARD_FUNCTION_WORKERS={raw!r} is not a number of worker processes from 1 to 256"
        )
    return int(raw)


class FunctionPool:
    """A fixed set of worker processes; ``call`` borrows one per invocation.

    A call waits its turn for a free worker (first come, first served); its
    ``timeout`` starts once it has one, so it limits the code's own execution, not
    the time other runs' functions keep every worker busy."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or pool_size()
        self._idle: asyncio.Queue[WorkerProcess] | None = None
        self._all: set[WorkerProcess] = set()
        self.inline = InlineRunner()

    async def start(self) -> None:
        if self._idle is not None:
            return
        self._idle = asyncio.Queue()
        workers = [await asyncio.wrap_future(f) for f in [spawn() for _ in range(self.size)]]
        for w in workers:
            self._all.add(w)
            self._park(w)

    async def close(self) -> None:
        for w in list(self._all):
            self._unwatch(w)
            w.kill()
        self._all.clear()
        self._idle = None

    async def call(
        self,
        code: str,
        arg_names: list[str],
        args: list[Any],
        input: dict[str, Any],
        lib_dirs: list[str],
        timeout: float,
        *,
        whole_input: bool = True,
    ) -> tuple[Any, str]:
        """Run ``code`` as a function body; return (value, stdout). ``whole_input``:
        False when ``input`` holds only the fields the code reads (a missing one's
        message then lists none)."""
        if self._idle is None:
            await self.start()
        assert self._idle is not None
        request = {
            "code": code,
            "arg_names": arg_names,
            "args": args,
            "input": input,
            "whole_input": whole_input,
            "lib_dirs": lib_dirs,
            "timeout": timeout,  # the worker's own backstop, should this process not act
        }
        worker = await self._next_free()
        try:
            # Once a worker is free: a lib file changed during the wait is this call's.
            request["lib_version"] = await WATCH.current(lib_dirs) if lib_dirs else None
            payload = json.dumps(request, default=str).encode()
        except BaseException:
            self._park(worker)
            raise
        worker = await self._hand_over(worker, payload)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        fd = worker.conn.fileno()
        reader = ReplyReader(fd)

        def readable() -> None:
            if fut.done():
                loop.remove_reader(fd)
                return
            try:
                raw = reader.read()
            except (EOFError, OSError) as exc:
                loop.remove_reader(fd)
                fut.set_exception(exc)
                return
            if raw is not None:  # else more is on its way: stay registered
                loop.remove_reader(fd)
                fut.set_result(raw)

        healthy = False
        try:
            loop.add_reader(fd, readable)
            try:
                # Not wait_for: on Python 3.11 it returns the result when the caller is
                # cancelled just as the reply arrives, losing the cancel (a loop's
                # timeout then let the loop run on to its end).
                async with asyncio.timeout(timeout):
                    raw = await fut
            except TimeoutError:
                raise FunctionError(
                    "TimeoutError", f"function exceeded its timeout of {timeout:g} s"
                ) from None
            except (EOFError, OSError):
                raise FunctionError("WorkerDied", await _how_it_died(worker)) from None
            healthy = True
        finally:
            # Always unregister (a cancelled future is "done" too): a stale reader on a
            # closed fd would fire for whatever pipe reuses that number next.
            loop.remove_reader(fd)
            if healthy:
                self._park(worker)
            else:
                self._replace(worker)
        reply = loads_finite(raw)
        if reply.get("error"):
            err = reply["error"]
            raise FunctionError(err["type"], err["message"], reply.get("stdout", ""))
        return reply.get("value"), reply.get("stdout", "")

    async def _hand_over(self, worker: WorkerProcess, payload: bytes) -> WorkerProcess:
        """Send the request to ``worker``, or to the next free one while a worker turns
        out dead (killed while idle: SIGKILL, the out-of-memory killer). The call has
        not started in a worker that never got it, so another may run it; the block's
        timeout has not started either. Returns the worker that has the request."""
        assert self._idle is not None
        while True:
            try:
                if worker.process.poll() is None:  # one seen exited is not written to
                    worker.send(payload)
                    return worker
            except (EOFError, OSError):  # BrokenPipeError: it died before reading it all
                pass
            self._replace(worker)
            worker = await self._next_free()

    def _park(self, worker: WorkerProcess) -> None:
        """Put a worker back among the free ones, its reply pipe watched meanwhile: an
        idle worker writes nothing, so the pipe turns readable only when it closes, the
        worker dead (killed, the out-of-memory killer). It is reaped and replaced then,
        not at the next call: a pool that is never called (the web process of `serve
        --engine-process`) kept it a zombie for good."""
        assert self._idle is not None
        asyncio.get_running_loop().add_reader(worker.conn.fileno(), self._died_idle, worker)
        self._idle.put_nowait(worker)

    def _died_idle(self, worker: WorkerProcess) -> None:
        if worker in self._all:
            self._replace(worker)  # its stale entry in the queue is skipped
        else:
            self._unwatch(worker)

    def _unwatch(self, worker: WorkerProcess) -> None:
        if not worker.conn.closed:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())

    async def _next_free(self) -> WorkerProcess:
        """The next free worker, no longer watched (its pipe now carries a reply);
        entries of workers replaced while idle are skipped."""
        assert self._idle is not None
        while True:
            worker = await self._idle.get()
            if worker in self._all:
                self._unwatch(worker)
                return worker

    def _replace(self, worker: WorkerProcess) -> None:
        """Kill a timed-out or dead worker (waiting for it: no zombie is left) and start
        another in the background."""
        self._all.discard(worker)
        self._unwatch(worker)
        worker.kill()
        loop = asyncio.get_running_loop()

        async def respawn() -> None:
            fresh = await asyncio.wrap_future(spawn())
            if self._idle is None:
                fresh.kill()
                return
            self._all.add(fresh)
            self._park(fresh)

        loop.create_task(respawn())


async def _how_it_died(worker: WorkerProcess) -> str:
    """What ended a worker mid-call, in words: its pipe closed, so it is exiting."""
    for _ in range(50):  # its exit status comes within moments (0.5 s at most here)
        code = worker.process.poll()
        if code is not None:
            break
        await asyncio.sleep(0.01)
    said = "the function's worker process died"
    if code is None:
        return f"{said} (closed its pipe)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGKILL": " (the out-of-memory killer sends it)",
            "SIGALRM": " (it ends itself when it runs well past its timeout)",
        }.get(name, "")
        return f"{said}: killed by {name}{why}"
    return f"{said}: it exited with code {code} (os._exit, or a crash in a C extension)"


#: How often an idle inline watchdog looks for an armed call. A call whose deadline
#: falls after the watchdog's next look arms it without waking it: a notify per
#: call made the watchdog thread take the GIL twice per inline function, 7 % of the
#: engine's time in an Order Processing run (py-spy --gil).
_IDLE_LOOK_S = 1.0


class InlineRunner:
    """Runs small, trusted functions on the caller's thread: no process round trip.

    Still bounded in time: a watchdog thread raises :class:`InlineTimeout` in the
    running thread once the deadline passes. That interrupts Python code
    (``while True: pass``) but not a blocking C call such as ``time.sleep``;
    functions that may block belong in the process pool. The code gets its own
    deep copy of its inputs, as a worker parses its own from the request, and the
    output is copied through JSON, so user code cannot reach the run's own data
    structures.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._armed: tuple[int, float] | None = None  # (thread id, deadline)
        self._fired = False
        self._thread: threading.Thread | None = None
        self._wake_at = 0.0  # when the watchdog next looks, unless notified
        self._guard: StateGuard | None = None

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._armed is not None and self._armed[1] <= now:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(self._armed[0]), ctypes.py_object(InlineTimeout)
                    )
                    self._armed, self._fired = None, True
                    continue
                self._wake_at = self._armed[1] if self._armed else now + _IDLE_LOOK_S
                self._cond.wait(self._wake_at - now)

    def call(
        self,
        code: str,
        arg_names: list[str],
        args: list[Any],
        input: dict[str, Any],
        lib_dirs: list[str],
        lib_version: int | None,
        timeout: float,
        *,
        whole_input: bool = True,
    ) -> tuple[Any, str]:
        """Run ``code`` on this thread; ``lib_version``: ``await WATCH.current(lib_dirs)``,
        taken by the caller (a look at the folders is not made on the event loop)."""
        from engine._function_worker import call as run_request

        if self._guard is None:
            self._guard = StateGuard(worker=False)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch, name="flowyard-inline-watchdog", daemon=True
            )
            self._thread.start()
        tid = threading.get_ident()
        request = {
            "code": code,
            "arg_names": arg_names,
            "args": own(args),
            "input": own(input),
            "whole_input": whole_input,
            "lib_dirs": lib_dirs,
            "lib_version": lib_version,
        }
        timed_out = False
        environ = self._guard.before()
        tracer = sys.gettrace()  # InlineTimeout replaces it (a debugger's, coverage's)
        try:
            with self._cond:
                deadline = time.monotonic() + timeout
                self._armed, self._fired = (tid, deadline), False
                if deadline < self._wake_at:  # it would look too late
                    self._cond.notify()
            reply = run_request(self._cache, request)
        except InlineTimeout:
            timed_out = True
        finally:
            with self._cond:
                self._armed = None
                if self._fired and not timed_out:
                    # Fired just as the code finished: cancel the still-pending exception.
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)
                    timed_out = True
            if timed_out:
                sys.settrace(tracer)  # the one InlineTimeout set to stop the code
            # Disarmed first: no timeout can interrupt putting the state back.
            self._guard.after(environ)
        if timed_out:
            raise FunctionError("TimeoutError", f"function exceeded its timeout of {timeout:g} s")
        if reply.get("error"):
            err = reply["error"]
            raise FunctionError(err["type"], err["message"], reply.get("stdout", ""))
        # A copy through JSON: the output must be JSON anyway, and the run keeps no
        # reference into objects the user's code may still hold. Read back by the
        # standard library: it keeps every integer exact without engine._json's scan
        # for long digit runs, which costs more than the parse (~10 µs a KB).
        stdout = reply.get("stdout", "")
        try:
            text = encode_output(reply.get("value"))
        except OutputNotJSON as exc:
            raise FunctionError(exc.kind, str(exc), stdout) from None
        return json.loads(text), stdout
