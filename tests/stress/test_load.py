"""Load: many tasks forking and ending children at once, many writers to one
program, thousands of calls in flight across pipelines, a thousand live
children under one helper. Every reply is checked against the process it
was asked of; nothing of the tree is left behind (open_checked_driver)."""

from __future__ import annotations

import errno
import os
import random
import resource
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING

import anyio
import pytest

import alcovepy
from tests.conftest import descendants, open_checked_driver, proc_state
from tests.stress.support import Seeded, fd_count, scaled, zombies

if TYPE_CHECKING:
    from pathlib import Path

WHO = "ALCOVEPY_STRESS_WHO"  # each control process holds its own pid here


async def test_many_tasks_fork_and_end_children_concurrently() -> None:
    """Tasks fork control children at depths 1-3 at once and end each by
    exit(status), closing its stdin or SIGKILL: every fork gets a pid of its
    own, every wait() the status its ending implies, and no child is left."""
    rng = Seeded()
    tasks, rounds = scaled(64, 4), scaled(8, 2)
    async with open_checked_driver(maxchild=1024) as drv:
        a = await drv.fork([])
        b = await drv.fork([a])
        parents: list[tuple[int, ...]] = [(), (a,), (a, b)]
        forked: list[tuple[int, ...]] = []
        outcomes: list[tuple[tuple[int, ...], str, int, int]] = []

        async def worker(r: random.Random) -> None:
            for _ in range(rounds):
                parent = r.choice(parents)
                pl = (*parent, await drv.fork(parent))
                forked.append(pl)
                assert await drv.getpid(pl) == pl[-1], (pl, str(rng))
                how = r.choice(("exit", "close", "kill"))
                if how == "exit":
                    expected = r.randrange(256)
                    await drv.exit(pl, expected)
                elif how == "close":
                    expected = 0
                    await drv.close_stdin(pl)  # EOF: it shuts down and exits 0
                else:
                    expected = -signal.SIGKILL
                    await drv.kill(parent, pl[-1], "SIGKILL")
                outcomes.append((pl, how, expected, await drv.wait(pl)))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(tasks):
                    tg.start_soon(worker, random.Random(rng.getrandbits(32)))
            assert len({pl[-1] for pl in forked}) == tasks * rounds, str(rng)
            wrong = [o for o in outcomes if o[2] != o[3]]
            assert not wrong, f"{rng}: (pipeline, how, expected, got): {wrong[:10]}"
            for parent in parents:  # none of the forked children is left
                left = {c.pid for c in await drv.cpid(parent)}
                assert left == ({a} if parent == () else {b} if parent == (a,) else set()), (parent, left, str(rng))
        assert zombies(drv.helper_pid) == set(), str(rng)
        assert drv.statistics().pending_requests == 0


def _message(w: int, i: int, payload: bytes) -> bytes:
    return b"%d %d %d\n" % (w, i, len(payload)) + payload


def _check_stream(out: bytes, plan: dict[int, list[bytes]], hint: str) -> None:
    """out holds every message of plan exactly once, whole, each writer's in order."""
    nxt = dict.fromkeys(plan, 0)
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        w, i, n = (int(x) for x in out[pos:nl].split())
        assert i == nxt[w], f"{hint}: writer {w} sent message {i} where {nxt[w]} was next"
        assert out[nl + 1 : nl + 1 + n] == plan[w][i], f"{hint}: message {i} of writer {w} is corrupt"
        nxt[w] += 1
        pos = nl + 1 + n
    missing = {w: len(msgs) - nxt[w] for w, msgs in plan.items() if nxt[w] != len(msgs)}
    assert not missing, f"{hint}: messages missing per writer: {missing}"


async def test_many_writers_to_one_cat_at_depths_1_and_2(drv: alcovepy.Driver) -> None:
    """Many tasks write to the stdin of one cat at once (a cat at depth 1 and
    one at depth 2), with sizes from nothing to more than one stdin request
    (256 KiB): cat's output holds every message whole and each writer's in
    order (a send's bytes are contiguous), while a reader drains it."""
    rng = Seeded()
    writers, per_writer = scaled(48, 4), scaled(16, 2)
    ctl = await drv.root.fork()
    cats = [await drv.root.spawn("cat", ["cat"]), await ctl.spawn("cat", ["cat"])]

    def size() -> int:
        x = rng.random()
        return (
            rng.randint(0, 2000)
            if x < 0.9
            else rng.randint(2000, 70_000)
            if x < 0.98
            else rng.randint(200_000, 600_000)
        )

    plans: list[dict[int, list[bytes]]] = [{}, {}]
    for w in range(writers):
        plans[w % 2][w] = [rng.randbytes(size()) for _ in range(per_writer)]
    outs = [bytearray(), bytearray()]

    async def reader(k: int) -> None:
        async for chunk in cats[k].stdout:
            outs[k] += chunk

    async def writer(k: int, w: int) -> None:
        for i, payload in enumerate(plans[k][w]):
            await cats[k].stdin.send(_message(w, i, payload))

    async def feed(k: int) -> None:
        async with anyio.create_task_group() as tg:
            for w in plans[k]:
                tg.start_soon(writer, k, w)
        await cats[k].stdin.aclose()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for k in (0, 1):
                tg.start_soon(reader, k)
                tg.start_soon(feed, k)
        for k in (0, 1):
            assert await cats[k].wait() == 0
            _check_stream(bytes(outs[k]), plans[k], f"cat at depth {k + 1}, {rng}")


async def test_thousands_of_concurrent_calls_across_pipelines(drv: alcovepy.Driver) -> None:
    """Thousands of tasks, started at once, each set, read back and unset a
    variable of its own (1-4 KiB, so requests fill the pipes) and ask the
    pid, at a random process of a tree of depth 3: each reply is its own
    call's (the value it set, the pid and WHO of the process it asked)."""
    rng = Seeded()
    tasks = scaled(3000, 100)
    pipelines: list[tuple[int, ...]] = [()]
    for _ in range(3):
        pl: tuple[int, ...] = ()
        for _depth in range(3):
            pl = (*pl, await drv.fork(pl))
            pipelines.append(pl)
    for pl in pipelines:
        await drv.setenv(pl, WHO, str(pl[-1] if pl else drv.helper_pid), 1)
    wrong: list[tuple[object, ...]] = []

    async def task(n: int, pl: tuple[int, ...], value: bytes) -> None:
        pid = pl[-1] if pl else drv.helper_pid
        name = f"ALCOVEPY_TASK_{n}"
        await drv.setenv(pl, name, value, 1)
        got = (await drv.getenv(pl, name), await drv.getpid(pl), await drv.getenv(pl, WHO))
        await drv.unsetenv(pl, name)
        if got != (value, pid, str(pid).encode()):
            wrong.append((n, pl, got[1:], got[0] == value))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(tasks):
                value = rng.randbytes(rng.randint(512, 2048)).hex().encode()
                tg.start_soon(task, n, rng.choice(pipelines), value)
        assert not wrong, f"{rng}: {len(wrong)} calls got another's reply, e.g. {wrong[:5]}"
        for pl in pipelines:  # nothing of the tasks is left behind
            assert not [v for v in await drv.environ(pl) if v.startswith(b"ALCOVEPY_TASK_")], (pl, str(rng))
    assert drv.statistics().pending_requests == 0


async def test_a_thousand_live_children_under_one_helper() -> None:
    """1,000 control children live at once (4,000 pipes in the helper, past
    any fd_set or fixed table): all answer getpid at once, maxchild refuses
    one more, then they end (exit, EOF, SIGKILL), are all reaped, and the
    helper's fds are back to what they were."""
    rng = Seeded()
    n = scaled(1000, 50)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 4 * n + 256:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the {4 * n + 256} fds {n} children need")
    async with open_checked_driver(maxchild=n) as drv:
        helper = drv.helper_pid
        fds = fd_count(helper)
        pids: list[int] = []

        async def forker(count: int) -> None:
            for _ in range(count):
                pid = await drv.fork([])
                pids.append(pid)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for k in range(50):
                    tg.start_soon(forker, n // 50 + (k < n % 50))
            assert len(set(pids)) == n, str(rng)
            with pytest.raises(BlockingIOError) as refused:  # maxchild: EAGAIN, as alcove
                await drv.fork([])
            assert refused.value.errno == errno.EAGAIN
            assert fd_count(helper) == fds + 4 * n, str(rng)  # stdin, stdout, stderr, ctl of each
            assert {c.pid for c in await drv.cpid([])} == set(pids)
            assert descendants(helper) == set(pids)

            answers: dict[int, int] = {}

            async def ask(pid: int) -> None:
                answers[pid] = await drv.getpid([pid])

            async with anyio.create_task_group() as tg:
                for pid in pids:
                    tg.start_soon(ask, pid)
            assert answers == {p: p for p in pids}, str(rng)

            expected: dict[int, int] = {}
            got: dict[int, int] = {}

            async def end(pid: int, how: float) -> None:
                if how < 1 / 3:
                    expected[pid] = pid % 256
                    await drv.exit([pid], pid % 256)
                elif how < 2 / 3:
                    expected[pid] = 0
                    await drv.close_stdin([pid])
                else:
                    expected[pid] = -signal.SIGKILL
                    await drv.kill([], pid, "SIGKILL")
                got[pid] = await drv.wait([pid])

            async with anyio.create_task_group() as tg:
                for pid in pids:
                    tg.start_soon(end, pid, rng.random())
            assert got == expected, str(rng)
            assert await drv.cpid([]) == []
            assert fd_count(helper) == fds, str(rng)
            assert descendants(helper) == set(), str(rng)
            assert drv.statistics().pending_requests == 0


# Interposed on kill(2) in the helper (LD_PRELOAD): logs "killer target signal".
KILL_LOGGER = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int kill(pid_t pid, int sig)
{
    static int (*real)(pid_t, int);
    const char *path = getenv("ALCOVEPY_KILL_LOG");
    if (real == NULL)
        real = (int (*)(pid_t, int))dlsym(RTLD_NEXT, "kill");
    if (path != NULL) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%d %d %d\n", (int)getpid(), (int)pid, sig);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (write(fd, line, (size_t)n) < 0) {
            }
            close(fd);
        }
    }
    return real(pid, sig);
}
"""


@pytest.fixture
def kill_logger(tmp_path: Path) -> Path:
    """A shared object that logs every kill(2) its process makes."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the kill(2) logger")
    (tmp_path / "kill_logger.c").write_text(KILL_LOGGER)
    so = tmp_path / "kill_logger.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(so), str(tmp_path / "kill_logger.c"), "-ldl"], check=True)
    return so


async def test_a_thousand_programs_ignoring_sigterm_end_with_the_driver(kill_logger: Path, tmp_path: Path) -> None:
    """1,000 programs that ignore the shutdown signal, under one control
    process: leaving the Driver SIGKILLs them after the grace period and
    reaps every one, promptly, and the helper signals no process outside
    its tree (every kill(2) it makes is logged through LD_PRELOAD), though
    the kernel's list of the control process's children it reads is then
    longer than one read (the parts are whole pids: seq_file)."""
    rng = Seeded()
    n = scaled(1000, 50)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 3 * n + 256:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the {3 * n + 256} fds {n} programs need")
    log = tmp_path / "kills"
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(
        os.environ,
        LD_PRELOAD=str(kill_logger),
        ALCOVEPY_KILL_LOG=str(log),
        ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0" if asan else "verify_asan_link_order=0",
    )
    with anyio.fail_after(120):
        async with alcovepy.open_driver(env=env, maxchild=n, shutdown_grace_ms=5000) as drv:
            ctl = await drv.root.fork()
            await ctl.sigaction("SIGTERM", "SIG_IGN")  # inherited by what it spawns
            await ctl.setopt("shutdown_grace_ms", 100)  # it kills them, long before the helper would

            async def spawner(count: int) -> None:
                for _ in range(count):
                    await ctl.spawn("sleep", ["sleep", "1000"])

            async with anyio.create_task_group() as tg:
                for k in range(20):
                    tg.start_soon(spawner, n // 20 + (k < n % 20))
            tree = descendants(drv.helper_pid) | {drv.helper_pid}
            assert len(tree) == n + 2, str(rng)
            closing = anyio.current_time()
        assert anyio.current_time() - closing < 30, str(rng)  # the grace, then the kill: seconds at most
    left = {p: s for p in tree if (s := proc_state(p)) is not None}
    assert not left, f"{rng}: left behind (pid: state): {left}"
    assert log.exists(), "the kill(2) logger was not loaded into the helper (LD_PRELOAD ignored: a static build?)"
    kills = [tuple(int(x) for x in line.split()) for line in log.read_text().splitlines()]
    assert len(kills) >= n, str(rng)  # every program was signalled (SIGTERM, then SIGKILL)
    strangers = sorted({target for _killer, target, _sig in kills} - tree)
    assert not strangers, f"{rng}: the helper signalled processes outside its tree: {strangers[:20]}"
