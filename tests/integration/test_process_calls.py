"""prctl, ptrace, waitpid, setproctitle, fexecve, getcpid/setcpid, filter,
errno_id and alloc: the real effect of each, seen from /proc, from the
process's own answers and from its parent.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
import sys
from pathlib import Path

import anyio
import pytest

import alcovepy
from alcovepy._types import Ptr, WaitStatus

WORD = struct.calcsize("P")


def pid_of(proc: alcovepy.Process) -> int:
    assert proc.pid is not None
    return proc.pid


def proc_bytes(pid: int, name: str) -> bytes:
    """/proc/PID/name, read synchronously."""
    return Path(f"/proc/{pid}/{name}").read_bytes()


def status_field(pid: int, field: str) -> str:
    """One field of /proc/PID/status, e.g. NoNewPrivs or TracerPid."""
    for line in proc_bytes(pid, "status").decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def as_int(buf: object) -> int:
    """A native C int from a buffer a call filled in."""
    assert isinstance(buf, bytes)
    return int.from_bytes(buf[:4], sys.byteorder, signed=True)


async def read_all(proc: alcovepy.Process) -> bytes:
    out = b""
    with anyio.fail_after(10):
        while True:
            try:
                out += await proc.stdout.receive()
            except anyio.EndOfStream:
                return out


# ---- prctl -------------------------------------------------------------------


async def test_prctl_name_round_trip(drv: alcovepy.Driver) -> None:
    """PR_SET_NAME changes /proc/PID/comm; PR_GET_NAME fills a 16-byte buffer with it."""
    child = await drv.root.fork()
    pid = pid_of(child)
    result = await child.prctl("PR_SET_NAME", b"alcove-task", 0, 0, 0)
    assert result == (0, b"alcove-task", 0, 0, 0)  # ints are echoed, buffers returned
    got = await child.prctl("PR_GET_NAME", b"\0" * 16, 0, 0, 0)
    assert got[0] == 0
    assert got[1] == b"alcove-task".ljust(16, b"\0")
    assert proc_bytes(pid, "comm") == b"alcove-task\n"
    await child.prctl("pr_set_name", b"0123456789abcdefXYZ", 0, 0, 0)  # truncated to 15 bytes + NUL
    assert (await child.prctl("PR_GET_NAME", b"\0" * 16, 0, 0, 0))[1] == b"0123456789abcde\0"
    assert proc_bytes(pid, "comm") == b"0123456789abcde\n"
    assert proc_bytes(drv.helper_pid, "comm") != b"0123456789abcde\n"  # only the child changed


async def test_prctl_no_new_privs(drv: alcovepy.Driver) -> None:
    """PR_SET_NO_NEW_PRIVS is seen by PR_GET_NO_NEW_PRIVS, /proc and children, and cannot be unset."""
    child = await drv.root.fork()
    pid = pid_of(child)
    assert (await child.prctl("PR_GET_NO_NEW_PRIVS", 0, 0, 0, 0))[0] == 0
    assert status_field(pid, "NoNewPrivs") == "0"
    await child.prctl("PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0)
    assert (await child.prctl("PR_GET_NO_NEW_PRIVS", 0, 0, 0, 0))[0] == 1
    assert status_field(pid, "NoNewPrivs") == "1"
    with pytest.raises(OSError, match="Invalid argument") as info:  # it is a one-way switch
        await child.prctl("PR_SET_NO_NEW_PRIVS", 0, 0, 0, 0)
    assert info.value.errno == errno.EINVAL
    grandchild = await child.fork()
    assert status_field(pid_of(grandchild), "NoNewPrivs") == "1"
    assert status_field(drv.helper_pid, "NoNewPrivs") == "0"


async def test_prctl_pdeathsig_through_a_pointer(drv: alcovepy.Driver) -> None:
    """PR_GET_PDEATHSIG writes through its pointer: a 4-byte buffer comes back with the signal."""
    child = await drv.root.fork()
    _, arg2, *_ = await child.prctl("PR_GET_PDEATHSIG", b"\0" * 4, 0, 0, 0)
    assert as_int(arg2) == 0
    await child.prctl("PR_SET_PDEATHSIG", signal.SIGUSR2, 0, 0, 0)
    _, arg2, *_ = await child.prctl("PR_GET_PDEATHSIG", b"\0" * 4, 0, 0, 0)
    assert as_int(arg2) == signal.SIGUSR2
    await child.prctl("PR_SET_PDEATHSIG", 0, 0, 0, 0)
    _, arg2, *_ = await child.prctl("PR_GET_PDEATHSIG", b"\xff" * 4, 0, 0, 0)
    assert as_int(arg2) == 0
    with pytest.raises(OSError, match="Invalid argument"):
        await child.prctl("PR_SET_PDEATHSIG", 12345, 0, 0, 0)
    with pytest.raises(alcovepy.UnknownConstant):
        await child.prctl("PR_NOPE", 0, 0, 0, 0)


# ---- ptrace ------------------------------------------------------------------


def image_base(pid: int) -> int:
    """The address where pid's executable is mapped from offset 0 (its first bytes are the ELF magic)."""
    exe = os.readlink(f"/proc/{pid}/exe")
    for line in proc_bytes(pid, "maps").decode().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and int(fields[2], 16) == 0 and fields[5] == exe:
            return int(fields[0].split("-")[0], 16)
    raise AssertionError(f"no helper image in /proc/{pid}/maps")


async def test_ptrace_traceme_signal_stop_and_cont(drv: alcovepy.Driver) -> None:
    """A tracee's signal-stop is seen by its parent's waitpid; PTRACE_CONT with data 0 suppresses the signal."""
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    tracee = pid_of(p2)
    assert await p2.ptrace("PTRACE_TRACEME", 0, 0, 0) == (0, 0, 0)
    assert status_field(tracee, "TracerPid") == str(p1.pid)
    await p1.kill(tracee, "SIGUSR1")  # the default action would kill it; traced, it stops first
    with anyio.fail_after(10):
        ws = await p1.waitpid(tracee, 0)
    assert ws.pid == tracee
    assert ws.stopsig == signal.SIGUSR1
    assert ws.exitstatus is None
    assert ws.termsig is None
    assert status_field(tracee, "State").startswith("t")  # tracing stop

    # the stopped tracee's memory and siginfo, read by its tracer
    base = image_base(tracee)
    word, addr, data = await p1.ptrace("PTRACE_PEEKDATA", tracee, base, 0)
    assert word.to_bytes(WORD, sys.byteorder, signed=True)[:4] == b"\x7fELF"
    assert (addr, data) == (base, 0)
    _, _, info = await p1.ptrace("PTRACE_GETSIGINFO", tracee, 0, b"\0" * 128)
    assert isinstance(info, bytes)
    signo, _errno, code = struct.unpack_from("iii", info)
    sender = struct.unpack_from("i", info, 16)[0]  # si_pid, after the union's alignment
    assert (signo, code, sender) == (signal.SIGUSR1, 0, p1.pid)  # SI_USER, sent by p1

    await p1.ptrace("PTRACE_CONT", tracee, 0, 0)  # data 0: the signal is not delivered
    with anyio.fail_after(10):
        assert await p2.getpid() == tracee  # it runs its loop again
    assert await p1.waitpid(tracee, "WNOHANG") == WaitStatus(0, 0)

    # the same again, but continued with the signal: now it takes its default action
    await p1.kill(tracee, "SIGUSR1")
    with anyio.fail_after(10):
        assert (await p1.waitpid(tracee, 0)).stopsig == signal.SIGUSR1
    await p1.ptrace("PTRACE_CONT", tracee, 0, signal.SIGUSR1)
    with anyio.fail_after(10):
        assert await p2.wait() == -signal.SIGUSR1
    with pytest.raises(ProcessLookupError):
        await p1.ptrace("PTRACE_CONT", tracee, 0, 0)


async def test_ptrace_errors(drv: alcovepy.Driver) -> None:
    """ptrace on a process that is not a stopped tracee fails with ESRCH, and PEEKDATA errors are errors."""
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    with pytest.raises(ProcessLookupError):  # not traced by p1
        await p1.ptrace("PTRACE_PEEKDATA", pid_of(p2), 0, 0)
    await p2.ptrace("PTRACE_TRACEME", 0, 0, 0)
    with pytest.raises(OSError, match="Operation not permitted"):  # already traced
        await p2.ptrace("PTRACE_TRACEME", 0, 0, 0)
    await p1.kill(pid_of(p2), "SIGSTOP")
    with anyio.fail_after(10):
        assert (await p1.waitpid(pid_of(p2), 0)).stopsig == signal.SIGSTOP
    with pytest.raises(OSError, match="Input/output error") as info:  # an unmapped address
        await p1.ptrace("PTRACE_PEEKDATA", pid_of(p2), 0, 0)
    assert info.value.errno == errno.EIO
    await p1.ptrace("PTRACE_DETACH", pid_of(p2), 0, 0)  # detached, and running: SIGSTOP suppressed
    with anyio.fail_after(10):
        assert await p2.getpid() == p2.pid
    assert status_field(pid_of(p2), "TracerPid") == "0"


# ---- waitpid -----------------------------------------------------------------


async def test_waitpid_wnohang_on_a_running_child(drv: alcovepy.Driver) -> None:
    """WNOHANG on a child that is still running returns WaitStatus(0, 0)."""
    p1 = await drv.root.fork()
    cat = await p1.fork()
    await cat.execvp("/bin/cat", ["cat"])
    ws = await p1.waitpid(pid_of(cat), "WNOHANG")
    assert ws == WaitStatus(0, 0)
    assert (ws.exitstatus, ws.termsig, ws.stopsig) == (None, None, None)
    loop_child = await p1.fork()
    assert await p1.waitpid(pid_of(loop_child), ["WNOHANG"]) == WaitStatus(0, 0)
    with pytest.raises(ChildProcessError):  # not p1's child
        await p1.waitpid(drv.helper_pid, "WNOHANG")
    await cat.stdin.aclose()
    with anyio.fail_after(10):
        assert await cat.wait() == 0


async def test_waitpid_on_an_exited_child_returns_its_status(drv: alcovepy.Driver) -> None:
    """An exit the loop collected is handed to waitpid once, after the ExitStatus event."""
    p1 = await drv.root.fork()
    child = await p1.fork()
    # the background sleep keeps the child's stdout open, so p1 keeps its entry after the exit
    await child.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & exit 3"])
    with anyio.fail_after(10):
        assert await child.event() == alcovepy.ExitStatus(3)
    ws = await p1.waitpid(pid_of(child), "WNOHANG")
    assert ws.pid == child.pid
    assert ws.exitstatus == 3
    assert os.WIFEXITED(ws.status)
    assert os.WEXITSTATUS(ws.status) == 3
    with pytest.raises(ChildProcessError):  # handed out once
        await p1.waitpid(pid_of(child), "WNOHANG")


async def poll_waitpid(parent: alcovepy.Process, which: int) -> WaitStatus:
    """waitpid(which, WNOHANG) until it reports something: bounded, in small steps.

    Used where the status may be collected by the loop or by waitpid itself,
    and both paths must give the same answer.
    """
    with anyio.fail_after(10):
        while True:
            ws = await parent.waitpid(which, "WNOHANG")
            if ws.pid != 0:
                return ws
            await anyio.sleep(0.01)


async def test_waitpid_any_child_gets_what_the_loop_collected(drv: alcovepy.Driver) -> None:
    """waitpid(-1) hands out an exit or a ptrace stop the loop reaped before it, like waitpid(pid)."""
    p1 = await drv.root.fork()
    child = await p1.fork()
    await child.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & exit 3"])  # sleep: an orphan p1 adopts
    with anyio.fail_after(10):
        assert await child.event() == alcovepy.ExitStatus(3)  # the loop reaped it
    ws = await p1.waitpid(-1, "WNOHANG")
    assert (ws.pid, ws.exitstatus) == (child.pid, 3)
    assert await p1.waitpid(-1, "WNOHANG") == WaitStatus(0, 0)  # only the sleep is left, running

    tracee = await p1.fork()
    await tracee.ptrace("PTRACE_TRACEME", 0, 0, 0)
    group = await tracee.getpgrp()
    for which in (-1, 0, -group):  # any child, p1's group, the group by number
        await p1.kill(pid_of(tracee), "SIGUSR2")
        ws = await poll_waitpid(p1, which)
        assert (ws.pid, ws.stopsig) == (tracee.pid, signal.SIGUSR2), which
        await p1.ptrace("PTRACE_CONT", pid_of(tracee), 0, 0)
        with anyio.fail_after(10):
            assert await tracee.getpid() == tracee.pid


async def test_waitpid_refuses_waitid_options_without_losing_a_status(drv: alcovepy.Driver) -> None:
    """WNOWAIT and WEXITED are waitid's: EINVAL as from the kernel, and the collected exit stays."""
    p1 = await drv.root.fork()
    child = await p1.fork()
    await child.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & exit 4"])
    with anyio.fail_after(10):
        assert await child.event() == alcovepy.ExitStatus(4)
    for options in (["WNOHANG", "WNOWAIT"], ["WNOHANG", "WEXITED"]):
        with pytest.raises(OSError, match="Invalid argument") as info:
            await p1.waitpid(pid_of(child), options)
        assert info.value.errno == errno.EINVAL
    ws = await p1.waitpid(pid_of(child), "WNOHANG")
    assert (ws.pid, ws.exitstatus) == (child.pid, 4)
    with pytest.raises(ChildProcessError):
        await p1.waitpid(pid_of(child), "WNOHANG")


async def test_waitpid_blocking_collects_the_exit_and_the_event_still_arrives(drv: alcovepy.Driver) -> None:
    """A blocking waitpid that reaps a child itself still reports the exit on the child's pipeline."""
    p1 = await drv.root.fork()
    child = await p1.fork()
    await child.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & read x; exit 5"])
    await child.stdin.send(b"go\n")  # in the pipe before p1's loop blocks in waitpid
    with anyio.fail_after(10):
        ws = await p1.waitpid(pid_of(child), 0)
        assert ws.pid == child.pid
        assert ws.exitstatus == 5
        assert await child.event() == alcovepy.ExitStatus(5)
        assert await child.wait() == 5
    assert await p1.getpid() == p1.pid  # p1's loop runs again


async def test_waitpid_wuntraced_job_control_stop(drv: alcovepy.Driver) -> None:
    """WUNTRACED reports a SIGSTOP of an untraced child; WCONTINUED its SIGCONT."""
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    await drv.kill([], pid_of(p2), "SIGSTOP")
    with anyio.fail_after(10):
        ws = await p1.waitpid(pid_of(p2), "WUNTRACED")
    assert (ws.pid, ws.stopsig) == (p2.pid, signal.SIGSTOP)
    await drv.kill([], pid_of(p2), "SIGCONT")
    with anyio.fail_after(10):
        ws = await p1.waitpid(pid_of(p2), "WCONTINUED")
        assert ws.pid == p2.pid
        assert os.WIFCONTINUED(ws.status)
        assert await p2.getpid() == p2.pid


# ---- setproctitle ------------------------------------------------------------


async def test_setproctitle_shows_in_proc(drv: alcovepy.Driver) -> None:
    """/proc/PID/cmdline and comm show the new title; the parent's stay as they were."""
    child = await drv.root.fork()
    pid = pid_of(child)
    before = proc_bytes(drv.helper_pid, "cmdline")
    assert proc_bytes(pid, "cmdline") == before  # a forked child starts with its parent's
    await child.setproctitle("alcove: worker")
    cmdline = proc_bytes(pid, "cmdline")
    assert cmdline.split(b"\0")[0] == b"alcove: worker"
    assert cmdline.rstrip(b"\0") == b"alcove: worker"
    assert proc_bytes(pid, "comm") == b"alcove: worker\n"
    assert proc_bytes(drv.helper_pid, "cmdline") == before
    env = await child.environ()
    long_title = "x" * 100_000
    await child.setproctitle(long_title)  # truncated to the room there is (argv and environ strings)
    shown = proc_bytes(pid, "cmdline").split(b"\0")[0]
    assert shown
    assert long_title.encode().startswith(shown)
    assert len(shown) < len(long_title)
    assert proc_bytes(pid, "comm") == b"x" * 15 + b"\n"
    assert await child.getpid() == pid  # nothing was overrun:
    assert await child.environ() == env  # the environment was moved out of the way first


# ---- fexecve -----------------------------------------------------------------


async def test_fexecve_runs_the_program_open_on_fd(drv: alcovepy.Driver) -> None:
    """fexecve runs the ELF open on fd (close-on-exec is fine for a binary) with argv and env."""
    child = await drv.root.fork()
    fd = await child.open("/bin/echo", ["O_RDONLY", "O_CLOEXEC"], 0)
    await child.fexecve(fd, ["echo", "hi"], ["A=1"])
    assert await read_all(child) == b"hi\n"
    with anyio.fail_after(10):
        assert await child.wait() == 0

    child = await drv.root.fork()
    fd = await child.open("/usr/bin/env", ["O_RDONLY", "O_CLOEXEC"], 0)
    await child.fexecve(fd, ["env"], ["A=1", "B=two"])
    assert await read_all(child) == b"A=1\nB=two\n"


async def test_fexecve_failures_leave_the_child_usable(drv: alcovepy.Driver) -> None:
    """A bad fd raises EBADF, a non-executable file EACCES; the child keeps answering."""
    child = await drv.root.fork()
    pid = pid_of(child)
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await child.fexecve(999, ["x"], [])
    assert info.value.errno == errno.EBADF
    assert await child.getpid() == pid
    fd = await child.open("/etc/passwd", "O_RDONLY", 0)  # mode 0644: nobody may exec it
    with pytest.raises(PermissionError):
        await child.fexecve(fd, ["passwd"], [])
    assert await child.getpid() == pid
    await child.close(fd)
    fd = await child.open("/bin/true", "O_RDONLY", 0)
    await child.fexecve(fd, ["true"], [])  # and it can still exec afterwards
    with anyio.fail_after(10):
        assert await child.wait() == 0


async def test_fexecve_of_a_script_needs_the_fd_across_exec(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A #! script is run through /dev/fd/N: with O_CLOEXEC that is gone (ENOENT), without it works."""
    script = anyio.Path(tmp_path / "hello.sh")
    await script.write_text('#!/bin/sh\necho "script $A"\n')
    await script.chmod(0o755)
    child = await drv.root.fork()
    fd = await child.open(str(script), ["O_RDONLY", "O_CLOEXEC"], 0)
    with pytest.raises(FileNotFoundError):
        await child.fexecve(fd, ["hello.sh"], ["A=1"])
    assert await child.getpid() == child.pid
    await child.close(fd)
    fd = await child.open(str(script), "O_RDONLY", 0)
    await child.fexecve(fd, ["hello.sh"], ["A=1"])
    assert await read_all(child) == b"script 1\n"


# ---- getcpid / setcpid -------------------------------------------------------


async def test_getcpid_fields_agree_with_cpid(drv: alcovepy.Driver) -> None:
    """Every field getcpid reports is what cpid lists for the same child."""
    child = await drv.root.fork()
    pid = pid_of(child)
    (info,) = [c for c in await drv.cpid([]) if c.pid == pid]
    assert await drv.getcpid([], pid, "pid") == pid
    assert await drv.getcpid([], pid, "flowcontrol") == info.flowcontrol == await drv.getopt([], "flowcontrol")
    assert await drv.getcpid([], pid, "signaloneof") == info.signaloneof == 15
    assert await drv.getcpid([], pid, "stdin") == info.stdin
    assert await drv.getcpid([], pid, "stdout") == info.stdout
    assert await drv.getcpid([], pid, "stderr") == info.stderr
    assert await drv.getcpid([], pid, "fdctl") == info.ctl
    fds = {info.stdin, info.stdout, info.stderr, info.ctl}
    assert len(fds) == 4
    assert all(fd > 2 for fd in fds)
    for fd in fds:  # the helper really holds pipes there
        assert os.readlink(f"/proc/{drv.helper_pid}/fd/{fd}").startswith("pipe:")
    assert await drv.getcpid([], pid, "nosuchfield") is None
    assert await drv.getcpid([], 2**31 - 1, "pid") is None
    await child.execvp("/bin/cat", ["cat"])
    assert await drv.getcpid([], pid, "fdctl") == -2  # exec'd: no control pipe any more


async def test_setcpid_fields(drv: alcovepy.Driver) -> None:
    """setcpid changes what getcpid reports; unknown pids and fields give False."""
    await drv.setopt([], "signaloneof", 9)
    child = await drv.root.fork()
    pid = pid_of(child)
    assert await drv.getcpid([], pid, "signaloneof") == 9  # copied from the option at fork
    assert await drv.setcpid([], pid, "signaloneof", 1) is True
    assert await drv.getcpid([], pid, "signaloneof") == 1
    assert await drv.setcpid([], pid, "flowcontrol", 4096) is True
    assert await drv.getcpid([], pid, "flowcontrol") == 4096
    assert await drv.setcpid([], 2**31 - 1, "signaloneof", 1) is False
    assert await drv.setcpid([], pid, "stdin", 1) is False  # not settable
    assert await drv.setcpid([], pid, "nosuchfield", 1) is False
    with pytest.raises(ValueError, match="out of range"):
        await drv.setcpid([], pid, "signaloneof", 256)
    with pytest.raises(ValueError, match="flowcontrol"):
        await drv.setcpid([], pid, "flowcontrol", -2)


async def test_setcpid_flowcontrol_stops_and_resumes_output(drv: alcovepy.Driver) -> None:
    """flowcontrol 0 stops reading a program's stdout; -1 lets it through again."""
    cat = await drv.root.fork()
    await cat.execvp("/bin/cat", ["cat"])
    assert await drv.setcpid([], pid_of(cat), "flowcontrol", 0) is True
    await cat.stdin.send(b"held\n")
    with anyio.move_on_after(0.3) as scope:  # bounded: proves nothing arrives while credit is 0
        await cat.stdout.receive()
    assert scope.cancelled_caught
    assert await drv.setcpid([], pid_of(cat), "flowcontrol", -1) is True
    with anyio.fail_after(10):
        assert await cat.stdout.receive() == b"held\n"


async def test_setcpid_signaloneof_delivered_when_the_parent_shuts_down(drv: alcovepy.Driver) -> None:
    """Closing a control process's stdin makes it send each program its signaloneof signal."""
    p1 = await drv.root.fork()
    prog = await p1.fork()
    await prog.execvp("/bin/sleep", ["sleep", "1000"])
    assert await p1.setcpid(pid_of(prog), "signaloneof", signal.SIGUSR1) is True
    assert await p1.getcpid(pid_of(prog), "signaloneof") == signal.SIGUSR1
    await p1.stdin.aclose()  # p1 shuts down: its programs get their signal
    with anyio.fail_after(10):
        assert await prog.event() == alcovepy.TermSig(signal.SIGUSR1)
        assert await prog.wait() == -signal.SIGUSR1
        await p1.wait()


# ---- filter ------------------------------------------------------------------


async def test_filter_denies_a_call_to_the_process(drv: alcovepy.Driver) -> None:
    """A denied call raises CallFiltered naming the call; other calls still work."""
    child = await drv.root.fork()
    await child.filter(["fork"], [])
    with pytest.raises(alcovepy.CallFiltered, match="fork") as info:
        await child.fork()
    assert isinstance(info.value, alcovepy.AlcoveError)
    assert not isinstance(info.value, OSError)
    assert await child.getpid() == child.pid
    assert await drv.fork([]) > 0  # the parent may still fork
    with pytest.raises(alcovepy.CallFiltered, match="fork"):  # and it stays denied
        await child.fork()


async def test_filter_for_children_reaches_every_descendant(drv: alcovepy.Driver) -> None:
    """calls_for_children spares the process itself but binds its children and grandchildren."""
    parent = await drv.root.fork()
    older = await parent.fork()  # forked before the filter: unaffected
    await parent.filter([], ["getpid"])
    assert await parent.getpid() == parent.pid
    child = await parent.fork()
    grandchild = await child.fork()
    for proc in (child, grandchild):
        with pytest.raises(alcovepy.CallFiltered, match="getpid"):
            await proc.getpid()
        assert await proc.getcwd() == await parent.getcwd()  # everything else works
    assert await older.getpid() == older.pid


async def test_filter_self_is_inherited_and_cannot_be_lifted(drv: alcovepy.Driver) -> None:
    """Calls denied to a process are denied to its later children; filter([], []) lifts nothing."""
    proc = await drv.root.fork()
    await proc.filter(["getcwd", "filter"], [])
    with pytest.raises(alcovepy.CallFiltered, match="filter"):  # it may not even call filter now
        await proc.filter([], [])
    child = await proc.fork()
    with pytest.raises(alcovepy.CallFiltered, match="getcwd"):
        await child.getcwd()
    other = await drv.root.fork()
    await other.filter([], ["getcwd"])
    await other.filter([], [])  # no-op: denials only add up
    kid = await other.fork()
    with pytest.raises(alcovepy.CallFiltered, match="getcwd"):
        await kid.getcwd()
    assert await other.getcwd() == os.getcwdb()


async def test_filter_rejects_unknown_names_before_sending(drv: alcovepy.Driver) -> None:
    """An unknown call name is a ValueError raised in Python, the process unchanged."""
    child = await drv.root.fork()
    with pytest.raises(ValueError, match="nosuchcall"):
        await child.filter(["nosuchcall"], [])
    with pytest.raises(ValueError, match="nosuchcall"):
        await child.filter([], ["getpid", "nosuchcall"])
    with pytest.raises(TypeError):
        await child.filter("fork", [])
    assert drv.statistics().pending_requests == 0
    assert await child.getpid() == child.pid  # nothing was applied, partially or not
    grandchild = await child.fork()
    assert await grandchild.getpid() == grandchild.pid


# ---- errno_id and alloc --------------------------------------------------------


async def test_errno_id(drv: alcovepy.Driver) -> None:
    """errno_id names errno values as the platform does; unknown numbers give None."""
    assert await drv.errno_id([], 2) == "ENOENT"
    assert await drv.errno_id([], errno.EPERM) == "EPERM"
    assert await drv.errno_id([], 0) is None
    assert await drv.errno_id([], 99999) is None
    assert await drv.errno_id([], -1) is None
    for num in errno.errorcode:
        name = await drv.errno_id([], num)
        assert name is not None, num
        assert getattr(errno, name) == num, (num, name)  # an alias may be named, never a wrong value


async def test_alloc_lays_out_a_cstruct(drv: alcovepy.Driver) -> None:
    """alloc returns the struct as a system call sees it: inline bytes, then word-sized pointers."""
    raw, back = await drv.alloc([], [b"\x01\x02", Ptr(3), Ptr(b"\x09\x09"), Ptr(0)])
    assert len(raw) == 2 + 3 * WORD
    assert raw[:2] == b"\x01\x02"
    first, second, null = (int.from_bytes(raw[2 + i * WORD : 2 + (i + 1) * WORD], sys.byteorder) for i in range(3))
    assert first != 0
    assert second != 0
    assert first != second
    assert null == 0
    assert back == [b"\x01\x02", Ptr(b"\0\0\0"), Ptr(b"\x09\x09"), Ptr(b"")]
    raw, back = await drv.alloc([], b"plain")
    assert (raw, back) == (b"plain", b"plain")
    with pytest.raises(ValueError, match="cstruct"):
        await drv.alloc([], [])
    with pytest.raises(TypeError):
        await drv.alloc([], [1.5])  # type: ignore[list-item]
