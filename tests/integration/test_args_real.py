"""Every wrong argument of every call, against a real helper: refused before sending.

The values and the table reading are shared with tests/protocol/test_args_linux.py,
which checks the same on a stand-in Driver without I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.protocol.test_args_linux import ROWS, Method, bad_values, blame, sending_refused, valid_value

if TYPE_CHECKING:
    import alcovepy


async def test_a_real_driver_refuses_wrong_arguments_and_keeps_working(drv: alcovepy.Driver) -> None:
    """Against the helper, on both layers: every wrong argument of every call raises before anything
    is numbered or sent, and afterwards the Driver (and a child) still answer."""
    child = await drv.root.fork()
    problems: list[str] = []
    with sending_refused() as tried:
        for row in ROWS:
            baseline = [valid_value(t) for _, t in row.args]
            layers: list[tuple[str, Method, list[object]]] = [
                ("drv", getattr(drv, row.name), [[]]),
            ]
            if hasattr(child, row.name):
                layers.append(("process", getattr(child, row.name), []))
            for index, (name, typ) in enumerate(row.args):
                for bad in bad_values(typ):
                    args = list(baseline)
                    args[index] = bad
                    for layer, method, lead in layers:
                        what = f"{layer}.{row.name}({name}={bad!r:.40})"
                        try:
                            await method(*lead, *args)
                        except (TypeError, ValueError) as exc:
                            if not re.match(blame(row, index), str(exc)):
                                problems.append(f"{what}: {type(exc).__name__} about something else: {exc}")
                            continue
                        problems.append(f"{what}: accepted")
    assert not problems, "\n".join(problems)
    assert tried == []
    assert drv.statistics().pending_requests == 0
    assert await drv.getpid([]) == drv.helper_pid
    assert await child.getpid() == child.pid
