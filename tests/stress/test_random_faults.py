"""Faults while work is in flight: processes SIGKILLed at random depths and
moments, programs exiting in the middle of a write, calls cancelled at
random. After each: nothing hangs (fail_after), no call gets another's
reply, every call that fails fails with the error its fault implies, and
the rest of the tree keeps answering."""

from __future__ import annotations

import os
import random
import signal
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.conftest import descendants, open_checked_driver
from tests.stress.support import Seeded, scaled, zombies

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import alcovepy

WHO = "ALCOVEPY_STRESS_WHO"  # each control process holds its own pid here
Pipeline = tuple[int, ...]


async def _wait_gone(helper: int, pids: set[int]) -> set[int]:
    """Wait (bounded) until none of pids is in the helper's tree, not even
    as a zombie; return those still there.

    An orphaned control process winds down on its own once its parent is
    gone; that is a kernel fact with no event to await, so /proc is polled."""
    left = pids & descendants(helper)
    for _ in range(200):
        if not left:
            break
        await anyio.sleep(0.05)
        left = pids & descendants(helper)
    return left


def _is_seq_prefix(out: bytes) -> bool:
    """out is the start of seq's output: 1\\n2\\n... up to a cut anywhere."""
    lines = out.split(b"\n")
    whole, last = lines[:-1], lines[-1]
    return whole == [b"%d" % (i + 1) for i in range(len(whole))] and (b"%d" % (len(whole) + 1)).startswith(last)


class _Round:
    """One round of the random SIGKILL test: a tree, its traffic, its victims.

    The tree: two chains of control processes at depths 1-3 (each holding
    its pid in WHO), a cat at depth 2 and one at depth 3, seq at depth 3.
    """

    def __init__(self, drv: alcovepy.Driver, hint: str) -> None:
        self.drv, self.hint = drv, hint
        self.controls: list[Pipeline] = []
        self.cats: list[Pipeline] = []
        self.seq: Pipeline = ()
        self.victims: list[Pipeline] = []
        self.killing_done = anyio.Event()
        self.bad: list[str] = []
        self.sent: dict[Pipeline, bytearray] = {}
        self.echoed: dict[Pipeline, bytearray] = {}
        self.write_error: dict[Pipeline, BaseException | None] = {}
        self.seq_out = bytearray()

    async def build(self) -> None:
        drv = self.drv
        for _ in range(2):
            pl: Pipeline = ()
            for _depth in range(3):
                pl = (*pl, await drv.fork(pl))
                await drv.setenv(pl, WHO, str(pl[-1]), 1)
                self.controls.append(pl)
        for parent in (self.controls[0], self.controls[4]):
            cat = (*parent, await drv.spawn(parent, "cat", ["cat"]))
            self.cats.append(cat)
            self.sent[cat], self.echoed[cat], self.write_error[cat] = bytearray(), bytearray(), None
        self.seq = (*self.controls[1], await drv.spawn(self.controls[1], "seq", ["seq", "1000000000"]))

    @property
    def everyone(self) -> list[Pipeline]:
        return [*self.controls, *self.cats, self.seq]

    def hit(self, pl: Pipeline) -> bool:
        """pl goes through a victim (or is one)."""
        return any(v[-1] in pl for v in self.victims)

    async def caller(self, r: random.Random) -> None:
        """getpid and getenv(WHO) at random control processes until a few calls after the kills."""
        helper = self.drv.helper_pid
        targets: list[Pipeline] = [(), *self.controls]
        extra = 0
        for _ in range(2000):  # bounded
            if self.killing_done.is_set():
                extra += 1
                if extra > 10:
                    return
            pl = r.choice(targets)
            pid = pl[-1] if pl else helper
            try:
                if r.random() < 0.5:
                    got: object = await self.drv.getpid(pl)
                    want: object = pid
                else:
                    got, want = await self.drv.getenv(pl, WHO), str(pid).encode() if pl else None
            except ProcessLookupError:
                if not self.hit(pl):
                    self.bad.append(f"{pl}: ProcessLookupError, yet no victim on its path {self.victims}")
                continue
            if got != want:
                self.bad.append(f"{pl}: got {got!r}, its own reply is {want!r}")

    async def writer(self, cat: Pipeline, r: random.Random) -> None:
        """Blocks of 100 B to 300 KiB to cat until a few blocks after the kills, then EOF."""
        try:
            extra = 0
            for i in range(200):  # bounded
                if self.killing_done.is_set():
                    extra += 1
                    if extra > 5:
                        break
                block = r.randbytes(r.choice((100, 5000, 70_000, 300_000))) + b"|%d|" % i
                self.sent[cat] += block  # sent, or partly sent if this write fails
                await self.drv.stdin(cat, block)
            await self.drv.close_stdin(cat)
        except (BrokenPipeError, ProcessLookupError) as exc:
            self.write_error[cat] = exc

    async def reader(self, pl: Pipeline, into: bytearray, limit: int) -> None:
        while len(into) < limit and (chunk := await self.drv.stdout(pl)):
            into += chunk

    async def killer(self, r: random.Random) -> None:
        """SIGKILL one or two processes of the tree, from outside, at random moments."""
        for _ in range(r.choice((1, 1, 2))):
            await anyio.sleep(r.uniform(0, 0.05))
            victim = r.choice([pl for pl in self.everyone if not self.hit(pl)])  # alive, not already lost
            if victim[-1] in descendants(self.drv.helper_pid):  # never a pid that could be reused
                self.victims.append(victim)
                os.kill(victim[-1], signal.SIGKILL)
        self.killing_done.set()

    async def run(self, rng: random.Random, callers: int) -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(self.caller, random.Random(rng.getrandbits(32)))
            for cat in self.cats:
                tg.start_soon(self.writer, cat, random.Random(rng.getrandbits(32)))
                tg.start_soon(self.reader, cat, self.echoed[cat], 1 << 40)
            tg.start_soon(self.reader, self.seq, self.seq_out, 2 << 20)
            tg.start_soon(self.killer, random.Random(rng.getrandbits(32)))

    async def check(self) -> None:
        """After the traffic: each fault's consequences, and only those."""
        drv, hint = self.drv, f"{self.hint}, victims {self.victims}"
        assert not self.bad, f"{hint}: {len(self.bad)} wrong outcomes, e.g. {self.bad[:5]}"
        # each victim whose parent lives reports the kill; below a victim, nothing is reachable
        for victim in self.victims:
            if not any(v[-1] in victim[:-1] for v in self.victims):
                assert await drv.wait(victim) == -signal.SIGKILL, (hint, victim)
        for pl in self.controls:
            if self.hit(pl):
                with pytest.raises(ProcessLookupError):
                    await drv.getpid(pl)
            else:
                assert await drv.getpid(pl) == pl[-1], (hint, pl)
                assert await drv.getenv(pl, WHO) == str(pl[-1]).encode(), (hint, pl)
        for cat in self.cats:
            out, data = bytes(self.echoed[cat]), bytes(self.sent[cat])
            if self.hit(cat):
                assert data.startswith(out), f"{hint}: {cat} echoed what was not sent ({len(out)} bytes)"
            else:
                assert self.write_error[cat] is None, (hint, cat, self.write_error[cat])
                assert out == data, f"{hint}: {cat} echoed {len(out)} of {len(data)} bytes"
                assert await drv.wait(cat) == 0, (hint, cat)
        assert _is_seq_prefix(bytes(self.seq_out)), f"{hint}: seq's output is not its own"
        assert drv.statistics().pending_requests == 0, hint

    async def close(self) -> None:
        """What lives of the round ends with its top control processes; then none of it is left."""
        drv = self.drv
        for top in {pl[:1] for pl in self.everyone}:
            if not self.hit(top):
                await drv.close_stdin(top)
                assert await drv.wait(top) == 0, (self.hint, top)
        while await drv.stdout(self.seq):  # bounded: seq is killed with its tree
            pass
        pids = {p for pl in self.everyone for p in pl}
        assert await _wait_gone(drv.helper_pid, pids) == set(), self.hint


async def test_random_sigkills_with_calls_in_flight_at_every_depth(drv: alcovepy.Driver) -> None:
    """Rounds of: a tree of depth 3 with programs at depths 2 and 3; many
    tasks calling every control process, writers streaming through two
    cats, a reader of seq; one or two random processes (control or
    program, any depth) SIGKILLed from outside at random moments. Every
    call answers with its own process's pid, or raises ProcessLookupError
    if its pipeline went through a victim; writes through a victim raise
    BrokenPipeError or ProcessLookupError and what the cat echoed is a
    prefix of what was sent; victims report SIGKILL; the survivors keep
    answering; the helper's tree is empty once each round is closed."""
    rng = Seeded()
    rounds, callers = scaled(16, 2), scaled(24, 4)
    for rnd in range(rounds):
        one = _Round(drv, f"{rng}, round {rnd}")
        with anyio.fail_after(60):
            await one.build()
            await one.run(rng, callers)
            await one.check()
            await one.close()
    assert descendants(drv.helper_pid) == set(), str(rng)
    assert zombies(drv.helper_pid) == set(), str(rng)
    assert await drv.getpid([]) == drv.helper_pid


async def test_programs_exiting_in_the_middle_of_a_write(drv: alcovepy.Driver) -> None:
    """head -c n reads part of what is written to it and exits while writes
    are in flight, at depth 1 and 2: each send succeeds or fails with
    BrokenResourceError, never hangs; head's output is the first n bytes
    sent; its status is 0; and the Driver answers at once afterwards."""
    rng = Seeded()
    ctl = await drv.root.fork()
    runs = scaled(30, 4)
    data = rng.randbytes(4 << 20)
    wrong: list[str] = []

    async def run(n: int, parent: alcovepy.Process, r: random.Random) -> None:
        head = await parent.spawn("head", ["head", "-c", str(n)])
        out = bytearray()
        broken = False

        async def read() -> None:
            async for chunk in head.stdout:
                out.extend(chunk)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            pos = 0
            while pos < len(data):
                size = r.choice((1000, 65_536, 300_000, 1 << 20))
                try:
                    await head.stdin.send(data[pos : pos + size])
                except anyio.BrokenResourceError:
                    broken = True
                    break
                pos += size
        rc = await head.wait()
        if bytes(out) != data[:n] or rc != 0:
            wrong.append(f"head -c {n} at {head.pipeline}: {len(out)} bytes out, exit {rc}, broken {broken}")

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(runs):
                n = rng.choice((0, 1, 4096, 65_536, 100_000, 1 << 20, 3 << 20))
                tg.start_soon(run, n, rng.choice((drv.root, ctl)), random.Random(rng.getrandbits(32)))
        assert not wrong, f"{rng}: {wrong[:5]}"
        assert await ctl.getpid() == ctl.pid
    assert drv.statistics().pending_requests == 0


async def test_random_cancellations_across_thousands_of_calls() -> None:
    """Thousands of calls of many kinds (getpid, getenv, fork then exit,
    spawn then wait, exec of a fresh child) from many tasks across a tree
    of depth 3, each cancelled with move_on_after at a random small delay
    (or at once) a third of the time. Every call that returns has its own
    reply; afterwards every pipeline answers its own pid, nothing is
    pending, and the children the cancelled forks made are listed by cpid
    and can be ended."""
    rng = Seeded()
    tasks, per_task = scaled(100, 8), scaled(40, 5)
    async with open_checked_driver(maxchild=4096) as drv:
        pipelines: list[Pipeline] = [()]
        for _ in range(2):
            pl: Pipeline = ()
            for _depth in range(3):
                pl = (*pl, await drv.fork(pl))
                await drv.setenv(pl, WHO, str(pl[-1]), 1)
                pipelines.append(pl)
        helper = drv.helper_pid
        bad: list[str] = []
        counts = {"answered": 0, "cancelled": 0}

        async def getpid(pl: Pipeline) -> None:
            if (got := await drv.getpid(pl)) != (pl[-1] if pl else helper):
                bad.append(f"getpid {pl} -> {got}")

        async def getenv(pl: Pipeline) -> None:
            want = str(pl[-1]).encode() if pl else None
            if (got := await drv.getenv(pl, WHO)) != want:
                bad.append(f"getenv {pl} -> {got!r}")

        async def fork_exit(pl: Pipeline) -> None:
            child = (*pl, await drv.fork(pl))
            if (got := await drv.getpid(child)) != child[-1]:
                bad.append(f"getpid of new {child} -> {got}")
            await drv.exit(child, 7)
            if (rc := await drv.wait(child)) != 7:
                bad.append(f"{child} exited {rc}")

        async def spawn_wait(pl: Pipeline) -> None:
            prog = (*pl, await drv.spawn(pl, "/bin/true", ["true"]))
            if (rc := await drv.wait(prog)) != 0:
                bad.append(f"{prog} exited {rc}")

        async def fork_exec(pl: Pipeline) -> None:
            child = (*pl, await drv.fork(pl))
            await drv.execvp(child, "/bin/false", ["false"])
            if (rc := await drv.wait(child)) != 1:
                bad.append(f"{child} exited {rc}")

        kinds: list[Callable[[Pipeline], Awaitable[None]]] = [getpid, getpid, getenv, getenv, fork_exit, spawn_wait]
        kinds.append(fork_exec)

        async def worker(r: random.Random) -> None:
            for _ in range(per_task):
                call, pl = r.choice(kinds), r.choice(pipelines)
                how = r.random()
                if how < 0.05:
                    scope = anyio.move_on_after(0)
                elif how < 0.33:
                    scope = anyio.move_on_after(r.uniform(0, 0.004))
                else:
                    scope = anyio.CancelScope()
                with scope:
                    await call(pl)
                    counts["answered"] += 1
                if scope.cancelled_caught:
                    counts["cancelled"] += 1

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for _ in range(tasks):
                    tg.start_soon(worker, random.Random(rng.getrandbits(32)))
            assert not bad, f"{rng}: {len(bad)} calls got a reply not their own, e.g. {bad[:5]}"
            assert counts["answered"] + counts["cancelled"] == tasks * per_task, (counts, str(rng))
            assert counts["cancelled"] > tasks * per_task // 25, (counts, str(rng))  # they did happen
            for pl in pipelines:  # their replies come after every late reply on the same path
                assert await drv.getpid(pl) == (pl[-1] if pl else helper), (pl, str(rng))
                assert await drv.getenv(pl, WHO) == (str(pl[-1]).encode() if pl else None), (pl, str(rng))
            # (a late reply of a stray child below, e.g. to a cancelled getpid of
            # a fresh child, may still be on its way: it is not behind these)

            # children a cancelled call left behind (its fork's pid never
            # returned, or its exit never sent): listed by their parent, ended on request
            members = {p for pl in pipelines for p in pl}
            strays: list[Pipeline] = []
            for pl in pipelines:
                strays += [(*pl, c.pid) for c in await drv.cpid(pl) if c.pid not in members]
            for stray in strays:
                await drv.close_stdin(stray)
            for stray in strays:
                assert await drv.wait(stray) in (0, 1, 7), (stray, str(rng))
            for pl in pipelines:
                left = {c.pid for c in await drv.cpid(pl)} - members
                assert not left, (pl, left, str(rng))
            # every stray's replies came before its exit, which wait() saw
            assert drv.statistics().pending_requests == 0, (drv.statistics(), str(rng))
