"""Argument checks and conversions, applied before anything is sent.

Each converter takes the argument's name (for the message) and its value,
and returns the wire form or raises TypeError/ValueError naming what was
wrong. Constants are sent as ints or names; the helper resolves names
against its own platform's headers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeAlias

from alcovepy import _spec
from alcovepy.errors import UnknownConstant

StrOrBytes: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"
Constant: TypeAlias = "int | str"
Flags: TypeAlias = "int | str | Sequence[int | str]"
PipelineLike: TypeAlias = "Sequence[int]"

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 255
_HANDLERS = ("SIG_DFL", "SIG_IGN", "SIG_INFO")


def _integer(name: str, value: object, bounds: tuple[int, int]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name}={value} is out of range [{bounds[0]}, {bounds[1]}]")
    return int(value)


def int32(name: str, value: object) -> int:
    return _integer(name, value, INT32)


def uint32(name: str, value: object) -> int:
    return _integer(name, value, UINT32)


def fd(name: str, value: object) -> int:
    return _integer(name, value, (0, INT32[1]))


def _bytes(name: str, value: object) -> bytes:
    if isinstance(value, str | bytes | os.PathLike):
        try:
            return os.fsencode(value)
        except TypeError:
            pass
    raise TypeError(f"{name} must be str, bytes or a path, not {type(value).__name__}")


def cstr(name: str, value: object) -> bytes:
    b = _bytes(name, value)
    if b"\0" in b:
        raise ValueError(f"{name} contains a NUL byte")
    return b


def path(name: str, value: object) -> bytes:
    b = cstr(name, value)
    if not b:
        raise ValueError(f"{name} is an empty path")
    return b


def data(name: str, value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")


def argv(name: str, value: object) -> list[bytes]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of str or bytes, not {type(value).__name__}")
    return [cstr(f"{name}[{i}]", item) for i, item in enumerate(value)]


def optional_argv(name: str, value: object) -> list[bytes] | None:
    return None if value is None else argv(name, value)


def constant(family: str, name: str, value: object) -> int | str:
    """An int (or IntEnum member) passes through; a name must be one of the family's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer(name, value, INT64)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an int or a {family} constant name, not {type(value).__name__}")
    upper = value.upper()
    if upper not in _spec.CONSTANT_FAMILIES[family]:
        raise UnknownConstant(f"{name}: unknown {family} constant {value!r}")
    return upper


def flags(family: str, name: str, value: object) -> int | str | list[int | str]:
    """A constant or a list of them; OR-ed here when all are ints."""
    if isinstance(value, int | str):
        return constant(family, name, value)
    if isinstance(value, bytes | bytearray | memoryview) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a constant or a list of constants, not {type(value).__name__}")
    items = [constant(family, f"{name}[{i}]", v) for i, v in enumerate(value)]
    if all(isinstance(i, int) for i in items):
        result = 0
        for i in items:
            result |= int(i)
        return result
    return items


def option(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an option name, not {type(value).__name__}")
    if value.lower() not in _spec.OPTIONS:
        raise ValueError(f"unknown option {value!r}; known: {', '.join(_spec.OPTIONS)}")
    return value.lower()


def option_value(opt: str, value: object) -> int:
    """Check value against the option's range from the table."""
    _, lo, hi = _spec.OPTIONS[opt]
    return _integer(opt, value, (lo, hi))


def handler(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str ({', '.join(_HANDLERS)}) or None, not {type(value).__name__}")
    if value.upper() not in _HANDLERS:
        raise ValueError(f"{name} must be one of {', '.join(_HANDLERS)} or None, not {value!r}")
    return value.upper()


def pipeline(value: object) -> tuple[int, ...]:
    """A pipeline: a sequence of positive OS pids, at most 255 deep."""
    if type(value) is tuple or type(value) is list:  # the common case, checked cheaply
        if not value:
            return ()
        if len(value) <= MAX_DEPTH and all(type(p) is int and 0 < p < 2**31 for p in value):
            return tuple(value)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"a pipeline is a sequence of pids, not {type(value).__name__}")
    pids = tuple(_integer("pid in pipeline", p, (1, INT32[1])) for p in value)
    if len(pids) > MAX_DEPTH:
        raise ValueError(f"pipeline deeper than {MAX_DEPTH}")
    return pids
