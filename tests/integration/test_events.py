"""Events arrive on the right pipeline, per the parent's options."""

from __future__ import annotations

import signal

import anyio

import alcovepy


async def events_until_gone(proc: alcovepy.Process) -> list[alcovepy.Event]:
    with anyio.fail_after(10):
        return [ev async for ev in proc.events]


async def test_exit_status_and_termsig_default_on(drv: alcovepy.Driver) -> None:
    parent = await drv.root.fork()
    a = await parent.fork()
    b = await parent.fork()
    await a.execvp("/bin/sh", ["sh", "-c", "exit 42"])
    await b.execvp("/bin/sleep", ["sleep", "100"])
    await parent.kill(b.pid or 0, "SIGINT")
    assert await events_until_gone(a) == [alcovepy.ExitStatus(42)]
    assert await events_until_gone(b) == [alcovepy.TermSig(signal.SIGINT)]
    assert await events_until_gone(b) == []  # ended: stays ended


async def test_closed_events_when_enabled(drv: alcovepy.Driver) -> None:
    parent = await drv.root.fork()
    for opt in ("stdin_closed", "stdout_closed", "stderr_closed"):
        await parent.setopt(opt, 1)
    child = await parent.fork()
    await child.execvp("/bin/sh", ["sh", "-c", "ls / >/dev/null; exit 3"])
    events = await events_until_gone(child)
    # stdout/stderr close in either order, then stdin, then the exit status
    assert set(events[:2]) == {alcovepy.StdoutClosed(), alcovepy.StderrClosed()}
    assert events[2:] == [alcovepy.StdinClosed(), alcovepy.ExitStatus(3)]


async def test_events_off(drv: alcovepy.Driver) -> None:
    await drv.setopt([], "exit_status", 0)
    await drv.setopt([], "termsig", 0)
    child = await drv.root.fork()
    await child.execvp("/bin/true", ["true"])
    assert await events_until_gone(child) == []
    assert await child.wait() == 0  # wait() does not depend on the events


async def test_stdin_close_event_when_parent_closes(drv: alcovepy.Driver) -> None:
    await drv.setopt([], "stdin_closed", 1)
    cat = await drv.root.fork()
    await cat.execvp("/bin/cat", ["cat"])
    await cat.stdin.aclose()
    assert await events_until_gone(cat) == [alcovepy.StdinClosed(), alcovepy.ExitStatus(0)]


async def test_signal_event_on_the_receivers_pipeline(drv: alcovepy.Driver) -> None:
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    await p2.sigaction("SIGHUP", "SIG_INFO")
    await p1.kill(p2.pid or 0, "SIGHUP")
    with anyio.fail_after(10):
        ev = await p2.event()
    assert isinstance(ev, alcovepy.Signal)
    assert ev.signal == signal.SIGHUP
    assert ev.info.pid == p1.pid


async def test_process_killed_before_exec_reports_on_its_own_pipeline(drv: alcovepy.Driver) -> None:
    p1 = await drv.root.fork()
    p2 = await p1.fork()
    await p1.kill(p2.pid or 0, "SIGKILL")
    assert await events_until_gone(p2) == [alcovepy.TermSig(signal.SIGKILL)]
    assert await p2.wait() == -signal.SIGKILL
