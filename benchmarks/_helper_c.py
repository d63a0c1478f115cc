"""The floor of a call through the real helper: baselines/helper_client.c.

It measures what the helper and the kernel cost with no Python and no event
loop on the host's side: a C client writes each request and blocks reading
its reply. The setup it needs (the forks of a pipeline) is done here first,
with blocking reads and writes of raw frames on the helper's pipes, which
are then handed to the C client.
"""

from __future__ import annotations

import os
import struct
import subprocess
from typing import TYPE_CHECKING

import msgspec

from alcovepy import _spec as spec
from alcovepy._helper_path import helper_path

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["helper_client_us"]

CALLS = {c.name: c.id for c in spec.CALLS}
TIMEOUT = 60.0  # seconds the C client may take


def _frame(reqid: int, call: str, args: object, pids: tuple[int, ...]) -> bytes:
    body = struct.pack(">IH", reqid, CALLS[call]) + msgspec.msgpack.encode(args)
    rest = struct.pack(f">BB{len(pids)}I", spec.FRAME_CALL, len(pids), *pids) + body
    return struct.pack(">I", len(rest)) + rest


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise RuntimeError("benchmarks: the helper exited during the C client's setup")
        out += chunk
    return out


def _reply_value(fd: int) -> object:
    """The value of the next reply on fd (blocking); raises if it is not OK."""
    while True:
        (length,) = struct.unpack(">I", _read_exact(fd, 4))
        frame = _read_exact(fd, length)
        body = frame[2 + 4 * frame[1] :]
        if frame[0] == spec.FRAME_REPLY:
            if body[4] != spec.STATUS_OK:
                raise RuntimeError(f"benchmarks: setup call failed: {body!r}")
            return msgspec.msgpack.decode(body[5:])


def helper_client_us(bin_dir: Path, calls: int, call: str, args: object, depth: int = 0) -> float:
    """Mean µs per call of `call(*args)` at the end of a pipeline of `depth`
    forks, sent `calls` times by the C client through a fresh helper."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    try:
        helper = subprocess.Popen([str(helper_path())], stdin=to_r, stdout=from_w, process_group=0)
    finally:
        os.close(to_r)
        os.close(from_w)
    try:
        (length,) = struct.unpack(">I", _read_exact(from_r, 4))
        _read_exact(from_r, length)  # the hello frame
        pids: tuple[int, ...] = ()
        for reqid in range(1, depth + 1):
            os.write(to_w, _frame(reqid, "fork", [], pids))
            child = _reply_value(from_r)
            assert isinstance(child, int)
            pids += (child,)
        frame = _frame(0, call, args, pids)
        out = subprocess.run(
            [str(bin_dir / "helper_client"), str(calls), str(6 + 4 * depth), frame.hex(), str(to_w), str(from_r)],
            pass_fds=(to_w, from_r),
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT,
        )
        return float(out.stdout) / 1000
    finally:
        os.close(to_w)  # the helper ends its children and exits
        os.close(from_r)
        helper.wait(timeout=TIMEOUT)
