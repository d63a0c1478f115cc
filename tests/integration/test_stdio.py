"""Output and input: order, completeness, any size, and bounded memory."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from typing import TYPE_CHECKING

import anyio
import pytest

if TYPE_CHECKING:
    import alcovepy

MiB = 1 << 20
# A child that writes n random bytes to stdout and their sha256 to stderr.
RANDOM_WRITER = (
    "import hashlib, os, sys\n"
    "n = int(sys.argv[1]); h = hashlib.sha256(); out = sys.stdout.buffer\n"
    "while n > 0:\n"
    "    b = os.urandom(min(n, 1 << 20)); h.update(b); out.write(b); n -= len(b)\n"
    "out.flush(); sys.stderr.write(h.hexdigest())\n"
)


async def read_all(stream: anyio.abc.ByteReceiveStream) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def chain(drv: alcovepy.Driver, depth: int) -> alcovepy.Process:
    """A control process at the given depth (0: the helper)."""
    p = drv.root
    for _ in range(depth):
        p = await p.fork()
    return p


async def test_64mib_random_through_depth_3_arrives_identical(drv: alcovepy.Driver) -> None:
    p = await chain(drv, 3)
    await p.execvp(sys.executable, [sys.executable, "-c", RANDOM_WRITER, str(64 * MiB)])
    h = hashlib.sha256()
    size = 0
    with anyio.fail_after(120):
        async for chunk in p.stdout:
            h.update(chunk)
            size += len(chunk)
        digest = await read_all(p.stderr)
    assert size == 64 * MiB
    assert h.hexdigest().encode() == digest
    assert await p.wait() == 0


# Lines to stdout and stderr in turn, one write each: many small frames of
# two streams, which the control processes above batch per stream.
ALTERNATING_WRITER = (
    "import os, sys\n"
    "for i in range(int(sys.argv[1])):\n"
    "    os.write(1, b'out %d\\n' % i); os.write(2, b'err %d\\n' % i)\n"
)


@pytest.mark.parametrize("depth", [1, 2, 3])
async def test_small_writes_to_both_streams_arrive_whole_in_order_and_apart(drv: alcovepy.Driver, depth: int) -> None:
    n = 20_000
    p = await (await chain(drv, depth - 1)).fork()
    await p.execvp(sys.executable, [sys.executable, "-c", ALTERNATING_WRITER, str(n)])
    got: dict[str, bytes] = {}

    async def collect(name: str, stream: anyio.abc.ByteReceiveStream) -> None:
        got[name] = await read_all(stream)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect, "out", p.stdout)
            tg.start_soon(collect, "err", p.stderr)
    assert got["out"] == b"".join(b"out %d\n" % i for i in range(n))
    assert got["err"] == b"".join(b"err %d\n" % i for i in range(n))
    assert await p.wait() == 0


@pytest.mark.parametrize("depth", [1, 3])
async def test_output_is_complete_when_the_child_exits_at_once(drv: alcovepy.Driver, depth: int) -> None:
    parent = await chain(drv, depth - 1)
    for _ in range(20):
        child = await parent.fork()
        await child.execvp("/bin/sh", ["sh", "-c", "printf '%s' abcdefgh; exit 5"])
        with anyio.fail_after(30):  # a lost end of stream would hang here
            assert await read_all(child.stdout) == b"abcdefgh"
        assert await child.wait() == 5


async def feed_and_collect(proc: alcovepy.Process, pieces: list[bytes]) -> bytes:
    """Send pieces to proc's stdin, then EOF, while reading its stdout to the end."""
    got = bytearray()

    async def reader() -> None:
        async for chunk in proc.stdout:
            got.extend(chunk)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        for piece in pieces:
            await proc.stdin.send(piece)
        await proc.stdin.aclose()
    return bytes(got)


async def test_stdin_8mib_to_cat(drv: alcovepy.Driver) -> None:
    data = os.urandom(8 * MiB)
    cat = await drv.root.fork()
    await cat.execvp("/bin/cat", ["cat"])
    with anyio.fail_after(60):
        assert await feed_and_collect(cat, [data]) == data
    assert await cat.wait() == 0


async def test_stdin_to_a_program_that_starts_reading_late_arrives_whole(drv: alcovepy.Driver) -> None:
    # Its pipe is full for a while: the helper queues what it cannot splice.
    data = os.urandom(16 * MiB)
    late = await drv.root.fork()
    await late.execvp("/bin/sh", ["sh", "-c", "sleep 0.3; exec cat"])
    with anyio.fail_after(60):
        assert await feed_and_collect(late, [data[: 5 * MiB], data[5 * MiB :]]) == data
    assert await late.wait() == 0


async def test_stdin_closed_by_the_program_mid_write_fails_only_that_stream(drv: alcovepy.Driver) -> None:
    # The program reads 1 MiB, then closes its stdin and lives on: the
    # write fails, and calls and another program's stdin are unaffected.
    closer = await drv.root.fork()
    await closer.execvp("/bin/sh", ["sh", "-c", "head -c 1048576 >/dev/null; exec 0<&-; sleep 30"])
    cat = await drv.root.fork()
    await cat.execvp("/bin/cat", ["cat"])
    data = os.urandom(4 * MiB)

    async def send_32mib() -> None:
        for _ in range(8):
            await closer.stdin.send(data)

    with anyio.fail_after(60):
        with pytest.raises(anyio.BrokenResourceError):
            await send_32mib()
        assert await drv.root.getpid() == drv.helper_pid
        assert await feed_and_collect(cat, [data]) == data
    assert await cat.wait() == 0
    assert closer.pid is not None
    await drv.root.kill(closer.pid, signal.SIGKILL)
    assert await closer.wait() == -signal.SIGKILL


async def test_stdin_and_stdout_at_depth_2_with_many_small_writes(drv: alcovepy.Driver) -> None:
    p = await (await drv.root.fork()).fork()
    await p.execvp("/bin/cat", ["cat"])
    lines = [f"line {i}\n".encode() for i in range(500)]
    with anyio.fail_after(30):
        assert await feed_and_collect(p, lines) == b"".join(lines)


async def test_stdin_to_an_exited_program_is_a_broken_pipe(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.execvp("/bin/true", ["true"])
    assert await child.wait() == 0
    with pytest.raises(anyio.BrokenResourceError):
        await child.stdin.send(b"anyone?")


async def test_stdin_to_a_control_process_is_refused(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    with pytest.raises(ValueError, match="exec a program"):
        await drv.stdin(child.pipeline, b"not a frame")
    assert await child.getpid() == child.pid


async def test_pipeline_layer_stdout_returns_empty_at_eof(drv: alcovepy.Driver) -> None:
    pid = await drv.fork([])
    await drv.execvp([pid], "/bin/echo", ["echo", "x"])
    assert await drv.stdout([pid]) == b"x\n"
    assert await drv.stdout([pid]) == b""
    assert await drv.stderr([pid]) == b""


async def test_unread_output_does_not_grow_host_memory(drv: alcovepy.Driver) -> None:
    """A child writing forever that nobody reads: the Driver buffers at most the
    stream's credit (flowcontrol, 1 MiB by default) and the child blocks."""
    window = await drv.getopt([], "flowcontrol")
    assert window == MiB
    child = await drv.root.fork()
    await child.execvp("/bin/cat", ["cat", "/dev/zero"])
    with anyio.fail_after(30):
        while drv.statistics().buffered_output < window:  # each call lets output arrive
            await drv.getpid([])
        (info,) = [c for c in await drv.cpid([]) if c.pid == child.pid]
        assert info.flowcontrol == 0  # stalled: the helper stops reading the child
        for _ in range(200):  # many more round trips: nothing more arrives
            await drv.getpid([])
        assert drv.statistics().buffered_output == window
        # reading gives credit back, and the stream flows again
        total = 0
        while total < 8 * window:
            total += len(await child.stdout.receive())
    await drv.kill([], child.pid or 0, "SIGKILL")
    assert await child.wait() == -9
