"""Write the seed corpus of the fuzz target: real frames a parent sends.

Run from anywhere: ``python helper/fuzz/make_corpus.py`` rewrites
helper/fuzz/corpus/ (the seeds are committed; `nox -s fuzz` reads them and
writes what the fuzzer finds to helper/fuzz/build/corpus/, which git
ignores). ``--check`` only compares and exits 1 if the committed seeds are
stale, as ``helper/gen_calls.py --check`` does for generated code.

The frames are derived from the table: every call of helper/calls.toml gets
a seed whose arguments are sample values of its argument types, encoded by
the Driver's own converters (``alcovepy._calls._args_<name>``) and framed by
its Router, plus one seed per further sample of each argument (an inout as
an int, bytes, a cstruct with Ptr pieces and None; steps plain and with
tolerated errnos; ...). A call added to the table is covered without
editing this file; an argument type added to the table without samples here
stops the script with its name. Malformed arguments, non-call frames (STDIN,
CLOSE_STDIN, CREDIT), nested pipelines and protocol violations follow.
Output is deterministic: rerunning changes files only when the table does.
"""

from __future__ import annotations

import errno
import struct
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import msgspec

from alcovepy import _calls, _spec
from alcovepy._protocol import Router, encode_credit, encode_request
from alcovepy._types import Ptr, Rlimit, Step

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alcovepy._wire import CallSpec

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TABLE = HERE.parent / "calls.toml"

# The fuzz target's fake children: 100 runs the loop with its stdin unopened
# (forwarded frames stay queued), 101 has exec'd and 102 runs the loop, both
# with stdin on /dev/null.
QUEUE_CHILD = 100
EXECED_CHILD = 101
LOOP_CHILD = 102


class Encoder(Protocol):
    """_calls._args_<name>: a call's Python arguments -> its wire arguments (checked)."""

    def __call__(self, *args: object) -> tuple[object, ...]: ...


@dataclass(frozen=True)
class TableArg:
    name: str
    type: str  # the base type: "constant" for "constant:signal"
    family: str | None


@dataclass(frozen=True)
class TableCall:
    id: int
    name: str
    args: tuple[TableArg, ...]
    step: bool  # may run as a setup step of clone_exec


def load_table() -> list[TableCall]:
    """The calls of helper/calls.toml, checked against the generated alcovepy._spec."""
    with TABLE.open("rb") as f:
        rows = tomllib.load(f)["call"]
    calls = []
    for row in rows:
        args = []
        for name, typ in row.get("args", []):
            base, _, family = typ.partition(":")
            args.append(TableArg(name, base, family or None))
        kind = row.get("kind", "call")
        calls.append(TableCall(row["id"], row["name"], tuple(args), bool(row.get("step", kind == "call"))))
    calls.sort(key=lambda c: c.id)
    generated = [(c.id, c.name) for c in _spec.CALLS]
    if [(c.id, c.name) for c in calls] != generated:
        raise SystemExit("alcovepy/_spec.py is stale: run python helper/gen_calls.py first")
    return calls


def family_name(family: str, index: int = 0) -> str:
    names = _spec.CONSTANT_FAMILIES[family]
    return names[index % len(names)]


SOCKADDR_UN = struct.pack("=H", 1) + b"/run/alcovepy.sock\0"  # AF_UNIX, as bytes


def samples(call: TableCall, arg: TableArg, all_calls: Sequence[TableCall]) -> list[object]:
    """Python values for one argument, the first the one every base seed uses."""
    t, family = arg.type, arg.family
    if t == "cstr" and call.name.endswith("_constant") and call.name[: -len("_constant")] in _spec.CONSTANT_FAMILIES:
        return [family_name(call.name[: -len("_constant")], 1), "NOT_A_CONSTANT"]
    by_type: dict[str, list[object]] = {
        "int32": [3, -1],
        "uint32": [0o755],
        "pid": [4242, -1],
        "fd": [3],
        "path": [b"/tmp/alcovepy", "relative/name"],
        "cstr": ["HOME", ""],
        "bytes": [b"data\n", b""],
        "argv": [["sh", "-c", "exit 0"], []],
        "optional_argv": [None, ["PATH=/usr/bin:/bin", "A=1"]],
        "option": ["shutdown_grace_ms"],
        "option_value": [250],
        "handler": ["SIG_INFO", None, "sig_ign"],
        "int64": [-5, 2**40],
        "id": [65534, -1],
        "count": [4096, 0],
        "id_list": [[0, 65534], []],
        "fd_list": [[0, 1], []],
        "optional_bytes": [b"x", None],
        "timeout": [0.25, None, 0],
        "rlimit": [Rlimit(64, 128), (-1, -1)],
        "calls": [["kill", "fork"], []],
        "sockaddr": [SOCKADDR_UN, None],
        "inout": [
            0,
            b"\0" * 16,
            [struct.pack("=i", 7), Ptr(16), Ptr(b"abc\0"), b"\0" * 4],
            None,
            -1,
            [Ptr(0), Ptr(b"")],  # NULL pointers
        ],
        "cstruct": [[b"\x01\x02", Ptr(8), Ptr(b"xyz")], b"raw bytes"],
        "writes": [
            [
                ("/proc/{pid}/uid_map", b"0 1000 1\n"),
                ("/proc/{pid}/setgroups", b"deny"),
                ("/sys/fs/cgroup/alcovepy/cgroup.procs", b"{pid}\n"),
            ],
            [],
        ],
    }
    if t == "constant":
        assert family is not None
        return [family_name(family), 1]
    if t == "flags":
        assert family is not None
        return [[family_name(family), family_name(family, 1)], 0, family_name(family, 2)]
    if t == "steps":
        return [every_step(all_calls, tolerant=False), [], every_step(all_calls, tolerant=True)]
    if t not in by_type:
        raise SystemExit(f"make_corpus.py: no sample values for argument type {t!r} (call {call.name}): add some")
    return by_type[t]


def base_args(call: TableCall, all_calls: Sequence[TableCall]) -> list[object]:
    return [samples(call, a, all_calls)[0] for a in call.args]


def every_step(all_calls: Sequence[TableCall], *, tolerant: bool) -> list[object]:
    """Every call that may be a setup step, once, with its base arguments.

    tolerant: alternately a Step tolerating two errnos and a best-effort Step.
    """
    steps: list[object] = []
    for i, c in enumerate(x for x in all_calls if x.step):
        args = base_args(c, all_calls)
        if not tolerant:
            steps.append((c.name, *args))
        elif i % 2:
            steps.append(Step(c.name, *args, best_effort=True))
        else:
            steps.append(Step(c.name, *args, tolerate=[errno.EEXIST, errno.ENOENT]))
    return steps


def encoder(name: str) -> Encoder:
    return cast("Encoder", getattr(_calls, f"_args_{name}"))


def spec_of(callid: int) -> CallSpec[object]:
    return next(c for c in _spec.CALLS if c.id == callid)


class Seeds:
    """Seeds by file name, framed by one Router so request ids vary as in a session."""

    def __init__(self) -> None:
        self.router = Router()
        self.out: dict[str, bytes] = {}

    def add(self, name: str, data: bytes) -> None:
        assert name not in self.out, name
        self.out[name] = data

    def call(self, callid: int, wire_args: Sequence[object], pids: tuple[int, ...] = ()) -> bytes:
        """A CALL frame as the Driver sends it (wire_args already converted)."""
        _, frame = self.router.call(pids, spec_of(callid), tuple(wire_args))
        return frame

    def raw_call(self, callid: int, payload: bytes, pids: tuple[int, ...] = ()) -> bytes:
        """A CALL frame with any payload bytes (for malformed arguments)."""
        _, frame = self.router.call(pids, spec_of(_spec.CALL_GETPID.id), ())
        reqid = struct.unpack_from(">I", frame, 6 + 4 * len(pids))[0]
        return encode_request(_spec.FRAME_CALL, pids, (reqid, callid), payload)

    def stdin(self, data: bytes, pids: tuple[int, ...] = ()) -> bytes:
        return self.router.stdin(pids, data)[1]

    def close(self, pids: tuple[int, ...] = ()) -> bytes:
        return self.router.close_stdin(pids)[1]


def call_seeds(s: Seeds, table: Sequence[TableCall]) -> None:
    """A seed per call, and one per further sample of each of its arguments."""
    for c in table:
        enc = encoder(c.name)
        base = base_args(c, table)
        s.add(f"call-{c.id:03d}-{c.name}", s.call(c.id, enc(*base)))
        for k, arg in enumerate(c.args):
            for j, value in enumerate(samples(c, arg, table)[1:], start=1):
                args = list(base)
                args[k] = value
                if arg.type == "option_value" or (arg.type == "option" and c.name == "setopt"):
                    continue  # a value is checked against its option's range: the base pair only
                s.add(f"call-{c.id:03d}-{c.name}-{arg.name}-{j}", s.call(c.id, enc(*args)))


def malformed_seeds(s: Seeds, table: Sequence[TableCall]) -> None:
    """Arguments the Python side would refuse, sent anyway (msgpack built here)."""
    ids = {c.name: c.id for c in table}
    enc = msgspec.msgpack.encode
    getpid, exit_id = ids["getpid"], ids["exit"]
    step_call = next(c for c in table if c.step and c.args)
    step_wire = list(encoder(step_call.name)(*base_args(step_call, table)))
    ce = next(c for c in table if any(a.type == "steps" for a in c.args))  # clone_exec
    ce_base = list(encoder(ce.name)(*base_args(ce, table)))
    steps_at = next(i for i, a in enumerate(ce.args) if a.type == "steps")
    writes_at = next(i for i, a in enumerate(ce.args) if a.type == "writes")

    def ce_with(at: int, value: object) -> bytes:
        args = list(ce_base)
        args[at] = value
        return enc(args)

    def with_arg(name: str, at: int, value: object) -> bytes:
        c = next(x for x in table if x.name == name)
        args = list(encoder(name)(*base_args(c, table)))
        args[at] = value
        return enc(args)

    bad: dict[str, tuple[int, bytes]] = {
        "wrong-arg-count": (getpid, enc([1, 2])),
        "args-not-array": (getpid, enc(5)),
        "trailing-bytes": (getpid, b"\x90\xc0"),
        "args-float": (ids["kill"], enc([1.5, "SIGTERM"])),
        "args-map": (ids["chdir"], enc([{"a": 1}])),
        "constant-name-too-long": (ids["kill"], enc([1, "SIG" + "X" * 70])),
        "flags-bad-name": (ids["clone"], enc([["CLONE_NEWPID", "CLONE_NOPE"]])),
        "flags-nested-list": (ids["clone"], enc([[["CLONE_NEWPID"]]])),
        "steps-unknown-call": (ce.id, ce_with(steps_at, [[0xFFFE, []]])),
        "steps-not-a-step": (ce.id, ce_with(steps_at, [[exit_id, [0]]])),
        "steps-self": (ce.id, ce_with(steps_at, [[ce.id, ce_base]])),
        "steps-no-args": (ce.id, ce_with(steps_at, [[getpid]])),
        "steps-args-not-list": (ce.id, ce_with(steps_at, [[getpid, 5]])),
        "steps-four-items": (ce.id, ce_with(steps_at, [[getpid, [], [], []]])),
        "steps-tolerate-out-of-range": (ce.id, ce_with(steps_at, [[getpid, [], [5000]]])),
        "steps-tolerate-not-list": (ce.id, ce_with(steps_at, [[getpid, [], 2]])),
        "steps-bad-step-args": (ce.id, ce_with(steps_at, [[step_call.id, [None] * len(step_wire)]])),
        "steps-257": (ce.id, ce_with(steps_at, [[getpid, []]] * 257)),
        "steps-100-tolerant": (ce.id, ce_with(steps_at, [[step_call.id, step_wire, [errno.EEXIST]]] * 100)),
        "writes-65": (ce.id, ce_with(writes_at, [[b"/x", b""]] * 65)),
        "writes-empty-path": (ce.id, ce_with(writes_at, [[b"", b"x"]])),
        "writes-nul-in-path": (ce.id, ce_with(writes_at, [[b"/a\0b", b"x"]])),
        "writes-path-4000": (ce.id, ce_with(writes_at, [[b"/" * 4000, b"x"]])),
        "writes-pair-of-3": (ce.id, ce_with(writes_at, [[b"/x", b"y", b"z"]])),
        "writes-data-not-bytes": (ce.id, ce_with(writes_at, [[b"/x", 5]])),
        "inout-empty-cstruct": (ids["ioctl"], with_arg("ioctl", 2, [])),
        "inout-1025-pieces": (ids["ioctl"], with_arg("ioctl", 2, [b"\0"] * 1025)),
        "inout-ptr-negative": (ids["ioctl"], with_arg("ioctl", 2, [-1])),
        "inout-ptr-too-big": (ids["ioctl"], with_arg("ioctl", 2, [16 * 1024 * 1024 + 1])),
        "inout-ptr-two-items": (ids["ioctl"], with_arg("ioctl", 2, [[b"a", b"b"]])),
        "inout-ptr-nested": (ids["ioctl"], with_arg("ioctl", 2, [[[b"a"]]])),
        "inout-total-too-big": (ids["ioctl"], with_arg("ioctl", 2, [16 * 1024 * 1024] * 2)),
        "inout-bool": (ids["ioctl"], with_arg("ioctl", 2, True)),
        "cstruct-int": (ids["alloc"], enc([5])),
        "cstruct-nil": (ids["alloc"], enc([None])),
        "sockaddr-129": (ids["connect"], with_arg("connect", 1, b"\0" * 129)),
        "id-list-strings": (ids["setgroups"], enc([["0"]])),
        "id-list-out-of-range": (ids["setgroups"], enc([[2**32]])),
        "timeout-negative": (ids["select"], with_arg("select", 3, -1)),
        "rlimit-three": (ids["setrlimit"], with_arg("setrlimit", 1, [1, 2, 3])),
        "rlimit-below-infinity": (ids["setrlimit"], with_arg("setrlimit", 1, [-2, 5])),
        "calls-unknown-id": (ids["filter"], enc([[300], []])),
        "calls-zero": (ids["filter"], enc([[0], []])),
        "handler-unknown": (ids["sigaction"], enc(["SIGTERM", "SIG_NOPE"])),
        "option-unknown": (ids["getopt"], enc(["no_such_option"])),
        "option-value-int64-min": (ids["setopt"], enc(["maxchild", -(2**63)])),
        "count-too-big": (ids["read"], with_arg("read", 1, 16 * 1024 * 1024 + 1)),
        "argv-nul": (ids["execvp"], enc(["sh", ["sh", b"a\0b"]])),
        "argv-length-past-frame": (ids["execvp"], b"\x92\xa2sh\xdd\xff\xff\xff\xff"),  # [b"sh", 2**32-1 items]
        "int-uint64-max": (ids["exit"], enc([2**64 - 1])),
    }
    for name, (callid, payload) in bad.items():
        s.add(f"bad-{name}", s.raw_call(callid, payload))
    s.add("bad-unknown-call-id", s.raw_call(0xFFFE, enc([])))
    s.add("bad-call-id-0", s.raw_call(0, enc([])))


def frame_seeds(s: Seeds, table: Sequence[TableCall]) -> None:
    """STDIN, CLOSE_STDIN and CREDIT frames, children, nested pipelines, streams."""
    getpid = _spec.CALL_GETPID.id
    for who, pids in {
        "local": (),
        "queue-child": (QUEUE_CHILD,),
        "execed-child": (EXECED_CHILD,),
        "loop-child": (LOOP_CHILD,),
        "unknown-child": (999,),
        "grandchild": (LOOP_CHILD, 4242),
        "depth-3": (LOOP_CHILD, 4242, 4343),
        "queue-grandchild": (QUEUE_CHILD, 4242),
    }.items():
        s.add(f"call-getpid-to-{who}", s.call(getpid, [], pids))
        s.add(f"stdin-to-{who}", s.stdin(b"hello\n", pids))
        s.add(f"close-stdin-to-{who}", s.close(pids))
        s.add(f"credit-stdout-to-{who}", encode_credit(pids, 0, 65536))
        s.add(f"credit-stderr-to-{who}", encode_credit(pids, 1, 0xFFFFFFFF))
    s.add("stdin-empty-to-execed-child", s.stdin(b"", (EXECED_CHILD,)))
    s.add("credit-stream-7-to-execed-child", encode_credit((EXECED_CHILD,), 7, 1))
    # Streams of several frames, as one write of a busy Driver.
    every = [s.call(c.id, encoder(c.name)(*base_args(c, table))) for c in table]
    s.add("stream-every-call", b"".join(every))
    s.add(
        "stream-stdin-then-close",
        s.stdin(b"a" * 100, (EXECED_CHILD,))
        + encode_credit((EXECED_CHILD,), 0, 4096)
        + s.stdin(b"b", (EXECED_CHILD,))
        + s.close((EXECED_CHILD,))
        + s.stdin(b"late", (EXECED_CHILD,)),
    )
    s.add(
        "stream-nested",
        b"".join(s.call(getpid, [], (LOOP_CHILD, *range(5000, 5000 + d))) for d in range(4))
        + s.close((LOOP_CHILD, 5000))
        + s.stdin(b"x", (LOOP_CHILD, 5000, 5001)),
    )
    s.add("stream-close-loop-child-then-call", s.close((LOOP_CHILD,)) + s.call(getpid, [], (LOOP_CHILD,)))


def violation_seeds(s: Seeds) -> None:
    """Frames the loop cannot parse: each ends the helper with 101."""
    getpid = s.call(_spec.CALL_GETPID.id, [])
    s.add("violation-length-over-max", struct.pack(">I", _spec.MAX_FRAME + 1) + b"\x01\x00")
    s.add("violation-length-0", struct.pack(">I", 0))
    s.add("violation-depth-past-end", struct.pack(">I", 2) + bytes([_spec.FRAME_CALL, 3]))
    s.add("violation-type-0x7f", encode_request(_spec.FRAME_CLOSE_STDIN, (), (1,))[:4] + b"\x7f\x00\0\0\0\1")
    s.add("violation-call-body-5", struct.pack(">I", 7) + bytes([_spec.FRAME_CALL, 0]) + b"\0\0\0\1\0")
    s.add("violation-credit-body-4", struct.pack(">I", 6) + bytes([_spec.FRAME_CREDIT, 0]) + b"\0\0\0\0")
    s.add("violation-after-a-call", getpid + struct.pack(">I", 1) + b"\x01")
    s.add("partial", getpid[:-1])


def seeds() -> dict[str, bytes]:
    """Every seed by file name."""
    table = load_table()
    s = Seeds()
    call_seeds(s, table)
    malformed_seeds(s, table)
    frame_seeds(s, table)
    violation_seeds(s)
    return s.out


def main(argv: list[str]) -> int:
    wanted = seeds()
    have = {p.name: p.read_bytes() for p in CORPUS.iterdir()} if CORPUS.is_dir() else {}
    stale = sorted(set(have) ^ set(wanted) | {n for n in wanted if n in have and have[n] != wanted[n]})
    if "--check" in argv:
        for name in stale:
            print(f"stale seed: helper/fuzz/corpus/{name} (run python helper/fuzz/make_corpus.py)")
        return 1 if stale else 0
    CORPUS.mkdir(exist_ok=True)
    for name in stale:
        if name in wanted:
            (CORPUS / name).write_bytes(wanted[name])
        else:
            (CORPUS / name).unlink()
    print(f"{len(wanted)} seeds in {CORPUS} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
