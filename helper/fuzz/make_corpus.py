"""Write the seed corpus of the fuzz target: real frames a parent sends.

Run from anywhere: `python helper/fuzz/make_corpus.py`. Wire numbers and call
ids come from alcovepy._spec (generated from helper/calls.toml), payloads
are encoded with msgspec as the Driver encodes them. Every seed is one file
in helper/fuzz/corpus/, named after what it holds; the output is
deterministic, so rerunning it only changes files when the table changes.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import msgspec

from alcovepy import _spec as spec

CORPUS = Path(__file__).resolve().parent / "corpus"
# The fuzz target's fake children: 100 runs the loop with its stdin unopened
# (forwarded frames stay queued), 101 has exec'd and 102 runs the loop, both
# with stdin on /dev/null.
QUEUE_CHILD = 100
EXECED_CHILD = 101
LOOP_CHILD = 102

# Well-formed arguments for each call that takes any (others take none).
ARGS: dict[str, list[object]] = {
    "clone": [["CLONE_NEWPID", "CLONE_NEWNS"]],
    "exit": [3],
    "kill": [12345, "SIGTERM"],
    "execvp": ["sh", ["sh", "-c", "exit 0"]],
    "execve": [b"/bin/sh", [b"sh", b"-c", b"true"], [b"A=1", b"B=2"]],
    "chdir": [b"/tmp"],
    "getenv": ["HOME"],
    "setenv": ["A", "1", 1],
    "unsetenv": ["A"],
    "getopt": ["flowcontrol"],
    "setopt": ["shutdown_grace_ms", 250],
    "sigaction": ["SIGTERM", "SIG_INFO"],
    "signal_constant": ["SIGKILL"],
    "clone_constant": ["CLONE_NEWUSER"],
    "file_constant": ["O_RDONLY"],
    "fcntl_constant": ["FD_CLOEXEC"],
    "rlimit_constant": ["RLIMIT_NOFILE"],
    "spawn": ["cat", ["cat"], None],
}


def frame(ftype: int, body: bytes, pids: tuple[int, ...] = ()) -> bytes:
    """|len:4|type:1|depth:1|pid:4 x depth|body|, big-endian."""
    rest = struct.pack(f">BB{len(pids)}I", ftype, len(pids), *pids) + body
    return struct.pack(">I", len(rest)) + rest


def call(reqid: int, callid: int, args: object, pids: tuple[int, ...] = ()) -> bytes:
    """A CALL frame: reqid:4, callid:2, msgpack array of args."""
    return frame(spec.FRAME_CALL, struct.pack(">IH", reqid, callid) + msgspec.msgpack.encode(args), pids)


def seeds() -> dict[str, bytes]:
    """Every seed by file name."""
    out: dict[str, bytes] = {}
    for reqid, c in enumerate(spec.CALLS, start=1):
        out[f"call-{c.id:03d}-{c.name}"] = call(reqid, c.id, ARGS.get(c.name, []))
    getpid = spec.CALL_GETPID.id
    out["call-unknown-id"] = call(7, 0xFFFE, [])
    out["call-wrong-arg-count"] = call(8, getpid, [1, 2])
    out["call-args-not-array"] = call(9, getpid, 5)
    out["call-trailing-bytes"] = frame(spec.FRAME_CALL, struct.pack(">IH", 10, getpid) + b"\x90\xc0")
    out["stdin-local"] = frame(spec.FRAME_STDIN, struct.pack(">I", 11) + b"data")
    out["close-stdin-local"] = frame(spec.FRAME_CLOSE_STDIN, struct.pack(">I", 12))
    out["credit-local"] = frame(spec.FRAME_CREDIT, struct.pack(">BI", 0, 65536))
    out["call-to-queue-child"] = call(13, getpid, [], (QUEUE_CHILD,))
    out["call-to-grandchild"] = call(14, getpid, [], (QUEUE_CHILD, 4242))
    out["call-to-loop-child"] = call(21, getpid, [], (LOOP_CHILD,))
    out["close-stdin-to-execed-child"] = frame(spec.FRAME_CLOSE_STDIN, struct.pack(">I", 22), (EXECED_CHILD,))
    out["call-to-execed-child"] = call(15, getpid, [], (EXECED_CHILD,))
    out["call-to-unknown-child"] = call(16, getpid, [], (999,))
    out["stdin-to-execed-child"] = frame(spec.FRAME_STDIN, struct.pack(">I", 17) + b"hello\n", (EXECED_CHILD,))
    out["close-stdin-to-loop-child"] = frame(spec.FRAME_CLOSE_STDIN, struct.pack(">I", 18), (LOOP_CHILD,))
    out["credit-to-execed-child"] = frame(spec.FRAME_CREDIT, struct.pack(">BI", 1, 4096), (EXECED_CHILD,))
    out["pipeline"] = b"".join(call(100 + i, c.id, ARGS.get(c.name, [])) for i, c in enumerate(spec.CALLS))
    out["bad-length"] = struct.pack(">I", spec.MAX_FRAME + 1) + b"\x01\x00"
    out["bad-type"] = frame(0x7F, struct.pack(">I", 19))
    out["partial"] = call(20, getpid, [])[:-1]
    return out


def main() -> int:
    """Rewrite the corpus directory."""
    CORPUS.mkdir(exist_ok=True)
    wanted = seeds()
    for stale in CORPUS.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, data in wanted.items():
        (CORPUS / name).write_bytes(data)
    print(f"{len(wanted)} seeds in {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
