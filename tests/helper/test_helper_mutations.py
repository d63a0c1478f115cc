"""Property: mutated frames of the newer argument types get a reply or a clean exit.

test_helper_raw.py sends random and mutated frames of calls that take plain
arguments. Here the frames are real frames of calls whose arguments are in/out
values and cstructs (alloc, prctl, ioctl) and of clone_exec (writes, setup
steps with and without tolerated errnos), encoded by the Driver's own
converters, then possibly given a junk argument and mutated byte by byte,
and mixed with STDIN, CLOSE_STDIN and CREDIT frames. tests/helper/mutations.py
keeps what reaches the helper harmless and predicts the replies it owes.

The outcome classes are: a well-formed REPLY (any status) for every request,
and an exit the parent sees as 0 (stdin closed) or 101 (a frame it could not
parse) -- never a signal death (a sanitizer report aborts), never a hang
(every wait is bounded).
"""

from __future__ import annotations

import collections
import errno
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from alcovepy import _calls, _spec
from alcovepy._types import Ptr, Step
from tests.helper.mutations import (
    CALL,
    EXIT_OK,
    GETPID,
    HARMLESS_PRCTL,
    Context,
    gate,
    prctl_context,
    read_args,
)
from tests.helper.test_helper_raw import Frame as HelperFrame
from tests.helper.test_helper_raw import RawHelper, Reply, call_frame, encode_frame, other_frames, parse_reply

if TYPE_CHECKING:
    from pathlib import Path


class Encoder(Protocol):
    """_calls._args_<name>: a call's Python arguments -> its wire arguments (checked)."""

    def __call__(self, *args: object) -> tuple[object, ...]: ...


PLACE = b"@SCRATCH@"  # stands for the scratch directory, known only when the test runs


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    scratch = tmp_path_factory.mktemp("mutations")
    (scratch / "w").write_bytes(b"")  # a file writes may reach
    with RawHelper() as h:
        h.hello()
        values: dict[str, int | None] = {}
        for i, name in enumerate(HARMLESS_PRCTL, start=1):
            reply = h.call(i, CALL["prctl_constant"], [name])
            assert reply.status == _spec.STATUS_OK, reply
            assert reply.value is None or isinstance(reply.value, int)
            values[name] = reply.value
    return prctl_context(os.fsencode(scratch), values)


def _place(value: object, scratch: bytes) -> object:
    """value with PLACE replaced by the scratch directory, inside lists, tuples and Steps."""
    if isinstance(value, bytes):
        return value.replace(PLACE, scratch)
    if isinstance(value, list | tuple):
        return type(value)(_place(v, scratch) for v in value)
    if isinstance(value, Step):
        placed = cast("tuple[object, ...]", _place(value.args, scratch))
        step = Step(value.call, *placed)
        step.tolerate = value.tolerate
        return step
    return value


@dataclass(frozen=True)
class Real:
    """A CALL frame as the Driver encodes it, optionally with one argument replaced by junk."""

    reqid: int
    call: str
    args: tuple[object, ...]
    junk: tuple[int, object] | None = None

    def __call__(self, scratch: bytes) -> bytes:
        encode = cast("Encoder", getattr(_calls, f"_args_{self.call}"))
        wire = list(encode(*(_place(a, scratch) for a in self.args)))
        if self.junk is not None and wire:
            wire[self.junk[0] % len(wire)] = _place(self.junk[1], scratch)
        return call_frame(self.reqid, CALL[self.call], wire)


@dataclass(frozen=True)
class Const:
    data: bytes

    def __call__(self, scratch: bytes) -> bytes:
        return self.data


@dataclass(frozen=True)
class Mutated:
    """A frame with byte edits: (kind, position, value) each."""

    inner: Real | Const
    edits: tuple[tuple[str, int, int], ...]

    def __call__(self, scratch: bytes) -> bytes:
        data = bytearray(self.inner(scratch))
        for kind, at, value in self.edits:
            if kind == "flip" and data:
                data[at % len(data)] ^= value % 255 + 1
            elif kind == "truncate":
                del data[at % (len(data) + 1) :]
            elif kind == "insert":
                i = at % (len(data) + 1)
                data[i:i] = value.to_bytes(4, "big")[: 1 + value % 4]
            elif kind == "length" and len(data) >= 4:
                struct.pack_into(">I", data, 0, max(0, len(data) - 4 + value % 24 - 12))
            elif kind == "type" and len(data) >= 5:
                data[4] = value % 6  # another frame type, or an invalid one
        return bytes(data)


Frame = Real | Const | Mutated

reqids = st.integers(0, 2**32 - 1)
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=12)
    | st.text(max_size=8)
    | st.just(PLACE + b"/w"),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=8,
)
pieces = st.binary(max_size=24) | st.builds(Ptr, st.integers(0, 512)) | st.builds(Ptr, st.binary(max_size=24))
cstructs = st.lists(pieces, min_size=1, max_size=6)
inouts = st.none() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=32) | cstructs
prctl_options = st.sampled_from(HARMLESS_PRCTL + tuple(n.lower() for n in HARMLESS_PRCTL)) | st.integers(0, 80)
ioctl_requests = st.sampled_from(_spec.CONSTANT_FAMILIES["ioctl"]) | st.integers(0, 2**32 - 1)
closed_fds = st.integers(1000, 2**31 - 1)

child_steps = st.one_of(
    st.just(("getpid",)),
    st.just(("getcwd",)),
    st.just(("chdir", PLACE)),
    st.just(("chdir", "/nonexistent-alcovepy")),
    st.tuples(
        st.just("setenv"), st.sampled_from(["A", "PATH", "X=Y", ""]), st.sampled_from(["1", ""]), st.integers(0, 1)
    ),
    st.tuples(st.just("unsetenv"), st.sampled_from(["A", "PATH", ""])),
    st.just(("clearenv",)),
    st.tuples(
        st.just("setrlimit"), st.sampled_from(["RLIMIT_NOFILE", "RLIMIT_CORE"]), st.sampled_from([(64, 64), (0, 0)])
    ),
    st.tuples(st.just("getrlimit"), st.sampled_from(["RLIMIT_NOFILE", "RLIMIT_STACK"])),
    st.tuples(st.just("alloc"), cstructs),
    st.tuples(
        st.just("sigaction"), st.sampled_from(["SIGTERM", "SIGKILL", "SIGUSR1"]), st.sampled_from(["SIG_IGN", None])
    ),
    st.tuples(st.just("setopt"), st.just("maxchild"), st.integers(0, 100)),
    st.tuples(st.just("errno_id"), st.integers(-5, 200)),
)
steps = st.lists(
    child_steps
    | child_steps.map(lambda t: Step(t[0], *t[1:], tolerate=[errno.ENOENT, errno.EINVAL]))
    | child_steps.map(lambda t: Step(t[0], *t[1:], best_effort=True)),
    max_size=6,
)
writes = st.lists(
    st.tuples(
        st.sampled_from([PLACE + b"/w", PLACE + b"/w-{pid}", PLACE + b"/absent/x", PLACE + b"/{pid}/{pid}"]),
        st.binary(max_size=16) | st.just(b"{pid}\n"),
    ),
    max_size=3,
)
clone_flags = st.sampled_from([0, ["CLONE_NEWUTS"], ["CLONE_NEWUSER", "CLONE_NEWPID"], "CLONE_NEWNS", 1])
argvs = st.lists(st.binary(max_size=8).filter(lambda b: b"\0" not in b), max_size=3)

clone_exec_frames = st.builds(
    Real,
    reqids,
    st.just("clone_exec"),
    st.tuples(clone_flags, writes, steps, st.just(PLACE + b"/absent/prog"), argvs, st.none() | argvs),
)
real_frames = st.one_of(
    st.builds(Real, reqids, st.just("alloc"), st.tuples(cstructs | st.binary(max_size=32))),
    st.builds(Real, reqids, st.just("prctl"), st.tuples(prctl_options, inouts, inouts, inouts, inouts)),
    st.builds(Real, reqids, st.just("ioctl"), st.tuples(closed_fds, ioctl_requests, inouts)),
    clone_exec_frames,  # more often than the others: mutations make the gate rewrite more of them
    clone_exec_frames,
)
with_junk = st.builds(
    lambda r, at, v: Real(r.reqid, r.call, r.args, (at, v)), real_frames, st.integers(0, 5), msgpack_values
)
edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "flip", "truncate", "insert", "length", "type"]),
        st.integers(0, 2**16),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
frames: st.SearchStrategy[Frame] = st.one_of(
    real_frames,
    with_junk,
    st.builds(Mutated, real_frames | with_junk, edits),
    other_frames.map(Const),
    st.builds(Mutated, other_frames.map(Const), edits),
)


def check_outcome(ctx: Context, stream: bytes) -> None:
    """Send the gated stream, close stdin, and hold the helper to the prediction."""
    expected = gate(ctx, stream)
    for name in expected.ran:
        event(f"ran {name}")
    event(f"{expected.rewritten} calls rewritten")
    with RawHelper() as h:
        h.hello()
        got, code = h.finish(expected.stream)
        assert code >= 0, f"killed by signal {-code}; stderr: {h.stderr_text()}"
        assert code == expected.exit_code, h.stderr_text()
        assert all(f.pids == () and f.type == _spec.FRAME_REPLY for f in got), got
        replies = [parse_reply(f) for f in got]  # each one msgpack value after reqid and status
        assert all(r.status <= _spec.STATUS_SETUP_FAILED for r in replies), replies
        owed, answered = collections.Counter(expected.reqids), collections.Counter(r.reqid for r in replies)
        if code == EXIT_OK:
            assert answered == owed  # clone_exec answers when its child reports: order may differ
        else:  # replies queued in the turn of the bad frame, and clone_exec's pending ones, die with it
            assert not answered - owed


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, min_size=1, max_size=5))
def test_mutated_frames_of_newer_types_get_replies_or_a_clean_exit(ctx: Context, plan: list[Frame]) -> None:
    check_outcome(ctx, b"".join(f(ctx.scratch) for f in plan))


# ---- the gate itself: the property is only as safe as it is ----------------


def test_gate_rewrites_what_could_act_on_the_world(ctx: Context) -> None:
    s = ctx.scratch
    harmful = [
        call_frame(1, CALL["kill"], [1, "SIGKILL"]),
        call_frame(2, CALL["prctl"], ["PR_GET_NAME", 4096, 0, 0, 0]),  # writes through an address
        call_frame(3, CALL["prctl"], ["PR_SET_PDEATHSIG", 9, 0, 0, 0]),
        call_frame(3, CALL["prctl"], ["PR_SET_NAME", 0, 0, 0, 0]),  # see HARMLESS_PRCTL
        call_frame(4, CALL["ioctl"], [1, "FIONBIO", b"\1\0\0\0"]),  # an open fd
        call_frame(5, CALL["clone_exec"], [0, [[b"/etc/passwd", b"x"]], [], s + b"/absent/p", [], None]),
        call_frame(6, CALL["clone_exec"], [0, [], [[CALL["kill"], [1, 9]]], s + b"/absent/p", [], None]),
        call_frame(7, CALL["clone_exec"], [0, [], [], b"sh", [b"sh"], None]),  # a program that exists
        call_frame(8, CALL["clone_exec"], [0, [[s + b"/../x", b""]], [], s + b"/absent/p", [], None]),
        call_frame(9, CALL["clone_exec"], [0, [], [], s + b"/absent/../../bin/sh", [], None]),
        encode_frame(_spec.FRAME_CALL, struct.pack(">IH", 10, CALL["clone_exec"]) + b"\x96\x00\x90\x90"),  # cut short
    ]
    for frame in harmful:
        sent = gate(ctx, frame).stream
        assert struct.unpack_from(">H", sent, 10)[0] == GETPID, frame
    harmless = [
        call_frame(1, CALL["alloc"], [[b"a", 5, [b"b"]]]),
        call_frame(2, CALL["prctl"], ["pr_capbset_read", 0, b"\0" * 8, None, [b"a", 4]]),
        call_frame(3, CALL["ioctl"], [5000, "FIONREAD", [8]]),
        call_frame(4, CALL["clone_exec"], [0, [[s + b"/w", b"x"]], [[CALL["chdir"], [s]]], s + b"/absent/p", [], None]),
    ]
    for frame in harmless:
        assert gate(ctx, frame).stream == frame


def test_gate_reads_msgpack_as_the_helper_does() -> None:
    enc = msgspec.msgpack.encode
    assert read_args(enc([1, -1, 2**63 - 1, -(2**63), b"b", "s", None, True, [[]]])) == [
        1,
        -1,
        2**63 - 1,
        -(2**63),
        b"b",
        b"s",
        None,
        True,
        [[]],
    ]
    assert read_args(enc([2**64 - 1])) is None  # the helper's reader refuses a uint64 above INT64_MAX
    assert read_args(enc([1.5])) is None
    assert read_args(enc([{"a": 1}])) is None
    assert read_args(enc([]) + b"\xc0") is None  # trailing bytes
    assert read_args(b"\xdd\xff\xff\xff\xff") is None  # an array longer than the frame
    assert read_args(b"\x91" * 40 + b"\x90") is None  # deeper than the helper's skip


# ---- the two decoder bugs the fuzzer found, against the real helper ---------


def test_trailing_bytes_refuse_the_call_before_it_runs() -> None:
    """A call with bytes after its argument array used to run, then be answered BADARG."""
    with RawHelper() as h:
        h.hello()
        args = msgspec.msgpack.encode(["ALCOVEPY_TRAILING", "ran", 1])
        h.send(encode_frame(_spec.FRAME_CALL, struct.pack(">IH", 1, CALL["setenv"]) + args + b"\xc0"))
        reply = h.reply()
        assert (reply.reqid, reply.status) == (1, _spec.STATUS_BADARG), reply
        assert h.call(2, CALL["getenv"], ["ALCOVEPY_TRAILING"]) == Reply(2, _spec.STATUS_OK, None)


def test_many_tolerant_steps_do_not_exhaust_the_call_arena(tmp_path: Path) -> None:
    """Each tolerant step took an arena slot while its shape was checked: 64 ended the helper (111)."""
    with RawHelper() as h:
        h.hello()
        steps = [[CALL["getcwd"], [], [errno.ENOENT]]] * 200
        absent = os.fsencode(tmp_path / "absent" / "prog")
        reply = h.call(1, CALL["clone_exec"], [0, [], steps, absent, [b"prog"], None])
        assert (reply.reqid, reply.status) == (1, _spec.STATUS_SETUP_FAILED), reply
        assert reply.value == [200, _spec.STATUS_ERRNO, errno.ENOENT, f"exec {absent.decode()}"]
        assert h.call(2, GETPID, []) == Reply(2, _spec.STATUS_OK, h.proc.pid)


def test_a_failed_clone_exec_reports_nothing_but_its_reply(tmp_path: Path) -> None:
    """A failed clone_exec is answered once, and nothing else is said of its child (events, GONE)."""
    absent = os.fsencode(tmp_path / "absent")
    with RawHelper() as h:
        h.hello()
        frames: list[HelperFrame] = []
        for i in range(100):
            h.send(call_frame(i, CALL["clone_exec"], [0, [], [], absent, [b"x"], None]))
            while (frame := h.read_frame()) is not None:
                frames.append(frame)
                if frame.type == _spec.FRAME_REPLY and parse_reply(frame).reqid == i:
                    break
        h.close_stdin()
        frames += h.read_all()
        assert [f for f in frames if f.pids] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the race shows with CLONE_NEWNS")
def test_a_failed_clone_exec_reports_nothing_else_even_when_stdin_closes_at_once(tmp_path: Path) -> None:
    """Only the setup_failed reply, never the end of the child's stderr: it
    used to be relayed now and then (1 to 10 helpers in 100 here, by load)
    when the child's exit was handled before its report, naming a pid the
    caller never learned. A race the test above does not meet (its helper
    lives on): 150 fresh helpers closed at once catch it in most runs.
    Found by the property test of this file."""
    w = str(tmp_path / "w")
    wire = list(_calls._args_clone_exec(["CLONE_NEWNS"], [(w, b"{pid}")], [], "/nonexistent/program", ["y", "x"], None))
    stray: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(150):
        with RawHelper() as h:
            h.hello()
            got, code = h.finish(call_frame(1, CALL["clone_exec"], wire))
            assert code == 0
        stray += [(f.type, f.pids) for f in got if f.pids or f.type != _spec.FRAME_REPLY]
        assert [(parse_reply(f).reqid, parse_reply(f).status) for f in got if not f.pids] == [
            (1, _spec.STATUS_SETUP_FAILED)
        ]
    assert stray == []
