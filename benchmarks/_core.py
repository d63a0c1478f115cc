"""Cases, their fixtures, and the per-round context they run in.

A case is a small named async function that takes one sample: it gets its
fixtures from the :class:`Context`, warms up, times its own measured part
and returns one number in its unit. A fixture is an async context manager
factory; the runner opens it lazily, once per round and backend, and closes
it after the last case of the round that needs it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path
    from typing import TypeAlias

    from benchmarks._config import Sizes

    FixtureFactory: TypeAlias = Callable[["Context"], contextlib.AbstractAsyncContextManager[object]]
    Sampler: TypeAlias = Callable[["Context"], Awaitable[float]]

__all__ = ["BACKENDS", "CASES", "GROUPS", "Case", "Context", "case", "ordered"]

T = TypeVar("T")
BACKENDS = ("asyncio", "trio")
# The order of a round, by group (the slow memory and scale cases last).
GROUPS = ("call", "inflight", "spawn", "stdout", "stdin", "rss", "pss", "scale")


@dataclass(frozen=True)
class Case:
    """One measurement, sampled once per round."""

    name: str
    group: str  # the chart panel it appears in
    title: str  # what it measures, for the table and the chart
    unit: str
    higher_is_better: bool
    run: Sampler
    backends: tuple[str, ...] = BACKENDS
    fixtures: tuple[FixtureFactory, ...] = ()
    baseline: str | None = None  # the case its ratio column compares with
    alcovepy: bool = False  # measures alcovepy (checked against the trio/asyncio target)
    memory: bool = False  # slow: runs only in the first Sizes.memory_rounds rounds
    available: Callable[[], str | None] = field(default=lambda: None)  # a reason to skip, or None


CASES: list[Case] = []


def case(
    group: str,
    title: str,
    unit: str,
    *,
    higher_is_better: bool,
    backends: tuple[str, ...] = BACKENDS,
    fixtures: tuple[FixtureFactory, ...] = (),
    baseline: str | None = None,
    alcovepy: bool = False,
    memory: bool = False,
    available: Callable[[], str | None] | None = None,
) -> Callable[[Sampler], Sampler]:
    """Register the decorated sampler as a case named after the function."""

    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")

    def register(fn: Sampler) -> Sampler:
        CASES.append(
            Case(
                name=fn.__name__,
                group=group,
                title=title,
                unit=unit,
                higher_is_better=higher_is_better,
                run=fn,
                backends=backends,
                fixtures=fixtures,
                baseline=baseline,
                alcovepy=alcovepy,
                memory=memory,
                available=available or (lambda: None),
            )
        )
        return fn

    return register


def ordered(cases: list[Case]) -> list[Case]:
    """Cases in the order of a round: by group, then as defined."""
    return sorted(cases, key=lambda c: GROUPS.index(c.group))


class Context:
    """What a sample may use: the sizes, the backend, the built baselines,
    and the fixtures of this round."""

    def __init__(self, sizes: Sizes, backend: str, bin_dir: Path) -> None:
        self.sizes = sizes
        self.backend = backend
        self.bin_dir = bin_dir
        self._open: dict[object, tuple[contextlib.AsyncExitStack, object]] = {}

    async def fixture(self, factory: Callable[[Context], contextlib.AbstractAsyncContextManager[T]]) -> T:
        """The value of a fixture, opened on first use in this round."""
        entry = self._open.get(factory)
        if entry is None:
            stack = contextlib.AsyncExitStack()
            try:
                value: object = await stack.enter_async_context(factory(self))
            except BaseException:
                await stack.aclose()
                raise
            entry = self._open[factory] = (stack, value)
        return cast("T", entry[1])

    async def release(self, factory: object) -> None:
        """Close a fixture if it is open."""
        entry = self._open.pop(factory, None)
        if entry is not None:
            await entry[0].aclose()

    async def release_all(self) -> None:
        while self._open:
            await self.release(next(reversed(self._open)))
