"""The first things a user does: fork, call, exec, talk, wait."""

from __future__ import annotations

import anyio

import alcovepy


async def test_version_and_getpid(drv: alcovepy.Driver) -> None:
    assert await drv.version([]) == alcovepy.__version__
    assert await drv.getpid([]) == drv.helper_pid


async def test_fork_exec_cat(drv: alcovepy.Driver) -> None:
    p1 = await drv.fork([])
    p2 = await drv.fork([p1])
    assert await drv.getpid([p1, p2]) == p2
    await drv.execvp([p1, p2], "/bin/cat", ["/bin/cat"])
    await drv.stdin([p1, p2], b"hello\n")
    assert await drv.stdout([p1, p2]) == b"hello\n"


async def test_process_layer(drv: alcovepy.Driver) -> None:
    child = await drv.root.fork()
    assert child.pid is not None
    assert await child.getpid() == child.pid
    await child.execvp("/bin/cat", ["/bin/cat"])
    await child.stdin.send(b"hi\n")
    assert await child.stdout.receive() == b"hi\n"
    await child.stdin.aclose()
    with anyio.fail_after(10):
        assert await child.wait() == 0
