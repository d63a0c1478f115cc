"""The defects of the Erlang alcove (ALCOVE.md section 6.2), each shown fixed.

One test per defect that a Linux helper could repeat; the numbers are the
list's. Defects covered elsewhere are named in the module's last comment.
"""

from __future__ import annotations

import os
import signal

import anyio
import pytest

import alcovepy


async def _fds_of(drv: alcovepy.Driver, pl: tuple[int, ...]) -> set[int]:
    """The fds open in the control process at pl, as it sees them."""
    names = await drv.readdir(pl, "/proc/self/fd")
    fds = {int(n) for n in names if n not in (b".", b"..")}
    return fds - {max(fds)}  # the directory readdir itself had open


async def test_1_children_work_whatever_fds_the_parent_holds(drv: alcovepy.Driver) -> None:
    """1: a control process holding many fds (above any fd-indexed table) still serves its children."""
    parent = await drv.root.fork()
    opened = [await parent.open("/dev/null", "O_RDONLY", 0) for _ in range(60)]
    await parent.setopt("maxchild", 2)
    child = await parent.fork()
    grandchild = await child.fork()
    with anyio.fail_after(10):
        assert await grandchild.getpid() == grandchild.pid
        assert await child.getpid() == child.pid
    for fd in opened:
        await parent.close(fd)


async def test_2_no_loop_fds_leak_into_programs_at_depth(drv: alcovepy.Driver) -> None:
    """2: a program exec'd by a control process two levels down sees only 0, 1 and 2."""
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    await p2.execvp("/bin/sh", ["sh", "-c", "ls /proc/$$/fd"])
    out = b""
    with anyio.fail_after(10):
        async for chunk in p2.stdout:
            out += chunk
        assert await p2.wait() == 0
    assert sorted(int(x) for x in out.split()) == [0, 1, 2]


async def test_3_sigaction_errors_are_reported(drv: alcovepy.Driver) -> None:
    """3: sigaction on SIGKILL raises EINVAL instead of pretending it worked."""
    child = await drv.root.fork()
    with pytest.raises(OSError, match="Invalid argument") as info:
        await child.sigaction("SIGKILL", "SIG_IGN")
    assert info.value.errno == 22
    assert await child.sigaction("SIGKILL", None) == "SIG_DFL"


async def test_3_lseek_returns_the_offset(drv: alcovepy.Driver) -> None:
    """3: lseek answers the resulting offset (alcove dropped it)."""
    fd = await drv.open([], "/etc/passwd", "O_RDONLY", 0)
    try:
        size = os.stat("/etc/passwd").st_size
        assert await drv.lseek([], fd, 0, os.SEEK_END) == size
        assert await drv.lseek([], fd, 3, os.SEEK_SET) == 3
    finally:
        await drv.close([], fd)


async def test_4_waitpid_leaks_no_fds_and_keeps_exit_events(drv: alcovepy.Driver) -> None:
    """4: waiting for a child by hand neither leaks its pipes nor hides its exit event."""
    parent = await drv.root.fork()
    before = await _fds_of(drv, parent.pipeline)
    child = await parent.fork()
    await child.exit(7)
    with anyio.fail_after(10):
        assert await child.event() == alcovepy.ExitStatus(7)
        waited = await parent.waitpid(child.pid or 0, 0)
    assert waited.pid == child.pid
    assert waited.exitstatus == 7
    assert await _fds_of(drv, parent.pipeline) == before  # its pipes were closed


async def test_8_calls_to_a_child_that_exited_fail_fast(drv: alcovepy.Driver) -> None:
    """8: a call to a child that exited while its output drains raises ProcessLookupError, never hangs."""
    child = await drv.root.fork()
    pid = child.pid or 0
    await drv.kill([], pid, "SIGKILL")
    with anyio.fail_after(10):
        assert await child.wait() == -signal.SIGKILL
        with pytest.raises(ProcessLookupError):
            await drv.getpid([pid])
        with pytest.raises(ProcessLookupError):
            await drv.stdin([pid], b"lost?\n")


async def test_9_control_processes_keep_default_signal_handling(drv: alcovepy.Driver) -> None:
    """9: SIGTERM kills a control process (alcove caught every signal), and cpid tells exec'd from exited."""
    loop_child = await drv.root.fork()
    program = await drv.root.spawn("/bin/sleep", ["sleep", "100"])
    states: dict[int | None, str] = {c.pid: c.state for c in await drv.cpid([])}
    assert states[program.pid] == "execed"
    assert states[loop_child.pid] == "loop"
    await drv.kill([], loop_child.pid or 0, "SIGTERM")
    with anyio.fail_after(10):
        assert await loop_child.wait() == -signal.SIGTERM
    await drv.kill([], program.pid or 0, "SIGKILL")
    with anyio.fail_after(10):
        assert await program.wait() == -signal.SIGKILL


async def test_11_flag_lists_are_ored_not_xored(drv: alcovepy.Driver) -> None:
    """11: a flag named twice is still set (alcove combined with xor, so duplicates cancelled)."""
    fd = await drv.open([], "/dev/null", ["O_RDONLY", "O_CLOEXEC", "o_cloexec"], 0)
    try:
        assert await drv.fcntl([], fd, "F_GETFD", 0) & 1  # FD_CLOEXEC
    finally:
        await drv.close([], fd)


# Covered elsewhere: 5 (maxchild shrink) in test_calls.py, 6 (large replies) in
# test_files.py, 7 (stdin backpressure) in test_stdio.py, 10 (orphans, zombies)
# in test_lifetime.py, 12 (no FIFO in a shared directory) by design: the helper
# talks over inherited pipes only.
