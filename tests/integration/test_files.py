"""File, directory, ioctl, select and socket calls, checked by their real effect.

The child makes the call; the test looks from outside (os.stat, /proc,
a socket it serves) at what the call did.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
import stat
import struct
import termios
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

import alcovepy

if TYPE_CHECKING:
    from collections.abc import Iterator

SEEK_SET, SEEK_CUR, SEEK_END = os.SEEK_SET, os.SEEK_CUR, os.SEEK_END
O_CLOEXEC_FDINFO = os.O_CLOEXEC  # /proc/PID/fdinfo shows the close-on-exec flag in "flags:"


@contextlib.contextmanager
def raises_errno(code: int) -> Iterator[None]:
    """pytest.raises(OSError) for exactly this errno."""
    with pytest.raises(OSError, match=re.escape(os.strerror(code))) as info:
        yield
    assert info.value.errno == code


def fd_is_open(pid: int | None, fd: int) -> bool:
    return os.path.lexists(f"/proc/{pid}/fd/{fd}")


def fd_target(pid: int | None, fd: int) -> str:
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def fdinfo_flags(pid: int | None, fd: int) -> int:
    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise AssertionError("no flags line")


def sockaddr_un(path: Path) -> bytes:
    """A struct sockaddr_un: sa_family as a native unsigned short, the path, a NUL."""
    return struct.pack("=H", socket.AF_UNIX) + os.fsencode(path) + b"\0"


# ---- open, read, write, lseek, close ------------------------------------------------


async def test_open_write_lseek_read_close(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    path = tmp_path / "f"
    fd = await child.open(path, ["O_CREAT", "O_RDWR", "O_EXCL"], 0o640)
    assert fd_target(child.pid, fd) == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 & ~_umask()
    assert await child.write(fd, b"hello world") == 11
    assert path.read_bytes() == b"hello world"
    assert await child.lseek(fd, 0, SEEK_CUR) == 11
    assert await child.lseek(fd, 6, SEEK_SET) == 6
    assert await child.read(fd, 100) == b"world"
    assert await child.read(fd, 100) == b""  # end of file
    assert await child.lseek(fd, -5, SEEK_END) == 6
    assert await child.lseek(fd, 100, SEEK_SET) == 100  # past the end is allowed
    assert await child.write(fd, b"!") == 1
    assert path.stat().st_size == 101
    await child.close(fd)
    assert not fd_is_open(child.pid, fd)
    with raises_errno(errno.EBADF):
        await child.close(fd)
    with raises_errno(errno.EBADF):
        await child.read(fd, 1)
    with raises_errno(errno.EBADF):
        await child.write(fd, b"x")
    with raises_errno(errno.EBADF):
        await child.lseek(fd, 0, SEEK_SET)


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


async def test_open_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    with pytest.raises(FileNotFoundError):
        await child.open(tmp_path / "missing", "O_RDONLY", 0)
    with pytest.raises(IsADirectoryError):
        await child.open(tmp_path, "O_WRONLY", 0)
    (tmp_path / "x").write_bytes(b"")
    with pytest.raises(FileExistsError):
        await child.open(tmp_path / "x", ["O_CREAT", "O_EXCL", "O_WRONLY"], 0o600)
    with pytest.raises(NotADirectoryError):
        await child.open(tmp_path / "x", ["O_RDONLY", "O_DIRECTORY"], 0)
    with pytest.raises(alcovepy.UnknownConstant):
        await child.open(tmp_path / "x", "O_BOGUS", 0)
    assert await child.getpid() == child.pid


async def test_lseek_on_a_fifo_is_espipe(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    os.mkfifo(tmp_path / "p")
    fd = await child.open(tmp_path / "p", "O_RDWR", 0)
    with raises_errno(errno.ESPIPE):
        await child.lseek(fd, 0, SEEK_SET)
    await child.close(fd)


async def test_write_to_a_pipe_without_reader_is_epipe(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    os.mkfifo(tmp_path / "p")
    rfd = await child.open(tmp_path / "p", ["O_RDONLY", "O_NONBLOCK"], 0)
    wfd = await child.open(tmp_path / "p", ["O_WRONLY", "O_NONBLOCK"], 0)
    await child.close(rfd)
    with pytest.raises(BrokenPipeError):
        await child.write(wfd, b"x")
    assert await child.getpid() == child.pid  # SIGPIPE did not kill it
    await child.close(wfd)


async def test_write_to_stderr_reaches_the_stream(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    assert await child.write(2, b"to stderr") == 9  # fd 2 is the child's, not the loop's
    with anyio.fail_after(10):
        assert await child.stderr.receive() == b"to stderr"


async def test_read_nonblocking_empty_fifo(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    os.mkfifo(tmp_path / "p")
    fd = await child.open(tmp_path / "p", ["O_RDWR", "O_NONBLOCK"], 0)
    with pytest.raises(BlockingIOError):
        await child.read(fd, 10)
    await child.close(fd)


# ---- fcntl --------------------------------------------------------------------------


async def test_fcntl_cloexec_roundtrip(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    (tmp_path / "f").write_bytes(b"")
    fd = await child.open(tmp_path / "f", "O_RDWR", 0)
    assert await child.fcntl(fd, "F_GETFD", 0) == 0
    assert not fdinfo_flags(child.pid, fd) & O_CLOEXEC_FDINFO
    assert await child.fcntl(fd, "F_SETFD", fcntl.FD_CLOEXEC) == 0
    assert await child.fcntl(fd, "f_getfd", 0) == fcntl.FD_CLOEXEC
    assert fdinfo_flags(child.pid, fd) & O_CLOEXEC_FDINFO  # the kernel's view
    assert await child.fcntl(fd, "F_SETFD", 0) == 0
    assert await child.fcntl(fd, "F_GETFD", 0) == 0
    assert not fdinfo_flags(child.pid, fd) & O_CLOEXEC_FDINFO
    assert await child.fcntl(fd, "F_GETFL", 0) & os.O_ACCMODE == os.O_RDWR
    dup = await child.fcntl(fd, "F_DUPFD_CLOEXEC", 100)
    assert dup >= 100
    assert fd_target(child.pid, dup) == str(tmp_path / "f")
    await child.close(dup)
    await child.close(fd)
    with raises_errno(errno.EBADF):
        await child.fcntl(fd, "F_GETFD", 0)


@pytest.mark.parametrize(
    "cmd",
    [fcntl.F_GETLK, fcntl.F_SETLKW, 12, 36, 1035, 9999],  # 12: F_GETLK64 of 32-bit ABIs; F_OFD_GETLK; F_GET_RW_HINT
)
async def test_fcntl_commands_without_an_integer_are_refused(drv: alcovepy.Driver, cmd: int) -> None:
    with pytest.raises(ValueError, match="pointer"):
        await drv.fcntl([], 0, cmd, 0)
    assert await drv.getpid([]) == drv.helper_pid


async def test_fcntl_pipe_size(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    os.mkfifo(tmp_path / "p")
    fd = await child.open(tmp_path / "p", "O_RDWR", 0)
    assert await child.fcntl(fd, "F_SETPIPE_SZ", 1 << 16) >= 1 << 16
    assert await child.fcntl(fd, "F_GETPIPE_SZ", 0) >= 1 << 16
    await child.write(fd, b"x" * 100)
    rfd = os.open(tmp_path / "p", os.O_RDONLY | os.O_NONBLOCK)
    try:  # the same pipe, seen from the test
        assert fcntl.fcntl(rfd, fcntl.F_GETPIPE_SZ) == await child.fcntl(fd, "F_GETPIPE_SZ", 0)
    finally:
        os.close(rfd)
    await child.close(fd)


# ---- directories and links ----------------------------------------------------------


async def test_mkdir_readdir_rmdir(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    d = tmp_path / "d"
    await child.mkdir(d, 0o750)
    assert stat.S_ISDIR(d.stat().st_mode)
    assert stat.S_IMODE(d.stat().st_mode) == 0o750 & ~_umask()
    assert sorted(await child.readdir(d)) == [b".", b".."]
    for name in ("a", "b", "é"):
        (d / name).write_bytes(b"")
    assert sorted(await child.readdir(d)) == sorted([b".", b"..", b"a", b"b", "é".encode()])
    with pytest.raises(FileExistsError):
        await child.mkdir(d, 0o700)
    with pytest.raises(FileNotFoundError):
        await child.mkdir(tmp_path / "no" / "such", 0o700)
    with raises_errno(errno.ENOTEMPTY):
        await child.rmdir(d)
    for name in ("a", "b", "é"):
        (d / name).unlink()
    await child.rmdir(d)
    assert not d.exists()
    with pytest.raises(FileNotFoundError):
        await child.rmdir(d)
    with pytest.raises(FileNotFoundError):
        await child.readdir(d)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        await child.readdir(tmp_path / "file")
    with pytest.raises(NotADirectoryError):
        await child.rmdir(tmp_path / "file")


async def test_link_symlink_unlink(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    orig = tmp_path / "orig"
    orig.write_bytes(b"data")
    await child.link(orig, tmp_path / "hard")
    assert (tmp_path / "hard").stat().st_ino == orig.stat().st_ino
    assert orig.stat().st_nlink == 2
    await child.symlink("orig", tmp_path / "soft")
    assert os.readlink(tmp_path / "soft") == "orig"
    assert (tmp_path / "soft").read_bytes() == b"data"
    await child.symlink(tmp_path / "nowhere", tmp_path / "dangling")  # the target need not exist
    assert (tmp_path / "dangling").is_symlink()
    with pytest.raises(FileExistsError):
        await child.link(orig, tmp_path / "soft")
    with pytest.raises(FileExistsError):
        await child.symlink("x", tmp_path / "hard")
    with pytest.raises(FileNotFoundError):
        await child.link(tmp_path / "missing", tmp_path / "new")
    await child.unlink(tmp_path / "hard")
    assert not (tmp_path / "hard").exists()
    assert orig.stat().st_nlink == 1
    await child.unlink(tmp_path / "soft")  # removes the link, not its target
    assert not (tmp_path / "soft").is_symlink()
    assert orig.exists()
    with pytest.raises(FileNotFoundError):
        await child.unlink(tmp_path / "soft")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        await child.unlink(tmp_path / "dir")


async def test_chmod(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    f = tmp_path / "f"
    f.write_bytes(b"")
    for mode in (0o604, 0o4755, 0o000):
        await child.chmod(f, mode)
        assert stat.S_IMODE(f.stat().st_mode) == mode
    with pytest.raises(FileNotFoundError):
        await child.chmod(tmp_path / "missing", 0o600)


async def test_chown(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    f = tmp_path / "f"
    f.write_bytes(b"")
    before = f.stat()
    await child.chown(f, -1, -1)  # -1 leaves both unchanged
    assert (f.stat().st_uid, f.stat().st_gid) == (before.st_uid, before.st_gid)
    with pytest.raises(FileNotFoundError):
        await child.chown(tmp_path / "missing", -1, -1)
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            await child.chown(f, 0, 0)
        return
    await child.chown(f, 1234, -1)
    assert (f.stat().st_uid, f.stat().st_gid) == (1234, before.st_gid)
    await child.chown(f, -1, 5678)
    assert (f.stat().st_uid, f.stat().st_gid) == (1234, 5678)
    await child.setresuid(1234, 1234, 1234)  # an unprivileged process cannot give files away
    with pytest.raises(PermissionError):
        await child.chown(f, 0, -1)


async def test_mkfifo(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    await child.mkfifo(tmp_path / "p", 0o620)
    st = (tmp_path / "p").stat()
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o620 & ~_umask()
    with pytest.raises(FileExistsError):
        await child.mkfifo(tmp_path / "p", 0o600)
    with pytest.raises(FileNotFoundError):
        await child.mkfifo(tmp_path / "no" / "p", 0o600)


# ---- ioctl ---------------------------------------------------------------------------


async def test_ioctl_fionread_on_a_fifo(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    await child.mkfifo(tmp_path / "p", 0o600)
    fd = await child.open(tmp_path / "p", "O_RDWR", 0)
    assert await child.ioctl(fd, "FIONREAD", b"\0" * 4) == (0, struct.pack("=i", 0))
    assert await child.write(fd, b"x" * 1234) == 1234
    result, buf = await child.ioctl(fd, "FIONREAD", b"\0" * 4)
    assert result == 0
    assert isinstance(buf, bytes)
    assert struct.unpack("=i", buf) == (1234,)
    assert await child.ioctl(fd, termios.FIONREAD, [b"\0" * 4]) == (0, [struct.pack("=i", 1234)])  # a cstruct too
    await child.close(fd)


async def test_ioctl_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    (tmp_path / "f").write_bytes(b"abc")
    fd = await child.open(tmp_path / "f", "O_RDONLY", 0)
    with raises_errno(errno.ENOTTY):
        await child.ioctl(fd, "TIOCGWINSZ", b"\0" * 8)
    await child.close(fd)
    with raises_errno(errno.EBADF):
        await child.ioctl(fd, "FIONREAD", b"\0" * 4)
    assert await child.getpid() == child.pid


@pytest.mark.skipif(not os.path.exists("/dev/ptmx"), reason="needs /dev/ptmx")
async def test_ioctl_winsize_on_a_pty(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    master = await child.open("/dev/ptmx", ["O_RDWR", "O_NOCTTY"], 0)
    winsize = struct.pack("=4H", 24, 80, 640, 480)
    assert await child.ioctl(master, "TIOCSWINSZ", winsize) == (0, winsize)
    assert await child.ioctl(master, "TIOCGWINSZ", b"\0" * 8) == (0, winsize)
    # the test opens the other end and sees the size the child set
    _, ptn = await child.ioctl(master, "TIOCGPTN", b"\0" * 4)
    assert isinstance(ptn, bytes)
    await child.ioctl(master, "TIOCSPTLCK", struct.pack("=i", 0))  # unlockpt
    slave = os.open(f"/dev/pts/{struct.unpack('=I', ptn)[0]}", os.O_RDWR | os.O_NOCTTY)
    try:
        assert fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8) == winsize
        os.write(slave, b"from the test\n")
        with anyio.fail_after(10):
            (ready, _, _) = await child.select([master], [], [], 5)
        assert ready == [master]
        assert (await child.read(master, 100)).startswith(b"from the test")
    finally:
        os.close(slave)
    await child.close(master)


# ---- select ----------------------------------------------------------------------------


async def test_select_timeout_then_readable(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    await child.mkfifo(tmp_path / "p", 0o600)
    fd = await child.open(tmp_path / "p", "O_RDWR", 0)
    start = time.monotonic()
    with anyio.fail_after(10):
        assert await child.select([fd], [], [fd], 0.2) == ([], [], [])
    assert time.monotonic() - start >= 0.19
    with anyio.fail_after(10):
        assert await child.select([], [fd], [], 0) == ([], [fd], [])  # room in the pipe
    await child.write(fd, b"x")
    with anyio.fail_after(10):
        assert await child.select([fd], [fd], [], 5) == ([fd], [fd], [])
    with anyio.fail_after(10):
        assert await child.select([fd], [], [], None) == ([fd], [], [])  # ready: None does not block
    assert await child.read(fd, 10) == b"x"
    await child.close(fd)


async def test_select_bad_fds(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    for bad in (999, 5000):  # not open; beyond FD_SETSIZE
        with raises_errno(errno.EBADF):
            await child.select([bad], [], [], 0)
    assert await child.getpid() == child.pid


# ---- sockets ----------------------------------------------------------------------------


async def test_socket_connect_write_to_a_unix_listener(drv: alcovepy.Driver, tmp_path: Path) -> None:
    path = tmp_path / "s"
    assert len(os.fsencode(path)) < 108  # sun_path
    child = await drv.root.fork()
    async with await anyio.create_unix_listener(path) as listener:
        fd = await child.socket("AF_UNIX", ["SOCK_STREAM", "SOCK_CLOEXEC"], 0)
        assert fd_target(child.pid, fd).startswith("socket:")
        await child.connect(fd, sockaddr_un(path))
        with anyio.fail_after(10):
            stream = await listener.accept()
        async with stream:
            assert await child.write(fd, b"ping from the child") == 19
            with anyio.fail_after(10):
                assert await stream.receive() == b"ping from the child"
            await stream.send(b"pong")
            with anyio.fail_after(10):
                assert await child.read(fd, 100) == b"pong"
            await child.close(fd)
            with anyio.fail_after(10), pytest.raises(anyio.EndOfStream):
                await stream.receive()


async def test_connect_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    fd = await child.socket("AF_UNIX", "SOCK_STREAM", 0)
    with pytest.raises(FileNotFoundError):
        await child.connect(fd, sockaddr_un(tmp_path / "missing"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:  # bound, not listening
        bound.bind(str(tmp_path / "s"))
        with pytest.raises(ConnectionRefusedError):
            await child.connect(fd, sockaddr_un(tmp_path / "s"))
    await child.close(fd)
    with raises_errno(errno.EBADF):
        await child.connect(fd, sockaddr_un(tmp_path / "s"))
    with pytest.raises(ValueError, match="sockaddr"):
        await child.connect(0, b"\0" * 1000)
    with raises_errno(errno.EAFNOSUPPORT):
        await child.socket(1000, "SOCK_STREAM", 0)
    assert await child.getpid() == child.pid


async def test_connect_datagram_and_dissolve(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "d"))
        fd = await child.socket("AF_UNIX", "SOCK_DGRAM", 0)
        await child.connect(fd, sockaddr_un(tmp_path / "d"))
        assert await child.write(fd, b"datagram") == 8
        assert server.recv(100) == b"datagram"
        await child.connect(fd, struct.pack("=H", socket.AF_UNSPEC))  # dissolve the association
        with raises_errno(errno.ENOTCONN):
            await child.write(fd, b"x")
        await child.close(fd)


# ---- large results ------------------------------------------------------------------------


async def test_large_results_do_not_kill_the_process(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    big = tmp_path / "big"
    big.mkdir()
    names = {f"entry-{i:05d}-{'x' * 20}" for i in range(10_000)}
    for name in names:
        (big / name).touch()
    with anyio.fail_after(30):
        listing = await child.readdir(big)
    assert len(listing) == 10_002
    assert set(listing) == {n.encode() for n in names} | {b".", b".."}

    value = os.urandom(512 * 1024).hex()  # 1 MiB of text
    await child.setenv("ALCOVEPY_BIG", value, 1)
    with anyio.fail_after(30):
        env = await child.environ()
    assert f"ALCOVEPY_BIG={value}".encode() in env

    data = os.urandom(1 << 20)
    (tmp_path / "data").write_bytes(data * 8)
    fd = await child.open(tmp_path / "data", "O_RDONLY", 0)
    with anyio.fail_after(30):
        assert await child.read(fd, 1 << 20) == data
        assert await child.read(fd, 7 << 20) == data * 7
        assert await child.read(fd, 16 << 20) == b""
    await child.close(fd)
    assert await child.getpid() == child.pid  # still answering
    assert await child.getenv("ALCOVEPY_BIG") == value.encode()


async def test_large_write(drv: alcovepy.Driver, tmp_path: Path) -> None:
    child = await drv.root.fork()
    fd = await child.open(tmp_path / "out", ["O_CREAT", "O_WRONLY"], 0o600)
    data = os.urandom(4 << 20)
    with anyio.fail_after(30):
        assert await child.write(fd, data) == len(data)
    await child.close(fd)
    assert (tmp_path / "out").read_bytes() == data


# ---- the loop's own fds ---------------------------------------------------------------------


async def test_protocol_fds_are_refused(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    grandchild = await child.fork()
    for proc in (drv.root, child):
        for fd in (0, 1):
            with pytest.raises(PermissionError):
                await proc.close(fd)
            with pytest.raises(PermissionError):
                await proc.write(fd, b"\x00\x00\x00\x05garbage")
        # the parent's ends of a child's pipes are the loop's too
        info = next(c for c in await proc.cpid() if c.state == "loop")
        for fd in (info.stdin, info.stdout, info.stderr, info.ctl):
            with pytest.raises(PermissionError):
                await proc.close(fd)
            with pytest.raises(PermissionError):
                await proc.write(fd, b"x")
    assert await child.getpid() == child.pid
    assert await grandchild.getpid() == grandchild.pid
    assert await drv.getpid([]) == drv.helper_pid
