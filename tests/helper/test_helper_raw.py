"""Tier 3: the helper binary alone, driven with raw frames over real pipes.

dumb-init style: no Driver, no event loop. Each test starts the built helper
(``helper_path()``, so ``ALCOVEPY_HELPER`` selects e.g. the ASan build),
writes frames byte for byte as the wire format says, and reads what comes
back with a deadline on every wait, so a hung helper fails the test instead
of hanging it. Frames: ``|len:4|type:1|depth:1|pid:4 x depth|body|``
big-endian; a CALL body is ``reqid:4 callid:2 msgpack-args``, a REPLY body
``reqid:4 status:1 msgpack-value``.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alcovepy import _spec as spec
from alcovepy._helper_path import helper_path

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

# Exit codes from helper/util.h.
EXIT_OK = 0
EXIT_USAGE = 100
EXIT_PROTOCOL = 101

TIMEOUT = 10.0  # seconds any single wait on the helper may take
CALL = {c.name: c.id for c in spec.CALLS}
GETPID = CALL["getpid"]


@dataclass(frozen=True)
class Frame:
    type: int
    pids: tuple[int, ...]
    body: bytes


@dataclass(frozen=True)
class Reply:
    reqid: int
    status: int
    value: object


def encode_frame(ftype: int, body: bytes, pids: tuple[int, ...] = ()) -> bytes:
    rest = struct.pack(f">BB{len(pids)}I", ftype, len(pids), *pids) + body
    return struct.pack(">I", len(rest)) + rest


def call_frame(reqid: int, callid: int, args: object, pids: tuple[int, ...] = ()) -> bytes:
    body = struct.pack(">IH", reqid, callid) + msgspec.msgpack.encode(args)
    return encode_frame(spec.FRAME_CALL, body, pids)


def parse_reply(frame: Frame) -> Reply:
    assert frame.type == spec.FRAME_REPLY, frame
    assert len(frame.body) >= 6, frame
    reqid, status = struct.unpack_from(">IB", frame.body)
    value: object = msgspec.msgpack.decode(frame.body[5:])
    return Reply(reqid, status, value)


class RawHelper:
    """One helper process and both ends of its stdio, every wait bounded."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._err = os.memfd_create("helper-stderr")  # a file: the helper never blocks on it
        self._stack.callback(os.close, self._err)
        self.proc = self._stack.enter_context(
            subprocess.Popen(
                [str(helper_path())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._err,
                start_new_session=True,  # nothing it is sent can signal our process group
            )
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._in: int | None = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self.pending = bytearray()
        self.eof = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()

    def kill(self) -> None:
        """SIGKILL the helper if it still runs; then reap it and close every pipe."""
        with self._stack:
            if self.proc.poll() is None:
                self.proc.kill()

    def _wait(self, deadline: float, *, write: bool) -> set[int]:
        poller = select.poll()
        if not self.eof:
            poller.register(self._out, select.POLLIN)
        if write and self._in is not None:
            poller.register(self._in, select.POLLOUT)
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the helper hung: no progress for {TIMEOUT}s\nstderr: {self.stderr_text()}")
        return {fd for fd, _ in poller.poll(left * 1000)}

    def _read_some(self) -> None:
        chunk = os.read(self._out, 1 << 16)
        if chunk:
            self.pending += chunk
        else:
            self.eof = True

    def send(self, data: bytes) -> None:
        """Write all of data, reading output meanwhile; stop if the helper is gone."""
        view = memoryview(data)
        deadline = time.monotonic() + TIMEOUT
        while view and self._in is not None:
            ready = self._wait(deadline, write=True)
            if self._in in ready:
                try:
                    view = view[os.write(self._in, view) :]
                except BrokenPipeError:
                    self.close_stdin()
            if self._out in ready:
                self._read_some()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self._in = None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()

    def _take_frame(self) -> Frame | None:
        if len(self.pending) < 4:
            return None
        (n,) = struct.unpack_from(">I", self.pending)
        if len(self.pending) < 4 + n:
            return None
        raw = bytes(self.pending[4 : 4 + n])
        del self.pending[: 4 + n]
        assert n >= 2, f"frame of {n} bytes from the helper"
        ftype, depth = raw[0], raw[1]
        assert n >= 2 + 4 * depth, f"frame of {n} bytes with depth {depth}"
        pids = struct.unpack_from(f">{depth}I", raw, 2)
        return Frame(ftype, pids, raw[2 + 4 * depth :])

    def read_frame(self) -> Frame | None:
        """The next frame, or None at end of output (which must be between frames)."""
        deadline = time.monotonic() + TIMEOUT
        while (frame := self._take_frame()) is None:
            if self.eof:
                assert not self.pending, f"output ends inside a frame: {bytes(self.pending)!r}"
                return None
            if self._out in self._wait(deadline, write=False):
                self._read_some()
        return frame

    def read_all(self) -> list[Frame]:
        frames: list[Frame] = []
        while (frame := self.read_frame()) is not None:
            frames.append(frame)
        return frames

    def finish(self, data: bytes) -> tuple[list[Frame], int]:
        """Send data, close stdin, and return every frame to the end and the exit code."""
        self.send(data)
        self.close_stdin()
        frames = self.read_all()
        return frames, self.wait()

    def hello(self) -> list[object]:
        frame = self.read_frame()
        assert frame is not None, f"no hello frame; stderr: {self.stderr_text()}"
        assert frame.type == spec.FRAME_HELLO
        assert frame.pids == ()
        value: object = msgspec.msgpack.decode(frame.body)
        assert isinstance(value, list)
        return value

    def call(self, reqid: int, callid: int, args: object) -> Reply:
        self.send(call_frame(reqid, callid, args))
        return self.reply()

    def reply(self) -> Reply:
        frame = self.read_frame()
        assert frame is not None, f"the helper exited; stderr: {self.stderr_text()}"
        assert frame.pids == ()
        return parse_reply(frame)

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the helper did not exit within {TIMEOUT}s")

    def stderr_text(self) -> str:
        return os.pread(self._err, 1 << 20, 0).decode(errors="replace")


@pytest.fixture
def helper() -> Iterator[RawHelper]:
    with RawHelper() as h:
        h.hello()
        yield h


# ---- start-up and the command line ----------------------------------------


def test_hello_frame_identifies_the_helper() -> None:
    with RawHelper() as h:
        assert h.hello() == [spec.PROTOCOL_VERSION, spec.SPEC_DIGEST, spec.VERSION, h.proc.pid]
        h.close_stdin()
        assert h.read_all() == []
        assert h.wait() == EXIT_OK


def test_list_calls_matches_the_spec() -> None:
    out = subprocess.run([str(helper_path()), "--list-calls"], capture_output=True, check=True, timeout=TIMEOUT)
    rows = [line.split() for line in out.stdout.decode().splitlines()]
    assert [(int(row[0]), row[1]) for row in rows] == [(c.id, c.name) for c in spec.CALLS]


def test_version_flag() -> None:
    out = subprocess.run([str(helper_path()), "--version"], capture_output=True, check=True, timeout=TIMEOUT)
    assert out.stdout.decode() == f"{spec.VERSION} {spec.SPEC_DIGEST}\n"


def test_unknown_flag_is_a_usage_error() -> None:
    out = subprocess.run([str(helper_path()), "--frobnicate"], capture_output=True, check=False, timeout=TIMEOUT)
    assert out.returncode == EXIT_USAGE
    assert out.stdout == b""


# ---- calls -----------------------------------------------------------------


def test_getpid(helper: RawHelper) -> None:
    assert helper.call(7, GETPID, []) == Reply(7, spec.STATUS_OK, helper.proc.pid)


def test_version_call(helper: RawHelper) -> None:
    assert helper.call(0xFFFFFFFF, CALL["version"], []) == Reply(0xFFFFFFFF, spec.STATUS_OK, spec.VERSION)


def test_frames_split_byte_by_byte_and_batched(helper: RawHelper) -> None:
    stream = b"".join(call_frame(i, GETPID, []) for i in range(1, 4))
    for i in range(len(stream)):
        helper.send(stream[i : i + 1])
    helper.send(stream)  # three frames in one write
    replies = [helper.reply() for _ in range(6)]
    assert [r.reqid for r in replies] == [1, 2, 3, 1, 2, 3]
    assert all(r == Reply(r.reqid, spec.STATUS_OK, helper.proc.pid) for r in replies)


@pytest.mark.parametrize("callid", [0, len(spec.CALLS) + 1, 0xFFFF])
def test_unknown_call_id(helper: RawHelper, callid: int) -> None:
    reply = helper.call(3, callid, [])
    assert reply.reqid == 3
    assert reply.status == spec.STATUS_UNKNOWN_CALL
    assert isinstance(reply.value, str)
    assert str(callid) in reply.value
    assert helper.call(4, GETPID, []).status == spec.STATUS_OK


BAD_ARGS = [
    pytest.param("getpid", [1], "takes 0 arguments", id="too-many"),
    pytest.param("chdir", [], "takes 1 arguments", id="too-few"),
    pytest.param("getpid", 5, "takes 0 arguments", id="args-not-an-array"),
    pytest.param("chdir", [123], "expected str or bytes", id="int-for-path"),
    pytest.param("chdir", [None], "expected str or bytes", id="nil-for-path"),
    pytest.param("chdir", [b"/tmp\x00/etc"], "NUL", id="nul-in-path"),
    pytest.param("chdir", [""], "empty path", id="empty-path"),
    pytest.param("getenv", [["HOME"]], "expected str or bytes", id="list-for-str"),
    pytest.param("kill", ["1", "SIGTERM"], "expected an integer", id="str-for-pid"),
    pytest.param("kill", [2**40, "SIGTERM"], "out of range", id="pid-out-of-range"),
    pytest.param("execvp", ["sh", ["sh", b"a\x00b"]], "NUL", id="nul-in-argv"),
    pytest.param("execvp", ["sh", "sh"], "list", id="str-for-argv"),
    pytest.param("setopt", ["no_such_option", 1], "unknown option", id="unknown-option"),
    pytest.param("sigaction", ["SIGTERM", "SIG_WHATEVER"], "handler", id="bad-handler"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_ARGS)
def test_bad_arguments_get_badarg_and_the_helper_keeps_serving(
    helper: RawHelper, name: str, args: object, message: str
) -> None:
    reply = helper.call(9, CALL[name], args)
    assert (reply.reqid, reply.status) == (9, spec.STATUS_BADARG), reply
    assert isinstance(reply.value, str)
    assert message in reply.value
    assert helper.call(10, GETPID, []) == Reply(10, spec.STATUS_OK, helper.proc.pid)


def test_trailing_bytes_after_the_arguments(helper: RawHelper) -> None:
    helper.send(encode_frame(spec.FRAME_CALL, struct.pack(">IH", 5, GETPID) + b"\x90\xc0"))
    reply = helper.reply()
    assert (reply.reqid, reply.status) == (5, spec.STATUS_BADARG)
    assert helper.call(6, GETPID, []).status == spec.STATUS_OK


def test_unknown_constant(helper: RawHelper) -> None:
    reply = helper.call(1, CALL["kill"], [helper.proc.pid, "SIGNOPE"])
    assert reply == Reply(1, spec.STATUS_UNKNOWN_CONSTANT, "SIGNOPE")


def test_requests_that_are_not_calls(helper: RawHelper) -> None:
    helper.send(encode_frame(spec.FRAME_STDIN, struct.pack(">I", 1) + b"data"))
    assert helper.reply().status == spec.STATUS_BADARG  # our stdin is the request channel
    helper.send(encode_frame(spec.FRAME_CREDIT, struct.pack(">BI", 0, 4096)))  # no reply
    helper.send(call_frame(2, GETPID, [], pids=(424242,)))
    assert helper.reply() == Reply(2, spec.STATUS_NOPROC, "no such process")
    assert helper.call(3, GETPID, []).reqid == 3


def test_call_forwarded_to_a_forked_child(helper: RawHelper) -> None:
    fork = helper.call(1, CALL["fork"], [])
    assert fork.status == spec.STATUS_OK, fork
    child = fork.value
    assert isinstance(child, int)
    helper.send(call_frame(2, GETPID, [], pids=(child,)))
    frame = helper.read_frame()
    assert frame is not None
    assert frame.pids == (child,)  # the relaying helper prepends its child's pid
    assert parse_reply(frame) == Reply(2, spec.STATUS_OK, child)
    helper.close_stdin()  # the helper ends its children, reports them, and exits
    rest = helper.read_all()
    assert any(f.type == spec.FRAME_GONE and f.pids == (child,) for f in rest), rest
    assert helper.wait() == EXIT_OK


# ---- protocol violations and shutdown ---------------------------------------

VIOLATIONS = [
    pytest.param(struct.pack(">I", spec.MAX_FRAME + 1), id="length-over-max"),
    pytest.param(struct.pack(">I", 0xFFFFFFFF), id="length-4GiB"),
    pytest.param(struct.pack(">I", 0), id="length-0"),
    pytest.param(struct.pack(">I", 1) + b"\x01", id="length-1"),
    pytest.param(struct.pack(">I", 2) + bytes([spec.FRAME_CALL, 3]), id="depth-past-the-end"),
    pytest.param(encode_frame(0, struct.pack(">IH", 1, GETPID) + b"\x90"), id="type-0"),
    pytest.param(encode_frame(5, struct.pack(">IH", 1, GETPID) + b"\x90"), id="type-5"),
    pytest.param(encode_frame(spec.FRAME_HELLO, b"\x90"), id="type-hello"),
    pytest.param(encode_frame(spec.FRAME_REPLY, struct.pack(">IB", 1, 0) + b"\xc0"), id="type-reply"),
    pytest.param(encode_frame(0xFF, b"\x00" * 8), id="type-255"),
    pytest.param(encode_frame(spec.FRAME_CALL, b"\x00\x00\x00\x01\x00"), id="call-body-5-bytes"),
    pytest.param(encode_frame(spec.FRAME_STDIN, b"\x00\x00"), id="stdin-body-2-bytes"),
    pytest.param(encode_frame(spec.FRAME_CREDIT, b"\x00\x00\x00\x00"), id="credit-body-4-bytes"),
]


@pytest.mark.parametrize("bad", VIOLATIONS)
def test_unparseable_frame_exits_101_and_nothing_else(helper: RawHelper, bad: bytes) -> None:
    assert helper.call(1, GETPID, []).status == spec.STATUS_OK  # a good frame first
    helper.send(bad)
    assert helper.read_all() == []
    assert helper.wait() == EXIT_PROTOCOL
    lines = helper.stderr_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"alcovepy-helper[{helper.proc.pid}]: ")


def test_closing_stdin_exits_0(helper: RawHelper) -> None:
    assert helper.call(1, GETPID, []).status == spec.STATUS_OK
    helper.close_stdin()
    assert helper.read_all() == []
    assert helper.wait() == EXIT_OK


def test_partial_frame_at_eof_is_not_run(helper: RawHelper) -> None:
    helper.send(call_frame(1, GETPID, [])[:-1])
    helper.close_stdin()
    assert helper.read_all() == []
    assert helper.wait() == EXIT_OK


# ---- property: nothing a parent writes gets more than a reply or a clean exit ----

# Calls the random stream may run: no process is made, killed or replaced and
# nothing leaves the helper. Any other id in the table (including ids added
# later) is rewritten to getpid before the stream is sent.
SAFE = frozenset(
    CALL[name]
    for name in (
        "version",
        "getpid",
        "getcwd",
        "environ",
        "getenv",
        "getopt",
        "cpid",
        "signal_constant",
        "clone_constant",
        "file_constant",
        "fcntl_constant",
        "rlimit_constant",
    )
)
UNSAFE = frozenset(CALL.values()) - SAFE
MIN_BODY = {spec.FRAME_CALL: 6, spec.FRAME_STDIN: 4, spec.FRAME_CLOSE_STDIN: 4, spec.FRAME_CREDIT: 5}


@dataclass(frozen=True)
class Prediction:
    stream: bytes  # what to send: the input with unsafe call ids replaced
    reqids: list[int]  # the replies the helper owes, in order
    exit_code: int


def predict(stream: bytes) -> Prediction:
    """Frame the stream as the helper's loop does (loop.c on_stdin/route).

    With no children, every accepted CALL, STDIN or CLOSE_STDIN frame gets
    exactly one reply at depth 0 and CREDIT none; the first frame the loop
    cannot parse ends the helper with 101; an incomplete tail waits for EOF.
    """
    data = bytearray(stream)
    reqids: list[int] = []
    off = 0
    while len(data) - off >= 4:
        (n,) = struct.unpack_from(">I", data, off)
        if n > spec.MAX_FRAME:
            return Prediction(bytes(data), reqids, EXIT_PROTOCOL)
        if len(data) - off - 4 < n:
            break
        f = off + 4
        if n < 2 or 2 + 4 * data[f + 1] > n:
            return Prediction(bytes(data), reqids, EXIT_PROTOCOL)
        ftype, body = data[f], f + 2 + 4 * data[f + 1]
        if ftype not in MIN_BODY or f + n - body < MIN_BODY[ftype]:
            return Prediction(bytes(data), reqids, EXIT_PROTOCOL)
        if ftype == spec.FRAME_CALL and data[f + 1] == 0 and struct.unpack_from(">H", data, body + 4)[0] in UNSAFE:
            struct.pack_into(">H", data, body + 4, GETPID)
        if ftype != spec.FRAME_CREDIT:
            reqids.append(struct.unpack_from(">I", data, body)[0])
        off = f + n
    return Prediction(bytes(data), reqids, EXIT_OK)


def test_predict_rewrites_unsafe_calls() -> None:
    kill = call_frame(1, CALL["kill"], [0, "SIGKILL"])
    p = predict(kill + call_frame(2, GETPID, []) + b"\x00\x00")
    assert p.stream == call_frame(1, GETPID, [0, "SIGKILL"]) + call_frame(2, GETPID, []) + b"\x00\x00"
    assert (p.reqids, p.exit_code) == ([1, 2], EXIT_OK)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=8,
)
good_args = st.sampled_from([[], ["SIGTERM"], ["maxchild"], ["HOME"], ["O_RDONLY"], ["RLIMIT_NOFILE"], [1, 2]])
pid_paths = st.lists(st.integers(0, 2**32 - 1), max_size=2).map(tuple)
call_frames = st.builds(
    call_frame,
    reqid=st.integers(0, 2**32 - 1),
    callid=st.sampled_from(sorted(CALL.values())) | st.integers(0, 0xFFFF),
    args=good_args | st.lists(msgpack_values, max_size=4) | msgpack_values,
    pids=st.just(()) | pid_paths,
)
other_frames = st.builds(
    encode_frame,
    ftype=st.sampled_from([spec.FRAME_STDIN, spec.FRAME_CLOSE_STDIN, spec.FRAME_CREDIT]),
    body=st.binary(max_size=12),
    pids=st.just(()) | pid_paths,
)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(call_frames | other_frames))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "length", "insert"]))
        if kind == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "length":
            near = st.integers(max(0, len(data) - 12), len(data) + 8)
            data[0:4] = struct.pack(">I", draw(near | st.integers(0, 2**32 - 1)))
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


streams = st.lists(call_frames | other_frames | mutated_frames() | st.binary(max_size=16), min_size=1, max_size=6).map(
    b"".join
)


@settings(max_examples=150, deadline=None)
@given(streams)
def test_any_input_gives_replies_or_a_clean_exit(stream: bytes) -> None:
    expected = predict(stream)
    with RawHelper() as h:
        h.hello()
        frames, code = h.finish(expected.stream)
        assert code >= 0, f"killed by signal {-code}; stderr: {h.stderr_text()}"
        assert code == expected.exit_code, h.stderr_text()
        assert all(f.pids == () for f in frames), frames
        replies = [parse_reply(f) for f in frames]
        assert all(r.status <= spec.STATUS_FILTERED for r in replies), replies
        got = [r.reqid for r in replies]
        if code == EXIT_OK:
            assert got == expected.reqids
        else:  # replies queued in the same turn as the bad frame die with the helper
            assert got == expected.reqids[: len(got)]
