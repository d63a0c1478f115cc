"""spawn: fork + exec in one request."""

from __future__ import annotations

import anyio
import pytest

import alcovepy


async def test_spawn_runs_a_program(drv: alcovepy.Driver) -> None:
    proc = await drv.root.spawn("sh", ["sh", "-c", "echo $0 $X; exit 4", "spawned"], ["X=1", "PATH=/bin:/usr/bin"])
    assert await proc.stdout.receive() == b"spawned 1\n"
    assert await proc.wait() == 4
    assert await proc.event() == alcovepy.ExitStatus(4)


async def test_spawn_inherits_env_and_takes_stdin(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.setenv("ALCOVEPY_SPAWN", "inherited", 1)
    cat = await child.spawn("/bin/sh", ["sh", "-c", 'echo "$ALCOVEPY_SPAWN"; exec cat'])
    assert cat.pipeline == (child.pid, cat.pid)
    assert await cat.stdout.receive() == b"inherited\n"
    await cat.stdin.send(b"echo\n")
    assert await cat.stdout.receive() == b"echo\n"
    await cat.stdin.aclose()
    assert await cat.wait() == 0
    with pytest.raises(ProcessLookupError):
        await cat.getpid()  # a program, not a control process


async def test_spawn_failure_raises_the_exec_errno(drv: alcovepy.Driver) -> None:
    with pytest.raises(FileNotFoundError):
        await drv.root.spawn("no-such-program-alcovepy", ["x"])
    with pytest.raises(PermissionError):
        await drv.root.spawn("/", ["root dir"])
    assert await drv.getpid([]) == drv.helper_pid


async def test_many_concurrent_spawns(drv: alcovepy.Driver) -> None:
    codes: list[int] = []

    async def one(i: int) -> None:
        proc = await drv.root.spawn("/bin/sh", ["sh", "-c", f"exit {i % 7}"])
        codes.append(await proc.wait())

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(64):
                tg.start_soon(one, i)
    assert sorted(codes) == sorted(i % 7 for i in range(64))
    assert await drv.cpid([]) == []


async def test_spawn_no_fds_leak(drv: alcovepy.Driver) -> None:
    await drv.root.fork()  # a sibling whose pipes must not leak
    proc = await drv.root.spawn("/bin/ls", ["ls", "/proc/self/fd"])
    out = b"".join([c async for c in proc.stdout])
    assert sorted(out.split()) == [b"0", b"1", b"2", b"3"]


async def test_finished_processes_leave_no_state_behind(drv: alcovepy.Driver) -> None:
    """Once a process is gone and its output and events were taken, the Driver
    drops its bookkeeping (a supervisor can spawn forever), yet a late
    wait(), read or event() on it still answers."""
    procs = []
    for i in range(200):
        proc = await drv.root.spawn("/bin/echo", ["echo", str(i)])
        assert b"".join([c async for c in proc.stdout]) == f"{i}\n".encode()
        assert b"".join([c async for c in proc.stderr]) == b""
        assert await proc.wait() == 0
        assert [e async for e in proc.events] == [alcovepy.ExitStatus(0)]
        procs.append(proc)
    assert drv.statistics().pipelines == 0
    assert await procs[0].wait() == 0
    assert await procs[0].event() is None
    assert await drv.stdout(procs[0].pipeline) == b""
