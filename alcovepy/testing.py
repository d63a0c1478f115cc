"""A pytest plugin for code that uses alcovepy: a Driver fixture and leak checks.

Installing alcovepy registers it (entry point ``pytest11``, name ``alcovepy``),
so pytest loads it by itself. The Driver fixture is async: it runs under
anyio's pytest plugin, on whichever backend the test runs::

    import subprocess

    import pytest


    @pytest.mark.anyio
    @pytest.mark.alcovepy(maxchild=32)  # optional: keyword arguments of open_driver
    async def test_echo(alcovepy_driver):
        proc = await alcovepy_driver.root.spawn("echo", ["echo", "hi"])
        assert await proc.stdout.receive() == b"hi\\n"
        assert await proc.wait() == 0


    def test_tool(alcovepy_leak_check):  # any test, sync or async
        subprocess.run(["true"], check=True)

Options can also come from indirect parametrization, which wins over the
marker: ``@pytest.mark.parametrize("alcovepy_driver", [{"maxchild": 8}], indirect=True)``.

The checks read /proc, never ``kill(pid, 0)``: a zombie counts as left
behind. When ``alcovepy_driver`` is torn down, every process that was in the
helper's tree must be gone, and the test process must have no new child
process (running or zombie) and no new file descriptor. ``alcovepy_leak_check``
and ``with no_leaks():`` check the last two for any code. A fixture's check
fails the test as an error at teardown, ``no_leaks()`` where its block ends;
the message names each pid with its command and state, and each fd with what
it points to. A grandchild whose parent exited is re-parented away from the
test process and escapes the child-process check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import alcovepy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

__all__ = [
    "LeakError",
    "Snapshot",
    "assert_all_gone",
    "check_since",
    "children_of",
    "descendants",
    "no_leaks",
    "open_checked_driver",
    "open_fds",
    "proc_state",
    "snapshot",
]

MARKER = "alcovepy(**options): keyword arguments of open_driver for the alcovepy_driver fixture, e.g. maxchild=32"


class LeakError(AssertionError):
    """A test left processes or file descriptors behind."""


def children_of(pid: int) -> list[int]:
    """Direct children of pid (zombies included), from /proc/PID/task/*/children."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(x) for x in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> set[int]:
    """Every descendant of pid still in /proc, zombies included."""
    seen: set[int] = set()
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _stat(pid: int) -> tuple[str, str] | None:
    """(command, state letter) of pid from /proc/PID/stat, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    close = stat.rindex(")")
    return stat[stat.index("(") + 1 : close], stat[close + 2]


def proc_state(pid: int) -> str | None:
    """The state letter of pid from /proc/PID/stat (Z = zombie), or None if gone."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _is_open(fd: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


def open_fds() -> set[int]:
    """The file descriptors this process holds.

    Not the directory fd that listed them: it is the lowest free number, the
    one a leak would take, and it is closed by the time listdir returns.
    """
    return {fd for fd in map(int, os.listdir("/proc/self/fd")) if _is_open(fd)}


def _describe_pids(pids: Iterable[int]) -> list[str]:
    found: list[str] = []
    for pid in sorted(pids):
        stat = _stat(pid)
        if stat is not None:
            comm, state = stat
            found.append(f"pid {pid} ({comm}): {state}{' (zombie)' if state == 'Z' else ''}")
    return found


def _describe_fds(fds: Iterable[int]) -> list[str]:
    found: list[str] = []
    for fd in sorted(fds):
        try:
            found.append(f"fd {fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            continue  # closed meanwhile
    return found


def assert_all_gone(pids: Iterable[int]) -> None:
    """Raise LeakError naming every pid still in /proc, zombies included."""
    left = _describe_pids(pids)
    if left:
        raise LeakError("processes left behind: " + "; ".join(left))


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The test process's descendants and file descriptors at one moment."""

    processes: frozenset[int]
    fds: frozenset[int]


def snapshot() -> Snapshot:
    """What :func:`check_since` compares against."""
    return Snapshot(frozenset(descendants(os.getpid())), frozenset(open_fds()))


def check_since(before: Snapshot, tree: Iterable[int] = ()) -> None:
    """Raise LeakError if a process of tree, or a process or fd new since before, remains."""
    pids = (descendants(os.getpid()) - before.processes) | set(tree)
    problems = _describe_pids(pids) + _describe_fds(open_fds() - before.fds)
    if problems:
        raise LeakError("left behind: " + "; ".join(problems))


@contextlib.contextmanager
def no_leaks() -> Iterator[None]:
    """Fail, when the block ends normally, if it left a child process or an fd behind."""
    before = snapshot()
    yield
    check_since(before)


@contextlib.asynccontextmanager
async def open_checked_driver(
    *,
    exec_prefix: Sequence[str] = (),
    helper: str | None = None,
    env: Mapping[str, str] | None = None,
    **options: int,
) -> AsyncIterator[alcovepy.Driver]:
    """open_driver; when the block ends normally, prove nothing it started survives it.

    Every process in the helper's tree just before the Driver closed must be
    gone afterwards, and the test process must hold no new child or fd.
    """
    before = snapshot()
    tree: set[int] = set()
    async with alcovepy.open_driver(exec_prefix=exec_prefix, helper=helper, env=env, **options) as drv:
        try:
            yield drv
        finally:
            tree = descendants(drv.helper_pid) | {drv.helper_pid}
    check_since(before, tree)


def _driver_options(request: pytest.FixtureRequest) -> dict[str, object]:
    """The alcovepy markers' keywords (closest last), then an indirect parameter's."""
    found: dict[str, object] = {}
    for marker in reversed(list(request.node.iter_markers("alcovepy"))):
        if marker.args:
            raise TypeError("@pytest.mark.alcovepy takes keyword arguments only")
        found.update(marker.kwargs)
    param: object = getattr(request, "param", {})
    if not isinstance(param, Mapping):
        raise TypeError(f"alcovepy_driver's parameter must be a mapping of options, not {type(param).__name__}")
    found.update({str(k): v for k, v in param.items()})
    return found


def _open_with(found: dict[str, object]) -> contextlib.AbstractAsyncContextManager[alcovepy.Driver]:
    """open_checked_driver with options of unchecked types (from markers), checked here."""
    prefix = found.pop("exec_prefix", ())
    helper = found.pop("helper", None)
    env = found.pop("env", None)
    if not isinstance(prefix, list | tuple):
        raise TypeError(f"exec_prefix must be a list of str, not {type(prefix).__name__}")
    if not (helper is None or isinstance(helper, str | os.PathLike)):
        raise TypeError(f"helper must be a path, not {type(helper).__name__}")
    if not (env is None or isinstance(env, Mapping)):
        raise TypeError(f"env must be a mapping, not {type(env).__name__}")
    options = {k: v for k, v in found.items() if isinstance(v, int)}
    if options.keys() != found.keys():
        raise TypeError(f"helper options must be ints: {sorted(found.keys() - options.keys())}")
    return open_checked_driver(
        exec_prefix=tuple(str(a) for a in prefix),
        helper=None if helper is None else str(helper),
        env=None if env is None else {str(k): str(v) for k, v in env.items()},
        **options,
    )


@pytest.fixture
async def alcovepy_driver(request: pytest.FixtureRequest) -> AsyncIterator[alcovepy.Driver]:
    """An open Driver, its tree and the test process checked for leaks at teardown."""
    async with _open_with(_driver_options(request)) as drv:
        yield drv


@pytest.fixture
def alcovepy_leak_check() -> Iterator[None]:
    """Fail at teardown if the test left a child process (or zombie) or an fd behind."""
    before = snapshot()
    yield
    check_since(before)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
