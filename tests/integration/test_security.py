"""The guarantees of SECURITY.md that no other test file shows.

Each test names the guarantee it checks. All run under asyncio and trio.
Control processes are the helper (depth 0) and the children it forks (depth
1, 2); programs are what they exec. A program is untrusted: it may signal
its control process, print anything, and inherits what exec leaves it.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio
import msgspec
import pytest

import alcovepy
from alcovepy import _calls, _spec
from alcovepy._types import Ptr
from alcovepy.errors import CallFiltered, HelperExited
from tests.conftest import assert_all_gone, descendants, open_fds, proc_state
from tests.helper.mutations import HARMLESS_PRCTL, harmless, prctl_context

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from alcovepy._wire import CallSpec

TIMEOUT = 20  # seconds: a net under every test; none should come near it


def _which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name} on PATH")
    return path


async def output_of(proc: alcovepy.Process) -> bytes:
    """All of proc's stdout, up to its end."""
    out = b""
    with anyio.fail_after(TIMEOUT):
        while True:
            try:
                out += await proc.stdout.receive()
            except anyio.EndOfStream:
                return out


# ---- close-on-exec everywhere ------------------------------------------------


def fds_without_cloexec(pid: int, mine: set[int]) -> dict[int, str]:
    """fd -> target of every fd of pid above 2 that lacks close-on-exec, except mine."""
    missing: dict[int, str] = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        fd = int(name)
        if fd <= 2 or fd in mine:
            continue
        try:
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed meanwhile: nothing is in flight, so not ours
            continue
        flags = next(int(line.split()[1], 8) for line in info.splitlines() if line.startswith("flags:"))
        if not flags & os.O_CLOEXEC:
            missing[fd] = target
    return missing


async def test_every_fd_of_every_control_process_is_close_on_exec(drv: alcovepy.Driver) -> None:
    """Guarantee: close-on-exec everywhere. The helper and control children at
    depths 1 and 2, each holding children, exec'd and spawned programs, a
    clone_exec'd program and an fd the user opened without O_CLOEXEC (the
    user's business: left out by number), have nothing else without it."""
    cat = _which("cat")
    c1 = await drv.root.fork()
    c2 = await c1.fork()
    user: dict[int, set[int]] = {}
    for proc in (drv.root, c1, c2):
        fd = await proc.open("/dev/null", "O_RDONLY", 0)  # inherited by its programs: on purpose
        user[proc.pid or drv.helper_pid] = {fd}
        await proc.spawn(cat, ["cat"])
        await proc.clone_exec(0, [], [], cat, ["cat"])
        execed = await proc.fork()
        await execed.execvp(cat, ["cat"])
        await proc.fork()  # an idle control child
    await c2.fork()
    for pid, mine in user.items():
        assert set(fds_without_cloexec(pid, set())) == mine  # the check sees an fd without it
        assert fds_without_cloexec(pid, mine) == {}, f"pid {pid} (helper {drv.helper_pid})"


# ---- no fd leaks into programs -------------------------------------------------

Method = Literal["execvp", "execve", "fexecve", "spawn", "clone_exec"]


async def start_ls(parent: alcovepy.Process, method: Method) -> alcovepy.Process:
    """`ls /proc/self/fd` started by parent with method (a new program below parent)."""
    ls = _which("ls")
    argv = ["ls", "/proc/self/fd"]
    if method == "spawn":
        return await parent.spawn(ls, argv, [])
    if method == "clone_exec":
        return await parent.clone_exec(0, [], [("open", "/dev/null", ["O_RDONLY", "O_CLOEXEC"], 0)], ls, argv, [])
    proc = await parent.fork()
    await proc.open("/dev/null", ["O_RDONLY", "O_CLOEXEC"], 0)  # an fd of its own, close-on-exec
    if method == "execvp":
        await proc.execvp(ls, argv)
    elif method == "execve":
        await proc.execve(ls, argv, [])
    else:
        fd = await proc.open(ls, ["O_RDONLY", "O_CLOEXEC"], 0)
        await proc.fexecve(fd, argv, [])
    return proc


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("method", ["execvp", "execve", "fexecve", "spawn", "clone_exec"])
async def test_programs_hold_only_stdio(drv: alcovepy.Driver, method: Method, depth: int) -> None:
    """Guarantee: no fd of a control process leaks into a program, however
    it is started, with siblings, programs and close-on-exec user fds around."""
    parent = drv.root
    for _ in range(depth - 1):
        parent = await parent.fork()
    await parent.open("/dev/null", ["O_RDONLY", "O_CLOEXEC"], 0)
    await parent.fork()  # a sibling: its pipes are the parent's too
    await parent.spawn(_which("cat"), ["cat"])
    proc = await start_ls(parent, method)
    assert sorted(int(x) for x in (await output_of(proc)).split()) == [0, 1, 2, 3]  # 3: ls's own opendir
    assert await proc.wait() == 0


@pytest.mark.parametrize("depth", [1, 2])
async def test_spawn_wait_programs_hold_only_stdio(drv: alcovepy.Driver, depth: int) -> None:
    """The same for spawn_wait, whose output goes nowhere: the program's exit
    code says what it found (3: listdir's own fd)."""
    parent = drv.root
    for _ in range(depth - 1):
        parent = await parent.fork()
    await parent.open("/dev/null", ["O_RDONLY", "O_CLOEXEC"], 0)
    await parent.fork()
    await parent.spawn(_which("cat"), ["cat"])
    check = "import os, sys; sys.exit(sorted(os.listdir('/proc/self/fd')) != ['0', '1', '2', '3'])"
    assert await parent.spawn_wait(sys.executable, [sys.executable, "-c", check], []) == 0


# ---- no environment leaks --------------------------------------------------------


@pytest.fixture
async def env_drv(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[alcovepy.Driver]:
    """A Driver whose helper gets its own environment (a marker, PATH and any
    sanitizer options), started from a Python process with a marker of its own."""
    monkeypatch.setenv("ALCOVEPY_PYTHON_MARKER", "python")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env["ALCOVEPY_HELPER_MARKER"] = "helper"
    fds = open_fds()
    async with alcovepy.open_driver(env=env) as d:
        try:
            yield d
        finally:
            tree = descendants(d.helper_pid) | {d.helper_pid}
    assert_all_gone(tree)
    assert open_fds() <= fds


def env_lines(out: bytes) -> list[bytes]:
    return sorted(out.splitlines())


@pytest.mark.parametrize("depth", [1, 2])
async def test_a_program_sees_exactly_the_env_it_is_given(env_drv: alcovepy.Driver, depth: int) -> None:
    """Guarantee: no environment leaks. An explicit env is the whole
    environment (not merged with the helper's or the Python process's, nor
    with setenv calls or steps before exec); env None inherits the control
    process's, which is the one given to open_driver, not Python's."""
    envbin = _which("env")
    parent = env_drv.root
    for _ in range(depth - 1):
        parent = await parent.fork()
    await parent.setenv("ALCOVEPY_SETENV_MARKER", "setenv", 1)

    execed = await parent.fork()
    await execed.setenv("ALCOVEPY_CHILD_MARKER", "child", 1)
    await execed.execve(envbin, ["env"], ["ONLY=1", "B=2"])
    assert env_lines(await output_of(execed)) == [b"B=2", b"ONLY=1"]

    spawned = await parent.spawn(envbin, ["env"], ["ONLY=1"])
    assert env_lines(await output_of(spawned)) == [b"ONLY=1"]

    nothing = await parent.spawn(envbin, ["env"], [])
    assert await output_of(nothing) == b""

    steps = [("setenv", "ALCOVEPY_STEP_MARKER", "step", 1)]
    cloned = await parent.clone_exec(0, [], steps, envbin, ["env"], ["ONLY=1"])
    assert env_lines(await output_of(cloned)) == [b"ONLY=1"]

    inherited = await parent.spawn(envbin, ["env"])
    lines = env_lines(await output_of(inherited))
    assert b"ALCOVEPY_HELPER_MARKER=helper" in lines
    assert b"ALCOVEPY_SETENV_MARKER=setenv" in lines
    assert not [line for line in lines if line.startswith(b"ALCOVEPY_PYTHON_MARKER=")]


# ---- a filter cannot be lifted, and a denied call reaches no kernel ---------------


async def assert_alive(victim: alcovepy.Process) -> None:
    assert victim.pid is not None
    assert proc_state(victim.pid) not in (None, "Z")
    await victim.stdin.send(b"still here\n")
    with anyio.fail_after(TIMEOUT):
        assert await victim.stdout.receive() == b"still here\n"


async def test_a_denied_call_never_reaches_the_kernel(drv: alcovepy.Driver) -> None:
    """Guarantee: a filtered call is refused before its arguments are even
    decoded; here kill, directly and as a clone_exec step."""
    victim = await drv.root.spawn(_which("cat"), ["cat"])
    assert victim.pid is not None
    p = await drv.root.fork()
    await p.filter(["kill"], [])
    with pytest.raises(CallFiltered):
        await p.kill(victim.pid, "SIGKILL")
    with pytest.raises(CallFiltered) as info:
        await p.clone_exec(0, [], [("kill", victim.pid, "SIGKILL")], _which("true"), ["true"])
    assert getattr(info.value, "setup_step", None) == 0
    await assert_alive(victim)


async def test_a_filter_cannot_be_lifted(drv: alcovepy.Driver) -> None:
    """Guarantee: denials only add up: not by filtering again, not in a forked
    child, not in a clone_exec child's setup steps; calls_for_children bind
    every later child (steps included) but not the process itself."""
    victim = await drv.root.spawn(_which("cat"), ["cat"])
    assert victim.pid is not None
    true = _which("true")
    p = await drv.root.fork()
    await p.filter(["kill"], ["chdir"])
    await p.filter([], [])  # nothing to lift with
    await p.filter(["getpid"], [])  # a new denial does not replace the old one
    for proc in (p, await p.fork()):
        await proc.filter([], [])
        with pytest.raises(CallFiltered):
            await proc.kill(victim.pid, "SIGTERM")
        with pytest.raises(CallFiltered):
            await proc.getpid()
    await p.chdir("/")  # calls_for_children do not bind p itself ...
    child = await p.fork()
    with pytest.raises(CallFiltered):
        await child.chdir("/")  # ... but its children
    for proc in (p, child):
        with pytest.raises(CallFiltered) as info:  # and the child a clone_exec sets up
            await proc.clone_exec(0, [], [("getcwd",), ("chdir", "/")], true, ["true"])
        assert getattr(info.value, "setup_step", None) == 1
    await assert_alive(victim)


async def test_denying_every_way_to_start_a_process(drv: alcovepy.Driver) -> None:
    """Each call is denied by its own name: a process that must start nothing
    needs all of these denied (SECURITY.md says so)."""
    true = _which("true")
    p = await drv.root.fork()
    await p.filter(["fork", "clone", "spawn", "spawn_wait", "clone_exec", "execve", "execvp", "fexecve"], [])
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: p.fork(),
        lambda: p.clone(0),
        lambda: p.spawn(true, ["true"]),
        lambda: p.spawn_wait(true, ["true"]),
        lambda: p.clone_exec(0, [], [], true, ["true"]),
        lambda: p.execve(true, ["true"], []),
        lambda: p.execvp(true, ["true"]),
        lambda: p.fexecve(0, ["true"], []),
    ]
    for attempt in attempts:
        with pytest.raises(CallFiltered):
            await attempt()
    assert await drv.root.getcpid(p.pid or 0, "pid") == p.pid  # and it is still there, in its loop


# ---- signals from programs -------------------------------------------------------------


async def test_sigpipe_to_a_control_process_is_ignored(drv: alcovepy.Driver) -> None:
    """A program may signal its control process (same uid): SIGPIPE, which a
    loop gets when a reader goes away, is ignored at every depth."""
    sh = _which("sh")
    c1 = await drv.root.fork()
    for parent in (drv.root, c1):
        prog = await parent.spawn(sh, ["sh", "-c", "kill -PIPE $PPID && echo sent"])
        assert await output_of(prog) == b"sent\n"
        assert await prog.wait() == 0
        assert await parent.getpid() == (parent.pid or drv.helper_pid)


async def test_signal_noise_from_a_program_changes_nothing(drv: alcovepy.Driver) -> None:
    """SIGCHLD, SIGURG, SIGWINCH and SIGPIPE sent by a program to its control
    process, many times: it keeps serving and reports the program's own exit."""
    script = (
        "for i in $(seq 50); do kill -CHLD $PPID; kill -URG $PPID; kill -WINCH $PPID; kill -PIPE $PPID; done; exit 7"
    )
    c1 = await drv.root.fork()
    prog = await c1.spawn(_which("sh"), ["sh", "-c", script])
    with anyio.fail_after(TIMEOUT):
        assert await prog.wait() == 7
    assert await c1.getpid() == c1.pid
    other = await c1.spawn(_which("sh"), ["sh", "-c", "exit 3"])
    with anyio.fail_after(TIMEOUT):
        assert await other.wait() == 3


async def test_sigterm_from_a_program_ends_its_control_process_cleanly(drv: alcovepy.Driver) -> None:
    """A control process keeps the default action of SIGTERM: a program that
    sends it ends that process, its parent reports TermSig, calls through it
    fail with ProcessLookupError, and the rest of the tree is untouched."""
    c1 = await drv.root.fork()
    c2 = await c1.fork()
    below = await c2.fork()
    prog = await c2.spawn(_which("sh"), ["sh", "-c", "read go; kill -TERM $PPID"])
    with contextlib.suppress(anyio.BrokenResourceError):  # c2 may die before it acknowledges the write
        await prog.stdin.send(b"go\n")  # only now: spawn's own reply must not race the signal
    with anyio.fail_after(TIMEOUT):
        assert await c2.wait() == -signal.SIGTERM
        events = [ev async for ev in c2.events]
    assert alcovepy.TermSig(signal.SIGTERM) in events
    with pytest.raises(ProcessLookupError):
        await c2.getpid()
    with pytest.raises(ProcessLookupError):
        await below.getpid()
    assert await c1.getpid() == c1.pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: drops the program to nobody")
async def test_a_program_under_another_uid_cannot_signal_or_inspect_its_control_process(
    drv: alcovepy.Driver,
) -> None:
    """What a sandboxed program can reach: dropped to another uid in its setup
    steps, it can neither signal its control process nor read its /proc
    environ, fds or memory, nor open its request pipe through /proc (ptrace
    access checks). With the helper's uid it could do all of these."""
    nobody = 65534
    steps: list[tuple[object, ...]] = [
        ("setgroups", []),
        ("setresgid", nobody, nobody, nobody),
        ("setresuid", nobody, nobody, nobody),
    ]
    script = (
        'kill -TERM $PPID 2>/dev/null; echo "kill $?"; '
        'cat /proc/$PPID/environ >/dev/null 2>&1; echo "environ $?"; '
        'ls /proc/$PPID/fd >/dev/null 2>&1; echo "fd $?"; '
        'head -c1 /proc/$PPID/mem >/dev/null 2>&1; echo "mem $?"; '
        '(: > /proc/$PPID/fd/0) 2>/dev/null; echo "requests $?"'  # opening its request pipe writes nothing
    )
    for parent in (drv.root, await drv.root.fork()):
        prog = await parent.clone_exec(0, [], steps, _which("sh"), ["sh", "-c", script], ["PATH=/usr/bin:/bin"])
        results = dict(line.split() for line in (await output_of(prog)).decode().splitlines())
        assert set(results) == {"kill", "environ", "fd", "mem", "requests"}
        assert all(status != "0" for status in results.values()), results
        assert await parent.getpid() == (parent.pid or drv.helper_pid)


async def test_programs_share_the_callers_session_unless_a_setsid_step_detaches_them(drv: alcovepy.Driver) -> None:
    """The helper starts no session of its own: a program is in the Python
    process's session, and would share its controlling terminal if it had one
    (SECURITY.md: TIOCSTI). A ("setsid",) step gives it a session of its own."""
    script = "cut -d' ' -f6 /proc/self/stat"  # the session id of cut, which sh execs last
    shared = await drv.root.clone_exec(0, [], [], _which("sh"), ["sh", "-c", f"exec {script}"])
    assert int(await output_of(shared)) == os.getsid(0)
    alone = await drv.root.clone_exec(0, [], [("setsid",)], _which("sh"), ["sh", "-c", f"exec {script}"])
    assert int(await output_of(alone)) == alone.pid


async def test_a_programs_output_is_data_never_frames(drv: alcovepy.Driver) -> None:
    """A program's stdout is relayed as bytes: output shaped like a REPLY for
    the next request, or a GONE for its parent, is delivered verbatim and
    changes nothing in the Driver."""
    parent = await drv.root.fork()
    prog = await parent.spawn(_which("cat"), ["cat"])
    fake_reply = struct.pack(">IBBIB", 8, _spec.FRAME_REPLY, 0, 1, _spec.STATUS_OK) + b"\x2a"
    assert parent.pid is not None
    fake_gone = struct.pack(">IBBI", 7, _spec.FRAME_GONE, 1, parent.pid) + b"\x00"
    payload = (fake_reply + fake_gone) * 3
    await prog.stdin.send(payload)
    got = b""
    with anyio.fail_after(TIMEOUT):
        while len(got) < len(payload):
            got += await prog.stdout.receive()
    assert got == payload
    assert await parent.getpid() == parent.pid
    assert await drv.getpid([]) == drv.helper_pid


# ---- bad input through the Driver ----------------------------------------------------------

JUNK: list[object] = [
    None,
    True,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**32,
    1.5,
    b"",
    b"\xff\xfe",
    "SIG\u00e9",
    "CLONE_NEWPID",
    [],
    [[]],
    [b"a"],
    [-1],
    {"a": 1},
]


def mutate(rng: random.Random, value: object) -> object:
    """value with one node replaced, dropped or duplicated (a new object)."""
    if isinstance(value, list) and value and rng.random() < 0.7:
        items = list(value)
        i = rng.randrange(len(items))
        op = rng.random()
        if op < 0.6:
            items[i] = mutate(rng, items[i])
        elif op < 0.8:
            del items[i]
        else:
            items.insert(i, items[i])
        return items
    return rng.choice(JUNK)


async def test_mutated_arguments_through_the_driver_raise_typed_errors(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """Arguments the Python side would refuse, sent anyway (for in/out values,
    cstructs, writes and steps): each call returns or raises OSError,
    ValueError or CallFiltered -- never a hang, never HelperExited -- and the
    Driver keeps serving every pipeline."""
    scratch = os.fsencode(tmp_path)
    (tmp_path / "w").write_bytes(b"")
    values = {name: await drv.root.prctl_constant(name) for name in HARMLESS_PRCTL}
    ctx = prctl_context(scratch, values)
    absent = scratch + b"/absent/prog"
    base: list[tuple[CallSpec[object], tuple[object, ...]]] = [
        (_spec.CALL_ALLOC, _calls._args_alloc([b"\1\2", Ptr(8), Ptr(b"xy")])),
        (_spec.CALL_PRCTL, _calls._args_prctl("PR_CAPBSET_READ", 0, b"\0" * 8, None, [b"a", Ptr(4)])),
        (_spec.CALL_IOCTL, _calls._args_ioctl(5000, "FIONREAD", [Ptr(8)])),
        (
            _spec.CALL_CLONE_EXEC,
            _calls._args_clone_exec(
                ["CLONE_NEWUTS"],
                [(scratch + b"/w", b"{pid}")],
                [("chdir", scratch), ("setenv", "A", "1", 1), ("alloc", [b"x", Ptr(2)])],
                absent,
                ["prog"],
                None,
            ),
        ),
    ]
    child = await drv.root.fork()
    rng = random.Random(6)
    sent = 0
    for i in range(400):
        spec, args = base[i % len(base)]
        wire = mutate(rng, list(args))
        sending = tuple(wire) if isinstance(wire, list) else (wire,)  # the Driver sends an array
        if not harmless(ctx, spec.id, msgspec.msgpack.encode(sending)):
            continue
        sent += 1
        pipeline = child.pipeline if i % 2 else ()
        try:
            with anyio.fail_after(TIMEOUT):
                await drv._call(pipeline, spec, sending)
        except (OSError, ValueError, CallFiltered):
            pass
    assert sent > 100
    assert await drv.getpid([]) == drv.helper_pid
    assert await child.getpid() == child.pid


async def test_an_unparseable_frame_ends_the_helper_and_the_driver_reports_it(anyio_backend: str) -> None:
    """The helper refuses a frame it cannot parse by exiting 101 (its state may
    be corrupt); the Driver turns that into HelperExited for pending and
    later calls, ends every stream, and leaves no process behind."""
    fds = open_fds()
    async with alcovepy.open_driver() as drv:
        child = await drv.root.fork()
        prog = await child.spawn(_which("cat"), ["cat"])
        tree = descendants(drv.helper_pid) | {drv.helper_pid}
        await drv._send(struct.pack(">IBB", 6, 9, 0) + b"\0\0\0\1")  # frame type 9: no such type
        with anyio.fail_after(TIMEOUT):
            with pytest.raises(HelperExited):
                await drv.getpid([])
            with pytest.raises(anyio.EndOfStream):
                await prog.stdout.receive()
            with pytest.raises(HelperExited):
                await child.getpid()
        assert drv._popen.wait(timeout=TIMEOUT) == 101
    # The helper's children were orphaned to PID 1, which may not reap them
    # (it does not in some containers): each must be gone or a zombie.
    for _ in range(TIMEOUT * 20):  # they die of their own EOF and PDEATHSIG: no event to await
        if all(proc_state(p) in (None, "Z") for p in tree):
            break
        await anyio.sleep(0.05)
    assert {p: proc_state(p) for p in tree if proc_state(p) not in (None, "Z")} == {}
    assert open_fds() <= fds


async def test_a_same_uid_program_cannot_reach_the_request_pipe() -> None:
    """Control processes are not dumpable: a program of the helper's own (non-root) uid cannot
    open its control process's request pipe, environment or fds through /proc."""
    import shutil

    from alcovepy._helper_path import helper_path

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the helper as nobody")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    probe = await anyio.run_process([*prefix, str(helper_path()), "--version"], check=False)
    if probe.returncode != 0:
        pytest.skip("nobody cannot run the helper here")
    async with alcovepy.open_driver(exec_prefix=prefix) as drv:
        prog = await drv.root.spawn(
            "/bin/sh",
            ["sh", "-c", "id -u; (: > /proc/$PPID/fd/0) 2>&1; cat /proc/$PPID/environ 2>&1; ls /proc/$PPID/fd 2>&1"],
        )
        out = b""
        with anyio.fail_after(10):
            async for chunk in prog.stdout:
                out += chunk
            await prog.wait()
    lines = out.decode().splitlines()
    assert lines[0] == "65534"  # the program has the helper's uid
    assert len(lines) == 4, lines
    assert all("Permission denied" in line for line in lines[1:]), lines
