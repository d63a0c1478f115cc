"""The spine's calls with the API's Python conventions, on real processes."""

from __future__ import annotations

import errno
import os
import signal

import anyio
import pytest

import alcovepy


async def test_getcwd_chdir(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.chdir("/tmp")
    assert await child.getcwd() == b"/tmp"
    assert await drv.getcwd([]) == os.getcwdb()  # the parent is unaffected
    with pytest.raises(FileNotFoundError):
        await child.chdir("/nonexistent/dir")
    with pytest.raises(NotADirectoryError):
        await child.chdir("/etc/passwd")


async def test_environment(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.setenv("ALCOVEPY_T", "one", 1)
    assert await child.getenv("ALCOVEPY_T") == b"one"
    await child.setenv("ALCOVEPY_T", "two", 0)  # not overwritten
    assert await child.getenv("ALCOVEPY_T") == b"one"
    await child.setenv(b"ALCOVEPY_T", b"three", 1)
    assert b"ALCOVEPY_T=three" in await child.environ()
    assert await drv.getenv([], "ALCOVEPY_T") is None  # only the child changed
    await child.unsetenv("ALCOVEPY_T")
    assert await child.getenv("ALCOVEPY_T") is None
    with pytest.raises(OSError, match="Invalid argument") as info:
        await child.setenv("A=B", "x", 1)  # setenv(3) refuses '=' in a name
    assert info.value.errno == errno.EINVAL
    await child.clearenv()
    assert await child.environ() == []


async def test_execve_with_env(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.execve("/bin/sh", ["sh", "-c", 'echo "$GREETING"'], ["GREETING=hello from execve"])
    assert await child.stdout.receive() == b"hello from execve\n"
    assert await child.wait() == 0


async def test_kill_with_constant_forms(drv: alcovepy.Driver) -> None:
    for sig in ("SIGTERM", "sigterm", signal.SIGTERM, int(signal.SIGTERM)):
        child = await drv.root.fork()
        await child.execvp("/bin/sleep", ["sleep", "100"])
        await drv.kill([], child.pid or 0, sig)
        assert await child.wait() == -signal.SIGTERM


async def test_kill_errors(drv: alcovepy.Driver) -> None:
    with pytest.raises(ProcessLookupError):
        await drv.kill([], 2**31 - 1, "SIGTERM")
    with pytest.raises(alcovepy.UnknownConstant):
        await drv.kill([], 1, "SIGBOGUS")
    with pytest.raises(TypeError):
        await drv.kill([], "1", "SIGTERM")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        await drv.kill([], 2**40, "SIGTERM")
    assert await drv.getpid([]) == drv.helper_pid  # still serving


async def test_constants_agree_with_python(drv: alcovepy.Driver) -> None:
    for sig in signal.Signals:
        value = await drv.signal_constant([], sig.name)
        if value is not None:
            assert value == sig.value, sig
    assert await drv.signal_constant([], "sigkill") == signal.SIGKILL
    assert await drv.signal_constant([], "SIGNOPE") is None
    for name in ("O_RDONLY", "O_WRONLY", "O_CREAT", "O_CLOEXEC", "O_NONBLOCK", "O_DIRECTORY"):
        assert await drv.file_constant([], name) == getattr(os, name), name
    for name in ("F_GETFD", "F_SETFD", "FD_CLOEXEC"):
        import fcntl

        assert await drv.fcntl_constant([], name) == getattr(fcntl, name), name
    import resource

    for name in ("RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE"):
        assert await drv.rlimit_constant([], name) == getattr(resource, name), name
    # os has these from Python 3.12; the kernel's UAPI values are fixed
    assert await drv.clone_constant([], "CLONE_NEWPID") == getattr(os, "CLONE_NEWPID", 0x20000000)
    assert await drv.clone_constant([], "clone_newns") == getattr(os, "CLONE_NEWNS", 0x00020000)


async def test_options_roundtrip_and_inheritance(drv: alcovepy.Driver) -> None:
    assert await drv.getopt([], "maxforkdepth") == 16
    assert await drv.getopt([], "maxchild") == 256
    await drv.setopt([], "signaloneof", 9)
    child = await drv.root.fork()
    assert await child.getopt("signaloneof") == 9  # a forked child copies its parent's
    await child.setopt("exit_status", 0)
    assert await drv.getopt([], "exit_status") == 1
    with pytest.raises(ValueError, match="unknown option"):
        await drv.getopt([], "nosuchoption")
    with pytest.raises(ValueError, match="out of range"):
        await drv.setopt([], "maxforkdepth", 256)
    with pytest.raises(ValueError, match="out of range"):
        await drv.setopt([], "stdin_closed", -1)


async def test_open_driver_options() -> None:
    from tests.conftest import open_checked_driver

    async with open_checked_driver(maxchild=3, exit_status=0) as d:
        assert await d.getopt([], "maxchild") == 3
        assert await d.getopt([], "exit_status") == 0
        pids = [await d.fork([]) for _ in range(3)]
        with pytest.raises(BlockingIOError) as info:  # EAGAIN, as alcove
            await d.fork([])
        assert info.value.errno == errno.EAGAIN
        assert [c.pid for c in await d.cpid([])] == pids
    with pytest.raises(ValueError, match="unknown option"):
        async with alcovepy.open_driver(nosuch=1):
            pass


async def test_cpid_states(drv: alcovepy.Driver) -> None:
    loop_child = await drv.root.fork()
    prog = await drv.root.fork()
    await prog.execvp("/bin/cat", ["cat"])
    states = {c.pid: c.state for c in await drv.cpid([])}
    assert states == {loop_child.pid: "loop", prog.pid: "execed"}


async def test_sigaction_handlers(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    assert await child.sigaction("SIGUSR1", None) == "SIG_DFL"
    assert await child.sigaction("SIGUSR1", "sig_info") == "SIG_DFL"
    assert await child.sigaction(signal.SIGUSR1, "SIG_IGN") == "SIG_INFO"
    assert await child.sigaction("SIGUSR1", "SIG_DFL") == "SIG_IGN"
    with pytest.raises(OSError, match="Invalid argument") as info:  # errors are not swallowed (alcove defect)
        await child.sigaction("SIGKILL", "SIG_IGN")
    assert info.value.errno == errno.EINVAL
    with pytest.raises(ValueError, match="SIG_DFL"):
        await child.sigaction("SIGUSR1", "SIG_WHATEVER")


async def test_sigaction_info_reports_signal_events(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.sigaction("SIGUSR1", "SIG_INFO")
    await drv.kill([], child.pid or 0, "SIGUSR1")
    with anyio.fail_after(10):
        ev = await child.event()
    assert isinstance(ev, alcovepy.Signal)
    assert ev.signal == signal.SIGUSR1
    assert ev.info.pid == drv.helper_pid  # sent by the helper
    assert await child.getpid() == child.pid  # and it is still alive


async def test_sigaction_ign_survives_exec(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.sigaction("SIGTERM", "SIG_IGN")
    await child.execvp("/bin/sh", ["sh", "-c", "kill -TERM $$; echo survived"])
    assert await child.stdout.receive() == b"survived\n"
    assert await child.wait() == 0


async def test_exit(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.exit(7)
    with anyio.fail_after(10):
        assert await child.wait() == 7
    with pytest.raises(ProcessLookupError):
        await child.getpid()


async def test_clone_flags_only(drv: alcovepy.Driver) -> None:
    with pytest.raises(ValueError, match="CLONE_NEW"):
        await drv.clone([], 0x100)  # CLONE_VM is not a namespace flag
    child = await drv.root.clone(0)  # no new namespace: a plain fork
    assert await child.getpid() == child.pid


async def test_bad_arguments_raise_before_sending(drv: alcovepy.Driver) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await drv.chdir([], "/tmp\0/x")
    with pytest.raises(ValueError, match="empty"):
        await drv.chdir([], "")
    with pytest.raises(TypeError):
        await drv.chdir([], 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await drv.execvp([1], "/bin/true", "/bin/true")
    with pytest.raises(TypeError):
        await drv.getpid("12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        await drv.getpid([0])
    with pytest.raises(ValueError, match="cannot exec"):
        await drv.execvp([], "/bin/true", ["true"])
    assert drv.statistics().pending_requests == 0
    assert await drv.getpid([]) == drv.helper_pid
