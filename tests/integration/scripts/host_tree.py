"""A host for test_faults: builds a process tree under a Driver, prints every
pid as one JSON line, then blocks until it is killed.

usage: python host_tree.py asyncio|trio
"""

from __future__ import annotations

import json
import sys

import anyio

import alcovepy


async def main() -> None:
    async with alcovepy.open_driver() as drv:
        p1 = await drv.root.fork()
        p2 = await p1.fork()
        p3 = await p2.fork()
        controls = [p1, p2, p3]
        programs: list[int] = []
        # a program at depth 1, under the helper
        top = await drv.root.fork()
        await top.execvp("/bin/sleep", ["sleep", "1000"])
        # a program at depth 2, under p1
        mid = await p1.fork()
        await mid.execvp("/bin/sleep", ["sleep", "1000"])
        # a program at depth 4 with a background grandchild of its own
        deep = await p3.fork()
        await deep.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & echo $!; wait"])
        line = b""
        while not line.endswith(b"\n"):  # bounded: ends at EOF with EndOfStream
            line += await deep.stdout.receive()
        daemon = int(line)
        programs += [top.pid or 0, mid.pid or 0, deep.pid or 0, daemon]
        print(
            json.dumps({"helper": drv.helper_pid, "controls": [p.pid for p in controls], "programs": programs}),
            flush=True,
        )
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1])
