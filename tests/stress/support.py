"""What the stress tests share: sizes, seeds, and measurements from /proc.

Sizes. ``ALCOVEPY_STRESS_SCALE`` (a float, default 1.0) multiplies every
count of the stress tests, e.g. 0.3 for a slow sanitizer run. Counts never
drop below a small floor, so a scaled run still exercises every path.

Seeds. Every test draws its random choices from a ``random.Random`` seeded
with ``ALCOVEPY_STRESS_SEED`` if set, else with a fresh seed. The seed is
printed (pytest shows it with a failure) and is part of every assertion
message: ``ALCOVEPY_STRESS_SEED=<seed> pytest tests/stress -k <test>``
replays the same choices (the timing of the processes is not replayed).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.conftest import descendants, proc_state

__all__ = ["Seeded", "fd_count", "rss_kib", "scale", "scaled", "zombies"]

SCALE_VAR = "ALCOVEPY_STRESS_SCALE"
SEED_VAR = "ALCOVEPY_STRESS_SEED"


def scale() -> float:
    """The factor of ALCOVEPY_STRESS_SCALE (1.0 when unset)."""
    value = float(os.environ.get(SCALE_VAR, "1.0"))
    if not 0 < value <= 100:
        raise ValueError(f"{SCALE_VAR}={value}: expected a factor in (0, 100]")
    return value


def scaled(count: int, floor: int = 1) -> int:
    """count times the scale factor, at least floor."""
    return max(floor, round(count * scale()))


class Seeded(random.Random):
    """A Random with a known seed; str() of it is the replay hint for messages."""

    def __init__(self) -> None:
        env = os.environ.get(SEED_VAR)
        self.seed_value = int(env) if env else random.SystemRandom().randrange(1 << 32)
        super().__init__(self.seed_value)
        print(f"random choices from {self}")

    def __str__(self) -> str:
        return f"seed {self.seed_value} (replay: {SEED_VAR}={self.seed_value})"


def fd_count(pid: int | str = "self") -> int:
    """How many file descriptors pid holds (from /proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int | str = "self") -> int:
    """The resident set size of pid in KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for {pid}")


def zombies(pid: int) -> set[int]:
    """The descendants of pid that are zombies (exited, not reaped)."""
    return {p for p in descendants(pid) if proc_state(p) == "Z"}
