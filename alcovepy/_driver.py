"""The Driver: the only owner of the helper's pipes.

Theory of operation. ``open_driver`` spawns the helper with two pipes and
checks its hello (protocol version and call-table digest). There is no
reader task: a task that waits for something from the helper (a reply,
output, an event, an exit) reads the pipe itself when no other task is
reading ("leader reads"), feeds the bytes to the sans-io
:class:`~alcovepy._protocol.Router` and applies the effects synchronously,
waking exactly the tasks they concern; otherwise it sleeps until woken by
its result or offered the reader's role. A reply is thus usually taken by
the very task that awaits it, without a hand-over between tasks. (Under
asyncio the loop's reader callback does the reading task's read, and only
while it waits: see _LoopReader.) A call's common path (_call) is one
coroutine with one suspension and no per-call anyio object: at depth 0 the
host's Python, not the helper, sets the pace of sequential calls. Writes go
straight to the non-blocking pipe; a frame that does not fit is finished
under a write lock and a shield (while a helper task keeps reading, so the
two pipes cannot deadlock), so a cancelled call never leaves half a frame
on the wire. A cancelled call simply stops waiting: its reply, when it
comes, settles a waiter nobody awaits, and no other call's. While an exec
is in flight, requests for that process and its subtree wait: nothing
meant for the control loop may reach a program's stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import signal
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn, Protocol, TypeVar, cast, final

import anyio
import anyio.lowlevel

from alcovepy import _args as _a
from alcovepy import _spec
from alcovepy._calls import DriverCalls
from alcovepy._helper_path import helper_path
from alcovepy._protocol import (
    CREDIT_BATCH,
    STDERR,
    STDOUT,
    EventArrived,
    Execed,
    Failed,
    FrameDecoder,
    Gone,
    Output,
    Resolved,
    Router,
    StreamBuffer,
    decode_hello,
    encode_credit,
)
from alcovepy.errors import HelperExited, HelperProtocolError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
    from types import ModuleType

    from alcovepy._args import PipelineLike, StrOrBytes
    from alcovepy._process import Process
    from alcovepy._protocol import Effect, Frame
    from alcovepy._types import Event
    from alcovepy._wire import CallSpec

__all__ = ["Driver", "DriverStatistics", "open_driver"]

T = TypeVar("T")

READ_SIZE: Final = 256 * 1024
PIPE_SIZE: Final = 1 << 20  # of the two pipes to the helper
CHUNK_MAX: Final = 1 << 20  # default largest chunk a read returns: whole frames, unsplit
STDIN_CHUNK: Final = 256 * 1024  # bytes per stdin request
STDIN_WINDOW: Final = 4  # stdin requests in flight per pipeline
FINISHED_KEPT: Final = 65536  # exit statuses (and untaken events) kept for processes whose state was dropped
CLOSE_MARGIN: Final = 5.0  # seconds beyond the helper's grace before it is killed
_ROOT: Final[tuple[int, ...]] = ()  # the helper's pipeline; CPython's () is one object, so `is` finds it cheaply


@final
@dataclass(frozen=True)
class DriverStatistics:
    """A snapshot of the Driver's bookkeeping."""

    pending_requests: int
    pipelines: int
    buffered_output: int
    late_replies: int


class _Event(Protocol):
    """What the Driver needs of an event: a _TrioEvent under trio, a
    _LoopEvent under asyncio, anyio.Event elsewhere."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self) -> Awaitable[None]: ...


def _running_trio() -> ModuleType | None:
    """The trio module if the task running now is a trio task (the Driver
    is bound to its event loop), else None. trio is optional: it is looked
    up, never imported, here."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return trio
    return None


class _LoopEvent:
    """Under asyncio: a one-shot event that is a bare future of the loop.

    anyio.Event looks its backend up and builds an asyncio.Event, whose
    wait() makes a future and a coroutine: ~6 µs, paid by every call of 16
    concurrent tasks but one. Awaiting the future directly is cancellable
    as any await is (the task's cancellation cancels it)."""

    __slots__ = ("_fut",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._fut: asyncio.Future[None] = loop.create_future()

    def set(self) -> None:
        if not self._fut.done():
            self._fut.set_result(None)

    def is_set(self) -> bool:
        return self._fut.done()

    def wait(self) -> asyncio.Future[None]:
        return self._fut


def _event_factory() -> Callable[[], _Event]:
    """How the Driver makes the event a task sleeps on, chosen once for the
    event loop running now (the Driver is bound to it).

    A task sleeps on one per wait whenever another task reads, e.g. every
    call of 16 concurrent tasks but one, and anyio.Event() looks its
    backend up on every creation and wraps the backend's own event. Under
    trio, a _TrioEvent (its wait() is trio's own checkpoint, as anyio's
    is under trio); under asyncio, a _LoopEvent."""
    if _running_trio() is not None:
        return _trio_event_class()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return anyio.Event
    return functools.partial(_LoopEvent, loop)


@functools.cache
def _trio_event_class() -> Callable[[], _Event]:
    """Under trio: the class of a one-shot event that one task sleeps on.

    trio.Event keeps a set of waiting tasks and makes a closure per wait;
    the Driver's events each have one sleeper (the task that made it), so
    this keeps that task and reschedules it. With 16 tasks calling at once,
    host instructions per call fell from 63.5k to 60.8k (callgrind). Made
    on first use: trio is optional."""
    import trio

    checkpoint = trio.lowlevel.checkpoint
    current_task = trio.lowlevel.current_task
    reschedule = trio.lowlevel.reschedule
    wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled
    succeeded = trio.lowlevel.Abort.SUCCEEDED

    class _TrioEvent:
        __slots__ = ("_flag", "_task")

        def __init__(self) -> None:
            self._flag = False
            self._task: trio.lowlevel.Task | None = None

        def set(self) -> None:
            if not self._flag:
                self._flag = True
                if self._task is not None:
                    reschedule(self._task)
                    self._task = None

        def is_set(self) -> bool:
            return self._flag

        async def wait(self) -> None:
            if self._flag:
                await checkpoint()
                return
            self._task = current_task()
            await wait_task_rescheduled(self._abort)

        def _abort(self, _: object) -> trio.lowlevel.Abort:
            self._task = None  # cancelled: a later set() reschedules nobody
            return succeeded

    return _TrioEvent


def _collect_passes() -> int:
    """How many passes of the event loop a caller collecting frames
    (Driver._write_batch) waits, chosen once for the loop running now, so
    that every task woken with it has run before it writes.

    asyncio runs ready tasks in the order they were woken: one pass. trio
    runs each batch of ready tasks forwards or backwards at random, so a
    task woken in the collector's own batch may run after it: two."""
    return 2 if _running_trio() is not None else 1


class _Waiter:
    """Where one request's outcome lands."""

    __slots__ = ("error", "finished", "gate", "value", "wake")

    def __init__(self) -> None:
        self.finished = False
        self.value: object = None
        self.error: BaseException | None = None
        self.wake: _Event | None = None  # set by the task sleeping on it
        self.gate: tuple[int, ...] | None = None  # the pipeline of an exec in flight

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


class _PipeState:
    """Output, events and exit of one pipeline, as seen by the Driver."""

    __slots__ = ("buffers", "events", "gone", "returncode", "stdin_lock", "watchers")

    def __init__(self) -> None:
        self.buffers = (StreamBuffer(), StreamBuffer())
        self.events: deque[Event] = deque()
        self.returncode: int | None = None
        self.gone = False
        self.stdin_lock = anyio.Lock()
        self.watchers: set[_Event] = set()

    def notify(self) -> None:
        if self.watchers:
            for ev in self.watchers:
                ev.set()
            self.watchers.clear()

    def lose(self) -> None:
        """The process is unreachable: end its streams."""
        self.gone = True
        for b in self.buffers:
            b.end()
        self.notify()


def _readable_waiter() -> Callable[[int], Awaitable[None]]:
    """How the reading task waits for the helper's pipe, chosen once for the
    event loop running now (the Driver is bound to it).

    Under trio, trio's own wait_readable: anyio's finds its backend and adds
    a coroutine on every wait, a few µs of a call's ~30. The two errors anyio
    translates cannot happen here: the read end is never notify_closing'd and
    only the reading task waits on it. (Under asyncio a _LoopReader is used
    instead; this is for any other loop anyio runs on.)"""
    trio = _running_trio()
    if trio is not None:
        return cast("Callable[[int], Awaitable[None]]", trio.lowlevel.wait_readable)
    return anyio.wait_readable


class _LoopReader:
    """Under asyncio: reads the helper's pipe from the loop's reader callback
    on behalf of the reading task, the pipe staying registered with the loop.

    anyio's wait_readable registers the fd and unregisters it on every wait
    (two epoll_ctl and the selector's bookkeeping) and makes a closure per
    wait; here the fd stays registered while tasks keep waiting on it. The
    callback must read (consume) before the loop polls again: a level-
    triggered fd left readable would run it once more and wake the next wait
    for nothing. It reads only while a task waits (its future is pending), so
    nothing is taken from the pipe with nobody waiting; if it finds nobody,
    it unregisters until the next wait. The reading task thus resumes with
    the read already applied."""

    __slots__ = ("_consume", "_fd", "_loop", "_registered", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, consume: Callable[[], None]) -> None:
        self._loop = loop
        self._fd = fd
        self._consume = consume
        self._registered = False
        self._waiting: asyncio.Future[None] | None = None

    def wait(self) -> asyncio.Future[None]:
        """Done once one read of the pipe was consumed. Awaited directly
        (no coroutine); cancelling the awaiting task cancels it, and the
        read it would have done is left to the next wait."""
        fut = self._loop.create_future()
        self._waiting = fut
        if not self._registered:
            self._loop.add_reader(self._fd, self._readable)
            self._registered = True
        return fut

    def _readable(self) -> None:
        fut = self._waiting
        self._waiting = None
        if fut is None or fut.done():  # nobody waits (the waiter was cancelled)
            self.close()
            return
        try:
            self._consume()
        except Exception as exc:  # the reading task raises it, as if it had read
            fut.set_exception(exc)
        else:
            fut.set_result(None)

    def close(self) -> None:
        """Stop watching the pipe (before closing it)."""
        if self._registered:
            self._registered = False
            self._loop.remove_reader(self._fd)


@final
class Driver(DriverCalls):
    """A running helper and the tree of processes under it.

    Made only by :func:`open_driver`. Every call of the table is a method
    taking the pipeline first; :attr:`root` and :meth:`process` give the
    process layer.
    """

    __slots__ = (
        "_batch",
        "_burst",
        "_closed",
        "_collect_passes",
        "_decoder",
        "_eof",
        "_failure",
        "_finished",
        "_gates",
        "_leading",
        "_loop_reader",
        "_new_event",
        "_popen",
        "_rfd",
        "_router",
        "_sleepers",
        "_states",
        "_wait_readable",
        "_waiters",
        "_wfd",
        "_write_lock",
        "_writers",
        "helper_pid",
        "helper_version",
    )

    def __init__(self, popen: subprocess.Popen[bytes], wfd: int, rfd: int) -> None:
        self._popen = popen
        self._wfd = wfd
        self._rfd = rfd
        self._decoder = FrameDecoder()
        self._router = Router()
        self._waiters: dict[int, _Waiter] = {}
        self._states: dict[tuple[int, ...], _PipeState] = {}
        # pipelines gone and fully read, forgotten: their exit status and the
        # events nobody took, oldest first (at most FINISHED_KEPT)
        self._finished: dict[tuple[int, ...], tuple[int | None, tuple[Event, ...]]] = {}
        self._gates: dict[tuple[int, ...], set[_Event]] = {}  # exec in flight -> watchers
        self._write_lock = anyio.Lock()
        # tasks holding or awaiting _write_lock: 0 means a frame may be
        # written at once (cheaper to test than the lock's locked())
        self._writers = 0
        # call frames a caller collects in this pass of the event loop, to
        # write them at once (_write_batch); None when nobody collects
        self._batch: list[bytes] | None = None
        self._burst = 0  # replies applied by the last read: >1 means callers were woken together
        self._collect_passes = _collect_passes()
        self._leading = False  # a task is reading the helper's pipe
        self._wait_readable = _readable_waiter()
        self._new_event = _event_factory()
        self._loop_reader: _LoopReader | None = None
        if self._wait_readable is anyio.wait_readable:
            with contextlib.suppress(RuntimeError):  # RuntimeError: no asyncio loop runs here
                if asyncio.current_task() is not None:
                    self._loop_reader = _LoopReader(asyncio.get_running_loop(), rfd, self._consume)
        self._sleepers: dict[_Event, None] = {}  # tasks that may be offered the reading
        self._eof = False
        self._closed = False
        self._failure: BaseException | None = None
        self.helper_pid = popen.pid
        self.helper_version = ""

    # ---- process layer ---------------------------------------------------

    @property
    def root(self) -> Process:
        """The helper itself, pipeline ``[]``."""
        return self.process(())

    def process(self, pipeline: PipelineLike) -> Process:
        """A Process handle for an existing pipeline."""
        from alcovepy._process import Process

        return Process._create(self, _a.pipeline(pipeline))

    # ---- calls -------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError("the Driver is closed")
        if self._failure is not None:
            raise HelperExited(str(self._failure)) from self._failure

    async def _pass_gates(self, pl: tuple[int, ...]) -> None:
        for n in range(1, len(pl) + 1):
            prefix = pl[:n]
            while prefix in self._gates and not self._eof:
                await self._until(self._gate_opened(prefix), self._gates[prefix])

    def _gate_opened(self, prefix: tuple[int, ...]) -> Callable[[], bool]:
        return lambda: prefix not in self._gates

    async def _request(self, reqid: int, frame: bytes, waiter: _Waiter) -> _Waiter:
        self._waiters[reqid] = waiter
        try:
            await self._send(frame)
        except BaseException:
            self._unsent(reqid, waiter)
            raise
        return waiter

    def _unsent(self, reqid: int, waiter: _Waiter) -> None:
        """Nothing of request reqid was written: forget it."""
        self._router.forget(reqid)
        self._waiters.pop(reqid, None)
        self._open_gate(waiter)

    async def _outcome(self, waiter: _Waiter) -> object:
        await self._until(lambda: waiter.finished, None, waiter)  # cancelled: the reply is left unread
        return waiter.result()

    async def _call(self, pipeline: PipelineLike, spec: CallSpec[T], args: tuple[object, ...]) -> T:
        """Send one call and await its result.

        The whole round trip of the common case (the pipe takes the frame at
        once, no other task reads) runs in this one coroutine: no helper
        coroutine, no lambda, no anyio object per call, one suspension
        (waiting for the helper's pipe). It is _request then _outcome inlined;
        a contended write or another task's reading takes their general paths.
        """
        pl = () if pipeline is _ROOT else _a.pipeline(pipeline)
        exec_ = spec.kind == "exec"
        if exec_ and not pl:
            raise ValueError(f"{spec.name}: the helper itself cannot exec; fork a child and exec that")
        if self._gates:
            await self._pass_gates(pl)
        if self._closed or self._failure is not None:
            self._check_usable()
        reqid, frame = self._router.call(pl, spec, args)
        waiter = _Waiter()
        if exec_:
            self._gates[pl] = set()
            waiter.gate = pl
        self._waiters[reqid] = waiter
        if self._batch is not None:  # a caller collects this pass's frames: ours goes with them
            self._batch.append(frame)
        elif self._burst > 1 and not self._writers:  # callers were woken together: collect their frames
            await self._write_batch(frame)
        else:
            try:
                sent = 0
                if not self._writers:  # _write_some inlined
                    try:
                        sent = os.write(self._wfd, frame)
                    except BlockingIOError:
                        pass
                    except OSError as exc:
                        self._write_failed(exc)
                if sent != len(frame):
                    await self._send_rest(frame, sent)
            except BaseException:
                self._unsent(reqid, waiter)
                raise
        if not waiter.finished and not self._eof:
            if self._leading:  # another task reads: sleep until woken
                await self._until(lambda: waiter.finished, None, waiter)
            else:  # lead: _until's reading loop, inlined
                self._leading = True
                try:
                    reader = self._loop_reader
                    while not waiter.finished and not self._eof:
                        if reader is not None:  # the loop's callback reads
                            await reader.wait()  # cancelled: the reply is left unread
                            continue
                        try:
                            await self._wait_readable(self._rfd)  # cancelled: the reply is left unread
                        except OSError as exc:
                            self._read_failed(exc)
                        else:
                            self._consume()
                finally:
                    self._leading = False
                    if self._sleepers:
                        self._offer_reading()
        elif self._sleepers and not self._leading:
            self._offer_reading()
        if waiter.error is not None:
            raise waiter.error
        return waiter.value  # type: ignore[return-value]  # the spec's decoder made a T (no cast(): a call less)

    async def _write_batch(self, frame: bytes) -> None:
        """Write frame together with those of the calls that other tasks make
        in this same pass of the event loop (they append to self._batch): a
        burst of callers woken by one read costs one write and one wake-up
        of the helper, not one each.

        Not cancellable until the frames are written, since other callers'
        are among them; a cancellation after that leaves this call's reply
        unread, as for any call cancelled while it waits."""
        batch = self._batch = [frame]
        self._burst = 0  # one collector per burst
        try:
            for _ in range(self._collect_passes):  # the other woken tasks run, and call
                await anyio.lowlevel.cancel_shielded_checkpoint()
        finally:
            self._batch = None
        with anyio.CancelScope(shield=True):  # a closed Driver fails every collected caller here
            await self._send(frame if len(batch) == 1 else b"".join(batch))

    # ---- waiting: leader reads ----------------------------------------------

    async def _until(
        self, ready: Callable[[], bool], watchers: set[_Event] | None = None, waiter: _Waiter | None = None
    ) -> None:
        """Return once ready() holds (or the helper's output ended).

        Reads the helper's pipe while no other task does; otherwise sleeps
        on an event that the awaited result, or an offer of the reading,
        sets. watchers is where a result's producer finds that event.
        """
        try:
            while not ready() and not self._eof:
                if not self._leading:
                    self._leading = True
                    try:
                        await self._read_once()
                    finally:
                        self._leading = False
                    continue
                ev = self._new_event()
                self._sleepers[ev] = None
                if watchers is not None:
                    watchers.add(ev)
                if waiter is not None:
                    waiter.wake = ev
                try:
                    await ev.wait()
                finally:
                    self._sleepers.pop(ev, None)
                    if watchers is not None:
                        watchers.discard(ev)
                    if waiter is not None:
                        waiter.wake = None
        finally:
            if not self._leading:  # nobody reads: hand the reading on
                self._offer_reading()

    def _offer_reading(self) -> None:
        for ev in self._sleepers:
            if not ev.is_set():  # a set one is already about to run
                ev.set()
                return

    async def _read_once(self) -> None:
        """Wait for the helper's output and apply every frame of one read."""
        if self._loop_reader is not None:
            await self._loop_reader.wait()
            return
        try:
            await self._wait_readable(self._rfd)
        except OSError as exc:
            self._read_failed(exc)
        else:
            self._consume()

    def _read_failed(self, exc: OSError) -> None:
        self._failure = self._failure or HelperExited(f"reading from the helper failed: {exc}")
        self._finish()

    def _consume(self) -> None:
        """Read what the helper's pipe holds (non-blocking) and apply every
        complete frame; nothing if it holds nothing yet."""
        try:
            n = os.readv(self._rfd, [self._decoder.writable(READ_SIZE)])
        except BlockingIOError:
            return
        except OSError as exc:
            self._read_failed(exc)
            return
        if not n:
            self._finish()
            return
        effects: list[Effect] = []
        try:
            self._router.receive_committed(self._decoder, n, effects)
        except HelperProtocolError as exc:
            self._apply(effects)  # the frames before the bad one
            self._failure = exc
            with contextlib.suppress(ProcessLookupError):
                self._popen.kill()
            self._finish()
        else:
            self._apply(effects)

    # ---- stdin, stdout, stderr, events -----------------------------------

    def _state(self, pl: tuple[int, ...]) -> _PipeState:
        state = self._states.get(pl)
        if state is None:
            state = self._states[pl] = _PipeState()
            if pl in self._finished:  # asked again about a process long gone
                state.returncode, events = self._finished.pop(pl)  # forgotten again later
                state.events.extend(events)
                state.lose()
        return state

    def _forget_if_done(self, pl: tuple[int, ...]) -> None:
        """Drop the state of a process that is gone and whose output was all
        taken, keeping only its exit status and untaken events (bounded).

        Untaken events are kept compactly rather than holding the whole
        state: spawn then wait() (nobody asks for the ExitStatus event) is
        the commonest pattern, and kept ~4 KB per process forever. A task
        that still holds this state object (event() between its checkpoint
        and its pop) looks the state up again, so nothing is taken twice."""
        state = self._states.get(pl)
        if (
            state is None
            or not state.gone
            or state.watchers
            or state.stdin_lock.locked()
            or any(b.size or not b.eof for b in state.buffers)
        ):
            return
        del self._states[pl]
        self._finished[pl] = (state.returncode, tuple(state.events))
        if len(self._finished) > FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]

    async def stdin(self, pipeline: PipelineLike, data: bytes) -> None:
        """Write data to the stdin of the program at pipeline.

        Returns once every byte is in the program's pipe; large data is sent
        in pieces with a bounded number in flight. Raises BrokenPipeError if
        the program closed its stdin or exited.

        Cancellation: part of data may have been delivered.
        """
        pl = _a.pipeline(pipeline)
        payload = _a.data("data", data)
        if not pl:
            raise ValueError("stdin: the helper's stdin is its request channel; address a child")
        if self._gates:
            await self._pass_gates(pl)
        if not payload:
            await anyio.lowlevel.checkpoint()
            return
        async with self._state(pl).stdin_lock:
            inflight: deque[_Waiter] = deque()
            view = memoryview(payload)
            for off in range(0, len(payload), STDIN_CHUNK):
                if len(inflight) >= STDIN_WINDOW:
                    await self._outcome(inflight.popleft())
                self._check_usable()
                reqid, frame = self._router.stdin(pl, view[off : off + STDIN_CHUNK])  # copied once, into the frame
                inflight.append(await self._request(reqid, frame, _Waiter()))
            while inflight:
                await self._outcome(inflight.popleft())

    async def close_stdin(self, pipeline: PipelineLike) -> None:
        """Close the stdin of the process at pipeline (after pending writes).

        A program sees end of file; a control process shuts its subtree
        down and exits.

        Cancellation: the close may still happen; later writes then fail.
        """
        pl = _a.pipeline(pipeline)
        if not pl:
            raise ValueError("close_stdin: close the helper by leaving open_driver")
        if self._gates:
            await self._pass_gates(pl)
        async with self._state(pl).stdin_lock:
            self._check_usable()
            reqid, frame = self._router.close_stdin(pl)
            await self._outcome(await self._request(reqid, frame, _Waiter()))

    async def _receive(self, pl: tuple[int, ...], stream: int, max_bytes: int) -> bytes:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        state = self._state(pl)
        buf = state.buffers[stream]
        while True:
            if buf.size or buf.eof or self._eof:
                await anyio.lowlevel.checkpoint()  # cancelled here, nothing was taken
                chunk = buf.pull(max_bytes)  # no await from here to the return
                if chunk:
                    if buf.unreturned >= CREDIT_BATCH:
                        self._return_credit_nowait(pl, stream, buf)
                    return chunk
                if buf.eof or self._eof:
                    self._forget_if_done(pl)
                    return b""
                continue  # another reader took it
            if buf.unreturned:  # the helper may be out of credit: never wait owing it
                await self._return_credit(pl, stream, buf)
            await self._until(lambda: buf.size > 0 or buf.eof, state.watchers)

    def _return_credit_nowait(self, pl: tuple[int, ...], stream: int, buf: StreamBuffer) -> None:
        """Hand consumed output back as credit if the pipe takes it now; else keep owing."""
        if self._writers or self._closed or self._failure is not None:
            return
        frame = encode_credit(pl, stream, min(buf.unreturned, 0xFFFFFFFF))
        with contextlib.suppress(HelperExited):  # the reading side reports that
            if self._write_some(frame) == len(frame):  # <= PIPE_BUF: all or nothing
                buf.unreturned -= min(buf.unreturned, 0xFFFFFFFF)

    async def _return_credit(self, pl: tuple[int, ...], stream: int, buf: StreamBuffer) -> None:
        amount = min(buf.unreturned, 0xFFFFFFFF)
        if self._closed or self._failure is not None:
            return
        await self._send(encode_credit(pl, stream, amount))  # all of it, or (cancelled) none
        buf.unreturned -= amount

    async def stdout(self, pipeline: PipelineLike, max_bytes: int = CHUNK_MAX) -> bytes:
        """The next chunk of stdout of the process at pipeline; b"" at end of file.

        Cancellation: no output is lost; the next call returns it.
        """
        return await self._receive(_a.pipeline(pipeline), STDOUT, max_bytes)

    async def stderr(self, pipeline: PipelineLike, max_bytes: int = CHUNK_MAX) -> bytes:
        """The next chunk of stderr of the process at pipeline; b"" at end of file.

        Cancellation: no output is lost; the next call returns it.
        """
        return await self._receive(_a.pipeline(pipeline), STDERR, max_bytes)

    async def event(self, pipeline: PipelineLike) -> Event | None:
        """The next event of the process at pipeline; None once it is gone
        and every event was taken.

        Cancellation: no event is lost; the next call returns it.
        """
        pl = _a.pipeline(pipeline)
        state = self._state(pl)
        while True:
            if state.events or state.gone or self._eof:
                await anyio.lowlevel.checkpoint()  # cancelled here, nothing was taken
                current = self._state(pl)  # state may have been forgotten meanwhile: see _forget_if_done
                if current.events:
                    return current.events.popleft()
                if current.gone or self._eof:
                    self._forget_if_done(pl)
                    return None
                continue
            await self._until(lambda: bool(state.events) or state.gone, state.watchers)

    async def wait(self, pipeline: PipelineLike) -> int:
        """Wait for the process at pipeline to exit: its exit code, or -signal.

        Raises ProcessLookupError if it became unreachable (its parent exec'd
        or died) so that its status cannot be known.

        Cancellation: safe; the status stays available to a later wait().
        """
        pl = _a.pipeline(pipeline)
        if not pl:
            raise ValueError("wait: the helper is waited for by leaving open_driver")
        state = self._state(pl)
        while state.returncode is None:
            if self._eof and self._failure is not None:
                raise HelperExited(str(self._failure)) from self._failure
            if state.gone or self._eof:
                raise ProcessLookupError(f"{list(pl)} is unreachable: its exit status is unknown")
            await self._until(lambda: state.returncode is not None or state.gone, state.watchers)
        await anyio.lowlevel.checkpoint()
        rc = state.returncode
        self._forget_if_done(pl)
        return rc

    def statistics(self) -> DriverStatistics:
        """Counts of pending requests, known pipelines and buffered output."""
        buffered = sum(b.size for s in self._states.values() for b in s.buffers)
        return DriverStatistics(len(self._router.pending), len(self._states), buffered, self._router.late_replies)

    # ---- writing ------------------------------------------------------------

    def _write_some(self, view: bytes | memoryview) -> int:
        try:
            return os.write(self._wfd, view)
        except BlockingIOError:
            return 0
        except OSError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: OSError) -> NoReturn:
        self._failure = self._failure or HelperExited(f"the helper is gone: {exc}")
        raise HelperExited(str(self._failure)) from exc

    async def _send(self, frame: bytes) -> None:
        """Write one whole frame, or (if cancelled before any byte) nothing."""
        self._check_usable()
        await self._send_rest(frame, self._write_some(frame) if not self._writers else 0)

    async def _send_rest(self, frame: bytes, sent: int) -> None:
        """Finish writing frame, of which the pipe took sent bytes at once
        (0 also when another task holds the write lock)."""
        if sent == len(frame):
            return
        view = memoryview(frame)
        self._writers += 1
        try:
            if sent > 0:  # part of the frame is on the wire: the rest must follow, uncancellable
                self._write_lock.acquire_nowait()  # free: nobody held or awaited it (_writers was 0)
                try:
                    with anyio.CancelScope(shield=True):
                        await self._write_blocked(view[sent:], first=False)
                finally:
                    self._write_lock.release()
                return
            async with self._write_lock:
                await self._write_blocked(view, first=True)
        finally:
            self._writers -= 1

    async def _write_blocked(self, view: memoryview, first: bool) -> None:
        """The pipe is full: write the rest as it drains, reading meanwhile
        (the helper may be blocked writing to us). With first, nothing was
        written yet, so cancellation is allowed until the first byte."""
        error: Exception | None = None  # raised after the task group, not grouped
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._until, lambda: False)  # reads, or stands by to
            try:
                while view:
                    await anyio.wait_writable(self._wfd)
                    self._check_usable()
                    n = self._write_some(view)
                    view = view[n:]
                    if first and n:
                        first = False
                        tg.cancel_scope.shield = True
            except Exception as exc:
                error = exc
            tg.cancel_scope.cancel()
        if error is not None:
            raise error

    # ---- reading and applying effects --------------------------------------

    async def _read_hello(self) -> None:
        frames: list[Frame] = []
        while not frames:
            await anyio.wait_readable(self._rfd)
            try:
                n = os.readv(self._rfd, [self._decoder.writable(READ_SIZE)])
            except BlockingIOError:
                continue
            if not n:
                rc = await self._helper_exit_status()
                raise HelperExited(f"the helper exited before its hello (status {rc})")
            frames = self._decoder.commit(n)
        protocol, digest, version, _pid = decode_hello(frames[0])
        if protocol != _spec.PROTOCOL_VERSION or digest != _spec.SPEC_DIGEST:
            raise HelperProtocolError(
                f"helper speaks protocol {protocol} with call table {digest[:12]}; "
                f"this alcovepy needs protocol {_spec.PROTOCOL_VERSION} with {_spec.SPEC_DIGEST[:12]} "
                "(rebuild the helper: pip install .)"
            )
        self.helper_version = version
        for frame in frames[1:]:
            self._apply(self._router.receive(frame))

    def _finish(self) -> None:
        """The helper's output ended: fail what is pending, end every stream."""
        if self._eof:
            return
        self._eof = True
        if self._failure is None and not self._closed:
            rc = self._popen.poll()
            self._failure = HelperExited(f"the helper exited (status {rc})")
        failure = self._failure
        for reqid in list(self._waiters):
            if self._closed and failure is None:
                error: BaseException = anyio.ClosedResourceError("the Driver was closed")
            else:
                error = HelperExited(str(failure))
                error.__cause__ = failure
            self._settle(reqid, None, error)
        self._router.pending.clear()
        for state in self._states.values():
            state.lose()
        for pl in list(self._gates):
            self._release_gate(pl)
        for ev in self._sleepers:
            ev.set()

    def _settle(self, reqid: int, value: object, error: BaseException | None) -> None:
        waiter = self._waiters.pop(reqid, None)
        if waiter is None:
            return
        waiter.value, waiter.error = value, error
        waiter.finished = True
        if waiter.wake is not None:
            waiter.wake.set()
        self._open_gate(waiter)

    def _open_gate(self, waiter: _Waiter) -> None:
        if waiter.gate is not None:
            self._release_gate(waiter.gate)
            waiter.gate = None

    def _release_gate(self, pl: tuple[int, ...]) -> None:
        for ev in self._gates.pop(pl, ()):
            ev.set()

    def _lose_under(self, prefix: tuple[int, ...]) -> None:
        n = len(prefix)
        for pl, state in self._states.items():
            if len(pl) > n and pl[:n] == prefix:
                state.lose()

    def _apply(self, effects: list[Effect]) -> None:
        burst = 0
        for e in effects:
            if type(e) is Resolved:  # _settle inlined: the commonest effect, one per call
                burst += 1
                waiter = self._waiters.pop(e.reqid, None)
                if waiter is not None:
                    waiter.value = e.value
                    waiter.finished = True
                    if waiter.wake is not None:
                        waiter.wake.set()
                    if waiter.gate is not None:
                        self._open_gate(waiter)
            elif type(e) is Failed:
                self._settle(e.reqid, None, e.error)
            elif type(e) is Output:
                state = self._state(e.pipeline)
                state.buffers[e.stream].push(e.data)
                state.notify()
            elif type(e) is EventArrived:
                state = self._state(e.pipeline)
                state.events.append(e.event)
                state.notify()
            elif type(e) is Gone:
                state = self._state(e.pipeline)
                state.returncode = e.returncode
                state.gone = True
                state.notify()
                self._lose_under(e.pipeline)
                self._forget_if_done(e.pipeline)
            elif type(e) is Execed:
                self._lose_under(e.pipeline)
        self._burst = burst

    # ---- lifetime -------------------------------------------------------

    async def _helper_exit_status(self) -> int:
        if self._popen.poll() is None:
            try:
                pidfd = os.pidfd_open(self._popen.pid)
            except ProcessLookupError:
                pidfd = -1
            if pidfd >= 0:
                try:
                    await anyio.wait_readable(pidfd)
                finally:
                    os.close(pidfd)
        return self._popen.wait()

    async def aclose(self) -> None:
        """Terminate every process of the tree, reap them, and wait for the helper.

        The helper sends each program its signaloneof signal, waits up to
        shutdown_grace_ms, SIGKILLs what is left (at every depth, orphans
        included) and exits. Shielded from cancellation; bounded in time.
        """
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            anyio.notify_closing(self._wfd)
            os.close(self._wfd)
            grace = _spec.OPTIONS["shutdown_grace_ms"][0] / 1000
            with anyio.move_on_after(grace + CLOSE_MARGIN) as scope:
                await self._until(lambda: self._eof)
            if scope.cancelled_caught:  # the helper does not wind down: kill it
                with contextlib.suppress(ProcessLookupError):
                    self._popen.send_signal(signal.SIGKILL)
                await self._until(lambda: self._eof)
            await self._helper_exit_status()
            if self._loop_reader is not None:
                self._loop_reader.close()
            os.close(self._rfd)


def _spawn(argv: list[str], env: Mapping[str, str] | None) -> tuple[subprocess.Popen[bytes], int, int]:
    to_helper_r, to_helper_w = os.pipe2(os.O_CLOEXEC)
    from_helper_r, from_helper_w = os.pipe2(os.O_CLOEXEC)
    try:
        popen = subprocess.Popen(
            argv,
            stdin=to_helper_r,
            stdout=from_helper_w,
            env=dict(env) if env is not None else None,
            process_group=0,  # a terminal's ^C goes to the host, which then closes the Driver
        )
    except BaseException:
        for fd in (to_helper_w, from_helper_r):
            os.close(fd)
        raise
    finally:
        os.close(to_helper_r)
        os.close(from_helper_w)
    os.set_blocking(to_helper_w, False)
    os.set_blocking(from_helper_r, False)
    for fd in (to_helper_w, from_helper_r):  # fewer, larger reads and writes; best effort
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    return popen, to_helper_w, from_helper_r


@contextlib.asynccontextmanager
async def open_driver(
    *,
    exec_prefix: Sequence[str] = (),
    helper: StrOrBytes | None = None,
    env: Mapping[str, str] | None = None,
    **options: int,
) -> AsyncIterator[Driver]:
    """Start a helper and yield its Driver; on exit, end the whole process tree.

    exec_prefix runs the helper through another program (``("sudo", "-n")``);
    helper overrides the built-in helper binary; env is the helper's
    environment; options set the helper's options (``maxchild=512``).
    """
    opts = {_a.option("option", k): v for k, v in options.items()}
    for name, value in opts.items():
        _a.option_value(name, value)
    path = os.fsdecode(helper) if helper is not None else str(helper_path())
    popen, wfd, rfd = _spawn([*exec_prefix, path], env)
    drv = Driver(popen, wfd, rfd)
    try:
        try:
            await drv._read_hello()
            for name, value in opts.items():
                await drv.setopt((), name, value)
            yield drv
        finally:
            await drv.aclose()
    finally:
        if popen.poll() is None:  # only if the hello failed: never leave the helper behind
            popen.kill()
            popen.wait()
