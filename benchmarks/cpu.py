"""Where the time of one call goes: ``python -m benchmarks.cpu [--calls N]``.

For the raw echo and alcovepy's getpid at depth 0 and 3, under each
backend: wall time per call, the host's user and system CPU per call
(getrusage), the CPU of the processes at the other end (the echo, or the
helper and the control processes down the pipeline, from /proc/PID/stat),
and the host's context switches per call. CPU figures come from the
kernel's tick accounting: good for averages over many calls only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

import alcovepy
from benchmarks._build import build_baselines
from benchmarks._core import BACKENDS
from benchmarks.cases_calls import _echo_sequential, _start_echo, _stop_echo

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
WARMUP = 500


@dataclass(frozen=True)
class Usage:
    wall: float
    user: float
    sys: float
    peer: float  # CPU seconds of the processes at the other end
    voluntary: int
    involuntary: int


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def _measure(calls: int, one_batch: Callable[[int], Awaitable[None]], peers: Sequence[int]) -> Usage:
    await one_batch(WARMUP)
    r0, p0, t0 = resource.getrusage(resource.RUSAGE_SELF), sum(map(_cpu_seconds, peers)), time.perf_counter()
    await one_batch(calls)
    t1, p1, r1 = time.perf_counter(), sum(map(_cpu_seconds, peers)), resource.getrusage(resource.RUSAGE_SELF)
    return Usage(
        t1 - t0,
        r1.ru_utime - r0.ru_utime,
        r1.ru_stime - r0.ru_stime,
        p1 - p0,
        r1.ru_nvcsw - r0.ru_nvcsw,
        r1.ru_nivcsw - r0.ru_nivcsw,
    )


def _line(backend: str, name: str, u: Usage, calls: int) -> str:
    per = 1e6 / calls
    return (
        f"{backend:7}  {name:10}  {u.wall * per:7.1f}  {u.user * per:7.1f}  {u.sys * per:7.1f}  {u.peer * per:7.1f}"
        f"  {u.voluntary / calls:5.2f}  {u.involuntary / calls:5.2f}"
    )


async def _report(bin_dir: Path, calls: int, backend: str) -> list[str]:
    lines = []
    echo = _start_echo(bin_dir / "echo")
    try:
        u = await _measure(calls, lambda n: _echo_sequential(echo, n), [echo.proc.pid])
        lines.append(_line(backend, "echo_seq", u, calls))
    finally:
        _stop_echo(echo)
    async with alcovepy.open_driver() as drv:
        procs = [drv.root]
        for _ in range(3):
            procs.append(await procs[-1].fork())
        for depth in (0, 3):
            proc = procs[depth]

            async def batch(n: int, proc: alcovepy.Process = proc) -> None:
                for _ in range(n):
                    await proc.getpid()

            peers = [drv.helper_pid, *(p.pipeline[-1] for p in procs[1 : depth + 1])]
            u = await _measure(calls, batch, peers)
            lines.append(_line(backend, f"getpid_d{depth}", u, calls))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__.split("\n\n")[1])
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    args = p.parse_args(argv)
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    bin_dir = build_baselines()
    try:
        print("backend  case           wall     user      sys     peer    vcs    ics")
        print("                       µs/call  µs/call  µs/call  µs/call  /call  /call")
        for b in backends:
            for line in anyio.run(_report, bin_dir, args.calls, b, backend=b):
                print(line)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    print(
        "\nuser/sys: the host's CPU (getrusage); peer: the echo, or the helper and the control processes down the"
        "\npipeline; vcs/ics: the host's voluntary/involuntary context switches per call.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
