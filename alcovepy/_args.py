"""Argument checks and conversions, applied before anything is sent.

Each converter takes the argument's name (for the message) and its value,
and returns the wire form or raises TypeError/ValueError naming what was
wrong. Constants are sent as ints or names; the helper resolves names
against its own platform's headers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TypeAlias

from alcovepy import _spec
from alcovepy._types import Ptr, Rlimit
from alcovepy.errors import UnknownConstant

StrOrBytes: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"
Constant: TypeAlias = "int | str"
Flags: TypeAlias = "int | str | Sequence[int | str]"
PipelineLike: TypeAlias = "Sequence[int]"
InOut: TypeAlias = "int | bytes | Sequence[bytes | Ptr] | None"

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 255
MAX_COUNT = 16 * 1024 * 1024  # largest read(2) count (helper: AH_MAX_COUNT)
_HANDLERS = ("SIG_DFL", "SIG_IGN", "SIG_INFO")
# family -> {upper-case name: the table's spelling}: names are case-insensitive
_NAMES = {f: {n.upper(): n for n in names} for f, names in _spec.CONSTANT_FAMILIES.items()}
_CALL_IDS = {c.name: c.id for c in _spec.CALLS}
_FS_ENCODING = sys.getfilesystemencoding()  # os.fsencode's, fixed for the life of the process
_FS_ERRORS = sys.getfilesystemencodeerrors()


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


def _plain(value: object) -> bytes | None:
    """A plain str or bytes as os.fsencode makes it, without its checks (the
    common case); None for anything else, or a str it cannot encode."""
    if type(value) is str:
        try:
            return value.encode(_FS_ENCODING, _FS_ERRORS)
        except UnicodeEncodeError:
            return None
    return value if type(value) is bytes else None


def _bytes(name: str, value: object) -> bytes:
    b = _plain(value)
    if b is not None:
        return b
    if isinstance(value, str | bytes | os.PathLike):
        try:
            return os.fsencode(value)
        except TypeError:
            pass
        except UnicodeEncodeError as exc:  # a surrogate that is not an escaped byte
            raise ValueError(f"{name} cannot be encoded as a file name: {exc}") from exc
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
    out = []
    for item in value:  # plain str and bytes without a NUL, with no name made per item
        b = _plain(item)
        if b is None or b"\0" in b:
            break
        out.append(b)
    else:
        return out
    # anything else (a path, a subclass, a NUL, no encoding) takes cstr, named for the message
    return [cstr(f"{name}[{i}]", item) for i, item in enumerate(value)]


def optional_argv(name: str, value: object) -> list[bytes] | None:
    return None if value is None else argv(name, value)


def constant(family: str, name: str, value: object) -> int | str:
    """An int (or IntEnum member) passes through; a name must be one of the family's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer(name, value, INT64)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an int or a {family} constant name, not {type(value).__name__}")
    known = _NAMES[family].get(value.upper())
    if known is None:
        raise UnknownConstant(f"{name}: unknown {family} constant {value!r}")
    return known


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


def int64(name: str, value: object) -> int:
    return _integer(name, value, INT64)


def ident(name: str, value: object) -> int:
    """A uid or gid; -1 means (uid_t)-1, "leave unchanged" where the call allows it."""
    return _integer(name, value, (-1, UINT32[1]))


def count(name: str, value: object) -> int:
    return _integer(name, value, (0, MAX_COUNT))


def _int_list(name: str, value: object, bounds: tuple[int, int]) -> list[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of ints, not {type(value).__name__}")
    if len(value) > 65536:
        raise ValueError(f"{name} has {len(value)} items; at most 65536")
    return [_integer(f"{name}[{i}]", v, bounds) for i, v in enumerate(value)]


def id_list(name: str, value: object) -> list[int]:
    return _int_list(name, value, UINT32)


def fd_list(name: str, value: object) -> list[int]:
    return _int_list(name, value, (0, INT32[1]))


def optional_data(name: str, value: object) -> bytes | None:
    return None if value is None else data(name, value)


def timeout(name: str, value: object) -> int | None:
    """Seconds (int or float, >= 0) or None; sent as whole microseconds."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    if not 0 <= value < 2**40:  # also refuses nan
        raise ValueError(f"{name}={value} must be a number of seconds in [0, 2**40)")
    return round(value * 1_000_000)


def _limit(name: str, value: object) -> int:
    if value == 2**64 - 1 and isinstance(value, int):  # RLIM_INFINITY spelled as an unsigned value
        return -1
    return _integer(name, value, (-1, INT64[1]))


def rlimit(name: str, value: object) -> list[int]:
    """An Rlimit or a (cur, max) pair; -1 (resource.RLIM_INFINITY) is no limit."""
    if isinstance(value, Rlimit):
        cur, top = value.cur, value.max
    elif isinstance(value, tuple | list) and len(value) == 2:
        cur, top = value
    else:
        raise TypeError(f"{name} must be an Rlimit or a (cur, max) pair, not {type(value).__name__}")
    c, m = _limit(f"{name}.cur", cur), _limit(f"{name}.max", top)
    if m != -1 and (c == -1 or c > m):
        raise ValueError(f"{name}: cur {cur} is above max {top}")
    return [c, m]


def calls(name: str, value: object) -> list[int]:
    """Call names, sent as the table's ids."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of call names, not {type(value).__name__}")
    ids = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a call name, not {type(item).__name__}")
        if item not in _CALL_IDS:
            raise ValueError(f"{name}[{i}]: no call named {item!r}")
        ids.append(_CALL_IDS[item])
    return ids


def writes(name: str, value: object) -> list[list[bytes]]:
    """(path, data) pairs the parent writes for a new child; "{pid}" is its pid."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of (path, data) pairs, not {type(value).__name__}")
    if len(value) > 64:
        raise ValueError(f"{name}: at most 64 writes, not {len(value)}")
    out = []
    for i, pair in enumerate(value):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(f"{name}[{i}] must be a (path, data) pair")
        out.append([path(f"{name}[{i}] path", pair[0]), data(f"{name}[{i}] data", pair[1])])
    return out


def _piece(name: str, item: object) -> bytes | int | list[bytes]:
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    if isinstance(item, Ptr):
        if isinstance(item.data, int) and not isinstance(item.data, bool):
            return _integer(f"{name} size", item.data, (0, MAX_COUNT))
        if isinstance(item.data, bytes | bytearray | memoryview):
            return [bytes(item.data)]
        raise TypeError(f"{name}: Ptr takes a size or bytes, not {type(item.data).__name__}")
    raise TypeError(f"{name} must be bytes or a Ptr, not {type(item).__name__}")


def inout(name: str, value: object) -> int | bytes | list[bytes | int | list[bytes]] | None:
    """An int (by value), bytes (a buffer by pointer), a cstruct or None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        v = _integer(name, value, (INT64[0], 2**64 - 1))  # signed, or an unsigned long's bits
        return v if v < 2**63 else v - 2**64
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not 1 <= len(value) <= 1024:
            raise ValueError(f"{name}: a cstruct has 1 to 1024 items, not {len(value)}")
        return [_piece(f"{name}[{i}]", item) for i, item in enumerate(value)]
    raise TypeError(
        f"{name} must be an int, bytes, a cstruct (list of bytes and Ptr) or None, not {type(value).__name__}"
    )


def cstruct(name: str, value: object) -> bytes | list[bytes | int | list[bytes]]:
    """bytes or a cstruct: what alloc lays out (an int or None has no layout)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        raise TypeError(f"{name} must be bytes or a cstruct (list of bytes and Ptr), not {type(value).__name__}")
    result = inout(name, value)
    assert isinstance(result, bytes | list)
    return result


SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage)


def sockaddr(name: str, value: object) -> bytes | None:
    """A raw struct sockaddr (at most sizeof(struct sockaddr_storage)), or None."""
    b = optional_data(name, value)
    if b is not None and len(b) > SOCKADDR_MAX:
        raise ValueError(f"{name} of {len(b)} bytes is longer than a struct sockaddr_storage ({SOCKADDR_MAX})")
    return b


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
