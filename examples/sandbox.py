"""Run a shell in a fresh sandbox of Linux namespaces, step by step.

    python examples/sandbox.py [asyncio|trio]

The helper clones a control process into new pid, mount, network, UTS and
IPC namespaces (and a user namespace when not root), which then sets up its
environment one call at a time and execs a shell. We stream its output,
then read its exit status. Leaving open_driver ends everything it started.
"""

from __future__ import annotations

import os
import sys

import anyio

import alcovepy

SCRIPT = r"""
echo "pid inside the sandbox: $$"
echo "hostname: $(hostname)"
echo "network interfaces: $(ls /sys/class/net 2>/dev/null | tr '\n' ' ')(from the host's /sys)"
echo "interfaces in this netns: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "environment: $(env | sort | tr '\n' ' ')"
echo "a message on stderr" >&2
exit 7
"""

NAMESPACES = ["CLONE_NEWPID", "CLONE_NEWNS", "CLONE_NEWNET", "CLONE_NEWUTS", "CLONE_NEWIPC"]


async def main() -> None:
    async with alcovepy.open_driver() as drv:
        flags = NAMESPACES if os.geteuid() == 0 else ["CLONE_NEWUSER", *NAMESPACES]
        sandbox = await drv.root.clone(flags)
        print(f"cloned {sandbox!r} into {', '.join(flags)}")
        await sandbox.clearenv()
        await sandbox.setenv("PATH", "/usr/bin:/bin", 1)
        await sandbox.setenv("GREETING", "hello from alcovepy", 1)
        await sandbox.chdir("/")
        await sandbox.execvp("sh", ["sh", "-c", SCRIPT])

        async def relay(stream: anyio.abc.ByteReceiveStream, tag: str) -> None:
            async for chunk in stream:
                for line in chunk.decode().splitlines():
                    print(f"  [{tag}] {line}")

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay, sandbox.stdout, "stdout")
            tg.start_soon(relay, sandbox.stderr, "stderr")
        print(f"exit status: {await sandbox.wait()}")
        print("events:", [ev async for ev in sandbox.events])


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
