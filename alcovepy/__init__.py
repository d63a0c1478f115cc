"""alcovepy: fork, sandbox, exec and supervise Unix processes from asyncio or trio.

A small C helper makes the system calls; the Python Driver talks to it over
pipes. See ``open_driver``.
"""

from __future__ import annotations

from alcovepy._driver import Driver, DriverStatistics, open_driver
from alcovepy._process import Process
from alcovepy._spec import VERSION as __version__
from alcovepy._types import (
    ChildInfo,
    Event,
    ExitStatus,
    Ptr,
    Rlimit,
    SigInfo,
    Signal,
    StderrClosed,
    StdinClosed,
    StdoutClosed,
    Step,
    TermSig,
    WaitStatus,
)
from alcovepy.errors import (
    AlcoveError,
    CallFiltered,
    HelperExited,
    HelperProtocolError,
    UnknownConstant,
)

__all__ = [
    "AlcoveError",
    "CallFiltered",
    "ChildInfo",
    "Driver",
    "DriverStatistics",
    "Event",
    "ExitStatus",
    "HelperExited",
    "HelperProtocolError",
    "Process",
    "Ptr",
    "Rlimit",
    "SigInfo",
    "Signal",
    "StderrClosed",
    "StdinClosed",
    "StdoutClosed",
    "Step",
    "TermSig",
    "UnknownConstant",
    "WaitStatus",
    "__version__",
    "open_driver",
]
