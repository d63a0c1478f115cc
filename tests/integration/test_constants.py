"""Constants against the real helper: look-ups, values, and names as call arguments.

The helper resolves names against its own system headers. These tests check
that every ``*_constant`` call answers case-insensitively, answers None for
names it does not know, and gives the values Python's own modules (or the
kernel's fixed ABI) give; and that a call taking a constant accepts an int,
a name, an enum member or (for flags) a list of them OR-ed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import resource
import signal
import socket
import sys
import termios
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

import alcovepy
from alcovepy import _spec
from alcovepy._protocol import Router
from alcovepy._types import WaitStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

    from alcovepy._args import Flags
    from alcovepy._wire import CallSpec

# Every family with a *_constant look-up call; a new one must be added here.
LOOKUP_FAMILIES = (
    "signal",
    "clone",
    "file",
    "fcntl",
    "rlimit",
    "ioctl",
    "mount",
    "prctl",
    "ptrace",
    "seccomp",
    "syscall",
)

# Names every Linux defines, whatever the architecture or libc version.
REQUIRED = {
    "signal": ["SIGHUP", "SIGKILL", "SIGTERM", "SIGCHLD", "SIGSTOP", "SIGRTMIN", "SIGRTMAX"],
    "clone": ["CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET"],
    "file": ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_CLOEXEC", "O_NONBLOCK", "O_DIRECTORY"],
    "fcntl": ["F_GETFD", "F_SETFD", "F_GETFL", "F_SETFL", "FD_CLOEXEC", "F_DUPFD", "F_DUPFD_CLOEXEC"],
    "rlimit": ["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_AS", "RLIMIT_STACK", "RLIMIT_CPU"],
    "ioctl": ["FIONREAD", "FIONBIO", "FIOCLEX", "TIOCGWINSZ", "TIOCSWINSZ", "TCGETS", "TIOCSCTTY"],
    "mount": ["MS_RDONLY", "MS_BIND", "MS_REC", "MS_PRIVATE", "MS_REMOUNT", "MNT_DETACH", "MNT_FORCE"],
    "prctl": ["PR_SET_NAME", "PR_GET_NAME", "PR_SET_PDEATHSIG", "PR_SET_NO_NEW_PRIVS", "PR_SET_SECCOMP"],
    "ptrace": ["PTRACE_TRACEME", "PTRACE_ATTACH", "PTRACE_DETACH", "PTRACE_CONT", "PTRACE_SEIZE"],
    "seccomp": ["SECCOMP_SET_MODE_FILTER", "SECCOMP_RET_ALLOW", "SECCOMP_RET_ERRNO", "SECCOMP_MODE_FILTER"],
    "syscall": ["SYS_getpid", "SYS_read", "SYS_write", "SYS_close", "SYS_execve", "AUDIT_ARCH_X86_64"],
}

# Kernel UAPI values: the same on every Linux architecture (include/uapi/linux).
CLONE_ABI = {
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
MOUNT_ABI = {
    "MS_RDONLY": 1,
    "MS_NOSUID": 2,
    "MS_NODEV": 4,
    "MS_NOEXEC": 8,
    "MS_SYNCHRONOUS": 16,
    "MS_REMOUNT": 32,
    "MS_MANDLOCK": 64,
    "MS_DIRSYNC": 128,
    "MS_NOATIME": 1024,
    "MS_NODIRATIME": 2048,
    "MS_BIND": 4096,
    "MS_MOVE": 8192,
    "MS_REC": 16384,
    "MS_SILENT": 32768,
    "MS_POSIXACL": 1 << 16,
    "MS_UNBINDABLE": 1 << 17,
    "MS_PRIVATE": 1 << 18,
    "MS_SLAVE": 1 << 19,
    "MS_SHARED": 1 << 20,
    "MS_RELATIME": 1 << 21,
    "MS_STRICTATIME": 1 << 24,
    "MS_MGC_VAL": 0xC0ED0000,
    "MNT_FORCE": 1,
    "MNT_DETACH": 2,
    "MNT_EXPIRE": 4,
    "UMOUNT_NOFOLLOW": 8,
}
PRCTL_ABI = {
    "PR_SET_PDEATHSIG": 1,
    "PR_GET_PDEATHSIG": 2,
    "PR_GET_DUMPABLE": 3,
    "PR_SET_DUMPABLE": 4,
    "PR_GET_KEEPCAPS": 7,
    "PR_SET_KEEPCAPS": 8,
    "PR_SET_NAME": 15,
    "PR_GET_NAME": 16,
    "PR_GET_SECCOMP": 21,
    "PR_SET_SECCOMP": 22,
    "PR_CAPBSET_READ": 23,
    "PR_CAPBSET_DROP": 24,
    "PR_SET_CHILD_SUBREAPER": 36,
    "PR_GET_CHILD_SUBREAPER": 37,
    "PR_SET_NO_NEW_PRIVS": 38,
    "PR_GET_NO_NEW_PRIVS": 39,
    "SECCOMP_MODE_DISABLED": 0,
    "SECCOMP_MODE_STRICT": 1,
    "SECCOMP_MODE_FILTER": 2,
}
PTRACE_ABI = {
    "PTRACE_TRACEME": 0,
    "PTRACE_PEEKTEXT": 1,
    "PTRACE_PEEKDATA": 2,
    "PTRACE_PEEKUSR": 3,
    "PTRACE_POKETEXT": 4,
    "PTRACE_POKEDATA": 5,
    "PTRACE_POKEUSR": 6,
    "PTRACE_CONT": 7,
    "PTRACE_KILL": 8,
    "PTRACE_ATTACH": 16,
    "PTRACE_DETACH": 17,
    "PTRACE_SYSCALL": 24,
    "PTRACE_SETOPTIONS": 0x4200,
    "PTRACE_GETEVENTMSG": 0x4201,
    "PTRACE_GETSIGINFO": 0x4202,
    "PTRACE_SETSIGINFO": 0x4203,
    "PTRACE_SEIZE": 0x4206,
    "PTRACE_INTERRUPT": 0x4207,
    "PTRACE_LISTEN": 0x4208,
    "PTRACE_O_TRACESYSGOOD": 1,
    "PTRACE_O_TRACEFORK": 2,
    "PTRACE_O_TRACEEXEC": 16,
    "PTRACE_O_EXITKILL": 1 << 20,
    "PTRACE_EVENT_FORK": 1,
    "PTRACE_EVENT_EXEC": 4,
    "PTRACE_EVENT_STOP": 128,
}
SECCOMP_ABI = {
    "SECCOMP_SET_MODE_STRICT": 0,
    "SECCOMP_SET_MODE_FILTER": 1,
    "SECCOMP_GET_ACTION_AVAIL": 2,
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_RET_KILL_PROCESS": 0x80000000,
    "SECCOMP_RET_KILL_THREAD": 0,
    "SECCOMP_RET_KILL": 0,
    "SECCOMP_RET_TRAP": 0x00030000,
    "SECCOMP_RET_ERRNO": 0x00050000,
    "SECCOMP_RET_TRACE": 0x7FF00000,
    "SECCOMP_RET_LOG": 0x7FFC0000,
    "SECCOMP_RET_ALLOW": 0x7FFF0000,
    "SECCOMP_RET_ACTION_FULL": 0xFFFF0000,
    "SECCOMP_RET_DATA": 0x0000FFFF,
    "SECCOMP_MODE_FILTER": 2,
}
# AUDIT_ARCH_* = ELF machine | 64-bit flag | little-endian flag: the same everywhere.
AUDIT_ABI = {
    "AUDIT_ARCH_X86_64": 0xC000003E,
    "AUDIT_ARCH_I386": 0x40000003,
    "AUDIT_ARCH_AARCH64": 0xC00000B7,
    "AUDIT_ARCH_ARM": 0x40000028,
    "AUDIT_ARCH_RISCV64": 0xC00000F3,
}
# Syscall numbers of the machines CI runs on; None: the architecture lacks the call.
SYSCALL_NUMBERS: dict[str, dict[str, int | None]] = {
    "x86_64": {
        "SYS_read": 0,
        "SYS_write": 1,
        "SYS_open": 2,
        "SYS_close": 3,
        "SYS_getpid": 39,
        "SYS_clone": 56,
        "SYS_fork": 57,
        "SYS_execve": 59,
        "SYS_exit": 60,
        "SYS_kill": 62,
        "SYS_getuid": 102,
        "SYS_exit_group": 231,
        "SYS_openat": 257,
        "SYS_seccomp": 317,
    },
    "aarch64": {
        "SYS_read": 63,
        "SYS_write": 64,
        "SYS_open": None,
        "SYS_close": 57,
        "SYS_getpid": 172,
        "SYS_clone": 220,
        "SYS_fork": None,
        "SYS_execve": 221,
        "SYS_exit": 93,
        "SYS_kill": 129,
        "SYS_getuid": 174,
        "SYS_exit_group": 94,
        "SYS_openat": 56,
        "SYS_seccomp": 277,
    },
}


def from_module(family: str, module: object) -> dict[str, int | None]:
    """The family's names that module also defines, with module's values."""
    names = _spec.CONSTANT_FAMILIES[family]
    return {n: int(getattr(module, n)) for n in names if isinstance(getattr(module, n, None), int)}


def expected_values(family: str) -> dict[str, int | None]:
    """What the helper must answer for (some of) family's names on this machine."""
    if family == "signal":
        return {n: int(s) for n, s in signal.Signals.__members__.items() if n in _spec.CONSTANT_FAMILIES["signal"]}
    if family == "clone":
        found = from_module("clone", os)  # Python 3.12+ has os.CLONE_NEW*
        assert all(CLONE_ABI[n] == v for n, v in found.items()), "os and the UAPI disagree"
        return dict(CLONE_ABI)
    if family == "file":
        return from_module("file", os)
    if family == "fcntl":
        return from_module("fcntl", fcntl)
    if family == "rlimit":
        return from_module("rlimit", resource)
    if family == "ioctl":
        return from_module("ioctl", termios)
    if family == "mount":
        return dict(MOUNT_ABI)
    if family == "prctl":
        return dict(PRCTL_ABI)
    if family == "ptrace":
        return dict(PTRACE_ABI)
    if family == "seccomp":
        return dict(SECCOMP_ABI)
    if family == "syscall":
        return {**AUDIT_ABI, **SYSCALL_NUMBERS.get(platform.machine(), {})}
    raise AssertionError(f"no expected values for family {family!r}")


async def lookup(drv: alcovepy.Driver, family: str, name: str | bytes) -> int | None:
    """drv.<family>_constant([], name)."""
    call: Callable[[Sequence[int], str | bytes], Awaitable[int | None]] = getattr(drv, f"{family}_constant")
    return await call([], name)


@contextlib.contextmanager
def sending_refused() -> Iterator[list[str]]:
    """Make any attempt to number and send a call fail the test; yields what was tried."""
    tried: list[str] = []

    def refuse(self: Router, pipeline: tuple[int, ...], spec: CallSpec[object], args: tuple[object, ...]) -> None:
        tried.append(spec.name)
        raise AssertionError(f"{spec.name}{args!r} was about to be sent to {list(pipeline)}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Router, "call", refuse)
        yield tried


def test_every_lookup_call_is_covered() -> None:
    """The families tested here are exactly those with a *_constant call in the table."""
    lookups = {c.name.removesuffix("_constant") for c in _spec.CALLS if c.name.endswith("_constant")}
    assert lookups == set(LOOKUP_FAMILIES)
    assert set(LOOKUP_FAMILIES) <= set(_spec.CONSTANT_FAMILIES)


# ---- look-ups --------------------------------------------------------------------------


@pytest.mark.parametrize("family", LOOKUP_FAMILIES)
async def test_names_resolve_in_any_case(drv: alcovepy.Driver, family: str) -> None:
    """Every table name that resolves gives the same value in upper, lower (alcove's atoms) and mixed case."""
    resolved = 0
    for name in _spec.CONSTANT_FAMILIES[family]:
        value = await lookup(drv, family, name)
        if value is None:
            continue  # the platform lacks it: allowed, except for REQUIRED names
        resolved += 1
        for spelling in (name.lower(), name.upper(), name.swapcase()):
            assert await lookup(drv, family, spelling) == value, spelling
        assert await lookup(drv, family, name.encode()) == value  # bytes work like str
    for name in REQUIRED[family]:
        assert await lookup(drv, family, name) is not None, f"{family}: {name} did not resolve"
    assert resolved >= len(REQUIRED[family])


async def test_alcove_atoms(drv: alcovepy.Driver) -> None:
    """The lower-case atoms of alcove's documentation resolve to the platform's values."""
    assert await drv.clone_constant([], "clone_newpid") == CLONE_ABI["CLONE_NEWPID"]
    assert await drv.file_constant([], "o_rdonly") == os.O_RDONLY
    assert await drv.file_constant([], "o_cloexec") == os.O_CLOEXEC
    assert await drv.signal_constant([], "sigkill") == signal.SIGKILL
    assert await drv.rlimit_constant([], "rlimit_nofile") == resource.RLIMIT_NOFILE
    assert await drv.fcntl_constant([], "fd_cloexec") == fcntl.FD_CLOEXEC
    assert await drv.ioctl_constant([], "tiocgwinsz") == termios.TIOCGWINSZ
    assert await drv.mount_constant([], "ms_bind") == MOUNT_ABI["MS_BIND"]
    assert await drv.prctl_constant([], "pr_set_name") == PRCTL_ABI["PR_SET_NAME"]
    assert await drv.ptrace_constant([], "ptrace_traceme") == 0
    assert await drv.seccomp_constant([], "seccomp_ret_allow") == SECCOMP_ABI["SECCOMP_RET_ALLOW"]
    assert await drv.syscall_constant([], "audit_arch_x86_64") == AUDIT_ABI["AUDIT_ARCH_X86_64"]


@pytest.mark.parametrize("family", LOOKUP_FAMILIES)
async def test_unknown_names_are_none(drv: alcovepy.Driver, family: str) -> None:
    """A name the family does not have answers None, never an error."""
    first = _spec.CONSTANT_FAMILIES[family][0]
    other = "SIGTERM" if family != "signal" else "O_RDONLY"  # a name of another family
    for name in ("NO_SUCH_CONSTANT", "", first + "X", " " + first, first + " ", first[:-1] + "_", other, "0", "*"):
        assert name.upper() not in {n.upper() for n in _spec.CONSTANT_FAMILIES[family]}, name
        assert await lookup(drv, family, name) is None, name
    assert await drv.getpid([]) == drv.helper_pid


async def test_lookup_arguments_are_checked_before_sending(drv: alcovepy.Driver) -> None:
    """A name with NUL or of the wrong type is refused locally; the Driver goes on."""
    with sending_refused() as tried:
        with pytest.raises(ValueError, match="NUL"):
            await drv.signal_constant([], "SIGTERM\0")
        with pytest.raises(TypeError):
            await drv.file_constant([], 15)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await drv.mount_constant([], None)  # type: ignore[arg-type]
    assert tried == []
    assert await drv.signal_constant([], "SIGTERM") == signal.SIGTERM


# ---- values ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", LOOKUP_FAMILIES)
async def test_values_agree_with_python_and_the_abi(drv: alcovepy.Driver, family: str) -> None:
    """Where Python (signal, os, fcntl, resource, termios) or the kernel ABI fixes a value, the helper agrees."""
    expected = expected_values(family)
    assert len(expected) >= 3, f"too little to compare for {family}"
    wrong = {}
    for name, value in expected.items():
        got = await lookup(drv, family, name)
        if got != value:
            wrong[name] = (got, value)
    assert not wrong, f"{family}: name: (helper, expected): {wrong}"


async def test_python_values_cover_the_families(drv: alcovepy.Driver) -> None:
    """The Python-side comparison is not vacuous: each module shares most of its family's names."""
    assert len(expected_values("signal")) >= 33
    assert len(expected_values("file")) >= 15
    assert len(expected_values("fcntl")) >= 7
    assert len(expected_values("rlimit")) >= 14
    assert {"TIOCGWINSZ", "FIONREAD"} <= set(expected_values("ioctl"))
    assert await drv.ioctl_constant([], "TIOCGWINSZ") == termios.TIOCGWINSZ
    assert await drv.ioctl_constant([], "FIONREAD") == termios.FIONREAD


async def test_mount_nouser_is_bit_31(drv: alcovepy.Driver) -> None:
    """MS_NOUSER is 1 << 31; the header spells it as a (negative) int, so only the low 32 bits are fixed."""
    value = await drv.mount_constant([], "MS_NOUSER")
    assert value is not None
    assert value & 0xFFFFFFFF == 0x80000000


async def test_syscall_numbers_call_what_they_name(drv: alcovepy.Driver) -> None:
    """On any architecture, syscall(SYS_getpid) etc. made by this process answer what os answers."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    checks: dict[str, Callable[[], int]] = {
        "SYS_getpid": os.getpid,
        "SYS_getppid": os.getppid,
        "SYS_getuid": os.getuid,
        "SYS_getgid": os.getgid,
        "SYS_gettid": threading.get_native_id,
    }
    for name, expect in checks.items():
        number = await drv.syscall_constant([], name)
        assert number is not None, name
        assert libc.syscall(ctypes.c_long(number)) == expect(), name


async def test_syscall_numbers_of_this_machine(drv: alcovepy.Driver) -> None:
    """The numbers are this architecture's (and absent calls are absent), not another's."""
    table = SYSCALL_NUMBERS.get(platform.machine())
    if table is None:
        pytest.skip(f"no known syscall numbers for {platform.machine()}")
    arch = {"x86_64": "AUDIT_ARCH_X86_64", "aarch64": "AUDIT_ARCH_AARCH64"}[platform.machine()]
    assert await drv.syscall_constant([], arch) == AUDIT_ABI[arch]
    for name, number in table.items():
        assert await drv.syscall_constant([], name) == number, name


async def test_errno_names_have_the_values_of_python(drv: alcovepy.Driver) -> None:
    """errno_id(n) names a code whose value is n for every errno Python knows (aliases compare by value)."""
    for number in errno.errorcode:
        name = await drv.errno_id([], number)
        assert name is not None, f"errno {number} ({errno.errorcode[number]}) has no name"
        assert getattr(errno, name) == number, (number, name)
    assert await drv.errno_id([], errno.ENOENT) == "ENOENT"
    assert await drv.errno_id([], errno.EOPNOTSUPP) in {"ENOTSUP", "EOPNOTSUPP"}
    assert await drv.errno_id([], errno.EAGAIN) in {"EAGAIN", "EWOULDBLOCK"}
    for number in (0, -1, -errno.ENOENT, 4096, 2**31 - 1, -(2**31)):
        assert await drv.errno_id([], number) is None, number
    with pytest.raises(ValueError, match="out of range"):
        await drv.errno_id([], 2**31)
    with pytest.raises(TypeError):
        await drv.errno_id([], "ENOENT")  # type: ignore[arg-type]


# ---- families without a look-up call, checked through their calls ----------------------


async def test_wait_flags_through_waitpid(drv: alcovepy.Driver) -> None:
    """WNOHANG, WUNTRACED and WCONTINUED given as names, ints or lists behave as Python's os.W* do."""
    parent = await drv.root.fork()
    kid = await parent.fork()
    assert kid.pid is not None
    forms: list[Flags] = ["WNOHANG", "wnohang", os.WNOHANG, ["WNOHANG", "__WALL"], [os.WNOHANG, "wuntraced"]]
    for options in forms:
        with anyio.fail_after(5):  # a wrong value would block the parent's loop
            assert await parent.waitpid(kid.pid, options) == WaitStatus(0, 0), options
    await drv.kill([], kid.pid, "SIGSTOP")
    with anyio.fail_after(10):
        stopped = await parent.waitpid(kid.pid, ["WUNTRACED"])
    assert stopped.pid == kid.pid
    assert stopped.stopsig == signal.SIGSTOP
    await drv.kill([], kid.pid, signal.SIGCONT)
    with anyio.fail_after(10):
        resumed = await parent.waitpid(kid.pid, os.WCONTINUED)
    assert resumed.pid == kid.pid
    assert os.WIFCONTINUED(resumed.status)
    assert await kid.getpid() == kid.pid


def unix_socket_type(pid: int, fd: int) -> int:
    """The SOCK_* type of fd in pid, which must be an AF_UNIX socket (from /proc/net/unix)."""
    link = os.readlink(f"/proc/{pid}/fd/{fd}")
    assert link.startswith("socket:["), link
    inode = link[len("socket:[") : -1]
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[6] == inode:
            return int(fields[4], 16)
    raise AssertionError(f"fd {fd} of {pid} is not an AF_UNIX socket")


def comm(pid: int) -> str:
    """The command name of pid, as /proc shows it."""
    return Path(f"/proc/{pid}/comm").read_text()


def fd_flags(pid: int, fd: int) -> int:
    """The file status flags (and O_CLOEXEC) of fd in pid, from /proc/PID/fdinfo."""
    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise AssertionError("no flags in fdinfo")


async def test_socket_constants_through_socket(drv: alcovepy.Driver) -> None:
    """AF_UNIX/SOCK_* by name, alias, enum member or int make the socket Python's values describe."""
    child = await drv.root.fork()
    assert child.pid is not None
    cases: list[tuple[object, object, int]] = [
        ("AF_UNIX", "SOCK_STREAM", socket.SOCK_STREAM),
        ("af_local", "sock_dgram", socket.SOCK_DGRAM),
        ("PF_UNIX", ["SOCK_SEQPACKET"], socket.SOCK_SEQPACKET),
        (socket.AF_UNIX, socket.SOCK_STREAM, socket.SOCK_STREAM),
        (int(socket.AF_UNIX), int(socket.SOCK_DGRAM), socket.SOCK_DGRAM),
    ]
    for domain, kind, expected in cases:
        fd = await child.socket(domain, kind, 0)  # type: ignore[arg-type]
        assert unix_socket_type(child.pid, fd) == expected, (domain, kind)
        assert not fd_flags(child.pid, fd) & (os.O_CLOEXEC | os.O_NONBLOCK)
        await child.close(fd)
    fd = await child.socket("AF_UNIX", ["SOCK_STREAM", "SOCK_CLOEXEC", socket.SOCK_NONBLOCK], 0)
    assert unix_socket_type(child.pid, fd) == socket.SOCK_STREAM
    assert fd_flags(child.pid, fd) & (os.O_CLOEXEC | os.O_NONBLOCK) == os.O_CLOEXEC | os.O_NONBLOCK


async def test_prio_constants_through_setpriority(drv: alcovepy.Driver) -> None:
    """PRIO_PROCESS as a name or as os.PRIO_PROCESS selects the process, as os.getpriority sees it."""
    child = await drv.root.fork()
    assert child.pid is not None
    await child.setpriority("prio_process", 0, 5)
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == 5
    await child.setpriority(os.PRIO_PROCESS, child.pid, 7)
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == 7
    assert await child.getpriority("PRIO_PROCESS", 0) == 7


# ---- constants as call arguments ---------------------------------------------------------


async def test_signal_argument_forms(drv: alcovepy.Driver) -> None:
    """kill takes a name in any case, an int and a signal.Signals member, and delivers that signal."""
    child = await drv.root.fork()
    assert child.pid is not None
    await child.sigaction("sigusr1", "SIG_INFO")
    await child.sigaction(signal.SIGUSR2, "sig_info")
    for sig, expected in (
        ("sigusr1", signal.SIGUSR1),
        ("SIGUSR2", signal.SIGUSR2),
        (signal.SIGUSR1, signal.SIGUSR1),
        (int(signal.SIGUSR2), signal.SIGUSR2),
    ):
        await drv.kill([], child.pid, sig)
        with anyio.fail_after(10):
            event = await child.event()
        assert isinstance(event, alcovepy.Signal)
        assert event.signal == expected, sig
    await drv.kill([], child.pid, "sigterm")
    with anyio.fail_after(10):
        assert await child.wait() == -signal.SIGTERM


async def test_file_flags_lists_are_ored(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """open's flags as a list of names, ints or both are OR-ed; the fd has exactly those flags."""
    child = await drv.root.fork()
    assert child.pid is not None
    target = tmp_path / "created"
    fd = await child.open(str(target), ["o_wronly", "O_CREAT", "O_TRUNC"], 0o600)
    assert target.exists()
    assert fd_flags(child.pid, fd) & os.O_ACCMODE == os.O_WRONLY
    assert await child.write(fd, b"twelve bytes") == 12
    await child.close(fd)
    forms: list[Flags] = [
        ["O_RDONLY", "O_CLOEXEC"],
        [os.O_RDONLY, "o_cloexec"],
        os.O_RDONLY | os.O_CLOEXEC,
        ("O_CLOEXEC",),
    ]
    for flags in forms:
        fd = await child.open(target, flags, 0)
        got = fd_flags(child.pid, fd)
        assert got & os.O_ACCMODE == os.O_RDONLY, flags
        assert got & os.O_CLOEXEC, flags
        await child.close(fd)
    fd = await child.open(target, "O_RDWR", 0)
    assert not fd_flags(child.pid, fd) & os.O_CLOEXEC
    assert fd_flags(child.pid, fd) & os.O_ACCMODE == os.O_RDWR
    await child.close(fd)


async def test_fcntl_ioctl_and_rlimit_arguments(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """fcntl, ioctl and setrlimit take their constants by name and behave as with Python's values."""
    child = await drv.root.fork()
    assert child.pid is not None
    data = tmp_path / "data"
    data.write_bytes(b"x" * 1234)
    fd = await child.open(data, "O_RDONLY", 0)
    assert await child.fcntl(fd, "F_GETFD", 0) == 0
    await child.fcntl(fd, "f_setfd", fcntl.FD_CLOEXEC)
    assert await child.fcntl(fd, fcntl.F_GETFD, 0) == fcntl.FD_CLOEXEC
    assert await child.fcntl(fd, "F_GETFL", 0) & os.O_ACCMODE == os.O_RDONLY
    for request in ("FIONREAD", "fionread", termios.FIONREAD):  # bytes left to read in a regular file
        result, buf = await child.ioctl(fd, request, b"\0" * 4)
        assert result == 0
        assert isinstance(buf, bytes)
        assert int.from_bytes(buf, sys.byteorder) == 1234, request
    await child.close(fd)
    await child.setrlimit("rlimit_nofile", (64, 64))
    assert await child.getrlimit(resource.RLIMIT_NOFILE) == alcovepy.Rlimit(64, 64)
    assert resource.prlimit(child.pid, resource.RLIMIT_NOFILE) == (64, 64)
    await child.setrlimit(resource.RLIMIT_CORE, alcovepy.Rlimit(0, 0))
    assert resource.prlimit(child.pid, resource.RLIMIT_CORE) == (0, 0)


async def test_prctl_and_mount_arguments(drv: alcovepy.Driver) -> None:
    """prctl options and umount2 flags by name reach the kernel as the right numbers."""
    child = await drv.root.fork()
    assert child.pid is not None
    await child.prctl("pr_set_name", b"konstant\0", None, None, None)
    assert comm(child.pid) == "konstant\n"
    result, name, *_ = await child.prctl(PRCTL_ABI["PR_GET_NAME"], b"\0" * 16, None, None, None)
    assert result == 0
    assert isinstance(name, bytes)
    assert name.rstrip(b"\0") == b"konstant"
    # the kernel refuses unknown umount2 flags with EINVAL before it looks at the path
    with pytest.raises(FileNotFoundError):
        await child.umount2("/nonexistent/alcovepy", ["MNT_DETACH", "umount_nofollow"])
    with pytest.raises(OSError, match="Invalid argument"):
        await child.umount2("/nonexistent/alcovepy", 0x100)


async def test_unknown_names_raise_before_sending(drv: alcovepy.Driver) -> None:
    """A name outside the table raises UnknownConstant (a ValueError) and nothing is sent."""
    child = await drv.root.fork()
    assert child.pid is not None
    with sending_refused() as tried:
        with pytest.raises(alcovepy.UnknownConstant, match="SIGBOGUS"):
            await drv.kill([], child.pid, "SIGBOGUS")
        with pytest.raises(ValueError, match="O_BOGUS"):
            await child.open("/dev/null", ["O_RDONLY", "O_BOGUS"], 0)
        with pytest.raises(alcovepy.UnknownConstant):
            await child.socket("AF_UNIX", "O_RDONLY", 0)  # a name of another family
        with pytest.raises(alcovepy.UnknownConstant):
            await child.waitpid(child.pid, ["WNOHANG", "WBOGUS"])
    assert tried == []
    assert await child.getpid() == child.pid
    assert drv.statistics().pending_requests == 0


async def test_names_the_helper_lacks_raise_unknown_constant(drv: alcovepy.Driver) -> None:
    """A name that reaches the helper but is not in its headers' table (here sent around the
    Python check, as a platform-specific name would) raises UnknownConstant, and the process lives on."""
    child = await drv.root.fork()
    assert child.pid is not None
    with pytest.raises(alcovepy.UnknownConstant, match="SIGCLD"):
        await drv._call([], _spec.CALL_KILL, (child.pid, "SIGCLD"))
    with pytest.raises(alcovepy.UnknownConstant, match="O_BOGUS"):
        await drv._call(child.pipeline, _spec.CALL_OPEN, (b"/dev/null", ["O_RDONLY", "O_BOGUS"], 0))
    assert await child.getpid() == child.pid
