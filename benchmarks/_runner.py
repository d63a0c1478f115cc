"""The run: rounds of one sample per case, under each backend in turn.

    for round in rounds:
        for backend in backends:          # one anyio.run per round and backend
            for case in cases:            # alcovepy and baselines interleaved
                one sample

so slow drifts of a shared, noisy machine fall on every case alike.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from benchmarks._core import Context

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from benchmarks._config import Sizes
    from benchmarks._core import Case

__all__ = ["Series", "run"]


@dataclass
class Series:
    """The samples of one case under one backend."""

    case: str
    backend: str
    samples: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def min(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def max(self) -> float | None:
        return max(self.samples) if self.samples else None


Results = dict[tuple[str, str], Series]  # (backend, case name) -> series


def _use_pidfd_watcher() -> Callable[[], None]:
    """asyncio with its pidfd child watcher: the default from Python 3.12;
    on 3.11 the default is a thread per child, so install it for this loop."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return lambda: None
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)
    return watcher.close  # the next asyncio round installs a new one


async def _round(cases: Sequence[Case], ctx: Context, results: Results) -> None:
    undo = _use_pidfd_watcher() if ctx.backend == "asyncio" else (lambda: None)
    last_use = {f: i for i, c in enumerate(cases) for f in c.fixtures}
    try:
        for i, c in enumerate(cases):
            series = results[(ctx.backend, c.name)]
            try:
                with anyio.fail_after(ctx.sizes.sample_timeout):
                    series.samples.append(await c.run(ctx))
            except Exception as exc:  # recorded and reported; the run goes on
                series.errors.append(f"{type(exc).__name__}: {exc}")
                for f in c.fixtures:  # it may be broken: the next case gets a fresh one
                    await ctx.release(f)
            for f in c.fixtures:
                if last_use[f] == i:
                    await ctx.release(f)
    finally:
        await ctx.release_all()
        undo()


def run(
    cases: Sequence[Case],
    sizes: Sizes,
    backends: Sequence[str],
    bin_dir: Path,
    log: Callable[[str], None],
) -> Results:
    results: Results = {}
    runnable: list[Case] = []
    for c in cases:
        reason = c.available()
        for b in backends:
            if b in c.backends:
                results[(b, c.name)] = Series(c.name, b, skipped=reason)
        if reason is None:
            runnable.append(c)
        else:
            log(f"skipping {c.name}: {reason}")
    for r in range(sizes.rounds):
        for backend in backends:
            todo = [c for c in runnable if backend in c.backends and (not c.memory or r < sizes.memory_rounds)]
            if not todo:
                continue
            t0 = time.perf_counter()
            anyio.run(_round, todo, Context(sizes, backend, bin_dir), results, backend=backend)
            failed = [c.name for c in todo if len(results[(backend, c.name)].errors) > 0]
            note = f"; errors so far in {', '.join(failed)}" if failed else ""
            log(
                f"round {r + 1}/{sizes.rounds} {backend:7}: {len(todo)} cases in {time.perf_counter() - t0:.1f} s{note}"
            )
    return results
