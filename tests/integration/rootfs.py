"""Shared pieces of the namespace and root tests.

A minimal root filesystem built from Debian's statically linked busybox, a
way to run a program to its end, and file I/O done by a process of the tree
through the open/read/write/close calls (so it happens in that process's
namespaces, with its credentials).
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

if TYPE_CHECKING:
    import alcovepy

BUSYBOX = Path("/bin/busybox")
# Applets the tests run by name inside the new root.
APPLETS = ("sh", "ls", "cat", "echo", "touch", "id", "hostname", "wc")
# A file only the minimal root has: seeing it proves which root a program sees.
MARKER = "ALCOVEPY_MINIMAL_ROOT"
NOBODY = 65534
# How long a program of these tests may run: they all finish in well under a second.
RUN_SECONDS = 20


def needs_root(what: str) -> pytest.MarkDecorator:
    """Skip, saying what needs root, when the tests do not run as root."""
    return pytest.mark.skipif(os.geteuid() != 0, reason=f"needs root: {what}")


def elf_interpreter(path: Path) -> bool | None:
    """Whether the ELF file at path names a program interpreter (is dynamic);
    None if it is not an ELF file this parser understands."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, phentsize, phnum = struct.unpack_from(end + "Q14xHH", data, 0x20)
    else:
        phoff, phentsize, phnum = struct.unpack_from(end + "I10xHH", data, 0x1C)
    pt_interp = 3
    return any(struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] == pt_interp for i in range(phnum))


def busybox_problem() -> str | None:
    """Why /bin/busybox cannot make a minimal root, or None if it can."""
    if not BUSYBOX.is_file():
        return "needs /bin/busybox (Debian's busybox-static) to build a minimal root"
    dynamic = elf_interpreter(BUSYBOX.resolve())
    if dynamic is None:
        return "/bin/busybox is not an ELF executable"
    if dynamic:
        return "/bin/busybox is dynamically linked: a minimal root needs busybox-static"
    return None


_BUSYBOX_PROBLEM = busybox_problem()
needs_busybox = pytest.mark.skipif(_BUSYBOX_PROBLEM is not None, reason=_BUSYBOX_PROBLEM or "")


def make_rootfs(base: Path) -> Path:
    """Build base/root: /bin with busybox and its applets, a world-writable
    /tmp, an empty /old (for pivot_root) and the marker file."""
    root = base / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "old").mkdir()
    (root / MARKER).write_text("this is the minimal root\n")
    return root


async def run_to_end(proc: alcovepy.Process) -> tuple[bytes, bytes, int]:
    """Read a program's stdout and stderr to their ends, then its exit status
    (within RUN_SECONDS)."""
    out, err = bytearray(), bytearray()

    async def drain(stream: anyio.abc.ByteReceiveStream, into: bytearray) -> None:
        async for chunk in stream:
            into += chunk

    with anyio.fail_after(RUN_SECONDS):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, proc.stdout, out)
            tg.start_soon(drain, proc.stderr, err)
        status = await proc.wait()
    return bytes(out), bytes(err), status


async def read_file(proc: alcovepy.Process, path: str | Path) -> bytes:
    """The whole content of path, read by proc itself."""
    fd = await proc.open(str(path), "O_RDONLY", 0)
    try:
        data = bytearray()
        while chunk := await proc.read(fd, 65536):
            data += chunk
        return bytes(data)
    finally:
        await proc.close(fd)


async def write_file(proc: alcovepy.Process, path: str | Path, data: bytes, flags: list[str] | None = None) -> None:
    """Write data to path (opened O_WRONLY plus flags), by proc itself."""
    fd = await proc.open(str(path), ["O_WRONLY", *(flags or [])], 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[await proc.write(fd, bytes(view)) :]
    finally:
        await proc.close(fd)


async def unprivileged(drv: alcovepy.Driver) -> alcovepy.Process:
    """A control process without privileges. Under root it drops to nobody
    (no groups; the capabilities go with the uids) and makes itself dumpable
    again, so that its /proc files and its children's belong to it rather
    than to root; otherwise it is a plain fork of the unprivileged helper."""
    proc = await drv.root.fork()
    if os.geteuid() == 0:
        await proc.setgroups([])
        await proc.setresgid(NOBODY, NOBODY, NOBODY)
        await proc.setresuid(NOBODY, NOBODY, NOBODY)
        await proc.prctl("PR_SET_DUMPABLE", 1, 0, 0, 0)
        assert await proc.getresuid() == (NOBODY, NOBODY, NOBODY)
    assert await proc.getuid() != 0
    return proc


def host_text(path: str | Path) -> str:
    """A file read by the test process itself (in the host's namespaces)."""
    return Path(path).read_text()


def is_mount(path: str | Path) -> bool:
    """Whether path is a mount point for the test process."""
    return os.path.ismount(path)


def mountpoints(pid: int) -> list[str]:
    """The mount points in the mount namespace of pid, from /proc/PID/mountinfo,
    as that process sees them (field 5; octal escapes left as they are)."""
    return [line.split()[4] for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]
