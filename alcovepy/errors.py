"""The exceptions alcovepy raises, and the one place errno becomes OSError.

Failed system calls raise ``OSError`` subclasses (``FileNotFoundError``,
``PermissionError`` ...) built from the errno the helper sends back as data.
Everything else alcovepy itself raises derives from :class:`AlcoveError`.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AlcoveError",
    "CallFiltered",
    "HelperExited",
    "HelperProtocolError",
    "UnknownConstant",
    "call_error",
    "setup_error",
]


class AlcoveError(Exception):
    """Base class of every exception alcovepy defines."""


class HelperProtocolError(AlcoveError):
    """The helper sent something malformed or unexpected; the Driver stops."""


class HelperExited(AlcoveError):
    """The helper process is gone: pending and later calls raise this."""


class CallFiltered(AlcoveError):
    """The call is denied to this process by ``filter``; denials are permanent."""


class UnknownConstant(AlcoveError, ValueError):
    """A constant name the helper's platform does not define."""


def _where(call: str, pipeline: Sequence[int]) -> str:
    return f"{call} at {list(pipeline)}"


def call_error(errno: int, call: str, pipeline: Sequence[int]) -> OSError:
    """The OSError (subclass picked by Python from errno) for a failed call."""
    exc = OSError(errno, os.strerror(errno), _where(call, pipeline))
    return exc


def no_such_process(call: str, pipeline: Sequence[int], why: str) -> ProcessLookupError:
    """The error for a pipeline that names no live control process."""
    return ProcessLookupError(_errno.ESRCH, f"{why}: {list(pipeline)}", call)


def setup_error(
    step: int, kind: str, err: int, message: str, call: str, pipeline: Sequence[int]
) -> OSError | ValueError | AlcoveError:
    """The error of a clone_exec whose write, setup step or exec failed.

    kind is the failed step's outcome: "errno" (an OSError subclass),
    "filtered", "constant", "badarg" or "other". ``setup_step`` on the
    exception is the step's index (writes: -1 - index).
    """
    where = _where(call, pipeline) + (f", write {-1 - step}" if step < 0 else f", setup step {step}")
    exc: OSError | ValueError | AlcoveError
    if kind == "errno":
        exc = OSError(err, os.strerror(err), f"{where}: {message}")
    elif kind == "filtered":
        exc = CallFiltered(f"{where}: {message} is denied by filter")
    elif kind == "constant":
        exc = UnknownConstant(f"{where}: the helper's platform has no constant {message}")
    elif kind == "badarg":
        exc = ValueError(f"{where}: {message}")
    else:
        exc = AlcoveError(f"{where}: {message}")
    vars(exc)["setup_step"] = step
    return exc
