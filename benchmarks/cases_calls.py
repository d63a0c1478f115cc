"""Calls: the raw echo floor and alcovepy's getpid (issue 3, targets 1-3).

The raw floor is the least an awaitable call through a helper can cost: a
C program (baselines/echo.c) that echoes 16-byte length-prefixed frames,
driven over the same kind of pipes the Driver uses (os.pipe2, non-blocking,
anyio.wait_readable + os.read / os.write). Below it, for reference, the
machine's own floor: the same round trip from a C client (baselines/pingpong.c),
and the helper's: getpid from a C client through the real helper, at depths
0 and 3 (baselines/helper_client.c), which no host can beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

import alcovepy
from alcovepy._driver import _Event, _LoopEvent
from benchmarks._config import FRAME_PAYLOAD, INFLIGHT
from benchmarks._core import case
from benchmarks._helper_c import helper_client_us

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from benchmarks._core import Context


READ_SIZE = 64 * 1024  # bytes per os.read of the echo's replies
MAX_DEPTH = 16  # the default maxforkdepth
WARMUP = 50
FRAME = len(bytes(FRAME_PAYLOAD)).to_bytes(4, "big") + bytes(FRAME_PAYLOAD)


# ---- the raw echo floor ----------------------------------------------------


@dataclass
class EchoPipes:
    proc: subprocess.Popen[bytes]
    wfd: int  # its stdin: requests
    rfd: int  # its stdout: replies


def _start_echo(binary: Path) -> EchoPipes:
    to_r, to_w = os.pipe2(os.O_CLOEXEC)
    from_r, from_w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = subprocess.Popen([str(binary)], stdin=to_r, stdout=from_w)
    finally:
        os.close(to_r)
        os.close(from_w)
    os.set_blocking(to_w, False)
    os.set_blocking(from_r, False)
    return EchoPipes(proc, to_w, from_r)


def _stop_echo(echo: EchoPipes) -> None:
    os.close(echo.wfd)  # the echo reads end of file and exits
    try:
        echo.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        echo.proc.kill()
        echo.proc.wait()
    os.close(echo.rfd)


@contextlib.asynccontextmanager
async def echo_pipes(ctx: Context) -> AsyncIterator[EchoPipes]:
    """The C echo, started with a pair of non-blocking pipes."""
    echo = _start_echo(ctx.bin_dir / "echo")
    try:
        yield echo
    finally:
        _stop_echo(echo)


async def _read_some(rfd: int) -> bytes:
    while True:
        await anyio.wait_readable(rfd)
        try:
            data = os.read(rfd, READ_SIZE)
        except BlockingIOError:
            continue
        if not data:
            raise EOFError("the echo exited")
        return data


def _complete_frames(buf: bytes) -> tuple[int, bytes]:
    """Cut buf into frames as a client's decoder would: (count, remainder)."""
    pos = count = 0
    while len(buf) - pos >= 4:
        end = pos + 4 + int.from_bytes(buf[pos : pos + 4], "big")
        if end > len(buf):
            break
        _payload = buf[pos + 4 : end]
        pos = end
        count += 1
    return count, buf[pos:]


async def _echo_sequential(echo: EchoPipes, calls: int) -> None:
    for _ in range(calls):
        os.write(echo.wfd, FRAME)
        buf = b""
        count = 0
        while not count:
            count, buf = _complete_frames(buf + await _read_some(echo.rfd))


async def _echo_window(echo: EchoPipes, calls: int, window: int) -> None:
    """Keep `window` frames in flight: every frame of one read is answered
    by one write of as many new frames (batched both ways)."""
    sent = min(window, calls)
    os.write(echo.wfd, FRAME * sent)
    done = 0
    buf = b""
    while done < calls:
        count, buf = _complete_frames(buf + await _read_some(echo.rfd))
        done += count
        more = min(count, calls - sent)
        if more:
            os.write(echo.wfd, FRAME * more)  # at most window frames: always fits the pipe
            sent += more


def _pingpong_us(bin_dir: Path, calls: int) -> float:
    out = subprocess.run(
        [str(bin_dir / "pingpong"), str(calls), str(bin_dir / "echo")], capture_output=True, text=True, check=True
    )
    return float(out.stdout) / 1000


@case("call", "C client and C echo over pipes, blocking (the machine's floor)", "µs/call", higher_is_better=False)
async def roundtrip_c(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return _pingpong_us(ctx.bin_dir, 10 * ctx.sizes.calls)


@case(
    "call",
    "C client through the real helper: getpid at depth 0, blocking (the helper's floor)",
    "µs/call",
    higher_is_better=False,
    baseline="roundtrip_c",
)
async def helper_c_d0(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return helper_client_us(ctx.bin_dir, ctx.sizes.calls, "getpid", [], depth=0)


@case(
    "call",
    "C client through the real helper: getpid at depth 3, blocking (the floor of target 2)",
    "µs/call",
    higher_is_better=False,
    baseline="helper_c_d0",
)
async def helper_c_d3(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return helper_client_us(ctx.bin_dir, ctx.sizes.calls, "getpid", [], depth=3)


@case(
    "call",
    "raw C echo over anyio pipes, sequential",
    "µs/call",
    higher_is_better=False,
    fixtures=(echo_pipes,),
    baseline="roundtrip_c",
)
async def echo_seq(ctx: Context) -> float:
    echo = await ctx.fixture(echo_pipes)
    await _echo_sequential(echo, WARMUP)
    n = ctx.sizes.calls
    t0 = time.perf_counter()
    await _echo_sequential(echo, n)
    return (time.perf_counter() - t0) / n * 1e6


@case(
    "inflight",
    f"raw C echo over anyio pipes, {INFLIGHT} in flight (batched)",
    "calls/s",
    higher_is_better=True,
    fixtures=(echo_pipes,),
)
async def echo_x16(ctx: Context) -> float:
    echo = await ctx.fixture(echo_pipes)
    await _echo_window(echo, WARMUP * INFLIGHT, INFLIGHT)
    n = ctx.sizes.inflight_calls
    t0 = time.perf_counter()
    await _echo_window(echo, n, INFLIGHT)
    return n / (time.perf_counter() - t0)


def _cheapest_event(backend: str) -> Callable[[], _Event]:
    """trio.Event, or under asyncio the Driver's own bare future of the loop
    (anyio.Event builds an asyncio.Event and a coroutine per wait)."""
    if backend == "trio":
        import trio

        return trio.Event
    return functools.partial(_LoopEvent, asyncio.get_running_loop())


async def _echo_tasks(echo: EchoPipes, calls: int, backend: str) -> None:
    """INFLIGHT tasks, each writing its own frame and sleeping until a reader
    task (which batches its reads) wakes it: the floor of the task pattern,
    with the backend's cheapest wake-up (trio.Event, or a bare future)."""
    new_event = _cheapest_event(backend)
    waiting: deque[_Event] = deque()

    async def reader() -> None:
        buf = b""
        while True:
            count, buf = _complete_frames(buf + await _read_some(echo.rfd))
            for _ in range(count):
                waiting.popleft().set()  # the echo answers in order

    async def worker(n: int) -> None:
        for _ in range(n):
            done = new_event()
            waiting.append(done)
            os.write(echo.wfd, FRAME)
            await done.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        async with anyio.create_task_group() as workers:
            for _ in range(INFLIGHT):
                workers.start_soon(worker, calls // INFLIGHT)
        tg.cancel_scope.cancel()


@case(
    "inflight",
    f"raw C echo over anyio pipes, {INFLIGHT} tasks calling in turn, a reader task waking them (for reference)",
    "calls/s",
    higher_is_better=True,
    fixtures=(echo_pipes,),
    baseline="echo_x16",
)
async def echo_x16_tasks(ctx: Context) -> float:
    echo = await ctx.fixture(echo_pipes)
    await _echo_tasks(echo, WARMUP * INFLIGHT, ctx.backend)
    n = ctx.sizes.inflight_calls // INFLIGHT * INFLIGHT
    t0 = time.perf_counter()
    await _echo_tasks(echo, n, ctx.backend)
    return n / (time.perf_counter() - t0)


# ---- alcovepy getpid -------------------------------------------------------


@dataclass
class Chain:
    drv: alcovepy.Driver
    procs: list[alcovepy.Process]  # procs[d] is at depth d: procs[0] is the helper


@contextlib.asynccontextmanager
async def chain(ctx: Context) -> AsyncIterator[Chain]:
    """A Driver with a chain of control processes down to depth 16."""
    async with alcovepy.open_driver() as drv:
        procs = [drv.root]
        for _ in range(MAX_DEPTH):
            procs.append(await procs[-1].fork())
        yield Chain(drv, procs)


async def _getpids(proc: alcovepy.Process, calls: int) -> None:
    for _ in range(calls):
        await proc.getpid()


async def _getpid_us(ctx: Context, depth: int, calls: int) -> float:
    proc = (await ctx.fixture(chain)).procs[depth]
    await _getpids(proc, WARMUP)
    t0 = time.perf_counter()
    await _getpids(proc, calls)
    return (time.perf_counter() - t0) / calls * 1e6


@case(
    "call",
    "alcovepy getpid at depth 0, sequential",
    "µs/call",
    higher_is_better=False,
    fixtures=(chain,),
    baseline="echo_seq",
    alcovepy=True,
)
async def getpid_d0(ctx: Context) -> float:
    return await _getpid_us(ctx, 0, ctx.sizes.calls)


@case(
    "call",
    "alcovepy getpid at depth 3, sequential",
    "µs/call",
    higher_is_better=False,
    fixtures=(chain,),
    baseline="getpid_d0",
    alcovepy=True,
)
async def getpid_d3(ctx: Context) -> float:
    return await _getpid_us(ctx, 3, ctx.sizes.calls)


@case(
    "call",
    "alcovepy getpid at depth 16, sequential",
    "µs/call",
    higher_is_better=False,
    fixtures=(chain,),
    baseline="getpid_d0",
    alcovepy=True,
)
async def getpid_d16(ctx: Context) -> float:
    return await _getpid_us(ctx, MAX_DEPTH, ctx.sizes.deep_calls)


async def _getpid_tasks(proc: alcovepy.Process, calls: int) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(INFLIGHT):
            tg.start_soon(_getpids, proc, calls // INFLIGHT)


@case(
    "inflight",
    f"alcovepy getpid at depth 0, {INFLIGHT} tasks calling on one pipeline",
    "calls/s",
    higher_is_better=True,
    fixtures=(chain,),
    baseline="echo_x16",
    alcovepy=True,
)
async def getpid_x16(ctx: Context) -> float:
    root = (await ctx.fixture(chain)).procs[0]
    await _getpid_tasks(root, WARMUP * INFLIGHT)
    n = ctx.sizes.inflight_calls // INFLIGHT * INFLIGHT
    t0 = time.perf_counter()
    await _getpid_tasks(root, n)
    return n / (time.perf_counter() - t0)
