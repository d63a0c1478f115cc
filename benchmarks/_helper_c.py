"""The floor of a call through the real helper: baselines/helper_client.c.

It measures what the helper and the kernel cost with no Python and no event
loop on the host's side: a C client writes each request and blocks reading
its reply. The setup it needs (the forks of a pipeline) is done here first,
with blocking reads and writes of raw frames on the helper's pipes, which
are then handed to the C client.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import subprocess
from typing import TYPE_CHECKING

import msgspec

from alcovepy import _spec as spec
from alcovepy._driver import PIPE_SIZE
from alcovepy._helper_path import helper_path
from alcovepy._protocol import FrameDecoder, encode_credit, encode_request

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from alcovepy._protocol import Frame

__all__ = ["helper_client_us", "helper_stdout_mbps"]

CALLS = {c.name: c.id for c in spec.CALLS}
TIMEOUT = 60.0  # seconds the C client may take


def _frame(reqid: int, call: str, args: object, pids: tuple[int, ...]) -> bytes:
    return encode_request(spec.FRAME_CALL, pids, (reqid, CALLS[call]), msgspec.msgpack.encode(args))


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise RuntimeError("benchmarks: the helper exited during the C client's setup")
        out += chunk
    return out


def _read_frame(fd: int) -> Frame:
    """The next frame on fd, read exactly (blocking): nothing after it is
    taken, as the C client reads on from there."""
    head = _read_exact(fd, 4)
    (length,) = struct.unpack(">I", head)
    (frame,) = FrameDecoder().feed(head + _read_exact(fd, length))
    return frame


def _reply_value(fd: int) -> object:
    """The value of the next reply on fd (blocking); raises if it is not OK."""
    while True:
        frame = _read_frame(fd)
        if frame.type == spec.FRAME_REPLY:
            if frame.body[4] != spec.STATUS_OK:
                raise RuntimeError(f"benchmarks: setup call failed: {frame.body!r}")
            return msgspec.msgpack.decode(frame.body[5:])


@contextlib.contextmanager
def _helper_with_pipeline(depth: int) -> Iterator[tuple[int, int, tuple[int, ...]]]:
    """A fresh helper with a pipeline of depth forks: (the write end of its
    stdin, the read end of its stdout, the pipeline). Closing its stdin at
    the end makes it end its children and exit."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    for fd in (to_w, from_w):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # as the Driver's
    try:
        helper = subprocess.Popen([str(helper_path())], stdin=to_r, stdout=from_w, process_group=0)
    finally:
        os.close(to_r)
        os.close(from_w)
    try:
        _read_frame(from_r)  # the hello
        pids: tuple[int, ...] = ()
        for reqid in range(1, depth + 1):
            os.write(to_w, _frame(reqid, "fork", [], pids))
            child = _reply_value(from_r)
            assert isinstance(child, int)
            pids += (child,)
        yield to_w, from_r, pids
    finally:
        os.close(to_w)
        os.close(from_r)
        helper.wait(timeout=TIMEOUT)


def _run_client(argv: list[str], fds: tuple[int, int]) -> str:
    out = subprocess.run(argv, pass_fds=fds, capture_output=True, text=True, check=True, timeout=TIMEOUT)
    return out.stdout


def helper_client_us(bin_dir: Path, calls: int, call: str, args: object, depth: int = 0) -> float:
    """Mean µs per call of `call(*args)` at the end of a pipeline of `depth`
    forks, sent `calls` times by the C client through a fresh helper."""
    with _helper_with_pipeline(depth) as (to_w, from_r, pids):
        frame = _frame(0, call, args, pids)
        offset = 6 + 4 * depth  # of the request id
        argv = [str(bin_dir / "helper_client"), str(calls), str(offset), frame.hex(), str(to_w), str(from_r)]
        return float(_run_client(argv, (to_w, from_r))) / 1000


def helper_stdout_mbps(bin_dir: Path, nbytes: int, depth: int) -> float:
    """MB/s of `head -c nbytes /dev/zero` exec'd at depth (a fork below a
    chain of depth - 1), its stdout read to the end by the C client
    (baselines/stream_client.c), which returns credit as the Driver does."""
    with _helper_with_pipeline(depth) as (to_w, from_r, pids):
        argv_head = ["head", "-c", str(nbytes), "/dev/zero"]
        exec_frame = _frame(depth + 1, "execvp", ["head", argv_head], pids)
        credit = encode_credit(pids, 0, 0)
        client = [str(bin_dir / "stream_client"), exec_frame.hex(), credit.hex(), str(to_w), str(from_r)]
        total, ns = _run_client(client, (to_w, from_r)).split()
        if int(total) != nbytes:
            raise RuntimeError(f"benchmarks: the C stream client got {total} of {nbytes} bytes")
        return nbytes / (float(ns) / 1e9) / 1e6
