"""Shared fixtures: both anyio backends, a Driver, and a leak check.

Every Driver made through ``drv`` (or ``open_checked_driver``) is checked on
exit: every process that was in the helper's tree just before the Driver
closed must be gone from /proc afterwards (not a zombie: gone), and the
host must hold no more file descriptors than before.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import alcovepy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def children_of(pid: int) -> list[int]:
    """Direct children of pid, from /proc/PID/task/*/children."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(x) for x in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> set[int]:
    """Every live descendant of pid."""
    seen: set[int] = set()
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def proc_state(pid: int) -> str | None:
    """The state letter of pid from /proc/PID/stat (Z = zombie), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def open_fds() -> set[int]:
    return {int(x) for x in os.listdir("/proc/self/fd")}


def assert_all_gone(pids: set[int]) -> None:
    left = {p: proc_state(p) for p in pids if proc_state(p) is not None}
    assert not left, f"processes left behind (pid: state): {left}"


@contextlib.asynccontextmanager
async def open_checked_driver(**kwargs: int) -> AsyncIterator[alcovepy.Driver]:
    """open_driver, then prove that nothing it started survives it."""
    fds_before = open_fds()
    tree: set[int] = set()
    async with alcovepy.open_driver(**kwargs) as d:  # type: ignore[arg-type]  # all are options
        try:
            yield d
        finally:
            tree = descendants(d.helper_pid) | {d.helper_pid}
    assert_all_gone(tree)
    assert open_fds() <= fds_before, f"fds leaked: {open_fds() - fds_before}"


@pytest.fixture
async def drv() -> AsyncIterator[alcovepy.Driver]:
    async with open_checked_driver() as d:
        yield d
