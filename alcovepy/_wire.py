"""Call descriptions and typed result decoders, shared by the generated table.

A ``CallSpec`` names a call (id, name, kind) and holds the msgspec decoder
of its result, so a reply of the wrong shape is caught at the boundary.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from alcovepy._types import ChildInfo

__all__ = ["CallSpec", "Result"]

T = TypeVar("T", covariant=True)


class Result(Generic[T]):
    """Decoder of one result type (msgpack -> T), built once."""

    __slots__ = ("decoder", "name")

    def __init__(self, name: str, decoder: msgspec.msgpack.Decoder[T]) -> None:
        self.name = name
        self.decoder = decoder

    def decode(self, data: bytes | memoryview) -> T:
        return self.decoder.decode(data)


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
