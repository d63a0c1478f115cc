"""Spawn: run /bin/true to its exit status (issue 3, target 4).

Every case starts the program and waits for its exit status, so a spawn is
counted only once it is complete. Rates are spawns per second over the
whole sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from typing import TYPE_CHECKING

import anyio

import alcovepy
from benchmarks._config import INFLIGHT
from benchmarks._core import case
from benchmarks._helper_c import helper_client_us

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from benchmarks._core import Context

TRUE = "/bin/true"
WARMUP = 8
UNIT = "spawns/s"


async def _rate(n: int, one: Callable[[], Awaitable[None]], inflight: int = 1) -> float:
    """Spawns per second: n spawns, `inflight` tasks each doing its share in turn."""
    per = max(1, n // inflight)  # at least one spawn each, whatever the sizes

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await worker(WARMUP)
    t0 = time.perf_counter()
    if inflight == 1:
        await worker(per)
    else:
        async with anyio.create_task_group() as tg:
            for _ in range(inflight):
                tg.start_soon(worker, per)
    return per * inflight / (time.perf_counter() - t0)


# ---- the C floor and the blocking baselines -----------------------------------


def _floor_rate(binary: Path, n: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(binary), str(n), TRUE], check=True)
    return n / (time.perf_counter() - t0)


@case("spawn", "C vfork + execve + waitpid loop (the floor)", UNIT, higher_is_better=True)
async def spawn_c_vfork(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return _floor_rate(ctx.bin_dir / "spawn_floor", ctx.sizes.floor_spawns)


@case(
    "spawn",
    "C client through the real helper: spawn_wait, blocking (the floor of target 4 through a helper)",
    UNIT,
    higher_is_better=True,
    baseline="spawn_c_vfork",
)
async def spawn_helper_c(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return 1e6 / helper_client_us(ctx.bin_dir, ctx.sizes.floor_spawns, "spawn_wait", [TRUE, [TRUE], None])


def _blocking_rate(n: int, one: Callable[[], None]) -> float:
    for _ in range(WARMUP):
        one()
    t0 = time.perf_counter()
    for _ in range(n):
        one()
    return n / (time.perf_counter() - t0)


def _subprocess_run() -> None:
    subprocess.run([TRUE], check=True)


def _posix_spawn() -> None:
    pid = os.posix_spawn(TRUE, [TRUE], os.environ)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{TRUE} failed: status {status}")


@case("spawn", "subprocess.run (blocking), sequential", UNIT, higher_is_better=True, baseline="spawn_c_vfork")
async def spawn_subprocess_run(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return _blocking_rate(ctx.sizes.spawns, _subprocess_run)


@case(
    "spawn", "os.posix_spawn + os.waitpid (blocking), sequential", UNIT, higher_is_better=True, baseline="spawn_c_vfork"
)
async def spawn_posix_spawn(ctx: Context) -> float:
    await anyio.lowlevel.checkpoint()
    return _blocking_rate(ctx.sizes.spawns, _posix_spawn)


# ---- the event loops' own subprocesses -------------------------------------


async def _asyncio_true() -> None:
    proc = await asyncio.create_subprocess_exec(TRUE)
    if await proc.wait() != 0:
        raise RuntimeError(f"{TRUE} failed")


@case(
    "spawn",
    "asyncio.create_subprocess_exec + wait, sequential",
    UNIT,
    higher_is_better=True,
    backends=("asyncio",),
    baseline="spawn_c_vfork",
)
async def spawn_asyncio_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _asyncio_true)


@case(
    "spawn",
    f"asyncio.create_subprocess_exec + wait, {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    backends=("asyncio",),
    baseline="spawn_c_vfork",
)
async def spawn_asyncio_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _asyncio_true, INFLIGHT)


async def _trio_true() -> None:
    import trio

    await trio.run_process([TRUE])


@case(
    "spawn",
    "trio.run_process, sequential",
    UNIT,
    higher_is_better=True,
    backends=("trio",),
    baseline="spawn_c_vfork",
)
async def spawn_trio_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _trio_true)


@case(
    "spawn",
    f"trio.run_process, {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    backends=("trio",),
    baseline="spawn_c_vfork",
)
async def spawn_trio_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _trio_true, INFLIGHT)


async def _anyio_true() -> None:
    await anyio.run_process([TRUE])


@case("spawn", "anyio.run_process, sequential", UNIT, higher_is_better=True, baseline="spawn_c_vfork")
async def spawn_anyio_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _anyio_true)


# ---- alcovepy ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def driver(ctx: Context) -> AsyncIterator[alcovepy.Driver]:
    """A Driver of its own for the spawn cases (maxchild above the spawns in flight)."""
    async with alcovepy.open_driver(maxchild=max(256, 4 * INFLIGHT)) as drv:
        yield drv


def _alcovepy_steps(root: alcovepy.Process) -> Callable[[], Awaitable[None]]:
    async def one() -> None:
        child = await root.fork()
        await child.execvp(TRUE, [TRUE])
        if await child.wait() != 0:
            raise RuntimeError(f"{TRUE} failed")

    return one


def _alcovepy_spawn(root: alcovepy.Process) -> Callable[[], Awaitable[None]]:
    async def one() -> None:
        child = await root.spawn(TRUE, [TRUE])
        if await child.wait() != 0:
            raise RuntimeError(f"{TRUE} failed")

    return one


def _no_spawn() -> str | None:
    return None if hasattr(alcovepy.Process, "spawn") else "alcovepy.Process has no spawn method"


@case(
    "spawn",
    "alcovepy step by step (fork, execvp, wait), sequential",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_steps_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_steps((await ctx.fixture(driver)).root))


@case(
    "spawn",
    f"alcovepy step by step (fork, execvp, wait), {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_steps_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_steps((await ctx.fixture(driver)).root), INFLIGHT)


@case(
    "spawn",
    "alcovepy spawn (one request) + wait, sequential",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
    available=_no_spawn,
)
async def spawn_alcovepy_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_spawn((await ctx.fixture(driver)).root))


@case(
    "spawn",
    f"alcovepy spawn (one request) + wait, {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
    available=_no_spawn,
)
async def spawn_alcovepy_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_spawn((await ctx.fixture(driver)).root), INFLIGHT)


def _alcovepy_spawn_wait(root: alcovepy.Process) -> Callable[[], Awaitable[None]]:
    async def one() -> None:
        if await root.spawn_wait(TRUE, [TRUE]) != 0:
            raise RuntimeError(f"{TRUE} failed")

    return one


@case(
    "spawn",
    "alcovepy spawn_wait (fork, exec, exit status: one request, one reply), sequential",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_wait_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_spawn_wait((await ctx.fixture(driver)).root))


@case(
    "spawn",
    f"alcovepy spawn_wait (one request, one reply), {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_wait_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_spawn_wait((await ctx.fixture(driver)).root), INFLIGHT)


# Two setup steps that every sandbox has in some form: one request still.
SETUP_STEPS = [("chdir", "/"), ("setrlimit", "RLIMIT_NOFILE", (256, 256))]


def _alcovepy_clone_exec(root: alcovepy.Process) -> Callable[[], Awaitable[None]]:
    async def one() -> None:
        child = await root.clone_exec(0, [], SETUP_STEPS, TRUE, [TRUE])
        if await child.wait() != 0:
            raise RuntimeError(f"{TRUE} failed")

    return one


@case(
    "spawn",
    "alcovepy clone_exec (fork, 2 setup steps, exec: one request) + wait, sequential",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_setup_seq(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_clone_exec((await ctx.fixture(driver)).root))


@case(
    "spawn",
    f"alcovepy clone_exec (fork, 2 setup steps, exec: one request) + wait, {INFLIGHT} in flight",
    UNIT,
    higher_is_better=True,
    fixtures=(driver,),
    baseline="spawn_c_vfork",
    alcovepy=True,
)
async def spawn_alcovepy_setup_x16(ctx: Context) -> float:
    return await _rate(ctx.sizes.spawns, _alcovepy_clone_exec((await ctx.fixture(driver)).root), INFLIGHT)
