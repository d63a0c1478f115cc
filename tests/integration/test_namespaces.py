"""clone, unshare, setns, sethostname and gethostname: the namespaces really
change (pids, host names, mounts, interfaces, ids), and only where asked."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.rootfs import (
    host_text,
    is_mount,
    mountpoints,
    needs_root,
    read_file,
    unprivileged,
    write_file,
)

if TYPE_CHECKING:
    import alcovepy


def ns(pid: int | str, kind: str) -> str:
    """The namespace link of a process, e.g. 'uts:[4026531838]'."""
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def has_ns(kind: str) -> bool:
    return Path(f"/proc/self/ns/{kind}").exists()


# ---- clone: each namespace ---------------------------------------------------


@needs_root("clone(CLONE_NEWPID) needs CAP_SYS_ADMIN")
async def test_clone_newpid_child_is_pid_1(drv: alcovepy.Driver) -> None:
    """In a new pid namespace the child is pid 1, its own child pid 2, while
    the host knows them by other pids."""
    child = await drv.root.clone("CLONE_NEWPID")
    assert child.pid is not None
    assert child.pid != 1
    assert await child.getpid() == 1
    assert ns(child.pid, "pid") != ns("self", "pid")
    status = host_text(f"/proc/{child.pid}/status")
    assert f"NSpid:\t{child.pid}\t1\n" in status  # host pid, then the pid inside
    grandchild = await child.fork()
    assert grandchild.pid == 2  # as its parent in the new namespace sees it
    assert await grandchild.getpid() == 2
    assert await drv.getpid([]) == drv.helper_pid


@needs_root("clone(CLONE_NEWUTS) needs CAP_SYS_ADMIN")
async def test_clone_newuts_hostname_is_private(drv: alcovepy.Driver) -> None:
    """sethostname in a new UTS namespace changes only that namespace."""
    host = socket.gethostname().encode()
    assert await drv.gethostname([]) == host
    child = await drv.root.clone(["CLONE_NEWUTS"])
    assert await child.gethostname() == host  # a copy of the parent's
    await child.sethostname("alcovepy-uts")
    assert await child.gethostname() == b"alcovepy-uts"
    assert await drv.gethostname([]) == host
    assert socket.gethostname().encode() == host
    sibling = await drv.root.fork()
    assert await sibling.gethostname() == host
    assert child.pid is not None
    assert ns(child.pid, "uts") != ns("self", "uts")


@needs_root("clone(CLONE_NEWUTS) needs CAP_SYS_ADMIN")
async def test_sethostname_errors(drv: alcovepy.Driver) -> None:
    """A name longer than the kernel allows is EINVAL; nobody gets EPERM."""
    child = await drv.root.clone("CLONE_NEWUTS")
    with pytest.raises(OSError, match="Invalid argument") as info:
        await child.sethostname("x" * 65)
    assert info.value.errno == errno.EINVAL
    await child.sethostname("x" * 64)  # exactly the limit
    assert await child.gethostname() == b"x" * 64
    assert await drv.gethostname([]) == socket.gethostname().encode()


async def test_unprivileged_process_is_refused(drv: alcovepy.Driver) -> None:
    """Without privileges sethostname, unshare and a clone into a namespace
    other than a user namespace raise PermissionError; nothing changes."""
    nobody = await unprivileged(drv)
    with pytest.raises(PermissionError):
        await nobody.sethostname("not-allowed")
    with pytest.raises(PermissionError):
        await nobody.unshare(["CLONE_NEWNS", "CLONE_NEWNET"])
    with pytest.raises(PermissionError):
        await nobody.clone("CLONE_NEWPID")
    assert await nobody.gethostname() == socket.gethostname().encode()
    assert await nobody.cpid() == []


@needs_root("clone(CLONE_NEWNS) and mount need CAP_SYS_ADMIN")
async def test_clone_newns_mount_is_invisible_outside(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A tmpfs mounted in a new mount namespace (made private first) is seen
    there only: neither the host's mount table nor its directory shows it."""
    target = tmp_path / "mnt"
    target.mkdir()
    child = await drv.root.clone("CLONE_NEWNS")
    assert child.pid is not None
    await child.mount("none", "/", "", ["MS_REC", "MS_PRIVATE"], b"")
    await child.mount("tmpfs", target, "tmpfs", 0, b"size=1m")
    await write_file(child, target / "inside", b"only in the namespace\n", ["O_CREAT", "O_EXCL"])
    assert await read_file(child, target / "inside") == b"only in the namespace\n"
    assert sorted(await child.readdir(target)) == [b".", b"..", b"inside"]
    assert str(target) in mountpoints(child.pid)
    assert str(target) not in mountpoints(os.getpid())
    assert not is_mount(target)
    assert os.listdir(target) == []  # the host sees the empty directory below


@needs_root("clone(CLONE_NEWNET) and mounting sysfs need CAP_SYS_ADMIN")
async def test_clone_newnet_has_only_lo(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A new network namespace has one interface, lo: in a fresh sysfs and in
    /proc/net/dev read from inside."""
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    child = await drv.root.clone(["CLONE_NEWNS", "CLONE_NEWNET"])
    assert child.pid is not None
    await child.mount("none", "/", "", ["MS_REC", "MS_PRIVATE"], b"")
    await child.mount("sysfs", sysfs, "sysfs", ["MS_NOSUID", "MS_NODEV", "MS_NOEXEC"], b"")
    assert sorted(await child.readdir(sysfs / "class" / "net")) == [b".", b"..", b"lo"]
    dev = (await read_file(child, "/proc/net/dev")).decode().splitlines()[2:]  # two header lines
    assert [line.split(":")[0].strip() for line in dev] == ["lo"]
    assert ns(child.pid, "net") != ns("self", "net")
    host_dev = host_text("/proc/net/dev").splitlines()[2:]
    assert "lo" in [line.split(":")[0].strip() for line in host_dev]  # the host's own list is untouched
    assert not is_mount(sysfs)


@needs_root("clone(CLONE_NEWIPC) needs CAP_SYS_ADMIN")
async def test_clone_newipc_has_its_own_ipc_sysctls(drv: alcovepy.Driver) -> None:
    """A new IPC namespace has its own link and its own kernel.msgmni: a
    value written inside is not the host's."""
    host_value = host_text("/proc/sys/kernel/msgmni")
    child = await drv.root.clone("CLONE_NEWIPC")
    assert child.pid is not None
    assert ns(child.pid, "ipc") != ns("self", "ipc")
    new_value = b"%d\n" % (int(host_value) + 7)
    await write_file(child, "/proc/sys/kernel/msgmni", new_value)
    assert await read_file(child, "/proc/sys/kernel/msgmni") == new_value
    assert host_text("/proc/sys/kernel/msgmni") == host_value


@needs_root("clone(CLONE_NEWCGROUP) needs CAP_SYS_ADMIN")
@pytest.mark.skipif(not has_ns("cgroup"), reason="the kernel has no cgroup namespaces")
async def test_clone_newcgroup_roots_the_cgroup_view(drv: alcovepy.Driver) -> None:
    """In a new cgroup namespace the child's own cgroups read as the root '/'."""
    child = await drv.root.clone("CLONE_NEWCGROUP")
    assert child.pid is not None
    assert ns(child.pid, "cgroup") != ns("self", "cgroup")
    lines = (await read_file(child, "/proc/self/cgroup")).decode().splitlines()
    assert lines
    assert all(line.endswith(":/") for line in lines), lines


@needs_root("clone(CLONE_NEWTIME) needs CAP_SYS_ADMIN")
@pytest.mark.skipif(not has_ns("time"), reason="the kernel has no time namespaces (/proc/self/ns/time)")
async def test_clone_newtime(drv: alcovepy.Driver) -> None:
    """CLONE_NEWTIME puts the child (and its children) in a new time
    namespace; the parent and its later children stay in their own, and the
    child is reaped like any other."""
    helper_time = ns(drv.helper_pid, "time")
    child = await drv.root.clone("CLONE_NEWTIME")
    assert child.pid is not None
    child_time = ns(child.pid, "time")
    assert child_time != helper_time
    assert ns(drv.helper_pid, "time_for_children") == helper_time
    grandchild = await child.fork()
    assert grandchild.pid is not None
    assert ns(grandchild.pid, "time") == child_time
    sibling = await drv.root.fork()
    assert sibling.pid is not None
    assert ns(sibling.pid, "time") == helper_time
    both = await drv.root.clone(["CLONE_NEWTIME", "CLONE_NEWUTS"])
    assert both.pid is not None
    assert ns(both.pid, "time") not in (helper_time, child_time)
    assert ns(both.pid, "uts") != ns(drv.helper_pid, "uts")
    await child.exit(3)
    assert await child.wait() == 3  # exit signal SIGCHLD, so reaped and reported


@needs_root("clone(CLONE_NEW*) without a user namespace needs CAP_SYS_ADMIN")
async def test_clone_several_namespaces_at_once(drv: alcovepy.Driver) -> None:
    """Every namespace flag the kernel has, OR-ed in one clone: each link differs."""
    kinds = {
        "CLONE_NEWNS": "mnt",
        "CLONE_NEWUTS": "uts",
        "CLONE_NEWIPC": "ipc",
        "CLONE_NEWPID": "pid",
        "CLONE_NEWNET": "net",
        "CLONE_NEWCGROUP": "cgroup",
        "CLONE_NEWTIME": "time",
    }
    present = {flag: kind for flag, kind in kinds.items() if has_ns(kind)}
    child = await drv.root.clone(list(present))
    assert child.pid is not None
    for kind in present.values():
        assert ns(child.pid, kind) != ns(drv.helper_pid, kind), kind
    assert ns(child.pid, "user") == ns(drv.helper_pid, "user")
    assert await child.getpid() == 1


# ---- user namespaces, unprivileged ----------------------------------------


def userns_refusal_reason(exc: OSError) -> str | None:
    """Why the kernel refuses unprivileged user namespaces here, if a
    setting explains exc; None if nothing does (then exc is a real failure)."""
    settings = {
        "/proc/sys/kernel/unprivileged_userns_clone": "0",
        "/proc/sys/user/max_user_namespaces": "0",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
    }
    for path, refusing in settings.items():
        with contextlib.suppress(OSError):
            if host_text(path).strip() == refusing:
                return f"unprivileged user namespaces are disabled ({path} = {refusing}): {exc}"
    return None


async def test_clone_newuser_unprivileged_maps_itself_to_root(drv: alcovepy.Driver) -> None:
    """An unprivileged process (nobody, under root) clones a user (and UTS)
    namespace, writes its maps itself, and the child is uid 0 there, with
    the power to set its own host name, and still itself seen from outside."""
    nobody = await unprivileged(drv)
    uid, gid = await nobody.getuid(), await nobody.getgid()
    with pytest.raises(PermissionError):
        await nobody.unshare("CLONE_NEWUTS")  # without a user namespace: refused
    try:
        child = await nobody.clone(["CLONE_NEWUSER", "CLONE_NEWUTS"])
    except OSError as exc:
        reason = userns_refusal_reason(exc)
        if reason is None:
            raise
        pytest.skip(reason)
    assert child.pid is not None
    overflow = int(host_text("/proc/sys/kernel/overflowuid"))
    assert await child.getuid() == overflow  # nothing mapped yet
    procdir = f"/proc/{child.pid}"
    await write_file(nobody, f"{procdir}/setgroups", b"deny")
    await write_file(nobody, f"{procdir}/uid_map", b"0 %d 1\n" % uid)
    await write_file(nobody, f"{procdir}/gid_map", b"0 %d 1\n" % gid)
    assert await child.getuid() == 0
    assert await child.getresuid() == (0, 0, 0)
    assert await child.getgid() == 0
    await child.sethostname("userns-root")
    assert await child.gethostname() == b"userns-root"
    assert await drv.gethostname([]) == socket.gethostname().encode()
    assert ns(child.pid, "user") != ns("self", "user")
    status = host_text(f"{procdir}/status")  # as the host sees it
    assert f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\n" in status


# ---- setns and unshare ------------------------------------------------------


@needs_root("clone(CLONE_NEWUTS) and setns need CAP_SYS_ADMIN")
async def test_setns_joins_another_childs_uts_namespace(drv: alcovepy.Driver) -> None:
    """A forked child opens /proc/PID/ns/uts of a cloned one, joins it, and
    then has its host name; a wrong nstype is EINVAL."""
    host = socket.gethostname().encode()
    owner = await drv.root.clone("CLONE_NEWUTS")
    await owner.sethostname("alcovepy-joined")
    joiner = await drv.root.fork()
    assert owner.pid is not None
    assert joiner.pid is not None
    assert await joiner.gethostname() == host
    fd = await joiner.open(f"/proc/{owner.pid}/ns/uts", ["O_RDONLY", "O_CLOEXEC"], 0)
    with pytest.raises(OSError, match="Invalid argument") as info:
        await joiner.setns(fd, "CLONE_NEWNET")  # not a network namespace
    assert info.value.errno == errno.EINVAL
    await joiner.setns(fd, "CLONE_NEWUTS")
    await joiner.close(fd)
    assert await joiner.gethostname() == b"alcovepy-joined"
    assert ns(joiner.pid, "uts") == ns(owner.pid, "uts")
    await joiner.sethostname("changed-by-joiner")  # one namespace, shared
    assert await owner.gethostname() == b"changed-by-joiner"
    assert await drv.gethostname([]) == host


@needs_root("clone(CLONE_NEWNET) and setns need CAP_SYS_ADMIN")
async def test_setns_any_type_into_a_net_namespace(drv: alcovepy.Driver) -> None:
    """nstype 0 accepts any namespace: joining a new net namespace leaves only lo."""
    owner = await drv.root.clone("CLONE_NEWNET")
    joiner = await drv.root.fork()
    assert owner.pid is not None
    assert joiner.pid is not None
    fd = await joiner.open(f"/proc/{owner.pid}/ns/net", "O_RDONLY", 0)
    await joiner.setns(fd, 0)
    await joiner.close(fd)
    assert ns(joiner.pid, "net") == ns(owner.pid, "net")
    dev = (await read_file(joiner, "/proc/net/dev")).decode().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in dev] == ["lo"]


async def test_setns_errors(drv: alcovepy.Driver) -> None:
    """setns on a fd that is not a namespace is EINVAL; on no fd, EBADF."""
    child = await drv.root.fork()
    fd = await child.open("/proc/self/status", "O_RDONLY", 0)
    with pytest.raises(OSError, match="Invalid argument"):
        await child.setns(fd, 0)
    await child.close(fd)
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await child.setns(fd, "CLONE_NEWUTS")
    assert info.value.errno == errno.EBADF


@needs_root("unshare(CLONE_NEWUTS) needs CAP_SYS_ADMIN")
async def test_unshare_newuts_in_a_forked_child(drv: alcovepy.Driver) -> None:
    """unshare(CLONE_NEWUTS) moves a forked child alone: its host name is its
    own, and a child it forks afterwards shares it."""
    host = socket.gethostname().encode()
    child = await drv.root.fork()
    assert child.pid is not None
    assert ns(child.pid, "uts") == ns(drv.helper_pid, "uts")
    await child.unshare("CLONE_NEWUTS")
    assert ns(child.pid, "uts") != ns(drv.helper_pid, "uts")
    await child.sethostname("alcovepy-unshared")
    assert await child.gethostname() == b"alcovepy-unshared"
    grandchild = await child.fork()
    assert await grandchild.gethostname() == b"alcovepy-unshared"
    assert await drv.gethostname([]) == host
    assert socket.gethostname().encode() == host


@needs_root("unshare(CLONE_NEWNS) and mount need CAP_SYS_ADMIN")
async def test_unshare_newns_then_mount(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """After unshare(CLONE_NEWNS) (and a private /), a mount stays in the child."""
    target = tmp_path / "mnt"
    target.mkdir()
    child = await drv.root.fork()
    assert child.pid is not None
    await child.unshare(["CLONE_NEWNS"])
    await child.mount("", "/", "", ["MS_REC", "MS_PRIVATE"], b"")
    await child.mount("tmpfs", target, "tmpfs", 0, b"")
    assert str(target) in mountpoints(child.pid)
    assert not is_mount(target)


@needs_root("unshare(CLONE_NEWTIME) needs CAP_SYS_ADMIN")
@pytest.mark.skipif(not has_ns("time"), reason="the kernel has no time namespaces (/proc/self/ns/time)")
async def test_unshare_newtime_applies_to_later_children(drv: alcovepy.Driver) -> None:
    """unshare(CLONE_NEWTIME) leaves the caller where it is and puts the
    children it forks afterwards in a new time namespace."""
    child = await drv.root.fork()
    assert child.pid is not None
    before = ns(child.pid, "time")
    await child.unshare("CLONE_NEWTIME")
    assert ns(child.pid, "time") == before
    assert ns(child.pid, "time_for_children") != before
    grandchild = await child.fork()
    assert grandchild.pid is not None
    assert ns(grandchild.pid, "time") == ns(child.pid, "time_for_children")
    cloned = await child.clone("CLONE_NEWTIME")  # clone3: a time namespace of its own again
    assert cloned.pid is not None
    assert ns(cloned.pid, "time") not in (before, ns(child.pid, "time_for_children"))


async def test_unshare_errors(drv: alcovepy.Driver) -> None:
    """Flags the kernel refuses are EINVAL, checked before any privilege."""
    child = await drv.root.fork()
    with pytest.raises(OSError, match="Invalid argument") as info:
        await child.unshare(0x1)  # a bit of the exit-signal byte, no namespace
    assert info.value.errno == errno.EINVAL
    nobody = await unprivileged(drv)
    with pytest.raises(OSError, match="Invalid argument"):
        await nobody.unshare(["CLONE_NEWUTS", 0x1])
