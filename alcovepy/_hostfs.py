"""Files read and written through the helper, as the helper sees them.

The helper may run elsewhere or with other rights than Python (exec_prefix
"sudo", "ssh"), so what a sandbox needs to know about its host (mounts,
cgroups, kernel settings) is read by the helper, never by Python directly.
"""

from __future__ import annotations

import errno
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alcovepy._driver import Driver

_CHUNK = 1 << 20


async def read_file(drv: Driver, path: str, pipeline: Sequence[int] = ()) -> bytes:
    """The whole content of path."""
    fd = await drv.open(pipeline, path, ["O_RDONLY", "O_CLOEXEC"], 0)
    try:
        parts = []
        while chunk := await drv.read(pipeline, fd, _CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        await drv.close(pipeline, fd)


async def read_text(drv: Driver, path: str, pipeline: Sequence[int] = ()) -> str | None:
    """The content of path as text, or None if it does not exist or cannot be read."""
    try:
        return (await read_file(drv, path, pipeline)).decode(errors="replace")
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None


async def write_file(drv: Driver, path: str, data: bytes, pipeline: Sequence[int] = ()) -> None:
    """Write all of data to an existing file (a cgroup or /proc knob)."""
    fd = await drv.open(pipeline, path, ["O_WRONLY", "O_CLOEXEC"], 0)
    try:
        view = memoryview(data)
        while view:
            view = view[await drv.write(pipeline, fd, bytes(view)) :]
    finally:
        await drv.close(pipeline, fd)


async def is_dir(drv: Driver, path: str, pipeline: Sequence[int] = ()) -> bool:
    """Whether path is a directory (following symlinks)."""
    try:
        fd = await drv.open(pipeline, path, ["O_RDONLY", "O_DIRECTORY", "O_CLOEXEC"], 0)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENOENT):
            return False
        raise
    await drv.close(pipeline, fd)
    return True


class Mount(NamedTuple):
    """One line of /proc/PID/mountinfo: where, its per-mount options, and what is mounted."""

    point: str
    options: frozenset[str]  # rw/ro, nosuid, nodev, noexec, the atime flags
    fstype: str
    super_options: tuple[str, ...]  # e.g. a v1 cgroup's controllers


_ESCAPE = re.compile(r"\\([0-7]{3})")  # mountinfo writes space, tab, newline, backslash as \ooo


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts in a mountinfo text, in its order; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 6:
            continue
        point = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
        fstype = tail[0] if tail else ""
        supers = tuple(tail[2].split(",")) if len(tail) >= 3 else ()
        mounts.append(Mount(point, frozenset(fields[5].split(",")), fstype, supers))
    return mounts
