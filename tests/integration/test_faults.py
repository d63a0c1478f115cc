"""Faults: the helper, a middle process or the host dies; a call reaches a
program. Nothing hangs, every pending call fails with the right error, and
no process of the tree is left behind."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

import alcovepy
from tests.conftest import descendants, open_fds, proc_state

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

SCRIPTS = Path(__file__).resolve().parent / "scripts"


async def wait_dead(pids: set[int]) -> dict[int, str | None]:
    """Wait until every pid is gone from /proc or a zombie; return the states
    of the ones still alive.

    Polls /proc (bounded): the death of an orphan is a kernel fact with no
    event for us to await.
    """
    alive: dict[int, str | None] = {}
    for _ in range(200):
        alive = {p: s for p in pids if (s := proc_state(p)) not in (None, "Z")}
        if not alive:
            break
        await anyio.sleep(0.05)
    return alive


async def test_helper_sigkilled_fails_pending_calls_and_ends_streams() -> None:
    """When the helper is SIGKILLed, its direct children are re-parented to
    PID 1, which does not reap them here: the conftest check (every process
    gone, not a zombie) cannot hold, so this test checks "gone or zombie"."""
    fds = open_fds()
    async with alcovepy.open_driver() as drv:
        p1 = await drv.fork([])
        p2 = await drv.fork([p1])
        cat = await drv.root.fork()
        await cat.execvp("/bin/cat", ["cat"])
        deep_cat = await drv.fork([p1, p2])
        await drv.execvp([p1, p2, deep_cat], "/bin/cat", ["cat"])
        to_exec = await drv.fork([p1, p2])
        await drv.kill([], p1, "SIGSTOP")  # nothing through p1 is answered from now on
        for _ in range(5000):  # stopped for sure: only then does the helper's death SIGHUP+SIGCONT it
            if proc_state(p1) == "T":
                break
            await anyio.sleep(0.001)
        assert proc_state(p1) == "T"
        tree = descendants(drv.helper_pid) | {drv.helper_pid}
        assert {p1, p2, cat.pid, deep_cat} <= tree

        outcomes: dict[str, object] = {}

        async def record(name: str, call: Awaitable[object]) -> None:
            try:
                outcomes[name] = await call
            except Exception as exc:
                outcomes[name] = exc

        with anyio.fail_after(5):  # a net: all must end promptly after the kill
            async with anyio.create_task_group() as tg:
                tg.start_soon(record, "getpid p1", drv.getpid([p1]))
                tg.start_soon(record, "getpid p1 p2", drv.getpid([p1, p2]))
                tg.start_soon(record, "getcwd p1 p2", drv.getcwd([p1, p2]))
                tg.start_soon(record, "stdin deep", drv.stdin([p1, p2, deep_cat], b"lost\n"))
                tg.start_soon(record, "stdout cat", drv.stdout(cat.pipeline))
                tg.start_soon(record, "stdout deep", drv.stdout([p1, p2, deep_cat]))
                tg.start_soon(record, "receive cat", cat.stdout.receive())
                tg.start_soon(record, "stderr cat", cat.stderr.receive())
                tg.start_soon(record, "event cat", cat.event())
                tg.start_soon(record, "wait cat", cat.wait())
                tg.start_soon(record, "exec", drv.execvp([p1, p2, to_exec], "/bin/true", ["true"]))
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(record, "behind exec", drv.getpid([p1, p2, to_exec]))  # waits for the exec
                await anyio.wait_all_tasks_blocked()
                assert drv.statistics().pending_requests == 4 + 1  # 4 calls + 1 stdin write
                os.kill(drv.helper_pid, signal.SIGKILL)

        for name in ("getpid p1", "getpid p1 p2", "getcwd p1 p2", "stdin deep", "exec", "behind exec"):
            assert isinstance(outcomes[name], alcovepy.HelperExited), (name, outcomes[name])
        assert outcomes["stdout cat"] == b""
        assert outcomes["stdout deep"] == b""
        assert isinstance(outcomes["receive cat"], anyio.EndOfStream)
        assert isinstance(outcomes["stderr cat"], anyio.EndOfStream)
        assert outcomes["event cat"] is None
        # its exit status can no longer be known; either error says so
        assert isinstance(outcomes["wait cat"], alcovepy.HelperExited | ProcessLookupError), outcomes["wait cat"]

        with anyio.fail_after(5):
            for later in (drv.getpid([]), drv.getpid([p1]), drv.fork([]), cat.getpid()):
                with pytest.raises(alcovepy.HelperExited):
                    await later
            with pytest.raises(alcovepy.HelperExited):
                await drv.stdin(cat.pipeline, b"x")
            assert await drv.stdout(cat.pipeline) == b""
            with pytest.raises(anyio.EndOfStream):
                await cat.stdout.receive()
        assert drv.statistics().pending_requests == 0
        with anyio.fail_after(10):
            await drv.aclose()  # leaving open_driver does not hang either
    assert await wait_dead(tree) == {}
    assert open_fds() <= fds


async def test_helper_sigkilled_while_writes_are_blocked() -> None:
    """The helper is stopped, so the pipe to it fills and writers block
    mid-frame; then it is SIGKILLed: every blocked call raises HelperExited
    itself (an `except alcovepy.HelperExited` must catch it)."""
    fds = open_fds()
    async with alcovepy.open_driver() as drv:
        progs = [await drv.root.spawn("/bin/sleep", ["sleep", "1000"]) for _ in range(4)]
        tree = descendants(drv.helper_pid) | {drv.helper_pid}
        os.kill(drv.helper_pid, signal.SIGSTOP)  # it reads nothing more
        outcomes: list[object] = []

        async def record(call: Awaitable[object]) -> None:
            try:
                outcomes.append(await call)
            except Exception as exc:
                outcomes.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for prog in progs:  # 4 x 8 MiB: far more than the 1 MiB pipe holds
                    tg.start_soon(record, prog.stdin.send(b"z" * (8 << 20)))
                tg.start_soon(record, drv.getpid([]))
                await anyio.wait_all_tasks_blocked()
                os.kill(drv.helper_pid, signal.SIGKILL)
        assert len(outcomes) == 5
        assert all(isinstance(o, alcovepy.HelperExited) for o in outcomes), outcomes
        with anyio.fail_after(10):
            await drv.aclose()
    assert await wait_dead(tree) == {}
    assert open_fds() <= fds


async def test_helper_sigkilled_while_idle_then_leaving_does_not_hang() -> None:
    fds = open_fds()
    with anyio.fail_after(15):
        async with alcovepy.open_driver() as drv:
            child = await drv.root.fork()
            prog = await child.fork()
            await prog.execvp("/bin/sleep", ["sleep", "1000"])
            tree = descendants(drv.helper_pid) | {drv.helper_pid}
            os.kill(drv.helper_pid, signal.SIGKILL)
            with pytest.raises(alcovepy.HelperExited):
                await drv.getpid([])
            with pytest.raises(anyio.EndOfStream):
                await prog.stdout.receive()
    assert await wait_dead(tree) == {}
    assert open_fds() <= fds


async def _stop_tasks_calling_in_bursts(
    drv: alcovepy.Driver, stop: Callable[[], Awaitable[None]], expected: type[BaseException]
) -> list[BaseException]:
    """16 tasks call getpid in a loop, their calls written in bursts (one
    task collects the others' frames for a pass of the loop, then writes
    them); after 2,000 calls, stop() runs. Returns what ended each task,
    which must be an `expected`."""
    outcomes: list[BaseException] = []
    calls = 0
    busy = anyio.Event()

    async def worker() -> None:
        nonlocal calls
        try:
            while True:
                assert await drv.root.getpid() == drv.helper_pid
                calls += 1
                if calls == 2000:
                    busy.set()
        except expected as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(16):
            tg.start_soon(worker)
        await busy.wait()
        await stop()
    return outcomes


async def test_helper_sigkilled_while_tasks_call_in_bursts() -> None:
    """The helper is SIGKILLed while tasks call in bursts: every task's call
    ends with HelperExited, whatever stage of collecting or writing its
    frame was at, and none hangs."""
    fds = open_fds()

    async def kill_helper() -> None:
        os.kill(drv.helper_pid, signal.SIGKILL)

    with anyio.fail_after(15):
        async with alcovepy.open_driver() as drv:
            tree = {drv.helper_pid}
            outcomes = await _stop_tasks_calling_in_bursts(drv, kill_helper, alcovepy.HelperExited)
    assert len(outcomes) == 16, outcomes
    assert await wait_dead(tree) == {}
    assert open_fds() <= fds


async def test_driver_closed_while_tasks_call_in_bursts() -> None:
    """The Driver is closed while tasks call in bursts: every task's call
    ends with ClosedResourceError (pending ones, and any made after), none
    hangs, and the helper winds its tree down as on a normal exit."""
    fds = open_fds()
    with anyio.fail_after(15):
        async with alcovepy.open_driver() as drv:
            tree = {drv.helper_pid}
            outcomes = await _stop_tasks_calling_in_bursts(drv, drv.aclose, anyio.ClosedResourceError)
    assert len(outcomes) == 16, outcomes
    assert await wait_dead(tree) == {}
    assert open_fds() <= fds


async def test_killing_a_middle_process(drv: alcovepy.Driver) -> None:
    p1 = await drv.fork([])
    p2 = await drv.fork([p1])
    p3 = await drv.fork([p1, p2])
    q1 = await drv.fork([])
    below = await drv.fork([p1, p2, p3])
    await drv.execvp([p1, p2, p3, below], "/bin/cat", ["cat"])
    to_exec = await drv.fork([p1, p2, p3])
    await drv.kill([p1], p2, "SIGSTOP")  # calls through p2 now stay pending
    outcomes: dict[str, object] = {}

    async def record(name: str, call: Awaitable[object]) -> None:
        try:
            outcomes[name] = await call
        except ProcessLookupError as exc:
            outcomes[name] = exc

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(record, "getpid p3", drv.getpid([p1, p2, p3]))
            tg.start_soon(record, "getpid p2", drv.getpid([p1, p2]))
            tg.start_soon(record, "stdout below", drv.stdout([p1, p2, p3, below]))
            tg.start_soon(record, "exec", drv.execvp([p1, p2, p3, to_exec], "/bin/true", ["true"]))
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(record, "behind exec", drv.getpid([p1, p2, p3, to_exec]))  # waits for the exec
            await anyio.wait_all_tasks_blocked()
            assert drv.statistics().pending_requests == 3
            await drv.kill([p1], p2, "SIGKILL")
    for name in ("getpid p3", "getpid p2", "exec", "behind exec"):
        assert isinstance(outcomes[name], ProcessLookupError), (name, outcomes)
    assert outcomes["stdout below"] == b""  # a descendant's streams end

    with anyio.fail_after(10):
        for pl in ([p1, p2], [p1, p2, p3], [p1, p2, p3, below]):
            with pytest.raises(ProcessLookupError):
                await drv.getpid(pl)
        assert await drv.getpid([p1]) == p1
        assert await drv.getpid([q1]) == q1
        assert await drv.wait([p1, p2]) == -signal.SIGKILL
        events = [ev async for ev in drv.process([p1, p2]).events]
    assert events == [alcovepy.TermSig(signal.SIGKILL)]
    assert drv.statistics().pending_requests == 0
    # p3 lost its parent: it sees EOF, ends its subtree and exits
    assert await wait_dead({p2, p3, below, to_exec}) == {}
    assert await drv.getpid([p1]) == p1


async def test_killing_a_middle_process_racing_a_call(drv: alcovepy.Driver) -> None:
    """A call sent just before its path is killed gets its own reply or
    ProcessLookupError, never a hang; the rest of the tree keeps working."""

    async def call(pl: list[int], outcome: list[object]) -> None:
        try:
            outcome.append(await drv.getpid(pl))
        except ProcessLookupError as exc:
            outcome.append(exc)

    p1 = await drv.fork([])
    for _ in range(10):
        p2 = await drv.fork([p1])
        p3 = await drv.fork([p1, p2])
        outcome: list[object] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, [p1, p2, p3], outcome)
                await anyio.lowlevel.checkpoint()  # usually lets the getpid be sent first
                await drv.kill([p1], p2, "SIGKILL")
            assert outcome[0] == p3 or isinstance(outcome[0], ProcessLookupError), outcome
            assert await drv.wait([p1, p2]) == -signal.SIGKILL
            assert await drv.getpid([p1]) == p1
    assert drv.statistics().pending_requests == 0


async def test_calls_to_an_execed_process_never_reach_its_stdin(drv: alcovepy.Driver) -> None:
    parent = await drv.fork([])
    cat = await drv.fork([parent])
    await drv.execvp([parent, cat], "/bin/cat", ["cat"])
    with pytest.raises(ProcessLookupError):
        await drv.getpid([parent, cat])
    with pytest.raises(ProcessLookupError):
        await drv.setenv([parent, cat], "X", "y", 1)
    with pytest.raises(ProcessLookupError):
        await drv.fork([parent, cat])
    with pytest.raises(ProcessLookupError):
        await drv.getpid([parent, cat, 99999])  # through the program: refused too
    await drv.stdin([parent, cat], b"x\n")
    with anyio.fail_after(10):
        assert await drv.stdout([parent, cat]) == b"x\n"
        await drv.close_stdin([parent, cat])
        assert await drv.stdout([parent, cat]) == b""  # nothing else was ever written to cat
        assert await drv.wait([parent, cat]) == 0
    assert await drv.getpid([parent]) == parent


async def test_calls_racing_an_exec_never_reach_its_stdin(drv: alcovepy.Driver) -> None:
    """Calls issued by other tasks while an exec is on its way are answered
    by the control loop (sent before the exec) or refused (after it): none
    is written to the program."""
    parent = await drv.fork([])
    for _ in range(10):
        cat = await drv.fork([parent])
        pl = [parent, cat]
        outcomes: list[object] = []

        async def call(what: Awaitable[object], outcomes: list[object] = outcomes) -> None:
            try:
                outcomes.append(await what)
            except ProcessLookupError as exc:
                outcomes.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, drv.getpid(pl))
                tg.start_soon(call, drv.setenv(pl, "X", "y", 1))
                tg.start_soon(call, drv.execvp(pl, "/bin/cat", ["cat"]))
                tg.start_soon(call, drv.getpid(pl))
                tg.start_soon(call, drv.getcwd(pl))
            assert all(o in (cat, None, os.getcwdb()) or isinstance(o, ProcessLookupError) for o in outcomes), outcomes
            await drv.stdin(pl, b"x\n")
            assert await drv.stdout(pl) == b"x\n"
            await drv.close_stdin(pl)
            assert await drv.stdout(pl) == b""  # nothing else was ever written to cat
            assert await drv.wait(pl) == 0
    assert drv.statistics().pending_requests == 0


async def test_host_sigkilled_leaves_nothing_behind(anyio_backend: str) -> None:
    """The host process (running the same backend as this test) dies
    abruptly: the helper and every descendant die.

    They are re-parented to PID 1 (which does not reap here) or reaped by a
    control process: each must be gone or a zombie."""
    async with await anyio.open_process(
        [sys.executable, str(SCRIPTS / "host_tree.py"), anyio_backend], stdin=None, stderr=None
    ) as host:
        assert host.stdout is not None
        line = b""
        with anyio.fail_after(20):
            while not line.endswith(b"\n"):  # bounded by EOF (EndOfStream) and the net
                line += await host.stdout.receive()
        info = json.loads(line)
        pids = {info["helper"], *info["controls"], *info["programs"]}
        assert len(pids) == 8
        tree = descendants(host.pid)
        assert pids <= tree, (pids, tree)
        host.kill()  # SIGKILL
        with anyio.fail_after(10):
            assert await host.wait() == -signal.SIGKILL
    assert await wait_dead(pids | tree) == {}
