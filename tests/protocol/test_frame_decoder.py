"""FrameDecoder: bytes in any chunking -> the same frames (h11's chunking idea)."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alcovepy import _spec
from alcovepy._protocol import FRAME_SLACK, Frame, FrameDecoder
from alcovepy.errors import HelperProtocolError
from tests.protocol.wire import encode_frame

FRAMES = [
    Frame(_spec.FRAME_REPLY, (), b"\x00\x00\x00\x01\x00\xc0"),
    Frame(_spec.FRAME_STDOUT, (41,), b"hello\n"),
    Frame(_spec.FRAME_STDERR, (41, 7), b""),  # an empty body: end of stream
    Frame(_spec.FRAME_EVENT, (3, 4, 5), b"\x92\x01\x00"),
    Frame(_spec.FRAME_GONE, (2**31 - 1,), b"\x00"),
    Frame(_spec.FRAME_HELLO, (), bytes(range(256)) * 2),
]
STREAM = b"".join(encode_frame(*f) for f in FRAMES)
CAPACITIES = [1 << 20, 64, 4]  # the default, one that compacts, one that must grow


def decode_in_chunks(chunks: list[bytes], capacity: int = 1 << 20) -> list[Frame]:
    decoder = FrameDecoder(capacity)
    frames: list[Frame] = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
    assert decoder.buffered == 0
    return frames


def test_one_frame() -> None:
    assert FrameDecoder().feed(encode_frame(17, (1, 2), b"body")) == [Frame(17, (1, 2), b"body")]


def test_many_frames_in_one_feed() -> None:
    assert decode_in_chunks([STREAM]) == FRAMES


def test_empty_feed_gives_nothing() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.buffered == 0


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_every_split_point_gives_the_same_frames(capacity: int) -> None:
    for i in range(len(STREAM) + 1):
        assert decode_in_chunks([STREAM[:i], STREAM[i:]], capacity) == FRAMES, f"split at {i}"


def test_every_pair_of_split_points_gives_the_same_frames() -> None:
    stream = b"".join(encode_frame(*f) for f in FRAMES[:5])
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            got = decode_in_chunks([stream[:i], stream[i:j], stream[j:]], capacity=16)
            assert got == FRAMES[:5], f"split at {i} and {j}"


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_byte_at_a_time(capacity: int) -> None:
    decoder = FrameDecoder(capacity)
    frames: list[Frame] = []
    last_boundary = 0
    for i in range(len(STREAM)):
        got = decoder.feed(STREAM[i : i + 1])
        if got:
            last_boundary = i + 1
        frames += got
        # exactly the bytes since the end of the last complete frame are held
        assert decoder.buffered == i + 1 - last_boundary
    assert frames == FRAMES
    assert decoder.buffered == 0


def test_partial_frame_is_kept() -> None:
    data = encode_frame(_spec.FRAME_STDOUT, (9,), b"0123456789")
    for n in (1, 3, 4, 6, 9, len(data) - 1):
        decoder = FrameDecoder()
        assert decoder.feed(data[:n]) == []
        assert decoder.buffered == n
        assert decoder.feed(data[n:]) == [Frame(_spec.FRAME_STDOUT, (9,), b"0123456789")]
        assert decoder.buffered == 0


def test_complete_frames_are_returned_and_the_tail_kept() -> None:
    first, second = encode_frame(19, (), b"a"), encode_frame(20, (5,), b"bcd")
    decoder = FrameDecoder()
    assert decoder.feed(first + second[:7]) == [Frame(19, (), b"a")]
    assert decoder.buffered == 7
    assert decoder.feed(second[7:]) == [Frame(20, (5,), b"bcd")]
    assert decoder.buffered == 0


def test_writable_and_commit() -> None:
    """The zero-copy path: the reader writes straight into the decoder's buffer."""
    decoder = FrameDecoder(capacity=8)
    frames: list[Frame] = []
    for i in range(0, len(STREAM), 5):
        chunk = STREAM[i : i + 5]
        room = decoder.writable(len(chunk))
        assert len(room) >= len(chunk)
        room[: len(chunk)] = chunk
        frames += decoder.commit(len(chunk))
    assert frames == FRAMES


def test_bodies_are_copies_that_survive_buffer_reuse() -> None:
    decoder = FrameDecoder(capacity=16)
    (first,) = decoder.feed(encode_frame(19, (), b"A" * 10))
    for _ in range(50):
        decoder.feed(encode_frame(19, (), b"B" * 10)[:7])
        decoder.feed(encode_frame(19, (), b"B" * 10)[7:])
    assert type(first.body) is bytes
    assert first.body == b"A" * 10


def header(length: int, ftype: int = _spec.FRAME_STDOUT, depth: int = 0) -> bytes:
    return struct.pack(">IBB", length, ftype, depth)


@pytest.mark.parametrize("length", [0, 1, _spec.MAX_FRAME + FRAME_SLACK + 1, 2**32 - 1])
def test_bad_length(length: int) -> None:
    # four bytes are enough to know
    with pytest.raises(HelperProtocolError, match="length"):
        FrameDecoder().feed(struct.pack(">I", length))


def test_bad_length_after_good_frames() -> None:
    with pytest.raises(HelperProtocolError):
        FrameDecoder().feed(STREAM + struct.pack(">I", 1))


@pytest.mark.parametrize("length", [2, 6, _spec.MAX_FRAME, _spec.MAX_FRAME + FRAME_SLACK])
def test_length_in_range_waits_for_more(length: int) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(struct.pack(">I", length)) == []
    assert decoder.buffered == 4


def test_shortest_frame() -> None:
    assert FrameDecoder().feed(header(2)) == [Frame(_spec.FRAME_STDOUT, (), b"")]


@pytest.mark.parametrize(
    ("length", "depth"),
    [(2, 1), (5, 1), (2 + 4 * 3 - 1, 3), (100, 255)],
)
def test_depth_larger_than_the_frame(length: int, depth: int) -> None:
    data = header(length, depth=depth) + bytes(length - 2)
    with pytest.raises(HelperProtocolError, match="depth"):
        FrameDecoder().feed(data)


def test_depth_that_exactly_fills_the_frame() -> None:
    data = header(2 + 4 * 2, depth=2) + struct.pack(">II", 7, 8)
    assert FrameDecoder().feed(data) == [Frame(_spec.FRAME_STDOUT, (7, 8), b"")]


# ---- hypothesis ------------------------------------------------------------

frames_st = st.builds(
    Frame,
    st.integers(0, 255),
    st.lists(st.integers(0, 2**32 - 1), max_size=6).map(tuple),
    st.binary(max_size=300),
)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=10)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(frames=st.lists(frames_st, max_size=12), capacity=st.integers(1, 512), data=st.data())
def test_random_frames_round_trip(frames: list[Frame], capacity: int, data: st.DataObject) -> None:
    stream = b"".join(encode_frame(*f) for f in frames)
    chunks = data.draw(chunked(stream))
    assert decode_in_chunks(chunks, capacity) == frames


@given(garbage=st.binary(max_size=200), capacity=st.integers(1, 64))
def test_garbage_gives_frames_or_helper_protocol_error_only(garbage: bytes, capacity: int) -> None:
    decoder = FrameDecoder(capacity)
    try:
        frames = decoder.feed(garbage)
    except HelperProtocolError:
        return
    consumed = sum(len(encode_frame(*f)) for f in frames)
    assert consumed + decoder.buffered == len(garbage)
