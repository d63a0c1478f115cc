"""A chroot sandbox with resource limits, set up one call at a time (needs root).

    python examples/chroot_rlimits.py [asyncio|trio]

This is the first example of alcove's README. A minimal root is built in a
temporary directory from Debian's statically linked busybox
(``apt-get install busybox-static``). A control process forked by the helper
chroots into it, sets RLIMIT_FSIZE=0, RLIMIT_NOFILE=0 and RLIMIT_NPROC=1,
drops to nobody (uid and gid 65534, no supplementary groups), and execs a
busybox shell. We check each step's result before the next one, then show
what the shell says when it tries to create a file (in a world-writable
/tmp) and to fork: both fail, and its complaints arrive on its stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import anyio
import anyio.abc

import alcovepy

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "echo", "touch")
NOBODY = 65534
LIMITS = {"RLIMIT_CORE": 0, "RLIMIT_FSIZE": 0, "RLIMIT_NOFILE": 0, "RLIMIT_NPROC": 1}

# Builtins only (a command substitution would fork). A failed fork ends a
# non-interactive busybox shell with status 2, so the fork comes last.
SCRIPT = r"""
echo "shell running as nobody in the chroot"
echo "1. create a file in the world-writable /tmp: echo hello > /tmp/file"
echo hello > /tmp/file || echo "   -> no file (status $?)"
echo "2. fork a program: ls /"
ls /
echo "   -> ls ran: the fork was not stopped"
exit 0
"""


def make_root(base: Path) -> Path:
    """base/root: /bin/busybox with a few applets, /tmp (mode 1777)."""
    root = base / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    return root


async def relay(stream: anyio.abc.ByteReceiveStream, tag: str) -> None:
    """Print a stream line by line, each line tagged with the stream's name."""
    pending = b""
    async for chunk in stream:
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            print(f"  [{tag}] {line.decode(errors='replace')}", flush=True)
    if pending:
        print(f"  [{tag}] {pending.decode(errors='replace')}", flush=True)


async def main(root: Path) -> None:
    async with alcovepy.open_driver() as drv:
        child = await drv.root.fork()
        print(f"forked {child!r}")
        await child.chroot(str(root))
        await child.chdir("/")
        print(f"chroot {root}: the child sees {sorted(n.decode() for n in await child.readdir('/'))} in /")
        for name, value in LIMITS.items():
            await child.setrlimit(name, alcovepy.Rlimit(cur=value, max=value))
        limits = {name: await child.getrlimit(name) for name in LIMITS}
        print("rlimits: " + ", ".join(f"{name[7:]}={limit.cur}" for name, limit in limits.items()))
        await child.setgroups([])
        await child.setresgid(NOBODY, NOBODY, NOBODY)
        await child.setresuid(NOBODY, NOBODY, NOBODY)
        print(f"uids {await child.getresuid()}, gids {await child.getresgid()}, groups {await child.getgroups()}")
        await child.execve("/bin/busybox", ["sh", "-c", SCRIPT], ["PATH=/bin"])
        print("exec'd /bin/busybox sh:")
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay, child.stdout, "stdout")
            tg.start_soon(relay, child.stderr, "stderr")
        status = await child.wait()
        print(f"exit status: {status} (2: busybox sh gives up when it cannot fork)")
    # leaving open_driver ended the helper and everything it started


def cli() -> int:
    if os.geteuid() != 0:
        print("chroot_rlimits.py needs root: chroot and dropping to uid 65534 need privileges", file=sys.stderr)
        return 1
    if not BUSYBOX.is_file():
        print("chroot_rlimits.py needs /bin/busybox (apt-get install busybox-static)", file=sys.stderr)
        return 1
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    with tempfile.TemporaryDirectory(prefix="alcovepy-chroot-") as tmp:
        anyio.run(main, make_root(Path(tmp)), backend=backend)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
