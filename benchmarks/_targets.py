"""The targets of issue 3, as data, and their verdicts on a run's medians.

Every target is a ratio of medians measured in the same run (or, for
memory, a bound in the case's own unit). ``baseline`` may name a different
case per backend: the issue's asyncio baselines (asyncio's own subprocesses
and pipes) have trio's as their counterparts under trio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from benchmarks._core import Case

__all__ = ["TARGETS", "Target", "Verdict", "backend_targets", "evaluate"]

Kind = Literal["max_ratio", "min_ratio", "max_per_hop", "max_value", "backend_ratio"]
BACKEND_RATIO = 1.3


@dataclass(frozen=True)
class Target:
    item: int  # the target's number in issue 3
    label: str
    case: str
    kind: Kind
    threshold: float
    baseline: str | Mapping[str, str] | None = None
    hops: int = 0  # max_per_hop: (case - baseline) / hops, in units of per_hop_unit
    per_hop_unit: str | None = None

    def baseline_for(self, backend: str) -> str | None:
        if self.baseline is None or isinstance(self.baseline, str):
            return self.baseline
        return self.baseline.get(backend)

    def cases(self) -> set[str]:
        names = {self.case}
        if isinstance(self.baseline, str):
            names.add(self.baseline)
        elif self.baseline is not None:
            names.update(self.baseline.values())
        if self.per_hop_unit:
            names.add(self.per_hop_unit)
        return names

    def rule(self) -> str:
        """The condition, spelled out for the table."""
        t = f"{self.threshold:g}"
        if self.kind == "max_ratio":
            return f"≤ {t}x"
        if self.kind == "min_ratio":
            return f"≥ {t}x"
        if self.kind == "max_per_hop":
            return f"≤ {t} echo/hop"
        if self.kind == "backend_ratio":
            return f"≤ {t}x (trio cost / asyncio cost)"
        return f"≤ {t}"


SPAWN_SEQ = {"asyncio": "spawn_asyncio_seq", "trio": "spawn_trio_seq"}
SPAWN_X16 = {"asyncio": "spawn_asyncio_x16", "trio": "spawn_trio_x16"}

TARGETS: tuple[Target, ...] = (
    Target(1, "sequential getpid at depth 0 vs the raw echo round trip", "getpid_d0", "max_ratio", 1.2, "echo_seq"),
    Target(2, "getpid at depth 3 vs depth 0", "getpid_d3", "max_ratio", 1.6, "getpid_d0"),
    Target(
        2,
        "getpid at depth 16: cost per extra hop, in raw echo round trips",
        "getpid_d16",
        "max_per_hop",
        1.0,
        "getpid_d0",
        hops=16,
        per_hop_unit="echo_seq",
    ),
    Target(
        3,
        "16 calls in flight on one pipeline vs raw echo with 16 in flight",
        "getpid_x16",
        "min_ratio",
        0.8,
        "echo_x16",
    ),
    Target(
        4,
        "spawn (one awaitable: spawn_wait), sequential vs the C vfork floor",
        "spawn_alcovepy_wait_seq",
        "min_ratio",
        0.85,
        "spawn_c_vfork",
    ),
    Target(
        4,
        "spawn (one awaitable: spawn_wait), sequential vs the loop's own subprocess",
        "spawn_alcovepy_wait_seq",
        "min_ratio",
        1.2,
        SPAWN_SEQ,
    ),
    Target(
        4,
        "spawn (one awaitable: spawn_wait), 16 in flight vs the loop's own, 16 in flight",
        "spawn_alcovepy_wait_x16",
        "min_ratio",
        1.0,
        SPAWN_X16,
    ),
    Target(5, "stdout at depth 1 vs the direct pipe", "stdout_alcovepy_d1", "min_ratio", 1.0, "stdout_pipe"),
    Target(5, "stdout at depth 3 vs the direct pipe", "stdout_alcovepy_d3", "min_ratio", 0.8, "stdout_pipe"),
    Target(6, "stdin into cat >/dev/null vs the direct pipe", "stdin_alcovepy", "min_ratio", 0.8, "stdin_pipe"),
    Target(7, "unread writer: host RSS growth, MiB", "mem_unread_rss", "max_value", 4.0),
    Target(7, "idle control child: PSS, KiB", "mem_idle_pss", "max_value", 100.0),
    Target(
        7, "getpid to the last idle child vs to the first", "getpid_child_last", "max_ratio", 1.2, "getpid_child_first"
    ),
)


def backend_targets(cases: Iterable[Case]) -> list[Target]:
    """Target 8: every alcovepy speed figure under trio within 1.3x of asyncio's."""
    return [
        Target(8, f"trio vs asyncio: {c.name}", c.name, "backend_ratio", BACKEND_RATIO)
        for c in cases
        if c.alcovepy and c.unit not in ("MiB", "KiB")
    ]


@dataclass(frozen=True)
class Verdict:
    target: Target
    backend: str  # "asyncio", "trio", or "both" for target 8
    measured: float | None  # the ratio (or value) compared with the threshold
    passed: bool | None  # None: not measured in this run
    note: str = ""


def evaluate(
    target: Target, backend: str, medians: Mapping[tuple[str, str], float], cases: Mapping[str, Case]
) -> Verdict:
    """The verdict on one target for one backend, from the run's medians."""

    def missing(*names: str | None) -> Verdict:
        return Verdict(target, backend, None, None, "not measured: " + ", ".join(n or "?" for n in names))

    if target.kind == "backend_ratio":
        a, t = medians.get(("asyncio", target.case)), medians.get(("trio", target.case))
        if a is None or t is None or a <= 0 or t <= 0:
            return missing(target.case)
        ratio = a / t if cases[target.case].higher_is_better else t / a
        return Verdict(target, backend, ratio, ratio <= target.threshold)

    value = medians.get((backend, target.case))
    if value is None:
        return missing(target.case)
    if target.kind == "max_value":
        return Verdict(target, backend, value, value <= target.threshold)
    base_name = target.baseline_for(backend)
    base = medians.get((backend, base_name)) if base_name else None
    if base is None or base <= 0:
        return missing(base_name)
    if target.kind == "max_per_hop":
        unit = medians.get((backend, target.per_hop_unit or ""))
        if unit is None or unit <= 0:
            return missing(target.per_hop_unit)
        per_hop = (value - base) / target.hops / unit
        return Verdict(
            target, backend, per_hop, per_hop <= target.threshold, f"{(value - base) / target.hops:.1f} µs/hop"
        )
    ratio = value / base
    passed = ratio <= target.threshold if target.kind == "max_ratio" else ratio >= target.threshold
    return Verdict(target, backend, ratio, passed, f"vs {base_name}")
