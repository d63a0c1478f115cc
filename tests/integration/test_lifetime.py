"""Nothing escapes the Driver: leaving open_driver ends the whole tree."""

from __future__ import annotations

import anyio

import alcovepy
from tests.conftest import assert_all_gone, descendants, open_fds, proc_state


async def _tree(drv: alcovepy.Driver) -> set[int]:
    """A tree with control processes at depths 1-4 and programs at several
    depths: one ignoring SIGTERM, one with a background child, one whose
    parent exits (an orphan re-parented to the subreaper control process)."""
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    p3 = await p2.fork()
    p4 = await p3.fork()
    stubborn = await p1.fork()
    await stubborn.execvp("/bin/sh", ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
    assert await stubborn.stdout.receive() == b"ready\n"
    family = await p3.fork()
    await family.execvp("/bin/sh", ["sh", "-c", "sleep 1000 & echo ready; wait"])
    assert await family.stdout.receive() == b"ready\n"
    orphaner = await p4.fork()
    await orphaner.execvp("/bin/sh", ["sh", "-c", "(sleep 1000 & echo ready) ; exit 0"])
    assert await orphaner.stdout.receive() == b"ready\n"
    assert await orphaner.wait() == 0
    tree = descendants(drv.helper_pid)
    assert len(tree) >= 9, tree  # 4 control + 3 programs + 2 sleeps
    return tree


async def test_leaving_the_block_ends_every_descendant() -> None:
    fds = open_fds()
    async with alcovepy.open_driver(shutdown_grace_ms=200) as drv:
        tree = await _tree(drv) | {drv.helper_pid}
        assert all(proc_state(p) not in (None, "Z") for p in tree)
    assert_all_gone(tree)  # gone, not zombies: every one was reaped
    assert open_fds() <= fds


async def test_grace_then_sigkill_is_bounded() -> None:
    """A program that ignores signaloneof is SIGKILLed after the grace period."""
    async with alcovepy.open_driver(shutdown_grace_ms=100) as drv:
        child = await drv.root.fork()
        await child.execvp("/bin/sh", ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
        assert await child.stdout.receive() == b"ready\n"
        tree = descendants(drv.helper_pid) | {drv.helper_pid}
        with anyio.fail_after(10):  # a net: the close itself must take ~0.1 s
            await drv.aclose()
    assert_all_gone(tree)


async def test_closing_a_control_child_ends_its_subtree(drv: alcovepy.Driver) -> None:
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    prog = await p2.fork()
    await prog.execvp("/bin/sleep", ["sleep", "1000"])
    sub = descendants(p1.pid or 0) | {p1.pid or 0}
    await drv.close_stdin(p1.pipeline)  # EOF: p1 shuts its subtree down and exits
    with anyio.fail_after(10):
        assert await p1.wait() == 0
    assert_all_gone(sub)
    assert await drv.getpid([]) == drv.helper_pid


async def test_calls_after_close_raise(drv: alcovepy.Driver) -> None:
    import pytest

    await drv.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await drv.getpid([])
