"""Call descriptions and typed result decoders, shared by the generated table.

A ``CallSpec`` names a call (id, name, kind) and holds the msgspec decoder
of its result, so a reply of the wrong shape is caught at the boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from alcovepy._types import ChildInfo, Ptr, Rlimit, WaitStatus

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["CallSpec", "Result"]

T = TypeVar("T", covariant=True)
W = TypeVar("W")


class Result(Generic[T]):
    """Decoder of one result type (msgpack -> T), built once.

    decode (bytes -> T) is the msgspec decoder's own method, not a Python
    method around it: one call less in every reply."""

    __slots__ = ("decode", "decoder", "name")

    decode: Callable[[bytes | memoryview], T]

    def __init__(self, name: str, decoder: msgspec.msgpack.Decoder[T]) -> None:
        self.name = name
        self.decoder = decoder
        self.decode = decoder.decode


class ConvertedResult(Result[T], Generic[W, T]):
    """A result whose wire shape (W) is turned into the public one (T)."""

    __slots__ = ("convert", "wire")

    def __init__(self, name: str, wire: msgspec.msgpack.Decoder[W], convert: Callable[[W], T]) -> None:
        self.name = name
        self.wire = wire
        self.convert = convert
        self.decode = self._decode_converted

    def _decode_converted(self, data: bytes | memoryview) -> T:
        return self.convert(self.wire.decode(data))


class CallSpec(Generic[T]):
    """One row of the call table: wire id, name, result, and kind.

    kind is "call", "exec" (the process becomes a program) or "fork".
    """

    __slots__ = ("id", "kind", "name", "result")

    def __init__(self, id: int, name: str, result: Result[T], kind: str) -> None:
        self.id = id
        self.name = name
        self.result = result
        self.kind = kind

    def __repr__(self) -> str:
        return f"CallSpec({self.id}, {self.name!r})"


RESULT_NONE: Result[None] = Result("none", msgspec.msgpack.Decoder(None))
RESULT_INT: Result[int] = Result("int", msgspec.msgpack.Decoder(int))
RESULT_STR: Result[str] = Result("str", msgspec.msgpack.Decoder(str))
RESULT_BYTES: Result[bytes] = Result("bytes", msgspec.msgpack.Decoder(bytes))
RESULT_OPTIONAL_BYTES: Result[bytes | None] = Result("optional_bytes", msgspec.msgpack.Decoder(bytes | None))
RESULT_OPTIONAL_INT: Result[int | None] = Result("optional_int", msgspec.msgpack.Decoder(int | None))
RESULT_BYTES_LIST: Result[list[bytes]] = Result("bytes_list", msgspec.msgpack.Decoder(list[bytes]))
RESULT_INT_TRIPLE: Result[tuple[int, int, int]] = Result("int_triple", msgspec.msgpack.Decoder(tuple[int, int, int]))
RESULT_CHILD_LIST: Result[list[ChildInfo]] = Result("child_list", msgspec.msgpack.Decoder(list[ChildInfo]))
RESULT_OPTIONAL_STR: Result[str | None] = Result("optional_str", msgspec.msgpack.Decoder(str | None))
RESULT_BOOL: Result[bool] = Result("bool", msgspec.msgpack.Decoder(bool))
RESULT_INT_LIST: Result[list[int]] = Result("int_list", msgspec.msgpack.Decoder(list[int]))
RESULT_RLIMIT: Result[Rlimit] = Result("rlimit", msgspec.msgpack.Decoder(Rlimit))
RESULT_FD_LISTS: Result[tuple[list[int], list[int], list[int]]] = Result(
    "fd_lists", msgspec.msgpack.Decoder(tuple[list[int], list[int], list[int]])
)
RESULT_WAIT: Result[WaitStatus] = Result("wait", msgspec.msgpack.Decoder(WaitStatus))

# An in/out argument after the call: an int, bytes, None, or a cstruct whose
# pointers come back as one-element arrays.
_InOutWire = int | bytes | None | list[bytes | list[bytes]]
InOutResult = int | bytes | None | list[bytes | Ptr]


def _inout(value: _InOutWire) -> InOutResult:
    if isinstance(value, list):
        return [Ptr(item[0]) if isinstance(item, list) else item for item in value]
    return value


def _inouts_1(v: tuple[int, _InOutWire]) -> tuple[int, InOutResult]:
    return (v[0], _inout(v[1]))


def _inouts_2(v: tuple[int, _InOutWire, _InOutWire]) -> tuple[int, InOutResult, InOutResult]:
    return (v[0], _inout(v[1]), _inout(v[2]))


def _inouts_4(
    v: tuple[int, _InOutWire, _InOutWire, _InOutWire, _InOutWire],
) -> tuple[int, InOutResult, InOutResult, InOutResult, InOutResult]:
    return (v[0], _inout(v[1]), _inout(v[2]), _inout(v[3]), _inout(v[4]))


def _alloc(v: tuple[bytes, _InOutWire]) -> tuple[bytes, InOutResult]:
    return (v[0], _inout(v[1]))


RESULT_INOUT_1 = ConvertedResult("inout_1", msgspec.msgpack.Decoder(tuple[int, _InOutWire]), _inouts_1)
RESULT_INOUT_2 = ConvertedResult("inout_2", msgspec.msgpack.Decoder(tuple[int, _InOutWire, _InOutWire]), _inouts_2)
RESULT_INOUT_4 = ConvertedResult(
    "inout_4", msgspec.msgpack.Decoder(tuple[int, _InOutWire, _InOutWire, _InOutWire, _InOutWire]), _inouts_4
)
RESULT_ALLOC = ConvertedResult("alloc", msgspec.msgpack.Decoder(tuple[bytes, _InOutWire]), _alloc)
