"""The process layer: a handle per pipeline, with anyio byte streams."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, final

import anyio
import anyio.abc

from alcovepy._calls import ProcessCalls
from alcovepy._driver import CHUNK_MAX

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from alcovepy._args import Flags, StrOrBytes
    from alcovepy._driver import Driver
    from alcovepy._types import Event, Step

__all__ = ["Process"]


@final
class _StdinStream(anyio.abc.ByteSendStream):
    """The stdin of a program: ``send`` returns once the bytes are in its pipe."""

    def __init__(self, driver: Driver, pipeline: tuple[int, ...]) -> None:
        self._driver = driver
        self._pipeline = pipeline
        self._closed = False

    async def send(self, item: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            await self._driver.stdin(self._pipeline, item)
        except (BrokenPipeError, ProcessLookupError) as exc:
            raise anyio.BrokenResourceError(str(exc)) from exc

    async def aclose(self) -> None:
        """Close the stdin: the program reads end of file."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ProcessLookupError, anyio.ClosedResourceError):
            await self._driver.close_stdin(self._pipeline)


@final
class _OutputStream(anyio.abc.ByteReceiveStream):
    """stdout or stderr of a process; ends with ``anyio.EndOfStream``."""

    def __init__(self, driver: Driver, pipeline: tuple[int, ...], stream: int) -> None:
        self._driver = driver
        self._pipeline = pipeline
        self._stream = stream
        self._closed = False

    async def receive(self, max_bytes: int = CHUNK_MAX) -> bytes:
        if self._closed:
            raise anyio.ClosedResourceError
        data = await self._driver._receive(self._pipeline, self._stream, max_bytes)
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        """Stop reading here (the process's output keeps flowing to the Driver)."""
        self._closed = True
        await anyio.lowlevel.checkpoint()


@final
class _Events:
    """``async for ev in proc.events``: ends when the process is gone."""

    def __init__(self, driver: Driver, pipeline: tuple[int, ...]) -> None:
        self._driver = driver
        self._pipeline = pipeline

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        ev = await self._driver.event(self._pipeline)
        if ev is None:
            raise StopAsyncIteration
        return ev


@final
class Process(ProcessCalls):
    """A process of the tree: the helper (``pid is None``) or one of its descendants.

    Made by ``Driver.root``, ``Driver.process(pipeline)`` and
    ``Process.fork()``/``clone()``. Every call of the table is a method.
    """

    __slots__ = ("_driver", "pipeline", "stderr", "stdin", "stdout")

    _driver: Driver
    #: the pids from the helper down to this process; () for the helper
    pipeline: tuple[int, ...]
    stdin: anyio.abc.ByteSendStream
    stdout: anyio.abc.ByteReceiveStream
    stderr: anyio.abc.ByteReceiveStream

    def __init__(self) -> None:
        raise TypeError("Process has no public constructor: use drv.root, drv.process() or proc.fork()")

    @classmethod
    def _create(cls, driver: Driver, pipeline: tuple[int, ...]) -> Process:
        self = object.__new__(cls)
        self._driver = driver
        self.pipeline = pipeline
        self.stdin = _StdinStream(driver, pipeline)
        self.stdout = _OutputStream(driver, pipeline, 0)
        self.stderr = _OutputStream(driver, pipeline, 1)
        return self

    def __repr__(self) -> str:
        return f"<alcovepy.Process {list(self.pipeline)}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Process) and other._driver is self._driver and other.pipeline == self.pipeline

    def __hash__(self) -> int:
        return hash(self.pipeline)

    @property
    def pid(self) -> int | None:
        """The OS pid (as the parent sees it), or None for the helper."""
        return self.pipeline[-1] if self.pipeline else None

    @property
    def driver(self) -> Driver:
        """The Driver this process belongs to."""
        return self._driver

    async def fork(self) -> Process:
        """fork a control child of this process; see ``Driver.fork``.

        Cancellation: the child may still be created; it is ended with the Driver.
        """
        pid = await self._driver.fork(self.pipeline)
        return Process._create(self._driver, (*self.pipeline, pid))

    async def clone(self, flags: Flags) -> Process:
        """clone a control child into new namespaces; see ``Driver.clone``.

        Cancellation: the child may still be created; it is ended with the Driver.
        """
        pid = await self._driver.clone(self.pipeline, flags)
        return Process._create(self._driver, (*self.pipeline, pid))

    async def spawn(
        self, file: StrOrBytes, argv: Sequence[StrOrBytes], env: Sequence[StrOrBytes] | None = None
    ) -> Process:
        """Run a program as a child of this process in one request (fork + execvp).

        Returns once the program runs; raises its exec errno otherwise. env
        None inherits this process's environment. See ``Driver.spawn``.

        Cancellation: the program may still start; it is ended with the Driver.
        """
        pid = await self._driver.spawn(self.pipeline, file, argv, env)
        return Process._create(self._driver, (*self.pipeline, pid))

    async def clone_exec(
        self,
        flags: Flags,
        writes: Sequence[tuple[StrOrBytes, bytes]],
        steps: Sequence[Sequence[object] | Step],
        file: StrOrBytes,
        argv: Sequence[StrOrBytes],
        env: Sequence[StrOrBytes] | None = None,
    ) -> Process:
        """Clone, set up and exec a program in one request; see ``Driver.clone_exec``.

        Cancellation: the program may still start; it is ended with the Driver.
        """
        pid = await self._driver.clone_exec(self.pipeline, flags, writes, steps, file, argv, env)
        return Process._create(self._driver, (*self.pipeline, pid))

    async def event(self) -> Event | None:
        """The next event of this process, or None once it is gone.

        Cancellation: no event is lost.
        """
        return await self._driver.event(self.pipeline)

    @property
    def events(self) -> AsyncIterator[Event]:
        """The events of this process, ending when it is gone."""
        return _Events(self._driver, self.pipeline)

    async def wait(self) -> int:
        """Wait for exit: the exit code, or -signal (like ``Popen.returncode``).

        Cancellation: safe; a later wait() still returns the status.
        """
        return await self._driver.wait(self.pipeline)
