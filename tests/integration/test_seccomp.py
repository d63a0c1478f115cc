"""Seccomp filters built with alcovepy.seccomp, loaded into real processes.

mkdir is the victim: the control loop never calls it on its own, so only the
call the test makes can trip the filter.
"""

from __future__ import annotations

import errno
import os
import platform
import signal
import struct
from typing import TYPE_CHECKING

import anyio
import pytest

import alcovepy
from alcovepy import _spec
from alcovepy import seccomp as sc
from alcovepy._types import Ptr

if TYPE_CHECKING:
    from pathlib import Path

    from alcovepy._args import InOut

MKDIR = ["SYS_mkdir", "SYS_mkdirat"]  # glibc uses either, depending on the architecture
X86_64 = platform.machine() == "x86_64"


async def stderr_of(child: alcovepy.Process) -> bytes:
    """Everything the child writes to stderr, up to end of file."""
    out = b""
    with anyio.fail_after(10):
        try:
            while True:
                out += await child.stderr.receive()
        except anyio.EndOfStream:
            return out


async def test_constants_agree_with_the_helper(drv: alcovepy.Driver) -> None:
    for name in sc.__all__:
        if name.startswith("SECCOMP_RET_"):
            assert await drv.seccomp_constant([], name) == getattr(sc, name), name
    arch = await sc.audit_arch(drv, [])
    if struct.calcsize("P") == 8:
        assert arch & 0x80000000  # __AUDIT_ARCH_64BIT
    if X86_64:
        assert arch == await drv.syscall_constant([], "AUDIT_ARCH_X86_64")
    assert await sc.syscall_numbers(drv, [], ["SYS_getpid", "getppid"]) == [
        await drv.syscall_constant([], "SYS_getpid"),
        await drv.syscall_constant([], "SYS_getppid"),
    ]


async def test_name_errors(drv: alcovepy.Driver) -> None:
    with pytest.raises(alcovepy.UnknownConstant, match="SYS_nosuchcall"):
        await sc.syscall_numbers(drv, [], ["SYS_getpid", "nosuchcall"])
    assert await sc.syscall_numbers(drv, [], ["nosuchcall", "getpid"], missing_ok=True) == [
        await drv.syscall_constant([], "SYS_getpid")
    ]
    with pytest.raises(ValueError, match="no AUDIT_ARCH known for machine 'vax'"):
        await sc.audit_arch(drv, [], machine="vax")
    with pytest.raises(alcovepy.UnknownConstant, match="SECCOMP_RET_BOGUS"):
        await sc.deny_syscalls(drv, [], ["getpid"], "SECCOMP_RET_BOGUS")


async def test_fprog_layout_as_the_helper_sees_it(drv: alcovepy.Driver) -> None:
    prog = sc.deny_list(await sc.audit_arch(drv, []), [1, 2, 3])
    raw, back = await drv.alloc([], sc.fprog(prog))
    assert len(raw) == sc.sizeof("struct sock_fprog")
    assert struct.unpack_from("=H", raw) == (len(prog),)
    assert raw[sc.offsetof("struct sock_fprog", "filter") :] != b"\0" * struct.calcsize("P")  # a real pointer
    assert isinstance(back, list)
    assert back[1] == Ptr(sc.assemble(prog))


async def test_denied_call_kills_the_process_with_sigsys(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    prog = await sc.deny_syscalls(drv, child.pipeline, MKDIR, missing_ok=True)
    await sc.install(drv, child.pipeline, prog)
    assert await child.getpid() == child.pid  # everything else still works
    assert await child.readdir(tmp_path) is not None
    with anyio.fail_after(10), pytest.raises(ProcessLookupError):
        await child.mkdir(tmp_path / "d", 0o700)
    with anyio.fail_after(10):
        assert await child.wait() == -signal.SIGSYS
    assert not (tmp_path / "d").exists()
    assert await drv.getpid([]) == drv.helper_pid  # the parent is untouched


async def test_termsig_event_names_sigsys(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    await sc.install(
        drv, child.pipeline, await sc.deny_syscalls(drv, [], MKDIR, "seccomp_ret_kill_process", missing_ok=True)
    )
    with anyio.fail_after(10), pytest.raises(ProcessLookupError):
        await child.mkdir(tmp_path / "d", 0o700)
    with anyio.fail_after(10):
        assert await child.event() == alcovepy.TermSig(signal.SIGSYS)


async def test_errno_action_fails_the_call_and_the_process_survives(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    prog = await sc.deny_syscalls(drv, child.pipeline, MKDIR, sc.ret_errno(errno.EROFS), missing_ok=True)
    await sc.install(drv, child.pipeline, prog)
    with pytest.raises(OSError, match="Read-only file system") as info:
        await child.mkdir(tmp_path / "d", 0o700)
    assert info.value.errno == errno.EROFS
    assert not (tmp_path / "d").exists()
    await child.mkfifo(tmp_path / "p", 0o600)  # other calls run
    assert (tmp_path / "p").exists()
    grandchild = await child.fork()  # a filter is inherited
    with pytest.raises(OSError, match="Read-only file system"):
        await grandchild.mkdir(tmp_path / "d", 0o700)
    await drv.mkdir([], tmp_path / "d", 0o700)  # the helper has no filter
    assert (tmp_path / "d").is_dir()


async def test_filter_survives_exec(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    await sc.install(
        drv, child.pipeline, await sc.deny_syscalls(drv, [], MKDIR, sc.ret_errno(errno.EROFS), missing_ok=True)
    )
    await child.execvp("mkdir", ["mkdir", str(tmp_path / "d")])
    assert b"Read-only file system" in await stderr_of(child)
    with anyio.fail_after(10):
        assert await child.wait() == 1
    assert not (tmp_path / "d").exists()


async def test_allow_list(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """Allow every syscall the helper knows but mkdir: the rest get EROFS."""
    everything = [n for n in _spec.CONSTANT_FAMILIES["syscall"] if n.startswith("SYS_") and n not in MKDIR]
    child = await drv.root.fork()
    prog = await sc.allow_syscalls(drv, [], everything, sc.ret_errno(errno.EROFS), missing_ok=True)
    await sc.install(drv, child.pipeline, prog)
    assert await child.getpid() == child.pid
    with pytest.raises(OSError, match="Read-only file system"):
        await child.mkdir(tmp_path / "d", 0o700)
    assert not (tmp_path / "d").exists()
    assert b"." in await child.readdir(tmp_path)
    grandchild = await child.fork()
    assert await grandchild.getpid() == grandchild.pid


async def test_wrong_architecture_kills_on_the_next_syscall(drv: alcovepy.Driver) -> None:
    other = "AUDIT_ARCH_I386" if X86_64 else "AUDIT_ARCH_X86_64"
    wrong = await drv.syscall_constant([], other)
    assert wrong is not None
    assert wrong != await sc.audit_arch(drv, [])
    child = await drv.root.fork()
    await child.prctl("PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0)
    with anyio.fail_after(10), pytest.raises(ProcessLookupError):  # it dies writing the reply
        await child.seccomp("SECCOMP_SET_MODE_FILTER", 0, sc.fprog(sc.deny_list(wrong, [])))
    with anyio.fail_after(10):
        assert await child.wait() == -signal.SIGSYS


@pytest.mark.skipif(not X86_64, reason="x32 is an x86_64 ABI")
async def test_deny_list_catches_x32_aliases(drv: alcovepy.Driver) -> None:
    prog = await sc.deny_syscalls(drv, [], ["SYS_mkdir"])
    filter_ = prog[1]
    assert isinstance(filter_, Ptr)
    assert isinstance(filter_.data, bytes)
    insns = sc.disassemble(filter_.data)
    assert sc.jump(sc.BPF_JMP | sc.BPF_JGE | sc.BPF_K, sc.X32_SYSCALL_BIT, 0, 1) in insns


async def test_seccomp_errors(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    arch = await sc.audit_arch(drv, [])
    bad_jump = [sc.jump(sc.BPF_JMP | sc.BPF_JEQ | sc.BPF_K, 0, 5, 0), sc.stmt(sc.BPF_RET | sc.BPF_K, 0)]
    bad_load = [sc.stmt(sc.BPF_LD | sc.BPF_W | sc.BPF_ABS, 1000), sc.stmt(sc.BPF_RET | sc.BPF_K, 0)]
    if await child.getuid() == 0:  # without CAP_SYS_ADMIN and no_new_privs: refused
        await child.setresuid(65534, 65534, 65534)
    with pytest.raises(PermissionError) as refused:
        await child.seccomp("SECCOMP_SET_MODE_FILTER", 0, sc.fprog(sc.deny_list(arch, [])))
    assert refused.value.errno == errno.EACCES
    await child.prctl("PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0)
    assert (await child.prctl("PR_GET_NO_NEW_PRIVS", 0, 0, 0, 0))[0] == 1
    for prog in (bad_jump, bad_load):
        with pytest.raises(OSError, match="Invalid argument") as info:
            await child.seccomp("SECCOMP_SET_MODE_FILTER", 0, sc.fprog(prog))
        assert info.value.errno == errno.EINVAL
    assert (await child.prctl("PR_GET_SECCOMP", 0, 0, 0, 0))[0] == 0  # nothing was loaded
    await child.seccomp("SECCOMP_SET_MODE_FILTER", 0, sc.fprog(sc.deny_list(arch, [])))
    assert (await child.prctl("PR_GET_SECCOMP", 0, 0, 0, 0))[0] == await drv.seccomp_constant([], "SECCOMP_MODE_FILTER")


async def seccomp_result(child: alcovepy.Process, operation: str, flags: str | int, args: InOut) -> object:
    """What seccomp returns: (result, args as the kernel left them)."""
    return await child.seccomp(operation, flags, args)


async def test_new_listener_returns_the_notification_fd(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    await child.prctl("PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0)
    prog = sc.fprog(sc.deny_list(await sc.audit_arch(drv, []), []))
    result = await seccomp_result(child, "SECCOMP_SET_MODE_FILTER", "SECCOMP_FILTER_FLAG_NEW_LISTENER", prog)
    assert isinstance(result, tuple)
    fd = result[0]
    assert os.readlink(f"/proc/{child.pid}/fd/{fd}") == "anon_inode:seccomp notify"


async def test_get_notif_sizes_returns_the_struct(drv: alcovepy.Driver) -> None:
    result = await seccomp_result(drv.root, "SECCOMP_GET_NOTIF_SIZES", 0, b"\0" * 6)
    assert isinstance(result, tuple)
    assert struct.unpack("=3H", result[1])[2] == sc.sizeof("struct seccomp_data")
