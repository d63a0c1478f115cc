"""Throughput of stdout and stdin (issue 3, targets 5 and 6).

The baseline is the event loop's own subprocess pipe: asyncio's
(``asyncio.create_subprocess_exec``, the issue's "direct asyncio pipe")
under asyncio, trio's (``trio.lowlevel.open_process``) under trio. Each
sample starts the program, moves ``stream_bytes`` and waits for its exit
status; MB/s is 10**6 bytes per second.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import anyio

from benchmarks._core import case
from benchmarks._helper_c import helper_stdout_mbps
from benchmarks.cases_calls import chain

if TYPE_CHECKING:
    import alcovepy
    from benchmarks._core import Context

HEAD = shutil.which("head") or "/usr/bin/head"
SH = "/bin/sh"
SINK = "cat >/dev/null"
UNIT = "MB/s"


def _head(n: int) -> list[str]:
    return [HEAD, "-c", str(n), "/dev/zero"]


def _check(what: str, got: int, want: int, rc: int) -> None:
    if got != want or rc != 0:
        raise RuntimeError(f"{what}: moved {got} of {want} bytes, exit status {rc}")


# ---- stdout ------------------------------------------------------------------


async def _pipe_stdout(ctx: Context) -> int:
    n, chunk = ctx.sizes.stream_bytes, ctx.sizes.stream_chunk
    total = 0
    if ctx.backend == "asyncio":
        proc = await asyncio.create_subprocess_exec(*_head(n), stdout=subprocess.PIPE)
        assert proc.stdout is not None
        while data := await proc.stdout.read(chunk):
            total += len(data)
        rc = await proc.wait()
    else:
        import trio

        tproc = await trio.lowlevel.open_process(_head(n), stdout=subprocess.PIPE)
        assert tproc.stdout is not None
        while received := await tproc.stdout.receive_some(chunk):
            total += len(received)
        rc = await tproc.wait()
    _check("pipe stdout", total, n, rc)
    return total


@case("stdout", "direct pipe: asyncio subprocess / trio open_process, head -c N /dev/zero", UNIT, higher_is_better=True)
async def stdout_pipe(ctx: Context) -> float:
    t0 = time.perf_counter()
    n = await _pipe_stdout(ctx)
    return n / (time.perf_counter() - t0) / 1e6


async def _alcovepy_stdout(ctx: Context, parent: alcovepy.Process) -> float:
    n, chunk = ctx.sizes.stream_bytes, ctx.sizes.stream_chunk
    t0 = time.perf_counter()
    proc = await parent.fork()
    await proc.execvp(HEAD, _head(n))
    total = 0
    while True:
        try:
            total += len(await proc.stdout.receive(chunk))
        except anyio.EndOfStream:
            break
    _check("alcovepy stdout", total, n, await proc.wait())
    return n / (time.perf_counter() - t0) / 1e6


@case(
    "stdout",
    "alcovepy exec at depth 1, proc.stdout to EOF",
    UNIT,
    higher_is_better=True,
    fixtures=(chain,),
    baseline="stdout_pipe",
    alcovepy=True,
)
async def stdout_alcovepy_d1(ctx: Context) -> float:
    return await _alcovepy_stdout(ctx, (await ctx.fixture(chain)).procs[0])


@case(
    "stdout",
    "alcovepy exec at depth 3, proc.stdout to EOF",
    UNIT,
    higher_is_better=True,
    fixtures=(chain,),
    baseline="stdout_pipe",
    alcovepy=True,
)
async def stdout_alcovepy_d3(ctx: Context) -> float:
    return await _alcovepy_stdout(ctx, (await ctx.fixture(chain)).procs[2])


@case(
    "stdout",
    "C client through the real helper: exec at depth 1, stdout to EOF, blocking (the helper's floor)",
    UNIT,
    higher_is_better=True,
    baseline="stdout_pipe",
)
async def stdout_helper_c_d1(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return helper_stdout_mbps(ctx.bin_dir, ctx.sizes.stream_bytes, depth=1)


@case(
    "stdout",
    "C client through the real helper: exec at depth 3, stdout to EOF, blocking (the floor of target 5 at depth 3)",
    UNIT,
    higher_is_better=True,
    baseline="stdout_pipe",
)
async def stdout_helper_c_d3(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return helper_stdout_mbps(ctx.bin_dir, ctx.sizes.stream_bytes, depth=3)


# ---- stdin -------------------------------------------------------------------


async def _pipe_stdin(ctx: Context) -> None:
    n, chunk = ctx.sizes.stream_bytes, ctx.sizes.stream_chunk
    data = bytes(chunk)
    if ctx.backend == "asyncio":
        proc = await asyncio.create_subprocess_exec(SH, "-c", SINK, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        for _ in range(n // chunk):
            proc.stdin.write(data)
            await proc.stdin.drain()
        proc.stdin.close()
        await proc.stdin.wait_closed()
        rc = await proc.wait()
    else:
        import trio

        tproc = await trio.lowlevel.open_process([SH, "-c", SINK], stdin=subprocess.PIPE)
        assert tproc.stdin is not None
        for _ in range(n // chunk):
            await tproc.stdin.send_all(data)
        await tproc.stdin.aclose()
        rc = await tproc.wait()
    _check("pipe stdin", n // chunk * chunk, n, rc)


@case("stdin", "direct pipe: asyncio subprocess / trio open_process, into cat >/dev/null", UNIT, higher_is_better=True)
async def stdin_pipe(ctx: Context) -> float:
    t0 = time.perf_counter()
    await _pipe_stdin(ctx)
    return ctx.sizes.stream_bytes / (time.perf_counter() - t0) / 1e6


@case(
    "stdin",
    "alcovepy exec at depth 1, proc.stdin.send in big chunks, aclose, wait",
    UNIT,
    higher_is_better=True,
    fixtures=(chain,),
    baseline="stdin_pipe",
    alcovepy=True,
)
async def stdin_alcovepy(ctx: Context) -> float:
    n, chunk = ctx.sizes.stream_bytes, ctx.sizes.stream_chunk
    root = (await ctx.fixture(chain)).procs[0]
    data = bytes(chunk)
    t0 = time.perf_counter()
    proc = await root.fork()
    await proc.execvp(SH, [SH, "-c", SINK])
    for _ in range(n // chunk):
        await proc.stdin.send(data)
    await proc.stdin.aclose()
    _check("alcovepy stdin", n // chunk * chunk, n, await proc.wait())
    return n / (time.perf_counter() - t0) / 1e6
