"""A test-local, deliberately naive writer of the wire format.

It is written from the layout comment (``|len:4|type:1|depth:1|pid:4 x
depth|body|``, big-endian, len counting the bytes after itself) and not from
alcovepy's own encoder, so the tier-1 tests check the code against the
documented format rather than against itself. Reply and event bodies use
msgspec and the wire numbers of ``alcovepy._spec``.
"""

from __future__ import annotations

import struct

import msgspec

from alcovepy import _spec
from alcovepy._protocol import Frame


def encode_frame(ftype: int, pipeline: tuple[int, ...], body: bytes) -> bytes:
    """The bytes of one frame, header and all."""
    rest = bytes([ftype, len(pipeline)]) + b"".join(struct.pack(">I", p) for p in pipeline) + body
    return struct.pack(">I", len(rest)) + rest


def reply_body(reqid: int, status: int, value: object) -> bytes:
    """A REPLY body: ``reqid:4 status:1 msgpack-value``."""
    return struct.pack(">IB", reqid, status) + msgspec.msgpack.encode(value)


def reply(reqid: int, value: object = None, status: int = _spec.STATUS_OK, pipeline: tuple[int, ...] = ()) -> Frame:
    """A REPLY frame as the decoder would hand it to the router."""
    return Frame(_spec.FRAME_REPLY, pipeline, reply_body(reqid, status, value))


def event(pipeline: tuple[int, ...], *values: int) -> Frame:
    """An EVENT frame: a msgpack array ``[tag, ...]``."""
    return Frame(_spec.FRAME_EVENT, pipeline, msgspec.msgpack.encode(list(values)))


def gone(pipeline: tuple[int, ...], wait_status: int) -> Frame:
    """A GONE frame carrying the raw wait status of the reaped process."""
    return Frame(_spec.FRAME_GONE, pipeline, msgspec.msgpack.encode(wait_status))


def wait_status_exited(code: int) -> int:
    """The wait status of a process that called exit(code)."""
    return (code & 0xFF) << 8


def wait_status_signaled(sig: int, core: bool = False) -> int:
    """The wait status of a process killed by sig (optionally dumping core)."""
    return sig | (0x80 if core else 0)
