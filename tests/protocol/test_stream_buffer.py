"""StreamBuffer: one stream's unread output and the credit consumed but not handed back.

The batching rule itself (hand credit back once ``unreturned`` reaches
``CREDIT_BATCH``, then subtract what was sent) lives in the driver;
here we check the bookkeeping it relies on.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alcovepy import _spec
from alcovepy._protocol import CREDIT_BATCH, StreamBuffer


def drain(buf: StreamBuffer, max_bytes: int) -> list[bytes]:
    out: list[bytes] = []
    while chunk := buf.pull(max_bytes):
        out.append(chunk)
    return out


def test_new_buffer_is_empty() -> None:
    buf = StreamBuffer()
    assert (buf.size, buf.eof, buf.unreturned) == (0, False, 0)
    assert buf.pull(10) == b""


def test_push_and_pull_keep_order() -> None:
    buf = StreamBuffer()
    for chunk in (b"one ", b"two ", b"three"):
        buf.push(chunk)
    assert buf.size == 13
    assert drain(buf, 1000) == [b"one ", b"two ", b"three"]
    assert buf.size == 0


def test_a_chunk_larger_than_max_bytes_is_split_in_order() -> None:
    buf = StreamBuffer()
    buf.push(b"abcdefghij")
    buf.push(b"KL")
    assert buf.pull(4) == b"abcd"
    assert buf.size == 8
    assert drain(buf, 4) == [b"efgh", b"ij", b"KL"]


def test_pull_of_exactly_one_chunk() -> None:
    buf = StreamBuffer()
    buf.push(b"1234")
    assert buf.pull(4) == b"1234"
    assert buf.pull(4) == b""


def test_empty_push_marks_end_of_stream_without_data() -> None:
    buf = StreamBuffer()
    buf.push(b"last")
    buf.push(b"")
    assert buf.eof
    assert buf.size == 4
    assert buf.pull(100) == b"last"  # what came before the end is still read
    assert buf.pull(100) == b""


def test_end() -> None:
    buf = StreamBuffer()
    buf.push(b"x")
    buf.end()
    assert buf.eof
    assert buf.pull(1) == b"x"


def test_unreturned_counts_consumed_bytes_not_received_ones() -> None:
    buf = StreamBuffer()
    buf.push(b"x" * 100)
    assert buf.unreturned == 0
    buf.pull(30)
    assert buf.unreturned == 30
    buf.pull(1000)
    assert buf.unreturned == 100


def test_credit_batch_is_reached_after_exactly_a_batch_of_consumption() -> None:
    buf = StreamBuffer()
    buf.push(b"\0" * (CREDIT_BATCH + 10))
    buf.pull(CREDIT_BATCH - 1)
    assert buf.unreturned < CREDIT_BATCH  # not yet due
    buf.pull(1)
    assert buf.unreturned == CREDIT_BATCH  # due now
    buf.unreturned -= CREDIT_BATCH  # what the driver does once it sent the credit
    buf.pull(10)
    assert buf.unreturned == 10  # counting starts again


def test_credit_batch_fits_the_wire_and_the_default_window() -> None:
    assert 0 < CREDIT_BATCH <= 0xFFFFFFFF  # amount:4 of a CREDIT frame
    default_window = _spec.OPTIONS["flowcontrol"][0]
    assert default_window >= CREDIT_BATCH  # else a reader would wait on credit it holds


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=50), max_size=20),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=10),
)
def test_any_pulls_return_every_byte_once_in_order(chunks: list[bytes], sizes: list[int]) -> None:
    buf = StreamBuffer()
    for chunk in chunks:
        buf.push(chunk)
    total = sum(map(len, chunks))
    got = b""
    i = 0
    while chunk := buf.pull(sizes[i % len(sizes)]):
        assert len(chunk) <= sizes[i % len(sizes)]
        got += chunk
        assert buf.size == total - len(got)
        assert buf.unreturned == len(got)
        i += 1
    assert got == b"".join(chunks)
    assert not buf.eof
