"""Run settings: the sizes of quick and full mode."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["FULL", "INFLIGHT", "QUICK", "SMOKE", "KiB", "MiB", "Sizes"]

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
INFLIGHT = 16  # calls or spawns in flight in the concurrent cases
FRAME_PAYLOAD = 16  # bytes of payload per raw echo frame


@dataclass(frozen=True)
class Sizes:
    """How much work one sample does, and how many rounds a run has."""

    mode: str
    rounds: int
    calls: int  # sequential calls per sample (raw echo, getpid at depth 0 and 3)
    deep_calls: int  # sequential calls per sample at depth 16
    inflight_calls: int  # calls per sample with INFLIGHT in flight
    spawns: int  # spawns per sample (every spawn case)
    floor_spawns: int  # spawns per run of the C vfork floor
    stream_bytes: int  # bytes through stdout or stdin per sample
    stream_chunk: int  # bytes per write into stdin (both sides), per read from stdout
    unread_seconds: float  # how long the unread writer writes
    idle_children: int  # idle control children under one helper
    idle_calls: int  # sequential calls to the first and to the last idle child
    memory_rounds: int  # rounds that also run the (slow) memory cases
    sample_timeout: float  # seconds before one sample is given up

    def with_rounds(self, rounds: int | None) -> Sizes:
        return self if rounds is None else replace(self, rounds=rounds, memory_rounds=min(self.memory_rounds, rounds))


SMOKE = Sizes(  # every case once, with tiny sizes: checks that each one runs, measures nothing
    mode="smoke",
    rounds=1,
    calls=20,
    deep_calls=5,
    inflight_calls=64,
    spawns=16,
    floor_spawns=4,
    stream_bytes=4 * MiB,
    stream_chunk=1 * MiB,
    unread_seconds=0.2,
    idle_children=20,
    idle_calls=10,
    memory_rounds=1,
    sample_timeout=60.0,
)

QUICK = Sizes(
    mode="quick",
    rounds=7,
    calls=400,
    deep_calls=150,
    inflight_calls=3200,
    spawns=64,
    floor_spawns=200,
    stream_bytes=64 * MiB,
    stream_chunk=4 * MiB,
    unread_seconds=1.0,
    idle_children=1000,
    idle_calls=300,
    memory_rounds=2,
    sample_timeout=120.0,
)

FULL = Sizes(
    mode="full",
    rounds=10,
    calls=3000,
    deep_calls=1000,
    inflight_calls=32000,
    spawns=400,
    floor_spawns=2000,
    stream_bytes=1 * GiB,
    stream_chunk=4 * MiB,
    unread_seconds=10.0,
    idle_children=1000,
    idle_calls=1000,
    memory_rounds=3,
    sample_timeout=600.0,
)
