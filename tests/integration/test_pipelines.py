"""Pipelines to the default depth limit, and honest exec failures."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import alcovepy


async def test_chain_of_16_answers_at_every_depth(drv: alcovepy.Driver) -> None:
    procs = [drv.root]
    for _ in range(16):
        procs.append(await procs[-1].fork())
    for depth, proc in enumerate(procs):
        assert len(proc.pipeline) == depth
        assert await proc.getpid() == (proc.pid or drv.helper_pid)
    with pytest.raises(BlockingIOError) as info:  # the 17th: EAGAIN, as alcove
        await procs[-1].fork()
    assert info.value.errno == errno.EAGAIN
    assert "fork" in str(info.value)
    assert str(list(procs[-1].pipeline)) in str(info.value)
    # the deepest process still works, and can exec
    await procs[-1].execvp("/bin/echo", ["echo", "deep"])
    assert await procs[-1].stdout.receive() == b"deep\n"


async def test_maxforkdepth_is_per_process(drv: alcovepy.Driver) -> None:
    p1 = await drv.root.fork()
    await p1.setopt("maxforkdepth", 2)
    p2 = await p1.fork()
    with pytest.raises(BlockingIOError):
        await p2.fork()


async def test_exec_missing_program_raises_child_errno(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    with pytest.raises(FileNotFoundError):
        await child.execvp("no-such-program-alcovepy", ["x"])
    with pytest.raises(FileNotFoundError):
        await child.execve("/no/such/file", ["x"], [])
    assert await child.getpid() == child.pid  # still in its loop
    grandchild = await child.fork()  # and fully usable
    assert await grandchild.getpid() == grandchild.pid
    await child.execvp("/bin/echo", ["echo", "finally"])
    assert await child.stdout.receive() == b"finally\n"


async def test_exec_not_executable_raises_permission_error(drv: alcovepy.Driver, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho no\n")
    script.chmod(stat.S_IRUSR)
    child = await drv.root.fork()
    if os.geteuid() == 0:  # root may read it, but exec needs an x bit for someone
        with pytest.raises(PermissionError):
            await child.execve(str(script), ["script"], [])
    with pytest.raises(PermissionError):
        await child.execve(str(tmp_path), ["dir"], [])  # a directory
    assert await child.getpid() == child.pid


async def test_exec_in_the_middle_loses_the_subtree(drv: alcovepy.Driver) -> None:
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    await p1.execvp("/bin/cat", ["cat"])
    with pytest.raises(ProcessLookupError):
        await p2.getpid()
    with pytest.raises(ProcessLookupError):
        await p1.getpid()  # p1 is a program now: nothing reaches its stdin
    await p1.stdin.send(b"still cat\n")
    assert await p1.stdout.receive() == b"still cat\n"


async def test_no_helper_fds_leak_into_programs(drv: alcovepy.Driver) -> None:
    parent = await drv.root.fork()
    await parent.fork()  # siblings' pipes must not leak either
    child = await parent.fork()
    await child.execvp("/bin/ls", ["ls", "/proc/self/fd"])
    out = b""
    while True:
        chunk = await drv.stdout(child.pipeline)
        if not chunk:
            break
        out += chunk
    assert sorted(out.split()) == [b"0", b"1", b"2", b"3"]  # 3 is ls's own opendir


def _io_syscalls(pids: list[int]) -> int:
    """read-like plus write-like system calls made so far by pids (/proc/PID/io)."""
    total = 0
    for pid in pids:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        total += int(fields["syscr"]) + int(fields["syscw"])
    return total


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs /proc/PID/io (task I/O accounting)")
async def test_a_call_costs_a_constant_number_of_syscalls_per_hop(drv: alcovepy.Driver) -> None:
    """Each hop reads and writes a request and a reply once: O(depth) per call."""
    procs = [drv.root]
    for _ in range(16):
        procs.append(await procs[-1].fork())
    controls = [drv.helper_pid] + [p.pid or 0 for p in procs[1:]]
    calls = 50
    for depth in (4, 16):
        target = procs[depth]
        await target.getpid()  # warm up the path
        before = _io_syscalls(controls)
        for _ in range(calls):
            await target.getpid()
        per_call = (_io_syscalls(controls) - before) / calls
        # 4 per hop (read request, write it down, read reply, write it up),
        # plus the target's own read and write: nothing grows faster than depth
        assert per_call <= 4 * depth + 2, (depth, per_call)
