"""Function worker processes: how the engine starts and kills them.

Each is a ``python -m engine._function_worker`` that ends itself when the engine
process that started it dies (engine/_worker_lifetime.py).
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)


class WorkerProcess:
    """One ``python -m engine._function_worker`` process and its two pipes.

    A plain subprocess rather than multiprocessing: it never re-imports the
    parent's ``__main__``, so any program embedding the runtime can use it.
    """

    __slots__ = ("process", "conn", "_out")

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])),
        }
        # This process's pid: the worker ends itself once its parent is another
        # (engine/_worker_lifetime.py), so it cannot outlive a killed engine.
        args = [str(to_child_r), str(from_child_w), str(os.getpid())]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine._function_worker", *args],
            pass_fds=(to_child_r, from_child_w),
            # Not the host's stdout/stderr: print() is captured inside the worker, and a
            # worker outliving its host must not hold the host's output pipes open.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
            # A process group of its own, which the processes the code starts join:
            # killed as a group (kill), they end with the worker rather than live on,
            # adopted by init, a hung one for good and a busy one making its effect
            # after the block failed. Nor does a terminal's Ctrl-C reach the code.
            process_group=0,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        # Read as it arrives (ReplyReader), on any loop: uvloop's add_reader makes the
        # fd non-blocking anyway, the standard loop's does not.
        os.set_blocking(from_child_r, False)
        self.conn = Connection(from_child_r, writable=False)
        self._out = Connection(to_child_w, readable=False)

    def send(self, payload: bytes) -> None:
        self._out.send_bytes(payload)

    def kill(self) -> None:
        try:
            try:
                # Its group id is its pid, kept while any process of the group lives.
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:  # the worker and all it started have ended
                pass
            self.process.wait(timeout=2)
        finally:
            self.conn.close()
            self._out.close()


_SIZE = struct.Struct("!i")
_LONG_SIZE = struct.Struct("!Q")


class ReplyReader:
    """A worker's reply, read from its non-blocking pipe in pieces as they arrive.

    The worker writes one message with ``Connection.send_bytes``: a 4-byte size (or -1
    and an 8-byte size), then the bytes. One blocking ``recv_bytes`` cannot read it
    from a non-blocking pipe once it outgrows the pipe's buffer (64 KiB): it raised
    EAGAIN halfway, which looked like a dead worker.
    """

    __slots__ = ("_fd", "_buf")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray()

    def read(self) -> bytes | None:
        """Take what the pipe holds: the whole reply once it is complete, else None.

        Raises EOFError when the worker closed its end before the reply was whole."""
        while (reply := self._reply()) is None:
            try:
                chunk = os.read(self._fd, 1 << 20)
            except BlockingIOError:
                return None
            if not chunk:
                raise EOFError("the worker closed its pipe")
            self._buf += chunk
        return reply

    def _reply(self) -> bytes | None:
        buf = self._buf
        if len(buf) < _SIZE.size:
            return None
        (size,) = _SIZE.unpack_from(buf)
        start = _SIZE.size
        if size == -1:  # over 2 GiB: send_bytes adds an 8-byte size
            start += _LONG_SIZE.size
            if len(buf) < start:
                return None
            (size,) = _LONG_SIZE.unpack_from(buf, _SIZE.size)
        if len(buf) < start + size:
            return None
        return bytes(buf[start : start + size])


class _Spawner:
    """Starts every worker from one daemon thread that lives as long as its process.

    On Linux a worker is killed when the *thread* that started it exits
    (PR_SET_PDEATHSIG, engine/_worker_lifetime.py). Started from a thread of an
    executor, it would die with that thread (``asyncio.run`` ends its loop's
    executor); a daemon thread is never joined, so it exits only with the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[concurrent.futures.Future[WorkerProcess]] | None = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: the thread was not copied (nor a lock held by another)."""
        self._lock = threading.Lock()
        self._jobs = None

    def spawn(self) -> concurrent.futures.Future[WorkerProcess]:
        with self._lock:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                threading.Thread(
                    target=self._serve,
                    args=(self._jobs,),
                    name="flowyard-worker-spawner",
                    daemon=True,
                ).start()
            jobs = self._jobs
        job: concurrent.futures.Future[WorkerProcess] = concurrent.futures.Future()
        jobs.put(job)
        return job

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[concurrent.futures.Future[WorkerProcess]]) -> None:
        while True:
            job = jobs.get()
            if not job.set_running_or_notify_cancel():
                continue
            try:
                job.set_result(WorkerProcess())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                job.set_exception(exc)


#: Starts a worker process; the future is done once it runs.
spawn = _Spawner().spawn
