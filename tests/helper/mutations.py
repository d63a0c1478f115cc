"""Real frames of the newer argument types, mutated, and a gate that keeps them harmless.

The property tests send a real helper (running as whoever runs the tests,
often root) frames of calls whose arguments are in/out buffers, cstructs,
clone_exec writes and setup steps, then mutate them byte by byte. Some of
those calls act on the world (prctl, ioctl, clone_exec forks and writes
files), so before a stream is sent, :func:`gate` reads every CALL frame's
arguments as the helper would (a msgpack reader for the same subset as
helper/msg.c) and keeps a call only if it is harmless whatever the mutation
did: pure calls always; prctl with an option that neither writes through a
pointer nor changes anything outside the helper; ioctl on an fd that is not
open; clone_exec whose writes stay in a scratch directory, whose steps only
touch the child itself, and whose program does not exist. Anything else
(including arguments the reader cannot parse) gets its call id rewritten to
getpid, whose reply is still owed. The gate also predicts, from the framing
rules of helper/loop.c, which replies the helper owes and how it exits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alcovepy import _spec

if TYPE_CHECKING:
    from collections.abc import Mapping

CALL = {c.name: c.id for c in _spec.CALLS}
GETPID = CALL["getpid"]
EXIT_OK = 0
EXIT_PROTOCOL = 101
MIN_BODY = {_spec.FRAME_CALL: 6, _spec.FRAME_STDIN: 4, _spec.FRAME_CLOSE_STDIN: 4, _spec.FRAME_CREDIT: 5}
MAX_DEPTH = 32  # helper/msg.c skip_depth

# Calls with no effect outside the helper's own memory, whatever their arguments.
PURE = frozenset(
    CALL[n]
    for n in (
        "version",
        "getpid",
        "getcwd",
        "environ",
        "getenv",
        "getopt",
        "cpid",
        "alloc",
        "errno_id",
        "getuid",
        "getgid",
        "getresuid",
        "getresgid",
        "getgroups",
        "gethostname",
        "getpgrp",
        "getcpid",
        *(c.name for c in _spec.CALLS if c.name.endswith("_constant")),
    )
)
# Setup steps whose effect stays in the clone_exec child, which then fails to exec.
CHILD_ONLY_STEPS = frozenset(
    CALL[n]
    for n in (
        "getpid",
        "getcwd",
        "chdir",
        "environ",
        "getenv",
        "setenv",
        "unsetenv",
        "clearenv",
        "getopt",
        "setopt",
        "sigaction",
        "getrlimit",
        "setrlimit",
        "alloc",
        "errno_id",
        "signal_constant",
    )
)
# prctl options that take their arguments by value and change nothing:
# whatever a mutation passes, the kernel writes through no pointer. (Not
# PR_SET_NAME, harmless to the kernel: AddressSanitizer's prctl interceptor
# copies the name from arg2 itself after the call, so in the ASan build a
# bad pointer crashes the helper where the plain build gets EFAULT.)
HARMLESS_PRCTL = (
    "PR_GET_DUMPABLE",
    "PR_GET_KEEPCAPS",
    "PR_CAPBSET_READ",
    "PR_GET_SECCOMP",
    "PR_GET_NO_NEW_PRIVS",
    "PR_GET_TIMERSLACK",
    "PR_GET_TIMING",
)
CLOSED_FD_MIN = 1000  # the helper never has this many fds open
ABSENT = b"/absent/"  # under the scratch directory: never created


class Malformed(Exception):
    """Bytes the helper's msgpack reader would refuse too."""


def read_value(data: bytes, pos: int, depth: int = 0) -> tuple[object, int]:
    """One msgpack value of the helper's subset at pos: (value, next pos).

    str and bin both read as bytes, as the helper reads them; a uint64
    above INT64_MAX, floats, maps and extensions are refused, as is nesting
    deeper than the helper's skip allows.
    """
    if depth > MAX_DEPTH or pos >= len(data):
        raise Malformed
    c = data[pos]

    def take(n: int, at: int) -> bytes:
        if at + n > len(data):
            raise Malformed
        return data[at : at + n]

    if c <= 0x7F:
        return c, pos + 1
    if c >= 0xE0:
        return c - 0x100, pos + 1
    if c == 0xC0:
        return None, pos + 1
    if c in (0xC2, 0xC3):
        return c == 0xC3, pos + 1
    if 0xCC <= c <= 0xD3:
        width = (1, 2, 4, 8)[(c - 0xCC) % 4]
        v = int.from_bytes(take(width, pos + 1), "big", signed=c >= 0xD0)
        if v > 2**63 - 1:
            raise Malformed
        return v, pos + 1 + width
    if 0xA0 <= c <= 0xBF:
        n, at = c & 0x1F, pos + 1
    elif c in (0xD9, 0xC4, 0xDA, 0xC5, 0xDB, 0xC6):
        width = {0xD9: 1, 0xC4: 1, 0xDA: 2, 0xC5: 2, 0xDB: 4, 0xC6: 4}[c]
        n, at = int.from_bytes(take(width, pos + 1), "big"), pos + 1 + width
    elif 0x90 <= c <= 0x9F or c in (0xDC, 0xDD):
        if c <= 0x9F:
            count, at = c & 0x0F, pos + 1
        else:
            width = 2 if c == 0xDC else 4
            count, at = int.from_bytes(take(width, pos + 1), "big"), pos + 1 + width
        if count > len(data) - at:  # every item takes a byte at least
            raise Malformed
        items: list[object] = []
        for _ in range(count):
            item, at = read_value(data, at, depth + 1)
            items.append(item)
        return items, at
    else:
        raise Malformed
    return take(n, at), at + n


def read_args(payload: bytes) -> list[object] | None:
    """A CALL's argument array as the helper sees it, or None if it would refuse it whole."""
    try:
        value, end = read_value(payload, 0)
    except Malformed:
        return None
    return value if end == len(payload) and isinstance(value, list) else None


@dataclass(frozen=True)
class Context:
    """What the gate needs to know about this machine."""

    scratch: bytes  # a directory of the test's own: writes may go there only
    prctl_values: frozenset[int]  # the values of HARMLESS_PRCTL on the helper's platform


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _inside(ctx: Context, p: object, prefix: bytes = b"/") -> bool:
    return isinstance(p, bytes) and p.startswith(ctx.scratch + prefix) and b"/.." not in p


def _prctl_ok(ctx: Context, args: list[object]) -> bool:
    option = args[0] if args else None
    if isinstance(option, bytes):
        return option.upper() in {n.encode() for n in HARMLESS_PRCTL}
    return not _is_int(option) or option in ctx.prctl_values


def _ioctl_ok(args: list[object]) -> bool:
    fd = args[0] if args else None
    return not (isinstance(fd, int) and 0 <= fd < CLOSED_FD_MIN)  # a bool counts as an int here: rewritten


def _clone_exec_ok(ctx: Context, args: list[object]) -> bool:
    if len(args) != 6:
        return True  # "takes 6 arguments": refused before anything runs
    _, writes, steps, file, _, _ = args
    if isinstance(writes, list):
        for w in writes:
            if isinstance(w, list) and w and isinstance(w[0], bytes) and not _inside(ctx, w[0]):
                return False
    if isinstance(steps, list):
        for s in steps:
            if isinstance(s, list) and len(s) > 1 and _is_int(s[0]) and s[0] not in CHILD_ONLY_STEPS:
                return False
    return not isinstance(file, bytes) or _inside(ctx, file, ABSENT)


def harmless(ctx: Context, callid: int, payload: bytes) -> bool:
    """Whether the helper may run this call (at depth 0) as it is."""
    if callid in PURE:
        return True
    args = read_args(payload)
    if args is None:
        return False  # the helper refuses it too; rewriting keeps the gate simple to trust
    if callid == CALL["prctl"]:
        return _prctl_ok(ctx, args)
    if callid == CALL["ioctl"]:
        return _ioctl_ok(args)
    if callid == CALL["clone_exec"]:
        return _clone_exec_ok(ctx, args)
    return False


@dataclass(frozen=True)
class Prediction:
    stream: bytes  # what to send: harmful calls rewritten to getpid
    reqids: list[int]  # the replies the helper owes (clone_exec answers out of order)
    exit_code: int
    ran: list[str]  # the calls the helper was left to run (or refuse), by name
    rewritten: int  # how many calls became getpid


def gate(ctx: Context, stream: bytes) -> Prediction:
    """Frame the stream as helper/loop.c does, rewrite what is not harmless, predict the outcome.

    With no children, every accepted CALL, STDIN or CLOSE_STDIN frame gets
    one reply at depth 0 and CREDIT none; the first frame the loop cannot
    parse ends the helper with 101; an incomplete tail waits for EOF.
    """
    data = bytearray(stream)
    reqids: list[int] = []
    ran: list[str] = []
    rewritten = 0
    names = {c.id: c.name for c in _spec.CALLS}
    off = 0
    code = EXIT_OK
    while len(data) - off >= 4:
        (n,) = struct.unpack_from(">I", data, off)
        if n > _spec.MAX_FRAME:
            code = EXIT_PROTOCOL
            break
        if len(data) - off - 4 < n:
            break
        f = off + 4
        if n < 2 or 2 + 4 * data[f + 1] > n:
            code = EXIT_PROTOCOL
            break
        ftype, depth = data[f], data[f + 1]
        body, end = f + 2 + 4 * depth, f + n
        if ftype not in MIN_BODY or end - body < MIN_BODY[ftype]:
            code = EXIT_PROTOCOL
            break
        if ftype == _spec.FRAME_CALL and depth == 0:
            (callid,) = struct.unpack_from(">H", data, body + 4)
            if not harmless(ctx, callid, bytes(data[body + 6 : end])):
                struct.pack_into(">H", data, body + 4, GETPID)
                rewritten += 1
            else:
                ran.append(names.get(callid, "unknown"))
        if ftype != _spec.FRAME_CREDIT:
            reqids.append(struct.unpack_from(">I", data, body)[0])
        off = end
    return Prediction(bytes(data), reqids, code, ran, rewritten)


def prctl_context(scratch: bytes, values: Mapping[str, int | None]) -> Context:
    """A Context from the helper's own values of HARMLESS_PRCTL (None: not on this platform)."""
    return Context(scratch, frozenset(v for n, v in values.items() if n in HARMLESS_PRCTL and v is not None))
