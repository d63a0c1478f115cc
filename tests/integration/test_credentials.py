"""Credentials, sessions, priorities and limits: the real effect of each call.

Every test checks what the kernel says afterwards (the calls' own getters,
/proc, os.getpriority, resource.prlimit), not merely that a call returned.
"""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path

import anyio
import pytest

import alcovepy

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: changes uids, gids and groups")


def pid_of(proc: alcovepy.Process) -> int:
    assert proc.pid is not None
    return proc.pid


def status_ids(pid: int, field: str) -> list[int]:
    """The ids of a line of /proc/PID/status (Uid: real, effective, saved, fs; Groups: ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def capabilities(pid: int, field: str) -> int:
    """A capability mask of /proc/PID/status (CapEff, CapPrm ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def test_getuid_getgid_agree_with_os(drv: alcovepy.Driver) -> None:
    """The helper runs with the test's ids, and a forked child inherits them."""
    assert await drv.getuid([]) == os.getuid()
    assert await drv.getgid([]) == os.getgid()
    assert await drv.getresuid([]) == os.getresuid()
    assert await drv.getresgid([]) == os.getresgid()
    child = await drv.root.fork()
    assert await child.getuid() == os.getuid()
    assert await child.getgid() == os.getgid()
    assert sorted(await child.getgroups()) == sorted(os.getgroups())


@needs_root
async def test_drop_to_nobody_then_privileged_calls_fail(drv: alcovepy.Driver) -> None:
    """setgroups([]) + setresgid + setresuid to 65534 take effect, and root's powers are gone."""
    child = await drv.root.fork()
    pid = pid_of(child)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)  # read while the ids match the test's
    await child.setgroups([])
    await child.setresgid(NOBODY, NOBODY, NOBODY)
    await child.setresuid(NOBODY, NOBODY, NOBODY)
    assert await child.getresuid() == (NOBODY, NOBODY, NOBODY)
    assert await child.getresgid() == (NOBODY, NOBODY, NOBODY)
    assert await child.getuid() == NOBODY
    assert await child.getgid() == NOBODY
    assert await child.getgroups() == []
    assert status_ids(pid, "Uid") == [NOBODY] * 4  # the kernel agrees, fs id included
    assert status_ids(pid, "Gid") == [NOBODY] * 4
    assert capabilities(pid, "CapEff") == 0  # leaving uid 0 dropped every capability
    assert capabilities(pid, "CapPrm") == 0

    with pytest.raises(PermissionError):
        await child.setuid(0)
    with pytest.raises(PermissionError):
        await child.setresuid(0, 0, 0)
    with pytest.raises(PermissionError):
        await child.setgid(0)
    with pytest.raises(PermissionError):
        await child.setgroups([0])
    with pytest.raises(PermissionError):
        await child.chroot("/")
    with pytest.raises(PermissionError):
        await child.setpriority("PRIO_PROCESS", 0, -5)  # lowering nice needs CAP_SYS_NICE
    lowered = alcovepy.Rlimit(min(soft, hard - 1), hard - 1)
    await child.setrlimit("RLIMIT_NOFILE", lowered)  # lowering the hard limit is allowed
    with pytest.raises(PermissionError):
        await child.setrlimit("RLIMIT_NOFILE", alcovepy.Rlimit(lowered.cur, hard))  # raising it back is not
    assert await child.getrlimit("RLIMIT_NOFILE") == lowered

    # the parent kept its ids, and a grandchild inherits the child's
    assert await drv.getresuid([]) == (0, 0, 0)
    grandchild = await child.fork()
    assert await grandchild.getresuid() == (NOBODY, NOBODY, NOBODY)
    assert await grandchild.getgroups() == []


@needs_root
async def test_setuid_setgid_as_root_set_all_three(drv: alcovepy.Driver) -> None:
    """As root, setgid and setuid change real, effective and saved ids at once."""
    child = await drv.root.fork()
    await child.setgid(NOBODY)
    assert await child.getresgid() == (NOBODY, NOBODY, NOBODY)
    await child.setuid(NOBODY)
    assert await child.getresuid() == (NOBODY, NOBODY, NOBODY)
    with pytest.raises(PermissionError) as info:
        await child.setuid(0)
    assert info.value.errno == errno.EPERM


@needs_root
async def test_setresuid_minus_one_and_saved_id(drv: alcovepy.Driver) -> None:
    """-1 leaves an id unchanged; a saved uid of 0 lets the process become root again."""
    child = await drv.root.fork()
    pid = pid_of(child)
    await child.setresgid(-1, NOBODY, -1)
    assert await child.getresgid() == (0, NOBODY, 0)
    await child.setresuid(-1, NOBODY, -1)
    assert await child.getresuid() == (0, NOBODY, 0)
    assert status_ids(pid, "Uid")[:3] == [0, NOBODY, 0]
    with pytest.raises(PermissionError):  # effective uid 65534 has no CAP_SYS_CHROOT
        await child.chroot("/")
    await child.setresuid(-1, 0, -1)  # allowed: 0 is the real and saved uid
    assert await child.getresuid() == (0, 0, 0)
    await child.chroot("/")  # root again
    await child.setresgid(-1, 0, -1)
    assert await child.getresgid() == (0, 0, 0)


@needs_root
async def test_setgroups_many_groups_round_trip(drv: alcovepy.Driver) -> None:
    """A thousand supplementary groups go in and come back (the kernel sorts them)."""
    child = await drv.root.fork()
    groups = list(range(100_000 + 999, 100_000 - 1, -1))  # given in descending order
    await child.setgroups(groups)
    got = await child.getgroups()
    assert sorted(got) == sorted(groups)
    assert len(got) == 1000
    assert sorted(status_ids(pid_of(child), "Groups")) == sorted(groups)
    await child.setgroups([])
    assert await child.getgroups() == []
    with pytest.raises(ValueError, match="out of range"):
        await child.setgroups([2**32])


async def test_setsid_getsid(drv: alcovepy.Driver) -> None:
    """setsid makes the child a session and group leader, seen from itself, its parent and the OS."""
    child = await drv.root.fork()
    pid = pid_of(child)
    assert await child.getsid(0) == os.getsid(drv.helper_pid)  # inherited session
    sid = await child.setsid()
    assert sid == pid
    assert await child.getsid(0) == pid
    assert await child.getsid(pid) == pid
    assert await drv.getsid([], pid) == pid  # the parent sees it too
    assert os.getsid(pid) == pid
    assert await child.getpgrp() == pid
    assert os.getpgid(pid) == pid
    assert await drv.getsid([], 0) == os.getsid(drv.helper_pid)  # the parent is unchanged
    with pytest.raises(PermissionError):  # a group leader cannot start a session
        await child.setsid()
    with pytest.raises(ProcessLookupError):
        await child.getsid(2**31 - 1)


async def test_setpgid_getpgrp(drv: alcovepy.Driver) -> None:
    """setpgid moves a process into its own group, by itself or by its parent."""
    a = await drv.root.fork()
    b = await drv.root.fork()
    pa, pb = pid_of(a), pid_of(b)
    helper_pgrp = os.getpgid(drv.helper_pid)
    assert await drv.getpgrp([]) == helper_pgrp
    assert await a.getpgrp() == helper_pgrp  # inherited
    await a.setpgid(0, 0)  # itself, by itself
    assert await a.getpgrp() == pa
    assert os.getpgid(pa) == pa
    await drv.setpgid([], pb, pb)  # its parent moves it
    assert await b.getpgrp() == pb
    await drv.setpgid([], pb, pa)  # and into a's group, same session
    assert await b.getpgrp() == pa
    assert os.getpgid(pb) == pa
    await b.setsid()
    with pytest.raises(PermissionError):  # another session now: the parent may not move it
        await drv.setpgid([], pb, pa)
    with pytest.raises(ProcessLookupError):
        await drv.setpgid([], 2**31 - 1, 0)


async def test_setpriority_getpriority(drv: alcovepy.Driver) -> None:
    """The nice value set with PRIO_PROCESS is the one os.getpriority sees."""
    child = await drv.root.fork()
    pid = pid_of(child)
    start = await child.getpriority("PRIO_PROCESS", 0)
    assert start == os.getpriority(os.PRIO_PROCESS, pid)
    await child.setpriority("PRIO_PROCESS", 0, 10)
    assert await child.getpriority("PRIO_PROCESS", 0) == 10
    assert os.getpriority(os.PRIO_PROCESS, pid) == 10
    assert await drv.getpriority([], os.PRIO_PROCESS, pid) == 10  # who = the child's pid
    await drv.setpriority([], "prio_process", pid, 19)
    assert await child.getpriority("PRIO_PROCESS", 0) == 19
    assert os.getpriority(os.PRIO_PROCESS, drv.helper_pid) == start  # the parent unchanged
    # -1 is a valid nice value, not an error
    if os.geteuid() == 0:
        await child.setpriority("PRIO_PROCESS", 0, -1)
        assert await child.getpriority("PRIO_PROCESS", 0) == -1
        assert os.getpriority(os.PRIO_PROCESS, pid) == -1
    with pytest.raises(ProcessLookupError):
        await child.getpriority("PRIO_PROCESS", 2**31 - 1)
    with pytest.raises(ProcessLookupError):
        await child.setpriority("PRIO_PROCESS", 2**31 - 1, 5)
    with pytest.raises(alcovepy.UnknownConstant):
        await child.getpriority("PRIO_NOPE", 0)


async def test_setpriority_process_group(drv: alcovepy.Driver) -> None:
    """PRIO_PGRP renices every member of the group, and only them."""
    leader = await drv.root.fork()
    await leader.setsid()  # a group of its own
    member = await leader.fork()
    outsider = await drv.root.fork()
    await leader.setpriority("PRIO_PGRP", 0, 7)  # 0: the caller's group
    assert os.getpriority(os.PRIO_PROCESS, pid_of(leader)) == 7
    assert os.getpriority(os.PRIO_PROCESS, pid_of(member)) == 7
    assert os.getpriority(os.PRIO_PROCESS, pid_of(outsider)) != 7
    assert await drv.getpriority([], "PRIO_PGRP", pid_of(leader)) == 7  # who = the group id
    await drv.setpriority([], "PRIO_PGRP", pid_of(leader), 9)
    assert await member.getpriority("PRIO_PROCESS", 0) == 9


async def test_setrlimit_getrlimit_round_trip(drv: alcovepy.Driver) -> None:
    """Limits set in a child are what resource.prlimit reads for that pid; -1 is RLIM_INFINITY."""
    child = await drv.root.fork()
    pid = pid_of(child)
    for name in ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_FSIZE", "RLIMIT_STACK", "RLIMIT_AS", "RLIMIT_CPU"):
        got = await child.getrlimit(name)
        assert (got.cur, got.max) == resource.prlimit(pid, getattr(resource, name)), name
    assert resource.RLIM_INFINITY == -1  # so the conventions agree

    await child.setrlimit("RLIMIT_CORE", alcovepy.Rlimit(cur=4096, max=8192))
    assert await child.getrlimit("RLIMIT_CORE") == alcovepy.Rlimit(4096, 8192)
    assert resource.prlimit(pid, resource.RLIMIT_CORE) == (4096, 8192)
    await child.setrlimit(resource.RLIMIT_CORE, (0, 8192))  # a tuple and an int constant work too
    assert resource.prlimit(pid, resource.RLIMIT_CORE) == (0, 8192)

    fsize = await child.getrlimit("RLIMIT_FSIZE")
    if fsize.max == -1:
        await child.setrlimit("RLIMIT_FSIZE", alcovepy.Rlimit(1 << 20, -1))
        assert resource.prlimit(pid, resource.RLIMIT_FSIZE) == (1 << 20, resource.RLIM_INFINITY)
        assert await child.getrlimit("RLIMIT_FSIZE") == alcovepy.Rlimit(1 << 20, -1)
        await child.setrlimit("RLIMIT_FSIZE", alcovepy.Rlimit(-1, -1))
        assert await child.getrlimit("RLIMIT_FSIZE") == alcovepy.Rlimit(-1, -1)

    # the other direction: set from the test, read by the child
    resource.prlimit(pid, resource.RLIMIT_CORE, (1234, 5678))
    assert await child.getrlimit("rlimit_core") == alcovepy.Rlimit(1234, 5678)
    assert await drv.getrlimit([], "RLIMIT_CORE") == alcovepy.Rlimit(
        *resource.prlimit(drv.helper_pid, resource.RLIMIT_CORE)
    )

    with pytest.raises(ValueError, match="above max"):  # cur > max: refused before sending
        await child.setrlimit("RLIMIT_CORE", alcovepy.Rlimit(10, 5))
    with pytest.raises(alcovepy.UnknownConstant):
        await child.getrlimit("RLIMIT_NOPE")


async def test_rlimit_nofile_makes_open_fail_with_emfile(drv: alcovepy.Driver) -> None:
    """A soft RLIMIT_NOFILE below the fds in use makes open fail with EMFILE, until raised again."""
    child = await drv.root.fork()
    pid = pid_of(child)
    before = await child.getrlimit("RLIMIT_NOFILE")
    fd = await child.open("/dev/null", ["O_RDONLY", "O_CLOEXEC"], 0)
    await child.close(fd)
    await child.setrlimit("RLIMIT_NOFILE", alcovepy.Rlimit(3, before.max))  # 0-2 are taken
    assert resource.prlimit(pid, resource.RLIMIT_NOFILE) == (3, before.max)
    with pytest.raises(OSError, match="Too many open files") as info:
        await child.open("/dev/null", "O_RDONLY", 0)
    assert info.value.errno == errno.EMFILE
    with pytest.raises(OSError, match="Too many open files") as info:  # fork needs pipes: refused the same way
        await child.fork()
    assert info.value.errno == errno.EMFILE
    assert await child.getpid() == pid  # the loop itself is unharmed
    await child.setrlimit("RLIMIT_NOFILE", before)  # the soft limit may go back up to the hard one
    fd = await child.open("/dev/null", "O_RDONLY", 0)
    await child.close(fd)


async def test_rlimit_fsize_makes_writes_fail_with_efbig(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """Past RLIMIT_FSIZE a write is cut short, then fails with EFBIG (SIGXFSZ ignored)."""
    child = await drv.root.fork()
    await child.sigaction("SIGXFSZ", "SIG_IGN")  # its default action would kill the process
    await child.setrlimit("RLIMIT_FSIZE", alcovepy.Rlimit(10, -1))
    target = tmp_path / "big"
    fd = await child.open(str(target), ["O_WRONLY", "O_CREAT", "O_CLOEXEC"], 0o600)
    assert await child.write(fd, b"x" * 25) == 10  # short: up to the limit
    with pytest.raises(OSError, match="File too large") as info:
        await child.write(fd, b"x")
    assert info.value.errno == errno.EFBIG
    await child.close(fd)
    assert target.stat().st_size == 10


@needs_root
async def test_rlimit_nproc_stops_fork_for_an_unprivileged_user(drv: alcovepy.Driver) -> None:
    """RLIMIT_NPROC 0 makes fork fail with EAGAIN once the process has no privilege to ignore it."""
    child = await drv.root.fork()
    await child.setrlimit("RLIMIT_NPROC", alcovepy.Rlimit(0, 0))
    grandchild = await child.fork()  # root (CAP_SYS_RESOURCE or CAP_SYS_ADMIN, or uid 0) is exempt
    assert await grandchild.getpid() == grandchild.pid
    await child.setgroups([])
    await child.setresgid(NOBODY, NOBODY, NOBODY)
    await child.setresuid(NOBODY, NOBODY, NOBODY)
    with pytest.raises(BlockingIOError) as info:
        await child.fork()
    assert info.value.errno == errno.EAGAIN
    assert await child.getopt("maxchild") > 1  # the kernel refused, not maxchild


async def test_rlimit_nofile_inherited_by_program(drv: alcovepy.Driver) -> None:
    """A limit set before exec is the program's limit."""
    child = await drv.root.fork()
    await child.setrlimit("RLIMIT_NOFILE", alcovepy.Rlimit(64, 128))
    await child.execvp("/bin/sh", ["sh", "-c", "ulimit -Sn; ulimit -Hn"])
    out = b""
    with anyio.fail_after(10):
        while True:
            try:
                out += await child.stdout.receive()
            except anyio.EndOfStream:
                break
        assert await child.wait() == 0
    assert out.split() == [b"64", b"128"]
