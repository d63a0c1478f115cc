"""Memory and scale (issue 3, target 7).

- an unread writer: a child ``cat /dev/zero`` that nobody reads, while the
  Driver keeps serving calls (so the helper's output does arrive): the
  host's peak VmRSS growth over the window, measured in a fresh Python
  process so that no earlier case has left free heap for the buffers;
- idle children: PSS per forked control child (``/proc/PID/smaps_rollup``,
  summed over the children, divided by their count), and the cost of a
  getpid to the last child vs to the first.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

import alcovepy
from benchmarks._core import case

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from benchmarks._core import Context

WARMUP = 50
RSS_SAMPLE_EVERY = 0.05  # seconds between VmRSS readings during the window
ROOT = Path(__file__).resolve().parent.parent  # where `-m benchmarks...` imports from


def _status_kib(pid: int | str, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise LookupError(f"{key} not in /proc/{pid}/status")


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise LookupError(f"no Pss in /proc/{pid}/smaps_rollup")


async def _unread_growth_kib(seconds: float) -> float:
    """In a fresh process (so no earlier case has warmed its heap): VmRSS
    peak minus VmRSS before the writer started, in KiB."""
    async with alcovepy.open_driver() as drv:
        window = await drv.getopt([], "flowcontrol")
        for _ in range(WARMUP):
            await drv.root.getpid()
        gc.collect()
        before = peak = _status_kib("self", "VmRSS")
        child = await drv.root.fork()
        await child.execvp("/bin/cat", ["cat", "/dev/zero"])
        start = next_sample = time.monotonic()
        while (now := time.monotonic()) < start + seconds:
            await drv.root.getpid()  # the Driver reads the helper's pipe only while someone waits on it
            if now >= next_sample:
                peak = max(peak, _status_kib("self", "VmRSS"))
                next_sample = now + RSS_SAMPLE_EVERY
        peak = max(peak, _status_kib("self", "VmRSS"))
        buffered = drv.statistics().buffered_output
        if buffered < window:
            raise RuntimeError(f"the writer's output did not arrive: {buffered} bytes buffered, window {window}")
        assert child.pid is not None
        await drv.kill([], child.pid, "SIGKILL")
        await child.wait()
    return peak - before


@case(
    "rss",
    "unread `cat /dev/zero` for D s, fresh host process: VmRSS growth (peak)",
    "MiB",
    higher_is_better=False,
    alcovepy=True,
    memory=True,
)
async def mem_unread_rss(ctx: Context) -> float:
    argv = [sys.executable, "-m", "benchmarks.cases_memory", ctx.backend, str(ctx.sizes.unread_seconds)]
    out = await anyio.run_process(argv, cwd=ROOT)
    return float(out.stdout) / 1024


@dataclass
class Idle:
    drv: alcovepy.Driver
    children: list[alcovepy.Process]


@contextlib.asynccontextmanager
async def idle_children(ctx: Context) -> AsyncIterator[Idle]:
    """One helper with `idle_children` forked control children, doing nothing."""
    n = ctx.sizes.idle_children
    async with alcovepy.open_driver(maxchild=n + 100) as drv:
        children = [await drv.root.fork() for _ in range(n)]
        yield Idle(drv, children)


@case(
    "pss",
    "idle forked control children: PSS per child",
    "KiB",
    higher_is_better=False,
    fixtures=(idle_children,),
    alcovepy=True,
    memory=True,
)
async def mem_idle_pss(ctx: Context) -> float:
    idle = await ctx.fixture(idle_children)
    pids = [c.pid for c in idle.children if c.pid is not None]
    return sum(_pss_kib(pid) for pid in pids) / len(pids)


async def _getpid_us(proc: alcovepy.Process, calls: int) -> float:
    for _ in range(WARMUP):
        await proc.getpid()
    t0 = time.perf_counter()
    for _ in range(calls):
        await proc.getpid()
    return (time.perf_counter() - t0) / calls * 1e6


@case(
    "scale",
    "getpid to the first of the idle children",
    "µs/call",
    higher_is_better=False,
    fixtures=(idle_children,),
    alcovepy=True,
    memory=True,
)
async def getpid_child_first(ctx: Context) -> float:
    idle = await ctx.fixture(idle_children)
    return await _getpid_us(idle.children[0], ctx.sizes.idle_calls)


@case(
    "scale",
    "getpid to the last of the idle children",
    "µs/call",
    higher_is_better=False,
    fixtures=(idle_children,),
    baseline="getpid_child_first",
    alcovepy=True,
    memory=True,
)
async def getpid_child_last(ctx: Context) -> float:
    idle = await ctx.fixture(idle_children)
    return await _getpid_us(idle.children[-1], ctx.sizes.idle_calls)


if __name__ == "__main__":  # the fresh process of mem_unread_rss: BACKEND SECONDS
    print(anyio.run(_unread_growth_kib, float(sys.argv[2]), backend=sys.argv[1]))
