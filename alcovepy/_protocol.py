"""The sans-io core: bytes in, routed effects out; no I/O and no await.

Theory of operation. The helper speaks frames
``|len:4|type:1|depth:1|pid:4 x depth|body|`` (big-endian; len counts the
bytes after itself). Requests carry the pipeline of their target; replies,
events and output carry the pipeline of the process they concern, built up
hop by hop. :class:`FrameDecoder` cuts a byte stream into frames (any split,
many frames per read). :class:`Router` numbers requests and turns each
incoming frame into effects for the driver to apply: a call resolved or
failed (by request id, never by guesswork), output or an event for a
pipeline, or a process gone (which fails every call still routed through
it). :class:`StreamBuffer` holds one stream's unread output and counts the
credit to hand back to the helper as the user consumes it.

Dependency rule: this module and _wire import only msgspec, the standard
library's pure modules and alcovepy's own pure modules (tests/meta checks).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, NamedTuple

import msgspec

from alcovepy import _spec
from alcovepy._types import (
    Event,
    ExitStatus,
    SigInfo,
    Signal,
    StderrClosed,
    StdinClosed,
    StdoutClosed,
    TermSig,
    as_signal,
)
from alcovepy.errors import (
    AlcoveError,
    CallFiltered,
    HelperProtocolError,
    UnknownConstant,
    call_error,
    no_such_process,
    setup_error,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from alcovepy._wire import CallSpec

__all__ = [
    "CREDIT_BATCH",
    "EventArrived",
    "Execed",
    "Failed",
    "Frame",
    "FrameDecoder",
    "Gone",
    "Output",
    "Resolved",
    "Router",
    "StreamBuffer",
    "decode_hello",
    "returncode",
]

FRAME_SLACK = 2048  # pids prepended on the way up
_MAX_UP = _spec.MAX_FRAME + FRAME_SLACK  # the longest frame from the helper
CREDIT_BATCH = 256 * 1024  # hand credit back once this much output was consumed
STDOUT, STDERR = 0, 1

_LEN = struct.Struct(">I")
_HEAD = struct.Struct(">IBB")  # a frame's length, type and depth
_REPLY_HEAD = struct.Struct(">IB")  # a reply body's request id and status
_ENCODER = msgspec.msgpack.Encoder()
_INT_LIST = msgspec.msgpack.Decoder(list[int])
_INT = msgspec.msgpack.Decoder(int)
_ERRNO = msgspec.msgpack.Decoder(Annotated[int, msgspec.Meta(ge=1, le=4095)])  # Linux's MAX_ERRNO
_STR = msgspec.msgpack.Decoder(str)
_SETUP = msgspec.msgpack.Decoder(tuple[int, int, int, str])  # step, status, errno, message
_SETUP_KINDS = {
    _spec.STATUS_ERRNO: "errno",
    _spec.STATUS_FILTERED: "filtered",
    _spec.STATUS_UNKNOWN_CONSTANT: "constant",
    _spec.STATUS_BADARG: "badarg",
}


_HELLO = msgspec.msgpack.Decoder(tuple[int, str, str, int])
_HEADERS: dict[tuple[int, int], struct.Struct] = {}
_CALL_HEADERS: dict[int, struct.Struct] = {}  # by depth: the head of a call frame, up to its payload
_FRAME_CALL = _spec.FRAME_CALL
_FRAME_REPLY = _spec.FRAME_REPLY
_STATUS_OK = _spec.STATUS_OK
_NO_ARGS = _ENCODER.encode(())  # the payload of a call without arguments
_NO_ARGS_LEN = len(_NO_ARGS)
_tuple_new = tuple.__new__  # makes a Frame without the Python-level __new__ of a NamedTuple


class Frame(NamedTuple):
    """One frame from the helper: its type, the pipeline it concerns, its body."""

    type: int
    pipeline: tuple[int, ...]
    body: bytes


class FrameDecoder:
    """Cuts the helper's byte stream into frames.

    The I/O layer reads straight into :meth:`writable` and reports the count
    to :meth:`commit` (no allocation per read); :meth:`feed` copies bytes in.
    Each frame body is copied out exactly once.
    """

    __slots__ = ("_buf", "_end", "_start", "_view")

    def __init__(self, capacity: int = 1 << 20) -> None:
        self._buf = bytearray(capacity)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0

    def writable(self, size: int) -> memoryview:
        """Room for at least size more bytes, after the bytes held."""
        if len(self._buf) - self._end < size:
            held = self._end - self._start
            if held + size > len(self._buf):  # grow: a new buffer (the old may be viewed)
                buf = bytearray(max(2 * len(self._buf), held + size))
                buf[:held] = self._view[self._start : self._end]
                self._buf, self._view = buf, memoryview(buf)
            else:
                self._view[:held] = self._view[self._start : self._end]
            self._start, self._end = 0, held
        return self._view[self._end :]

    def commit(self, n: int) -> list[Frame]:
        """n bytes were written into :meth:`writable`: return every frame now complete."""
        self._end += n
        buf, view = self._buf, self._view
        frames: list[Frame] = []
        pos, end = self._start, self._end
        while end - pos >= 4:
            if end - pos >= 6:  # length, type and depth in one unpacking
                length, ftype, depth = _HEAD.unpack_from(buf, pos)
            else:
                (length,) = _LEN.unpack_from(buf, pos)
                ftype = depth = 0
            if length < 2 or length > _MAX_UP:
                raise HelperProtocolError(f"frame length {length} out of range")
            stop = pos + 4 + length
            if stop > end:
                break
            body_at = pos + 6 + 4 * depth
            if body_at > stop:
                raise HelperProtocolError(f"frame of {length} bytes cannot hold depth {depth}")
            pids = struct.unpack_from(f">{depth}I", buf, pos + 6) if depth else ()
            frames.append(_tuple_new(Frame, (ftype, pids, view[body_at:stop].tobytes())))
            pos = stop
        if pos == end:
            pos = end = 0
        self._start, self._end = pos, end
        return frames

    def feed(self, data: bytes) -> list[Frame]:
        """Add data; return every frame now complete (possibly none)."""
        self.writable(len(data))[: len(data)] = data
        return self.commit(len(data))

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return self._end - self._start


def _header(ftype: int, depth: int, extra: str) -> struct.Struct:
    key = (ftype, depth)
    s = _HEADERS.get(key)
    if s is None:
        s = _HEADERS[key] = struct.Struct(f">IBB{depth}I{extra}")
    return s


def _call_header(depth: int) -> struct.Struct:
    s = _CALL_HEADERS[depth] = _header(_FRAME_CALL, depth, _EXTRA[_FRAME_CALL])
    return s


_EXTRA = {_spec.FRAME_CALL: "IH", _spec.FRAME_STDIN: "I", _spec.FRAME_CLOSE_STDIN: "I", _spec.FRAME_CREDIT: "BI"}


def encode_request(
    ftype: int, pipeline: tuple[int, ...], fields: tuple[int, ...], payload: bytes | memoryview = b""
) -> bytes:
    """A downward frame: header, the type's fixed fields, then payload."""
    s = _header(ftype, len(pipeline), _EXTRA[ftype])
    length = s.size - 4 + len(payload)
    if length > _spec.MAX_FRAME:
        raise ValueError(f"request of {length} bytes exceeds the {_spec.MAX_FRAME}-byte frame limit")
    return s.pack(length, ftype, len(pipeline), *pipeline, *fields) + payload


def encode_credit(pipeline: tuple[int, ...], stream: int, amount: int) -> bytes:
    """Hand amount bytes of output credit back for a stream of pipeline."""
    return encode_request(_spec.FRAME_CREDIT, pipeline, (stream, amount))


def returncode(status: int) -> int:
    """A wait status as ``Popen.returncode`` has it: the exit code, or -signal."""
    sig = status & 0x7F
    if sig == 0:
        return (status >> 8) & 0xFF
    return -sig


def decode_hello(frame: Frame) -> tuple[int, str, str, int]:
    """(protocol version, table digest, helper version, helper pid)."""
    if frame.type != _spec.FRAME_HELLO or frame.pipeline:
        raise HelperProtocolError(f"expected a hello frame, got type {frame.type}")
    try:
        return _HELLO.decode(frame.body)
    except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
        raise HelperProtocolError(f"malformed hello: {exc}") from exc


# ---- effects -------------------------------------------------------------


@dataclass(slots=True)
class Resolved:
    """The request reqid succeeded with value."""

    reqid: int
    value: object


@dataclass(slots=True)
class Failed:
    """The request reqid failed with error."""

    reqid: int
    error: BaseException


@dataclass(slots=True)
class Output:
    """Output of stream (STDOUT or STDERR) of pipeline; b"" is end of stream."""

    pipeline: tuple[int, ...]
    stream: int
    data: bytes


@dataclass(slots=True)
class EventArrived:
    """An event of pipeline."""

    pipeline: tuple[int, ...]
    event: Event


@dataclass(slots=True)
class Gone:
    """The process at pipeline was reaped; its descendants are lost with it."""

    pipeline: tuple[int, ...]
    returncode: int


@dataclass(slots=True)
class Execed:
    """The process at pipeline exec'd: its descendants lost their control channel."""

    pipeline: tuple[int, ...]


Effect = Resolved | Failed | Output | EventArrived | Gone | Execed


class Pending(NamedTuple):
    """A request in flight: what it was and where it went (a NamedTuple:
    one is made per call, and tuple.__new__ makes it cheaply)."""

    pipeline: tuple[int, ...]
    spec: CallSpec[object] | None  # None for stdin writes and closes
    what: str


_ROOT_PENDING: dict[CallSpec[object], Pending] = {}  # a call to the helper itself, by its spec: see Router.call


def _root_pending(spec: CallSpec[object]) -> Pending:
    p = _ROOT_PENDING[spec] = Pending((), spec, spec.name)
    return p


# ---- the router ------------------------------------------------------------


def _make_event(values: list[int]) -> Event:
    tag, rest = values[0], values[1:]
    match tag, rest:
        case _spec.EVENT_EXIT_STATUS, [status]:
            return ExitStatus(status)
        case _spec.EVENT_TERMSIG, [sig]:
            return TermSig(as_signal(sig))
        case _spec.EVENT_SIGNAL, [sig, code, pid, uid, status]:
            return Signal(as_signal(sig), SigInfo(code, pid, uid, status))
        case _spec.EVENT_STDIN_CLOSED, []:
            return StdinClosed()
        case _spec.EVENT_STDOUT_CLOSED, []:
            return StdoutClosed()
        case _spec.EVENT_STDERR_CLOSED, []:
            return StderrClosed()
        case _:
            raise HelperProtocolError(f"unknown event {values!r}")


def _under(pipeline: tuple[int, ...], prefix: tuple[int, ...], strict: bool) -> bool:
    n = len(prefix)
    return pipeline[:n] == prefix and (len(pipeline) > n or not strict)


class Router:
    """Request ids to what was asked; incoming frames to effects."""

    __slots__ = ("_next", "late_replies", "pending")

    def __init__(self) -> None:
        self._next = 0
        self.pending: dict[int, Pending] = {}
        self.late_replies = 0

    def _reqid(self) -> int:
        while True:
            self._next = self._next % 0xFFFFFFFF + 1
            if self._next not in self.pending:
                return self._next

    def call(self, pipeline: tuple[int, ...], spec: CallSpec[object], args: tuple[object, ...]) -> tuple[int, bytes]:
        """Number a call and encode it: (reqid, frame).

        The frame is what encode_request makes, built here with the call
        header of the depth looked up once and the next id taken inline: a
        call's own Python cost is a large part of a round trip at depth 0.
        A call without arguments cannot exceed the frame limit, so its size
        is not checked. A call to the helper itself (pipeline ()) reuses one
        Pending per call kind (it is immutable), instead of making one."""
        depth = len(pipeline)
        head = _CALL_HEADERS.get(depth) or _call_header(depth)
        if args:
            payload = _ENCODER.encode(args)
            length = head.size - 4 + len(payload)
            if length > _spec.MAX_FRAME:
                raise ValueError(f"request of {length} bytes exceeds the {_spec.MAX_FRAME}-byte frame limit")
        else:
            payload = _NO_ARGS
            length = head.size - 4 + _NO_ARGS_LEN
        pending = self.pending
        reqid = self._next % 0xFFFFFFFF + 1
        self._next = reqid
        if reqid in pending:
            reqid = self._reqid()
        if depth:
            frame = head.pack(length, _FRAME_CALL, depth, *pipeline, reqid, spec.id) + payload
            pending[reqid] = _tuple_new(Pending, (pipeline, spec, spec.name))
        else:  # unpacking even an empty pipeline into the call costs a third of the packing
            frame = head.pack(length, _FRAME_CALL, 0, reqid, spec.id) + payload
            pending[reqid] = _ROOT_PENDING.get(spec) or _root_pending(spec)
        return reqid, frame

    def stdin(self, pipeline: tuple[int, ...], data: bytes | memoryview) -> tuple[int, bytes]:
        """Number a write to pipeline's stdin; it is acknowledged once in the pipe."""
        reqid = self._reqid()
        frame = encode_request(_spec.FRAME_STDIN, pipeline, (reqid,), data)
        self.pending[reqid] = Pending(pipeline, None, "stdin")
        return reqid, frame

    def close_stdin(self, pipeline: tuple[int, ...]) -> tuple[int, bytes]:
        """Number a close of pipeline's stdin."""
        reqid = self._reqid()
        frame = encode_request(_spec.FRAME_CLOSE_STDIN, pipeline, (reqid,))
        self.pending[reqid] = Pending(pipeline, None, "close_stdin")
        return reqid, frame

    def forget(self, reqid: int) -> None:
        """Drop a request that was never sent."""
        self.pending.pop(reqid, None)

    def receive(self, frame: Frame) -> list[Effect]:
        """The effects of one frame from the helper."""
        ftype = frame.type
        handler = Router._on_reply if ftype == _FRAME_REPLY else self._handlers.get(ftype)  # replies: the commonest
        if handler is None:
            raise HelperProtocolError(f"unexpected frame type {ftype}")
        try:
            return handler(self, frame)
        except (msgspec.MsgspecError, UnicodeDecodeError) as exc:  # a str that is not UTF-8 too
            raise HelperProtocolError(f"malformed frame of type {ftype}: {exc}") from exc

    def receive_committed(self, decoder: FrameDecoder, n: int, effects: list[Effect]) -> None:
        """n bytes were written into decoder.writable(): append to effects
        the effects of every frame now complete, in order.

        The same as receive() of every frame of decoder.commit(n), fused for
        the commonest frame, a successful reply to a call: its request id,
        status and value are read straight from the decoder's buffer (no
        Frame, no copy of the body, no list per frame), which is a large
        part of a call's Python cost at depth 0. Any other frame takes
        receive(). On a HelperProtocolError, effects holds those of the
        frames before the bad one (the caller applies them, as it would
        have before receive() raised), and the decoder keeps the bad frame
        and what follows."""
        buf, view = decoder._buf, decoder._view
        pos = decoder._start
        end = decoder._end + n
        decoder._end = end
        pending = self.pending
        while end - pos >= 6:
            length, ftype, depth = _HEAD.unpack_from(buf, pos)
            if length < 2 or length > _MAX_UP:
                raise HelperProtocolError(f"frame length {length} out of range")
            stop = pos + 4 + length
            if stop > end:
                break
            body_at = pos + 6 + 4 * depth
            if body_at > stop:
                raise HelperProtocolError(f"frame of {length} bytes cannot hold depth {depth}")
            if ftype == _FRAME_REPLY and stop - body_at >= 5:
                reqid, status = _REPLY_HEAD.unpack_from(buf, body_at)
                p = pending.get(reqid)
                if p is not None and status == _STATUS_OK and (spec := p.spec) is not None and spec.kind != "exec":
                    try:
                        value = spec.result.decode(view[body_at + 5 : stop])
                    except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
                        raise HelperProtocolError(f"malformed frame of type {ftype}: {exc}") from exc
                    del pending[reqid]
                    effects.append(Resolved(reqid, value))
                    pos = stop
                    continue
            pids = struct.unpack_from(f">{depth}I", buf, pos + 6) if depth else ()
            effects += self.receive(_tuple_new(Frame, (ftype, pids, view[body_at:stop].tobytes())))
            pos = stop
        if pos == end:
            pos = decoder._end = 0
        decoder._start = pos

    def _on_reply(self, frame: Frame) -> list[Effect]:
        body = frame.body
        if len(body) < 5:
            raise HelperProtocolError("short reply")
        (reqid,) = _LEN.unpack_from(body)
        pending = self.pending.pop(reqid, None)
        if pending is None:
            # Already failed by a Gone (the process died while the request
            # was on its way; its parent then answers "no such process").
            self.late_replies += 1
            return []
        # a small value is sliced (one object), a large one viewed (no copy)
        status, value = body[4], body[5:] if len(body) <= 4096 else memoryview(body)[5:]
        if status != _STATUS_OK:
            return [Failed(reqid, self._error(pending, status, value))]
        spec = pending.spec
        if spec is None:
            return [Resolved(reqid, None)]
        effects: list[Effect] = [Resolved(reqid, spec.result.decode(value))]
        if spec.kind == "exec":  # its subtree lost its control channel
            effects += self._fail_under(pending.pipeline, strict=True, why="an ancestor exec'd")
            effects.append(Execed(pending.pipeline))
        return effects

    def _error(self, pending: Pending, status: int, value: bytes | memoryview) -> BaseException:
        name, pl = pending.what, pending.pipeline
        if status == _spec.STATUS_ERRNO:
            return call_error(_ERRNO.decode(value), name, pl)
        if status == _spec.STATUS_SETUP_FAILED:
            step, step_status, err, message = _SETUP.decode(value)
            kind = _SETUP_KINDS.get(step_status, "other")
            return setup_error(step, kind, err, message, name, pl)
        message = _STR.decode(value)
        if status == _spec.STATUS_NOPROC:
            return no_such_process(name, pl, message)
        if status == _spec.STATUS_BADARG:
            return ValueError(f"{name} at {list(pl)}: {message}")
        if status == _spec.STATUS_UNKNOWN_CONSTANT:
            return UnknownConstant(f"{name}: the helper's platform has no constant {message!r}")
        if status == _spec.STATUS_FILTERED:
            return CallFiltered(f"{name} is denied at {list(pl)} by filter")
        if status == _spec.STATUS_UNKNOWN_CALL:
            return AlcoveError(f"{name}: the helper does not know this call ({message})")
        raise HelperProtocolError(f"reply status {status}")

    def _fail_under(self, prefix: tuple[int, ...], strict: bool, why: str) -> list[Effect]:
        doomed = [r for r, p in self.pending.items() if _under(p.pipeline, prefix, strict)]
        effects: list[Effect] = []
        for reqid in doomed:
            p = self.pending.pop(reqid)
            if p.spec is not None and p.spec.name == "exit" and p.pipeline == prefix:
                effects.append(Resolved(reqid, None))  # exit's work is done
            else:
                effects.append(Failed(reqid, no_such_process(p.what, p.pipeline, why)))
        return effects

    def _on_gone(self, frame: Frame) -> list[Effect]:
        rc = returncode(_INT.decode(frame.body))
        effects = self._fail_under(frame.pipeline, strict=False, why="the process exited")
        effects.append(Gone(frame.pipeline, rc))
        return effects

    def _on_event(self, frame: Frame) -> list[Effect]:
        values = _INT_LIST.decode(frame.body)
        if not values:
            raise HelperProtocolError("empty event")
        return [EventArrived(frame.pipeline, _make_event(values))]

    def _on_stdout(self, frame: Frame) -> list[Effect]:
        return [Output(frame.pipeline, STDOUT, frame.body)]

    def _on_stderr(self, frame: Frame) -> list[Effect]:
        return [Output(frame.pipeline, STDERR, frame.body)]

    def fail_all(self, error: BaseException) -> list[Effect]:
        """The helper is gone: every pending request fails with error."""
        effects: list[Effect] = [Failed(r, error) for r in self.pending]
        self.pending.clear()
        return effects

    _handlers: ClassVar[dict[int, Callable[[Router, Frame], list[Effect]]]] = {
        _spec.FRAME_REPLY: _on_reply,
        _spec.FRAME_GONE: _on_gone,
        _spec.FRAME_EVENT: _on_event,
        _spec.FRAME_STDOUT: _on_stdout,
        _spec.FRAME_STDERR: _on_stderr,
    }


class StreamBuffer:
    """One stream's received, unread output, and the credit owed back
    (``unreturned``: bytes consumed but not yet handed back to the helper)."""

    __slots__ = ("_chunks", "_offset", "eof", "size", "unreturned")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of the first chunk already pulled
        self.size = 0
        self.eof = False
        self.unreturned = 0

    def push(self, data: bytes) -> None:
        """Add a chunk; an empty chunk marks the end of the stream."""
        if data:
            self._chunks.append(data)
            self.size += len(data)
        else:
            self.eof = True

    def end(self) -> None:
        self.eof = True

    def pull(self, max_bytes: int) -> bytes:
        """Up to max_bytes of the oldest output; b"" if none is buffered."""
        if not self._chunks:
            return b""
        chunk, off = self._chunks[0], self._offset
        if len(chunk) - off <= max_bytes:
            self._chunks.popleft()
            self._offset = 0
            piece = chunk[off:] if off else chunk
        else:
            piece = chunk[off : off + max_bytes]
            self._offset = off + max_bytes
        self.size -= len(piece)
        self.unreturned += len(piece)
        return piece
