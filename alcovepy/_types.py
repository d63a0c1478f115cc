"""Public value types: results of calls and events of processes."""

from __future__ import annotations

import os as _os
import signal as _signal
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ChildInfo",
    "Event",
    "ExitStatus",
    "Ptr",
    "Rlimit",
    "SigInfo",
    "Signal",
    "StderrClosed",
    "StdinClosed",
    "StdoutClosed",
    "Step",
    "TermSig",
    "WaitStatus",
    "as_signal",
]


def as_signal(number: int) -> _signal.Signals | int:
    """The ``signal.Signals`` member for number, or the number (real-time signals)."""
    try:
        return _signal.Signals(number)
    except ValueError:
        return number


class Rlimit(msgspec.Struct, frozen=True, array_like=True):
    """A resource limit: soft (cur) and hard (max)."""

    cur: int
    max: int


class Ptr(msgspec.Struct, frozen=True):
    """A pointer inside a cstruct, occupying one machine word.

    ``Ptr(16)`` points to 16 zeroed bytes, ``Ptr(b"...")`` to a copy of the
    bytes; ``Ptr(0)`` and ``Ptr(b"")`` are NULL. After the call the helper
    returns ``Ptr(bytes)`` with what the pointee then holds.
    """

    data: bytes | int


class WaitStatus(msgspec.Struct, frozen=True, array_like=True):
    """What waitpid reports: the pid (0: nothing ready) and its raw wait status."""

    pid: int
    status: int

    @property
    def exitstatus(self) -> int | None:
        """The exit code, if the process exited."""
        return _os.waitstatus_to_exitcode(self.status) if self.pid and _os.WIFEXITED(self.status) else None

    @property
    def termsig(self) -> int | None:
        """The signal that killed the process, if one did."""
        return _os.WTERMSIG(self.status) if self.pid and _os.WIFSIGNALED(self.status) else None

    @property
    def stopsig(self) -> int | None:
        """The signal that stopped the process (a ptrace or job-control stop)."""
        return _os.WSTOPSIG(self.status) if self.pid and _os.WIFSTOPPED(self.status) else None


class Step:
    """A setup step of ``clone_exec`` that may fail without failing the whole.

    ``Step("mkdir", "/x", 0o755, tolerate=[errno.EEXIST])`` ignores those
    errnos; ``best_effort=True`` ignores any failure of the step. A plain
    ``(call name, *args)`` tuple is a step that must succeed.
    """

    __slots__ = ("args", "call", "tolerate")

    def __init__(self, call: str, *args: object, tolerate: Sequence[int] = (), best_effort: bool = False) -> None:
        self.call = call
        self.args = args
        self.tolerate: tuple[int, ...] = (0,) if best_effort else tuple(tolerate)

    def __repr__(self) -> str:
        return f"Step({self.call!r}, {', '.join(map(repr, self.args))}, tolerate={self.tolerate!r})"


class ChildInfo(msgspec.Struct, frozen=True, array_like=True):
    """One child of a control process, as its parent sees it (``cpid``).

    state is "loop", "exec_pending", "execed" or "exited"; the fds are the
    parent's ends of the child's pipes (-1 once closed); flowcontrol is the
    stdout credit left in bytes (-1: unlimited).
    """

    pid: int
    state: str
    stdin: int
    stdout: int
    stderr: int
    ctl: int
    flowcontrol: int
    signaloneof: int


class ExitStatus(msgspec.Struct, frozen=True):
    """A child exited with status (its exit code)."""

    status: int


class TermSig(msgspec.Struct, frozen=True):
    """A child was killed by signal."""

    signal: _signal.Signals | int


class SigInfo(msgspec.Struct, frozen=True):
    """What the kernel says about a caught signal (from ``signalfd_siginfo``)."""

    code: int
    pid: int
    uid: int
    status: int


class Signal(msgspec.Struct, frozen=True):
    """The process received signal, which it reports as an event (``SIG_INFO``)."""

    signal: _signal.Signals | int
    info: SigInfo


class StdinClosed(msgspec.Struct, frozen=True):
    """The parent closed the child's stdin (option stdin_closed)."""


class StdoutClosed(msgspec.Struct, frozen=True):
    """The child's stdout reached end of file (option stdout_closed)."""


class StderrClosed(msgspec.Struct, frozen=True):
    """The child's stderr reached end of file (option stderr_closed)."""


Event = ExitStatus | TermSig | Signal | StdinClosed | StdoutClosed | StderrClosed
