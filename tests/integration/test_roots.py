"""mount, umount, umount2, chroot and pivot_root: mounts really appear and
disappear, and a program exec'd in a new root sees that root, not the host's.

Every mount is made in a child's own mount namespace (made private first),
so it vanishes with the child; the minimal roots are built from Debian's
statically linked busybox in pytest's tmp_path.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import pytest

from tests.integration.rootfs import (
    MARKER,
    NOBODY,
    make_rootfs,
    mountpoints,
    needs_busybox,
    needs_root,
    read_file,
    run_to_end,
    unprivileged,
    write_file,
)

if TYPE_CHECKING:
    from pathlib import Path

    import alcovepy

SHELL_ENV = ["PATH=/bin"]


async def private_mount_ns(drv: alcovepy.Driver, flags: list[str] | None = None) -> alcovepy.Process:
    """A child in its own mount namespace (plus flags) whose mounts do not propagate."""
    child = await drv.root.clone(["CLONE_NEWNS", *(flags or [])])
    await child.mount("none", "/", "", ["MS_REC", "MS_PRIVATE"], b"")
    return child


# ---- mount, umount, umount2 -------------------------------------------------


@needs_root("clone(CLONE_NEWNS), mount and umount need CAP_SYS_ADMIN")
async def test_mount_tmpfs_then_umount(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A tmpfs mount (with its data options) appears in the child's mount
    table and hides the directory below; umount removes it and shows the
    directory again; a second umount is EINVAL."""
    target = tmp_path / "mnt"
    target.mkdir()
    (target / "below").write_text("the host's file under the mount point\n")
    child = await private_mount_ns(drv)
    assert child.pid is not None
    await child.mount("tmpfs", target, "tmpfs", ["MS_NOSUID", "MS_NODEV"], b"size=64k,mode=0711")
    info = [
        line for line in (await read_file(child, "/proc/self/mountinfo")).split(b"\n") if f" {target} ".encode() in line
    ]
    assert len(info) == 1
    assert b" - tmpfs tmpfs " in info[0]
    for option in (b"nosuid", b"nodev", b"size=64k", b"mode=711"):
        assert option in info[0], option
    assert sorted(await child.readdir(target)) == [b".", b".."]  # "below" is hidden
    await write_file(child, target / "inside", b"x", ["O_CREAT"])
    assert not (target / "inside").exists()  # the host wrote nothing to its directory
    await child.umount(target)
    assert str(target) not in mountpoints(child.pid)
    assert sorted(await child.readdir(target)) == [b".", b"..", b"below"]
    with pytest.raises(OSError, match="Invalid argument") as exc:
        await child.umount(target)
    assert exc.value.errno == errno.EINVAL


@needs_root("clone(CLONE_NEWNS), mount and umount2 need CAP_SYS_ADMIN")
async def test_umount_busy_then_umount2_detach(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A mount with an open file is EBUSY for umount; umount2(MNT_DETACH)
    removes it from the namespace at once while the open file stays usable."""
    target = tmp_path / "mnt"
    target.mkdir()
    child = await private_mount_ns(drv)
    assert child.pid is not None
    await child.mount("tmpfs", target, "tmpfs", 0, b"")
    await write_file(child, target / "kept", b"still readable after the detach\n", ["O_CREAT"])
    fd = await child.open(target / "kept", "O_RDONLY", 0)
    with pytest.raises(OSError, match="busy") as exc:
        await child.umount(target)
    assert exc.value.errno == errno.EBUSY
    assert str(target) in mountpoints(child.pid)
    await child.umount2(target, "MNT_DETACH")
    assert str(target) not in mountpoints(child.pid)
    assert sorted(await child.readdir(target)) == [b".", b".."]
    assert await child.read(fd, 100) == b"still readable after the detach\n"
    await child.close(fd)


@needs_root("clone(CLONE_NEWNS), mount and umount2 need CAP_SYS_ADMIN")
async def test_umount2_detach_of_a_tree(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """umount2(MNT_DETACH) of a mount with a submount removes both."""
    outer = tmp_path / "outer"
    outer.mkdir()
    child = await private_mount_ns(drv)
    assert child.pid is not None
    await child.mount("tmpfs", outer, "tmpfs", 0, b"")
    await child.mkdir(outer / "inner", 0o755)
    await child.mount("tmpfs", outer / "inner", "tmpfs", 0, b"")
    with pytest.raises(OSError, match="busy"):
        await child.umount2(outer, 0)  # a plain umount2 refuses: inner is mounted on it
    await child.umount2(outer, ["MNT_DETACH"])
    assert not {str(outer), str(outer / "inner")} & set(mountpoints(child.pid))


@needs_root("clone(CLONE_NEWNS) and mount need CAP_SYS_ADMIN")
async def test_bind_mount_and_read_only_remount(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """MS_BIND shows a directory at a second place; a remount with MS_RDONLY
    makes writes there fail with EROFS while the source stays writable."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "file").write_text("through the bind mount\n")
    child = await private_mount_ns(drv)
    await child.mount(src, dst, "", "MS_BIND", b"")
    assert await read_file(child, dst / "file") == b"through the bind mount\n"
    await child.mount("", dst, "", ["MS_REMOUNT", "MS_BIND", "MS_RDONLY"], b"")
    with pytest.raises(OSError, match="Read-only file system") as exc:
        await write_file(child, dst / "new", b"x", ["O_CREAT"])
    assert exc.value.errno == errno.EROFS
    await write_file(child, src / "new", b"written by the source\n", ["O_CREAT"])
    assert await read_file(child, dst / "new") == b"written by the source\n"


@needs_root("clone(CLONE_NEWNS) and mount need CAP_SYS_ADMIN")
async def test_mount_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """Missing targets are ENOENT, an unknown filesystem ENODEV, and a
    directory that is not a mount point EINVAL for umount."""
    child = await private_mount_ns(drv)
    with pytest.raises(FileNotFoundError):
        await child.mount("tmpfs", tmp_path / "missing", "tmpfs", 0, b"")
    with pytest.raises(OSError, match="No such device") as exc:
        await child.mount("none", tmp_path, "no-such-filesystem", 0, b"")
    assert exc.value.errno == errno.ENODEV
    with pytest.raises(FileNotFoundError):
        await child.umount(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        await child.umount2(tmp_path / "missing", "MNT_DETACH")
    with pytest.raises(OSError, match="Invalid argument") as exc:
        await child.umount(tmp_path)  # a directory, but nothing is mounted there
    assert exc.value.errno == errno.EINVAL


async def test_unprivileged_mount_chroot_pivot_root_are_refused(drv: alcovepy.Driver) -> None:
    """Without privileges mount, umount, chroot and pivot_root raise
    PermissionError (after finding their paths), and nothing changes."""
    nobody = await unprivileged(drv)
    with pytest.raises(PermissionError):
        await nobody.mount("tmpfs", "/tmp", "tmpfs", 0, b"")
    with pytest.raises(PermissionError):
        await nobody.umount("/proc")
    with pytest.raises(PermissionError):
        await nobody.chroot("/tmp")
    with pytest.raises(PermissionError):
        await nobody.pivot_root("/tmp", "/tmp")
    assert b"etc" in await nobody.readdir("/")


# ---- chroot -----------------------------------------------------------------


@needs_root("chroot needs CAP_SYS_CHROOT")
@needs_busybox
async def test_chroot_shell_sees_the_minimal_root(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """After chroot and chdir("/"), a shell exec'd from the new root lists
    the minimal root (busybox and the marker), not the host's /."""
    root = make_rootfs(tmp_path)
    child = await drv.root.fork()
    await child.chroot(root)
    await child.chdir("/")
    assert await child.getcwd() == b"/"
    assert sorted(await child.readdir("/")) == sorted([b".", b"..", b"bin", b"old", b"tmp", MARKER.encode()])
    with pytest.raises(FileNotFoundError):
        await child.chdir("/etc")  # the host's /etc is out of reach
    await child.execve("/bin/sh", ["sh", "-c", "ls /; cat /" + MARKER + "; echo pid=$$"], SHELL_ENV)
    out, err, status = await run_to_end(child)
    assert (err, status) == (b"", 0)
    lines = out.decode().splitlines()
    assert lines[:5] == [MARKER, "bin", "old", "tmp", "this is the minimal root"]
    assert lines[5] == f"pid={child.pid}"


async def test_chroot_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """chroot to a missing path is ENOENT, to a file ENOTDIR; a failed
    chroot leaves the process's root unchanged."""
    (tmp_path / "file").write_text("")
    child = await drv.root.fork()
    with pytest.raises(FileNotFoundError):
        await child.chroot(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        await child.chroot(tmp_path / "file")
    assert b"etc" in await child.readdir("/")


# ---- pivot_root -------------------------------------------------------------


@needs_root("clone(CLONE_NEWNS|CLONE_NEWPID), mount and pivot_root need CAP_SYS_ADMIN")
@needs_busybox
async def test_pivot_root_into_the_minimal_root(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """In new mount and pid namespaces, pivot_root onto a bind mount of the
    minimal root, then detach the old root: the namespace holds one mount,
    and a shell sees the minimal root with an empty /old."""
    root = make_rootfs(tmp_path)
    child = await private_mount_ns(drv, ["CLONE_NEWPID"])
    assert child.pid is not None
    await child.mount(root, root, "", ["MS_BIND", "MS_REC"], b"")
    await child.chdir(root)
    await child.pivot_root(".", "old")
    await child.chdir("/")
    assert b"etc" in await child.readdir("/old")  # the host's root, for now
    await child.umount2("/old", "MNT_DETACH")
    assert sorted(await child.readdir("/old")) == [b".", b".."]
    assert mountpoints(child.pid) == ["/"]  # as the host reads it: a single mount
    await child.execve("/bin/sh", ["sh", "-c", "ls /; ls -A /old | wc -l; echo pid=$$"], SHELL_ENV)
    out, err, status = await run_to_end(child)
    assert (err, status) == (b"", 0)
    assert out.decode().split() == [MARKER, "bin", "old", "tmp", "0", "pid=1"]


@needs_root("clone(CLONE_NEWNS) and mount need CAP_SYS_ADMIN")
async def test_pivot_root_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """pivot_root refuses a missing path (ENOENT), a file (ENOTDIR), a
    new_root that is not a mount point and a put_old outside new_root
    (EINVAL), and leaves the root where it was."""
    scratch, elsewhere = tmp_path / "scratch", tmp_path / "elsewhere"
    scratch.mkdir()
    elsewhere.mkdir()
    (tmp_path / "file").write_text("")
    child = await private_mount_ns(drv)
    # new mounts of their own, so that no check can stop at "same mount as /" (EBUSY)
    await child.mount("tmpfs", scratch, "tmpfs", 0, b"")
    await child.mount("tmpfs", elsewhere, "tmpfs", 0, b"")
    await child.mkdir(scratch / "dir", 0o755)
    await child.mkdir(scratch / "dir" / "old", 0o755)
    with pytest.raises(FileNotFoundError):
        await child.pivot_root(tmp_path / "missing", scratch / "dir" / "old")
    with pytest.raises(FileNotFoundError):
        await child.pivot_root(scratch, scratch / "missing")
    with pytest.raises(NotADirectoryError):
        await child.pivot_root(tmp_path / "file", scratch)
    with pytest.raises(OSError, match="Invalid argument") as exc:
        await child.pivot_root(scratch / "dir", scratch / "dir" / "old")  # dir is not a mount point
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError, match="Invalid argument") as exc:
        await child.pivot_root(scratch, elsewhere)  # put_old cannot be reached from new_root
    assert exc.value.errno == errno.EINVAL
    assert b"etc" in await child.readdir("/")  # nothing moved


# ---- the chroot sandbox of alcove's README ----------------------------------


async def jail(drv: alcovepy.Driver, root: Path, limits: dict[str, int]) -> alcovepy.Process:
    """chroot into root, drop to nobody, then apply limits (NOFILE last: once
    it is 0 nothing can be opened, but exec works with the inherited stdio)."""
    child = await drv.root.fork()
    await child.chroot(root)
    await child.chdir("/")
    await child.setgroups([])
    await child.setresgid(NOBODY, NOBODY, NOBODY)
    await child.setresuid(NOBODY, NOBODY, NOBODY)
    await child.sigaction("SIGXFSZ", "SIG_IGN")  # EFBIG instead of death
    for resource in sorted(limits, key=lambda r: r == "RLIMIT_NOFILE"):
        await child.setrlimit(resource, (limits[resource], limits[resource]))
    return child


@needs_root("chroot needs CAP_SYS_CHROOT, becoming nobody CAP_SETUID")
@needs_busybox
async def test_chroot_sandbox_cannot_create_files_or_fork(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """alcove's sandbox: chroot, nobody, RLIMIT_FSIZE=0, RLIMIT_NPROC=1 and
    RLIMIT_NOFILE=0. The shell runs, but creating a file and forking fail,
    and busybox says why on stderr."""
    root = make_rootfs(tmp_path)
    limits = {"RLIMIT_FSIZE": 0, "RLIMIT_NPROC": 1, "RLIMIT_NOFILE": 0}
    child = await jail(drv, root, limits)
    with pytest.raises(OSError, match="Too many open files") as exc:
        await child.open("/", "O_RDONLY", 0)
    assert exc.value.errno == errno.EMFILE
    script = "echo started; echo data > /tmp/file; echo went on; ( echo in a subshell ); echo not reached"
    await child.execve("/bin/sh", ["sh", "-c", script], SHELL_ENV)
    out, err, status = await run_to_end(child)
    assert out == b"started\nwent on\n"  # a failed redirection fails one command; a failed fork ends the shell
    assert err == b"sh: can't create /tmp/file: Too many open files\nsh: can't fork: Resource temporarily unavailable\n"
    assert status == 2
    assert not (root / "tmp" / "file").exists()


@needs_root("chroot needs CAP_SYS_CHROOT, becoming nobody CAP_SETUID")
@needs_busybox
async def test_rlimit_fsize_zero_refuses_data(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """With RLIMIT_FSIZE=0 alone a file can be created, but not written to."""
    root = make_rootfs(tmp_path)
    child = await jail(drv, root, {"RLIMIT_FSIZE": 0})
    await child.execve("/bin/sh", ["sh", "-c", "echo data > /tmp/file; ls /tmp"], SHELL_ENV)
    out, err, _ = await run_to_end(child)
    assert out == b"file\n"
    assert b"File too large" in err
    assert (root / "tmp" / "file").stat().st_size == 0


@needs_root("chroot needs CAP_SYS_CHROOT, becoming nobody CAP_SETUID (root ignores RLIMIT_NPROC)")
@needs_busybox
async def test_rlimit_nproc_one_refuses_fork(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """With RLIMIT_NPROC=1 alone nobody's shell can create files but not fork."""
    root = make_rootfs(tmp_path)
    child = await jail(drv, root, {"RLIMIT_NPROC": 1})
    await child.execve(
        "/bin/sh", ["sh", "-c", "echo ok > /tmp/file; echo wrote; ( echo in a subshell ); echo not reached"], SHELL_ENV
    )
    out, err, status = await run_to_end(child)
    assert out == b"wrote\n"
    assert err == b"sh: can't fork: Resource temporarily unavailable\n"
    assert status == 2
    assert (root / "tmp" / "file").read_bytes() == b"ok\n"
