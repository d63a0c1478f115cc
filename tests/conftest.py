"""Shared fixtures: both anyio backends, a Driver, and a leak check.

The Driver and the checks come from alcovepy's pytest plugin,
:mod:`alcovepy.testing`. Every Driver made through ``drv`` (or
``open_checked_driver``) is checked on exit: every process that was in the
helper's tree just before the Driver closed must be gone from /proc
afterwards (not a zombie: gone), and the test process must hold no new
child process and no more file descriptors than before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from alcovepy.testing import (
    assert_all_gone,
    children_of,
    descendants,
    open_checked_driver,
    open_fds,
    proc_state,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import alcovepy

__all__ = ["assert_all_gone", "children_of", "descendants", "open_checked_driver", "open_fds", "proc_state"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def drv() -> AsyncIterator[alcovepy.Driver]:
    async with open_checked_driver() as d:
        yield d
