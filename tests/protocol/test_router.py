"""Router: request ids, replies to results or errors, pipeline fan-out.

Replies, events and GONE frames are built by hand (``tests.protocol.wire``)
from the wire numbers of ``alcovepy._spec``; nothing here runs an event loop.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import signal
import struct
from typing import TYPE_CHECKING

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alcovepy import _spec
from alcovepy._protocol import (
    STDERR,
    STDOUT,
    EventArrived,
    Execed,
    Failed,
    Frame,
    FrameDecoder,
    Gone,
    Output,
    Resolved,
    Router,
)
from alcovepy._types import (
    ChildInfo,
    Event,
    ExitStatus,
    SigInfo,
    Signal,
    StderrClosed,
    StdinClosed,
    StdoutClosed,
    TermSig,
)
from alcovepy.errors import AlcoveError, CallFiltered, HelperProtocolError, UnknownConstant
from tests.protocol.wire import (
    encode_frame,
    event,
    gone,
    reply,
    reply_body,
    wait_status_exited,
    wait_status_signaled,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from alcovepy._protocol import Effect
    from alcovepy._wire import CallSpec

MAX_ID = 2**32 - 1


def parse_call(data: bytes) -> tuple[tuple[int, ...], int, int, object]:
    """(pipeline, reqid, call id, args) of an encoded CALL frame."""
    (frame,) = FrameDecoder().feed(data)
    assert frame.type == _spec.FRAME_CALL
    reqid, callid = struct.unpack_from(">IH", frame.body)
    return frame.pipeline, reqid, callid, msgspec.msgpack.decode(frame.body[6:])


def call(router: Router, pipeline: tuple[int, ...], spec: CallSpec[object] = _spec.CALL_GETPID) -> int:
    reqid, _ = router.call(pipeline, spec, ())
    return reqid


def failure(effect: Effect) -> BaseException:
    assert isinstance(effect, Failed), effect
    return effect.error


def lookup_failure(effect: Effect, reqid: int) -> None:
    """effect fails request reqid with ProcessLookupError (ESRCH)."""
    assert isinstance(effect, Failed), effect
    assert effect.reqid == reqid
    assert isinstance(effect.error, ProcessLookupError)
    assert effect.error.errno == errno.ESRCH


def reqids(effects: list[Effect]) -> set[int]:
    ids = set()
    for e in effects:
        assert isinstance(e, Resolved | Failed), e
        ids.add(e.reqid)
    return ids


def only_failure(effects: list[Effect]) -> BaseException:
    assert len(effects) == 1, effects
    return failure(effects[0])


def reply_error(status: int, value: object, spec: CallSpec[object] = _spec.CALL_GETPID) -> BaseException:
    router = Router()
    reqid = call(router, (5,), spec)
    return only_failure(router.receive(reply(reqid, value, status)))


# ---- numbering and encoding ------------------------------------------------


def test_call_frame_carries_pipeline_reqid_call_id_and_args() -> None:
    router = Router()
    reqid, data = router.call((5, 6), _spec.CALL_KILL, (10, "SIGTERM"))
    assert parse_call(data) == ((5, 6), reqid, _spec.CALL_KILL.id, [10, "SIGTERM"])
    assert router.pending[reqid].pipeline == (5, 6)
    assert router.pending[reqid].spec is _spec.CALL_KILL


def test_ids_are_unique_and_nonzero() -> None:
    router = Router()
    ids = [call(router, (1,)) for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert 0 not in ids
    assert set(router.pending) == set(ids)


def test_ids_of_every_kind_of_request_share_one_space() -> None:
    router = Router()
    a = call(router, ())
    b, stdin_frame = router.stdin((3,), b"data")
    c, close_frame = router.close_stdin((3,))
    assert len({a, b, c}) == 3
    assert FrameDecoder().feed(stdin_frame) == [Frame(_spec.FRAME_STDIN, (3,), struct.pack(">I", b) + b"data")]
    assert FrameDecoder().feed(close_frame) == [Frame(_spec.FRAME_CLOSE_STDIN, (3,), struct.pack(">I", c))]
    assert [router.pending[i].what for i in (a, b, c)] == ["getpid", "stdin", "close_stdin"]


def test_ids_wrap_and_never_reuse_a_pending_id() -> None:
    router = Router()
    first, second = call(router, ()), call(router, ())
    assert (first, second) == (1, 2)
    router._next = MAX_ID - 1  # far along: the next id is the last a u32 holds
    assert call(router, ()) == MAX_ID
    assert call(router, ()) == 3  # wrapped past 0, 1 and 2 (both still pending)
    router.forget(1)
    router._next = MAX_ID
    assert call(router, ()) == 1  # free again


def test_forget_drops_an_unsent_request() -> None:
    router = Router()
    reqid = call(router, ())
    router.forget(reqid)
    router.forget(reqid)  # twice is harmless
    assert router.pending == {}
    assert router.receive(reply(reqid, 1)) == []
    assert router.late_replies == 1


def test_oversize_call_is_not_left_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_spec, "MAX_FRAME", 64)
    router = Router()
    with pytest.raises(ValueError, match="frame limit"):
        router.call((), _spec.CALL_CHDIR, (b"x" * 100,))
    with pytest.raises(ValueError, match="frame limit"):
        router.stdin((1,), b"x" * 100)
    assert router.pending == {}


# ---- replies -----------------------------------------------------------------

CHILD = ChildInfo(41, "loop", 5, 6, 7, 8, 1048576, 15)


@pytest.mark.parametrize(
    ("spec", "wire_value", "expected"),
    [
        (_spec.CALL_GETPID, 4242, 4242),
        (_spec.CALL_FORK, 77, 77),
        (_spec.CALL_VERSION, "0.1.0", "0.1.0"),
        (_spec.CALL_CHDIR, None, None),
        (_spec.CALL_GETCWD, b"/tmp", b"/tmp"),
        (_spec.CALL_ENVIRON, [b"A=1", b"B=2"], [b"A=1", b"B=2"]),
        (_spec.CALL_GETENV, None, None),
        (_spec.CALL_GETENV, b"v", b"v"),
        (_spec.CALL_SIGNAL_CONSTANT, 15, 15),
        (_spec.CALL_SIGNAL_CONSTANT, None, None),
        (_spec.CALL_SIGACTION, "SIG_DFL", "SIG_DFL"),
        (_spec.CALL_CPID, [[41, "loop", 5, 6, 7, 8, 1048576, 15]], [CHILD]),
        (_spec.CALL_SPAWN, 99, 99),
    ],
)
def test_ok_reply_decodes_through_the_result_type(spec: CallSpec[object], wire_value: object, expected: object) -> None:
    router = Router()
    reqid = call(router, (5,), spec)
    effects = router.receive(reply(reqid, wire_value, pipeline=(5,)))
    assert effects == [Resolved(reqid, expected)]
    assert router.pending == {}


def test_stdin_and_close_stdin_acks_resolve_with_none() -> None:
    router = Router()
    a, _ = router.stdin((1,), b"x")
    b, _ = router.close_stdin((1,))
    assert router.receive(reply(b)) == [Resolved(b, None)]
    assert router.receive(reply(a)) == [Resolved(a, None)]


@given(st.lists(st.integers(1, 2**31 - 1), min_size=1, max_size=20, unique=True), st.randoms())
def test_replies_in_any_order_reach_their_own_call(pids: list[int], rnd: random.Random) -> None:
    router = Router()
    asked = {call(router, (pid,)): pid for pid in pids}
    order = list(asked)
    rnd.shuffle(order)
    for reqid in order:
        assert router.receive(reply(reqid, asked[reqid], pipeline=(asked[reqid],))) == [Resolved(reqid, asked[reqid])]
    assert router.pending == {}


@pytest.mark.parametrize(
    ("code", "exc_type"),
    [
        (errno.ENOENT, FileNotFoundError),
        (errno.ESRCH, ProcessLookupError),
        (errno.EPERM, PermissionError),
        (errno.EACCES, PermissionError),
        (errno.EAGAIN, BlockingIOError),
        (errno.EEXIST, FileExistsError),
        (errno.ENOTDIR, NotADirectoryError),
        (errno.EPIPE, BrokenPipeError),
        (errno.EINVAL, OSError),
    ],
)
def test_errno_reply_fails_with_the_oserror_subclass(code: int, exc_type: type[OSError]) -> None:
    err = reply_error(_spec.STATUS_ERRNO, code, _spec.CALL_CHDIR)
    assert type(err) is exc_type
    assert isinstance(err, OSError)
    assert err.errno == code
    assert "chdir" in str(err)


def test_errno_reply_to_a_stdin_write() -> None:
    router = Router()
    reqid, _ = router.stdin((3,), b"x")
    err = only_failure(router.receive(reply(reqid, errno.EPIPE, _spec.STATUS_ERRNO)))
    assert isinstance(err, BrokenPipeError)


@given(st.integers(1, 4095))  # Linux errnos are 1..MAX_ERRNO
def test_any_errno_becomes_an_oserror(code: int) -> None:
    err = reply_error(_spec.STATUS_ERRNO, code)
    assert isinstance(err, OSError)
    assert err.errno == code


@pytest.mark.parametrize("code", [2**31, -(2**31) - 1, 2**63])
def test_errno_out_of_c_int_range_is_a_protocol_error(code: int) -> None:
    router = Router()
    reqid = call(router, ())
    with pytest.raises(HelperProtocolError):
        router.receive(reply(reqid, code, _spec.STATUS_ERRNO))


def test_noproc_reply_is_process_lookup_error() -> None:
    err = reply_error(_spec.STATUS_NOPROC, "no such child")
    assert isinstance(err, ProcessLookupError)
    assert err.errno == errno.ESRCH


def test_badarg_reply_is_value_error() -> None:
    err = reply_error(_spec.STATUS_BADARG, "argument 1: out of range")
    assert type(err) is ValueError
    assert "out of range" in str(err)


def test_unknown_constant_reply() -> None:
    err = reply_error(_spec.STATUS_UNKNOWN_CONSTANT, "CLONE_NEWTIME", _spec.CALL_CLONE)
    assert isinstance(err, UnknownConstant)
    assert isinstance(err, ValueError)
    assert "CLONE_NEWTIME" in str(err)


def test_filtered_reply_is_call_filtered() -> None:
    err = reply_error(_spec.STATUS_FILTERED, "", _spec.CALL_GETPID)
    assert isinstance(err, CallFiltered)
    assert isinstance(err, AlcoveError)


def test_unknown_call_reply_is_an_alcove_error() -> None:
    err = reply_error(_spec.STATUS_UNKNOWN_CALL, "id 25")
    assert type(err) is AlcoveError


def test_unknown_status_is_a_protocol_error() -> None:
    router = Router()
    reqid = call(router, ())
    with pytest.raises(HelperProtocolError, match="status"):
        router.receive(reply(reqid, "a message", status=200))


@pytest.mark.parametrize(
    ("spec", "status", "value"),
    [
        (_spec.CALL_GETPID, _spec.STATUS_OK, "not an int"),
        (_spec.CALL_GETPID, _spec.STATUS_OK, None),
        (_spec.CALL_CHDIR, _spec.STATUS_OK, 0),
        (_spec.CALL_GETCWD, _spec.STATUS_OK, "a str, not bytes"),
        (_spec.CALL_ENVIRON, _spec.STATUS_OK, [1, 2]),
        (_spec.CALL_CPID, _spec.STATUS_OK, [[1, 2]]),
        (_spec.CALL_GETPID, _spec.STATUS_ERRNO, "ENOENT"),
        (_spec.CALL_GETPID, _spec.STATUS_NOPROC, 3),
        (_spec.CALL_GETPID, _spec.STATUS_BADARG, None),
    ],
)
def test_reply_of_the_wrong_type_is_a_protocol_error(spec: CallSpec[object], status: int, value: object) -> None:
    router = Router()
    reqid = call(router, (), spec)
    with pytest.raises(HelperProtocolError) as info:
        router.receive(reply(reqid, value, status))
    assert isinstance(info.value.__cause__, msgspec.MsgspecError)


@pytest.mark.parametrize("body", [b"", b"\x00\x00\x00\x01", b"\x00\x00\x00\x01\x00"])
def test_short_or_truncated_reply_is_a_protocol_error(body: bytes) -> None:
    router = Router()
    call(router, ())
    with pytest.raises(HelperProtocolError):
        router.receive(Frame(_spec.FRAME_REPLY, (), body))


@pytest.mark.parametrize("ftype", [0, 99, 255, _spec.FRAME_CALL, _spec.FRAME_CREDIT, _spec.FRAME_HELLO])
def test_unknown_frame_type_is_a_protocol_error(ftype: int) -> None:
    with pytest.raises(HelperProtocolError, match="frame type"):
        Router().receive(Frame(ftype, (), b"\xc0"))


def test_late_reply_is_dropped_and_counted() -> None:
    router = Router()
    reqid = call(router, ())
    assert router.receive(reply(reqid + 1, 1)) == []
    assert router.late_replies == 1
    assert reqid in router.pending  # untouched
    assert router.receive(reply(reqid, 7)) == [Resolved(reqid, 7)]
    assert router.receive(reply(reqid, 7)) == []  # a second reply to the same id
    assert router.late_replies == 2


# ---- GONE, exec, events and output -------------------------------------------------


def test_gone_fails_calls_at_and_below_the_pipeline_only() -> None:
    router = Router()
    doomed = {call(router, pl): pl for pl in [(5,), (5, 7), (5, 7, 9)]}
    stdin_id, _ = router.stdin((5,), b"x")
    doomed[stdin_id] = (5,)
    deeper_exit, _ = router.call((5, 7), _spec.CALL_EXIT, (0,))
    doomed[deeper_exit] = (5, 7)
    exit_id, _ = router.call((5,), _spec.CALL_EXIT, (3,))
    spared = {call(router, pl) for pl in [(), (6,), (50,), (50, 5), (6, 5, 7)]}

    effects = router.receive(gone((5,), wait_status_exited(3)))

    assert effects[-1] == Gone((5,), 3)
    assert Resolved(exit_id, None) in effects  # exit's work is done
    failed = {e.reqid: e.error for e in effects if isinstance(e, Failed)}
    assert set(failed) == set(doomed)
    for err in failed.values():
        assert isinstance(err, ProcessLookupError)
    assert len(effects) == len(doomed) + 2
    assert set(router.pending) == spared


def test_gone_of_a_deeper_process_spares_its_parent() -> None:
    router = Router()
    parent, child = call(router, (5,)), call(router, (5, 7))
    effects = router.receive(gone((5, 7), wait_status_signaled(signal.SIGKILL)))
    lookup_failure(effects[0], child)
    assert effects[1:] == [Gone((5, 7), -signal.SIGKILL)]
    assert set(router.pending) == {parent}


def test_gone_with_nothing_pending() -> None:
    assert Router().receive(gone((8,), wait_status_exited(0))) == [Gone((8,), 0)]


def test_reply_after_gone_is_late() -> None:
    router = Router()
    reqid = call(router, (5,))
    router.receive(gone((5,), 0))
    assert router.receive(reply(reqid, errno.ESRCH, _spec.STATUS_NOPROC)) == []
    assert router.late_replies == 1


@pytest.mark.parametrize("spec", [_spec.CALL_EXECVP, _spec.CALL_EXECVE])
def test_exec_ok_resolves_fails_strictly_deeper_and_reports_execed(spec: CallSpec[object]) -> None:
    router = Router()
    exec_id, _ = router.call((5,), spec, ())
    deeper = {call(router, (5, 7)), call(router, (5, 7, 9)), router.stdin((5, 8), b"x")[0]}
    spared = {call(router, (5,)), router.stdin((5,), b"x")[0], call(router, ()), call(router, (6,))}

    effects = router.receive(reply(exec_id, None, pipeline=(5,)))

    assert effects[0] == Resolved(exec_id, None)
    assert effects[-1] == Execed((5,))
    middle = effects[1:-1]
    assert reqids(middle) == deeper
    for e in middle:
        assert isinstance(failure(e), ProcessLookupError)
    assert set(router.pending) == spared


def test_failed_exec_changes_nothing_else() -> None:
    router = Router()
    exec_id, _ = router.call((5,), _spec.CALL_EXECVP, ())
    deeper = call(router, (5, 7))
    err = only_failure(router.receive(reply(exec_id, errno.ENOENT, _spec.STATUS_ERRNO)))
    assert isinstance(err, FileNotFoundError)
    assert set(router.pending) == {deeper}


def test_spawn_ok_is_just_a_result() -> None:
    router = Router()
    reqid, _ = router.call((5,), _spec.CALL_SPAWN, ())
    deeper = call(router, (5, 7))
    assert router.receive(reply(reqid, 1234)) == [Resolved(reqid, 1234)]
    assert set(router.pending) == {deeper}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([_spec.EVENT_EXIT_STATUS, 0], ExitStatus(0)),
        ([_spec.EVENT_EXIT_STATUS, 3], ExitStatus(3)),
        ([_spec.EVENT_TERMSIG, 9], TermSig(signal.SIGKILL)),
        ([_spec.EVENT_TERMSIG, 40], TermSig(40)),  # a real-time signal has no enum member
        ([_spec.EVENT_SIGNAL, 10, -6, 123, 1000, 0], Signal(signal.SIGUSR1, SigInfo(-6, 123, 1000, 0))),
        ([_spec.EVENT_STDIN_CLOSED], StdinClosed()),
        ([_spec.EVENT_STDOUT_CLOSED], StdoutClosed()),
        ([_spec.EVENT_STDERR_CLOSED], StderrClosed()),
    ],
)
def test_events(values: list[int], expected: Event) -> None:
    effects = Router().receive(event((4, 2), *values))
    assert effects == [EventArrived((4, 2), expected)]


def test_signal_numbers_in_events_are_signal_members() -> None:
    (effect,) = Router().receive(event((1,), _spec.EVENT_TERMSIG, 15))
    assert isinstance(effect, EventArrived)
    assert isinstance(effect.event, TermSig)
    assert effect.event.signal is signal.SIGTERM


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0],
        [99, 1],
        [_spec.EVENT_EXIT_STATUS],
        [_spec.EVENT_EXIT_STATUS, 1, 2],
        [_spec.EVENT_SIGNAL, 10],
        [_spec.EVENT_STDIN_CLOSED, 1],
    ],
)
def test_unknown_or_malformed_event_is_a_protocol_error(values: list[int]) -> None:
    with pytest.raises(HelperProtocolError):
        Router().receive(event((1,), *values))


@pytest.mark.parametrize("body", [msgspec.msgpack.encode(1), msgspec.msgpack.encode(["x"]), b"", b"\x92\x01"])
def test_event_body_that_is_not_an_int_array_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(HelperProtocolError):
        Router().receive(Frame(_spec.FRAME_EVENT, (1,), body))


@pytest.mark.parametrize(("ftype", "stream"), [(_spec.FRAME_STDOUT, STDOUT), (_spec.FRAME_STDERR, STDERR)])
@pytest.mark.parametrize("data", [b"some output\n", b""])
def test_output(ftype: int, stream: int, data: bytes) -> None:
    assert Router().receive(Frame(ftype, (3, 4), data)) == [Output((3, 4), stream, data)]


def test_fail_all_fails_everything_with_the_error() -> None:
    router = Router()
    ids = {call(router, ()), call(router, (1,)), router.stdin((1, 2), b"x")[0], router.close_stdin((3,))[0]}
    error = AlcoveError("helper died")
    effects = router.fail_all(error)
    assert reqids(effects) == ids
    assert all(failure(e) is error for e in effects)
    assert router.pending == {}
    assert router.fail_all(error) == []


def test_a_byte_stream_routed_end_to_end() -> None:
    router = Router()
    a, b = call(router, (5,)), call(router, (6,))
    stream = b"".join(
        encode_frame(f.type, f.pipeline, f.body)
        for f in [
            reply(b, 66, pipeline=(6,)),
            Frame(_spec.FRAME_STDOUT, (6,), b"out"),
            event((5,), _spec.EVENT_EXIT_STATUS, 0),
            gone((5,), 0),
        ]
    )
    decoder = FrameDecoder(capacity=8)
    effects: list[Effect] = []
    for i in range(0, len(stream), 3):
        for frame in decoder.feed(stream[i : i + 3]):
            effects += router.receive(frame)
    assert effects[:3] == [Resolved(b, 66), Output((6,), STDOUT, b"out"), EventArrived((5,), ExitStatus(0))]
    lookup_failure(effects[3], a)
    assert effects[4:] == [Gone((5,), 0)]


# ---- garbage -------------------------------------------------------------------

SPECS: list[CallSpec[object]] = list(_spec.CALLS)
NOT_ERRNO = st.integers(0, 255).filter(lambda s: s != _spec.STATUS_ERRNO)  # errno range: see the xfail above


@given(
    ftype=st.sampled_from([_spec.FRAME_GONE, _spec.FRAME_EVENT, _spec.FRAME_STDOUT, _spec.FRAME_STDERR, 0, 200]),
    body=st.binary(max_size=64),
)
def test_garbage_frames_give_effects_or_protocol_error_only(ftype: int, body: bytes) -> None:
    router = Router()
    with contextlib.suppress(HelperProtocolError):
        router.receive(Frame(ftype, (1,), body))


@given(
    specs=st.lists(st.sampled_from(SPECS), min_size=1, max_size=5),
    reqid=st.integers(0, 6),
    status=NOT_ERRNO,
    value=st.binary(max_size=32),
)
def test_garbage_replies_give_effects_or_protocol_error_only(
    specs: list[CallSpec[object]], reqid: int, status: int, value: bytes
) -> None:
    router = Router()
    for spec in specs:
        router.call((1,), spec, ())
    with contextlib.suppress(HelperProtocolError):
        router.receive(Frame(_spec.FRAME_REPLY, (1,), struct.pack(">IB", reqid, status) + value))


# ---- receive_committed: the Driver's fused path ----------------------------------


def _comparable(effects: list[Effect]) -> list[object]:
    """Effects with errors as (type, message): exceptions compare by identity."""
    return [(e.reqid, type(e.error), str(e.error)) if isinstance(e, Failed) else e for e in effects]


def _route_both_ways(
    stream: bytes, cuts: list[int], make: Callable[[Router], None]
) -> tuple[list[object], type[BaseException] | None, list[object], type[BaseException] | None]:
    """(effects, error) of stream cut at cuts, through commit + receive and through receive_committed."""
    results: list[tuple[list[object], type[BaseException] | None]] = []
    for fused in (False, True):
        router, decoder = Router(), FrameDecoder(capacity=16)
        make(router)
        effects: list[Effect] = []
        error: type[BaseException] | None = None
        try:
            for lo, hi in itertools.pairwise([0, *sorted(cuts), len(stream)]):
                chunk = stream[lo:hi]
                if fused:
                    decoder.writable(len(chunk))[: len(chunk)] = chunk
                    router.receive_committed(decoder, len(chunk), effects)
                else:
                    for frame in decoder.feed(chunk):
                        effects += router.receive(frame)
        except HelperProtocolError as exc:
            error = type(exc)
        results.append((_comparable(effects), error))
    (plain, plain_error), (fused_effects, fused_error) = results
    return plain, plain_error, fused_effects, fused_error


@given(
    frames=st.lists(
        st.one_of(
            st.tuples(
                st.just("ok"), st.integers(1, 8), st.one_of(st.integers(0, 2**31), st.none(), st.binary(max_size=4))
            ),
            st.tuples(st.just("status"), st.integers(1, 8), st.integers(1, 255)),
            st.tuples(st.just("garbage"), st.integers(1, 8), st.binary(max_size=6)),
            st.tuples(st.just("stdout"), st.integers(1, 3), st.binary(max_size=8)),
            st.tuples(st.just("gone"), st.integers(1, 3), st.integers(0, 255)),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_receive_committed_is_commit_then_receive(frames: list[tuple[str, int, object]], cuts: list[int]) -> None:
    """Replies (good, failed, late, malformed), output and exits, in any
    split: the fused path gives the effects and the error of the plain one."""
    specs = [_spec.CALL_GETPID, _spec.CALL_GETCWD, _spec.CALL_EXECVP, _spec.CALL_ENVIRON, _spec.CALL_VERSION]

    def make(router: Router) -> None:
        for i in range(8):  # ids 1-8, pipelines (1,), (2,), (3,) and the helper's
            router.call(((), (1,), (2,), (3,))[i % 4], specs[i % len(specs)], ())
        router.stdin((2,), b"x")  # id 9: no spec

    parts: list[bytes] = []
    for kind, n, value in frames:
        if kind == "ok":
            parts.append(encode_frame(_spec.FRAME_REPLY, (), reply_body(n, _spec.STATUS_OK, value)))
        elif kind == "status":
            assert isinstance(value, int)
            parts.append(encode_frame(_spec.FRAME_REPLY, (), reply_body(n, value, "ENOENT")))
        elif kind == "garbage":
            assert isinstance(value, bytes)
            parts.append(encode_frame(_spec.FRAME_REPLY, (), struct.pack(">I", n)[: len(value)] + value))
        elif kind == "stdout":
            assert isinstance(value, bytes)
            parts.append(encode_frame(_spec.FRAME_STDOUT, (n,), value))
        else:
            parts.append(encode_frame(_spec.FRAME_GONE, (n,), msgspec.msgpack.encode(value)))
    parts.append(encode_frame(_spec.FRAME_REPLY, (), reply_body(9, _spec.STATUS_OK, None)))  # the stdin ack
    plain, plain_error, fused, fused_error = _route_both_ways(b"".join(parts), cuts, make)
    assert fused == plain
    assert fused_error == plain_error


def test_receive_committed_rejects_a_bad_length_and_keeps_what_came_before() -> None:
    router, decoder = Router(), FrameDecoder()
    reqid = call(router, ())
    data = encode_frame(_spec.FRAME_REPLY, (), reply_body(reqid, _spec.STATUS_OK, 7)) + b"\xff\xff\xff\xff\x03\x00"
    decoder.writable(len(data))[: len(data)] = data
    effects: list[Effect] = []
    with pytest.raises(HelperProtocolError, match="out of range"):
        router.receive_committed(decoder, len(data), effects)
    assert effects == [Resolved(reqid, 7)]
