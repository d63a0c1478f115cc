"""Downward frames and wait statuses, checked against the documented layout.

A request is ``|len:4|type:1|depth:1|pid:4 x depth|fields|payload|``,
big-endian, len counting the bytes after itself. The fixed fields are
``reqid:4 callid:2`` for CALL, ``reqid:4`` for STDIN and CLOSE_STDIN, and
``stream:1 amount:4`` for CREDIT.
"""

from __future__ import annotations

import os
import signal
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alcovepy import _spec
from alcovepy._protocol import STDERR, STDOUT, Frame, FrameDecoder, encode_credit, encode_request, returncode
from tests.protocol.wire import encode_frame, wait_status_exited, wait_status_signaled


def by_hand(ftype: int, pipeline: tuple[int, ...], fields: bytes, payload: bytes) -> bytes:
    rest = bytes([ftype, len(pipeline)]) + b"".join(p.to_bytes(4, "big") for p in pipeline) + fields + payload
    return len(rest).to_bytes(4, "big") + rest


def test_call_layout() -> None:
    got = encode_request(_spec.FRAME_CALL, (10, 20), (7, 300), b"\x91\x01")
    expected = (
        b"\x00\x00\x00\x12"  # len: type 1 + depth 1 + pids 8 + reqid 4 + call id 2 + payload 2 = 18
        b"\x01"  # type CALL
        b"\x02"  # depth
        b"\x00\x00\x00\x0a\x00\x00\x00\x14"  # pids 10, 20
        b"\x00\x00\x00\x07"  # reqid
        b"\x01\x2c"  # call id 300
        b"\x91\x01"  # payload
    )
    assert got == expected


@pytest.mark.parametrize(
    ("ftype", "fields", "packed"),
    [
        (_spec.FRAME_CALL, (1, 2), b"\x00\x00\x00\x01\x00\x02"),
        (_spec.FRAME_STDIN, (0xDEADBEEF,), b"\xde\xad\xbe\xef"),
        (_spec.FRAME_CLOSE_STDIN, (5,), b"\x00\x00\x00\x05"),
        (_spec.FRAME_CREDIT, (1, 65536), b"\x01\x00\x01\x00\x00"),
    ],
)
@pytest.mark.parametrize("pipeline", [(), (1,), (2**32 - 1, 3, 4)])
@pytest.mark.parametrize("payload", [b"", b"xyz"])
def test_request_layout(
    ftype: int, fields: tuple[int, ...], packed: bytes, pipeline: tuple[int, ...], payload: bytes
) -> None:
    assert encode_request(ftype, pipeline, fields, payload) == by_hand(ftype, pipeline, packed, payload)


def test_request_reads_back_with_the_frame_decoder() -> None:
    """Same header both ways: the decoder (written for upward frames) parses requests too."""
    data = encode_request(_spec.FRAME_STDIN, (4, 5), (9,), b"payload")
    assert FrameDecoder().feed(data) == [Frame(_spec.FRAME_STDIN, (4, 5), b"\x00\x00\x00\x09payload")]
    assert data == encode_frame(_spec.FRAME_STDIN, (4, 5), b"\x00\x00\x00\x09payload")


@pytest.mark.parametrize(("stream", "byte"), [(STDOUT, b"\x00"), (STDERR, b"\x01")])
def test_credit_layout(stream: int, byte: bytes) -> None:
    got = encode_credit((3, 4), stream, 262144)
    assert got == by_hand(_spec.FRAME_CREDIT, (3, 4), byte + struct.pack(">I", 262144), b"")


def test_payload_up_to_the_frame_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_spec, "MAX_FRAME", 100)
    # STDIN at depth 1: len counts type, depth, one pid and the reqid: 10 bytes
    assert len(encode_request(_spec.FRAME_STDIN, (1,), (1,), bytes(90))) == 104
    with pytest.raises(ValueError, match="frame limit"):
        encode_request(_spec.FRAME_STDIN, (1,), (1,), bytes(91))


def test_oversize_payload_raises_value_error() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_request(_spec.FRAME_STDIN, (), (1,), bytes(_spec.MAX_FRAME))


@pytest.mark.parametrize("code", [0, 1, 2, 42, 126, 127, 128, 255])
def test_returncode_of_an_exit(code: int) -> None:
    assert returncode(wait_status_exited(code)) == code


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT, 1, 64])
@pytest.mark.parametrize("core", [False, True])
def test_returncode_of_a_signal(sig: int, core: bool) -> None:
    assert returncode(wait_status_signaled(sig, core)) == -sig


@given(st.integers(0, 255))
def test_returncode_agrees_with_os_for_exits(code: int) -> None:
    status = wait_status_exited(code)
    assert returncode(status) == os.waitstatus_to_exitcode(status) == code


@given(st.integers(1, 64), st.booleans())
def test_returncode_agrees_with_os_for_signals(sig: int, core: bool) -> None:
    status = wait_status_signaled(sig, core)
    assert returncode(status) == os.waitstatus_to_exitcode(status) == -sig
