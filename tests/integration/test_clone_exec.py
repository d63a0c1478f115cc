"""clone_exec: clone, parent-side writes, setup steps and exec in one request."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

import alcovepy
from tests.conftest import children_of


async def _output(proc: alcovepy.Process) -> tuple[bytes, int]:
    out = b""
    with anyio.fail_after(10):
        async for chunk in proc.stdout:
            out += chunk
        return out, await proc.wait()


async def test_steps_run_in_the_child_before_exec(drv: alcovepy.Driver) -> None:
    """Each step's effect is visible to the program, and the parent is untouched."""
    steps = [
        ("chdir", "/tmp"),
        ("setrlimit", "RLIMIT_NOFILE", (64, 64)),
        ("setenv", "ALCOVEPY_STEP", "seen", 1),
        ("sigaction", "SIGTERM", "SIG_IGN"),
    ]
    proc = await drv.root.clone_exec(0, [], steps, "/bin/sh", ["sh", "-c", 'pwd; ulimit -n; echo "$ALCOVEPY_STEP"'])
    assert await _output(proc) == (b"/tmp\n64\nseen\n", 0)
    assert await drv.getcwd([]) == os.getcwdb()
    assert await drv.getenv([], "ALCOVEPY_STEP") is None


async def test_a_failed_step_names_itself_and_leaves_nothing(drv: alcovepy.Driver) -> None:
    """A step's errno comes back as its OSError subclass, with the step's index; no child remains."""
    steps = [("chdir", "/"), ("chdir", "/nonexistent/dir")]
    with pytest.raises(FileNotFoundError, match=r"setup step 1: chdir") as info:
        await drv.root.clone_exec(0, [], steps, "/bin/true", ["true"])
    assert vars(info.value)["setup_step"] == 1
    assert await drv.cpid([]) == []
    assert children_of(drv.helper_pid) == []


async def test_exec_failure_and_write_failure(drv: alcovepy.Driver) -> None:
    """The exec's errno, and a parent-side write's errno, are reported the same way."""
    with pytest.raises(FileNotFoundError, match="exec /nonexistent/program"):
        await drv.root.clone_exec(0, [], [], "/nonexistent/program", ["x"])
    with pytest.raises(FileNotFoundError, match="write 0") as info:
        await drv.root.clone_exec(0, [("/nonexistent/{pid}", b"1")], [], "/bin/true", ["true"])
    assert vars(info.value)["setup_step"] == -1
    assert children_of(drv.helper_pid) == []


async def test_step_errors_of_other_kinds(drv: alcovepy.Driver) -> None:
    """A filtered step raises CallFiltered; a bad step is refused before anything is sent."""
    parent = await drv.root.fork()
    await parent.filter([], ["chdir"])
    with pytest.raises(alcovepy.CallFiltered, match="chdir"):
        await parent.clone_exec(0, [], [("chdir", "/")], "/bin/true", ["true"])
    with pytest.raises(ValueError, match="not a call that can run as a setup step"):
        await drv.root.clone_exec(0, [], [("exit", 0)], "/bin/true", ["true"])
    with pytest.raises(ValueError, match="no_such_call"):
        await drv.root.clone_exec(0, [], [("no_such_call",)], "/bin/true", ["true"])
    with pytest.raises(TypeError, match=r"steps\[0\] \(chdir\)"):
        await drv.root.clone_exec(0, [], [("chdir", 42)], "/bin/true", ["true"])
    with pytest.raises(TypeError, match=r"steps\[0\] \(chdir\)"):
        await drv.root.clone_exec(0, [], [("chdir",)], "/bin/true", ["true"])
    assert await drv.getpid([]) == drv.helper_pid  # still serving


@pytest.mark.skipif(not os.path.exists("/proc/self/ns/user"), reason="needs user namespaces")
async def test_user_namespace_maps_written_by_the_parent(drv: alcovepy.Driver) -> None:
    """The parent writes uid_map/gid_map before the child runs: the program is uid 0 inside, pid 1."""
    uid, gid = os.getuid(), os.getgid()
    writes: list[tuple[str, bytes]] = [
        ("/proc/{pid}/setgroups", b"deny"),
        ("/proc/{pid}/uid_map", f"0 {uid} 1".encode()),
        ("/proc/{pid}/gid_map", f"0 {gid} 1".encode()),
    ]
    flags = ["CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNS", "CLONE_NEWUTS"]
    steps = [("sethostname", "inside")]
    try:
        proc = await drv.root.clone_exec(flags, writes, steps, "/bin/sh", ["sh", "-c", "id -u; echo $$; hostname"])
    except PermissionError as exc:
        pytest.skip(f"the kernel refuses user namespaces here: {exc}")
    assert await _output(proc) == (b"0\n1\ninside\n", 0)


async def test_the_program_is_a_child_like_any_other(drv: alcovepy.Driver) -> None:
    """stdin, signals and events work on a clone_exec child as on a spawned one."""
    proc = await drv.root.clone_exec(0, [], [], "/bin/cat", ["cat"])
    await proc.stdin.send(b"echo\n")
    with anyio.fail_after(10):
        assert await proc.stdout.receive() == b"echo\n"
    await drv.kill([], proc.pid or 0, signal.SIGTERM)
    with anyio.fail_after(10):
        assert await proc.wait() == -signal.SIGTERM
