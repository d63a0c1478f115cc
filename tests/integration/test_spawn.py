"""spawn: fork + exec in one request."""

from __future__ import annotations

import os
import signal

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


# ---- spawn_wait: run a program to its exit status in one request --------------


async def test_spawn_wait_answers_with_the_returncode(drv: alcovepy.Driver) -> None:
    assert await drv.root.spawn_wait("/bin/true", ["true"]) == 0
    assert await drv.root.spawn_wait("sh", ["sh", "-c", "exit $X", "x"], ["X=7"]) == 7
    assert await drv.root.spawn_wait("sh", ["sh", "-c", "kill -9 $$"]) == -signal.SIGKILL
    child = await drv.root.fork()
    assert await child.spawn_wait("sh", ["sh", "-c", "exit 3"]) == 3  # at depth 2 too
    assert len(await drv.cpid([])) == 1  # only the control child
    assert await child.cpid() == []  # nothing kept of the program once it answered


async def test_spawn_wait_failure_raises_the_exec_errno(drv: alcovepy.Driver) -> None:
    with pytest.raises(FileNotFoundError):
        await drv.root.spawn_wait("no-such-program-alcovepy", ["x"])
    with pytest.raises(PermissionError):
        await drv.root.spawn_wait("/", ["root dir"])
    assert await drv.getpid([]) == drv.helper_pid


async def test_spawn_wait_runs_on_dev_null_and_keeps_nothing(drv: alcovepy.Driver) -> None:
    # stdin is /dev/null (cat ends at once); output goes nowhere; no events,
    # no streams, and waitpid cannot collect it a second time.
    on_null = " && ".join(f'[ "$(readlink /proc/$$/fd/{fd})" = /dev/null ]' for fd in (0, 1, 2))
    script = f"{on_null} && cat && echo out && echo err >&2"
    assert await drv.root.spawn_wait("sh", ["sh", "-c", script]) == 0
    assert await drv.root.spawn_wait("sh", ["sh", "-c", on_null.replace("/dev/null", "/dev/tty")]) == 1
    assert drv.statistics().pipelines == 0
    assert drv.statistics().buffered_output == 0
    with pytest.raises(ChildProcessError):
        await drv.root.waitpid(-1, "WNOHANG")


async def test_spawn_wait_concurrent_answers_go_to_their_callers(drv: alcovepy.Driver) -> None:
    got: dict[int, int] = {}

    async def one(i: int) -> None:
        got[i] = await drv.root.spawn_wait("sh", ["sh", "-c", f"sleep 0.0{i % 5}; exit {i % 11}"])

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(48):
                tg.start_soon(one, i)
    assert got == {i: i % 11 for i in range(48)}
    assert await drv.cpid([]) == []


async def test_spawn_wait_cancelled_leaves_the_program_to_finish(drv: alcovepy.Driver) -> None:
    marker = f"/tmp/alcovepy-spawn-wait-{os.getpid()}"
    with anyio.move_on_after(0.1) as scope:
        await drv.root.spawn_wait("sh", ["sh", "-c", f"sleep 0.4; touch {marker}"])
    assert scope.cancelled_caught
    assert await drv.root.getpid() == drv.helper_pid  # the late answer is not taken for this one
    with anyio.fail_after(10):  # the program did run to its end
        await drv.root.spawn_wait("sh", ["sh", "-c", f"while [ ! -e {marker} ]; do sleep 0.02; done; rm {marker}"])
    assert not await anyio.Path(marker).exists()
    assert drv.statistics().pending_requests == 0


async def test_spawn_wait_respects_maxchild_and_filter(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.setopt("maxchild", 0)
    with pytest.raises(BlockingIOError):  # EAGAIN, as fork
        await child.spawn_wait("/bin/true", ["true"])
    await child.filter(["spawn_wait"], [])
    with pytest.raises(alcovepy.CallFiltered):
        await child.spawn_wait("/bin/true", ["true"])
    with pytest.raises(ValueError, match="spawn_wait"):
        await drv.root.clone_exec(0, [], [("spawn_wait", "/bin/true", ["true"], None)], "/bin/true", ["true"])
