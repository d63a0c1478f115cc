"""alcovepy's pytest plugin (alcovepy.testing), run in inner pytest sessions.

Each inner session is a fresh ``python -m pytest`` (pytester) that loads the
plugin only through its ``pytest11`` entry point: nothing passes
``-p alcovepy.testing``. What an inner test leaks is recorded by its conftest
and cleaned up there after the leak check has run (an autouse fixture is set
up first, so torn down last): the inner session leaves nothing behind, which
the outer test then checks from /proc.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, TypeAlias

import pytest

from alcovepy.testing import LeakError, assert_all_gone, no_leaks, proc_state

if TYPE_CHECKING:
    from collections.abc import Callable

pytest_plugins = ["pytester"]

INNER_TIMEOUT = 50  # seconds for a whole inner session; each inner test has 30


def _has_entry_point() -> bool:
    points = importlib.metadata.entry_points(group="pytest11")
    return any(ep.name == "alcovepy" and ep.value == "alcovepy.testing" for ep in points)


pytestmark = pytest.mark.skipif(
    not _has_entry_point(),
    reason="alcovepy is not installed with its pytest11 entry point (python -m pip install -e .)",
)

INI = """\
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
timeout = 30
"""

CONFTEST = '''\
import os
import subprocess
from pathlib import Path

import pytest

LEFT: list[int | subprocess.Popen[bytes]] = []


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


def record(thing):
    """Keep what a test leaks, and its number for the outer test."""
    LEFT.append(thing)
    with Path("leaked").open("a") as f:
        f.write(f"{thing if isinstance(thing, int) else thing.pid}\\n")
    return thing


@pytest.fixture(autouse=True)
def cleanup():
    yield  # set up first, so torn down after the leak checks
    while LEFT:
        thing = LEFT.pop()
        if isinstance(thing, int):
            os.close(thing)
        else:
            thing.kill()
            thing.wait()
'''

Run: TypeAlias = "Callable[[str], tuple[pytest.RunResult, list[int]]]"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run a test module in a fresh pytest; return its result and the numbers it leaked."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)

    def run(source: str) -> tuple[pytest.RunResult, list[int]]:
        pytester.makepyfile(test_inner=textwrap.dedent(source))
        with no_leaks():
            result = pytester.runpytest_subprocess("-v", "--tb=short", timeout=INNER_TIMEOUT)
        leaked = pytester.path / "leaked"
        numbers = [int(x) for x in leaked.read_text().split()] if leaked.exists() else []
        return result, numbers

    return run


def test_the_entry_point_registers_the_plugin_and_its_marker(inner: Run) -> None:
    result, _ = inner(
        """
        import alcovepy.testing

        def test_registered(pytestconfig):
            assert pytestconfig.pluginmanager.get_plugin("alcovepy") is alcovepy.testing
            assert any(m.startswith("alcovepy(") for m in pytestconfig.getini("markers"))
        """
    )
    result.assert_outcomes(passed=1)


def test_the_driver_fixture_runs_on_both_backends_with_options(inner: Run) -> None:
    result, _ = inner(
        """
        import pytest
        import sniffio

        pytestmark = [pytest.mark.anyio, pytest.mark.alcovepy(maxchild=3)]

        async def test_echo(alcovepy_driver, anyio_backend):
            assert sniffio.current_async_library() == anyio_backend
            proc = await alcovepy_driver.root.spawn("echo", ["echo", "hi"])
            assert await proc.stdout.receive() == b"hi\\n"
            assert await proc.wait() == 0
            assert await alcovepy_driver.getopt([], "maxchild") == 3

        @pytest.mark.parametrize("alcovepy_driver", [{"maxchild": 5}], indirect=True)
        async def test_indirect(alcovepy_driver):
            assert await alcovepy_driver.getopt([], "maxchild") == 5
        """
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        ["*test_echo[[]asyncio[]] PASSED*", "*test_echo[[]trio[]] PASSED*", "*test_indirect[[]trio-*[]] PASSED*"]
    )


def test_a_zombie_fails_the_leak_check_and_a_clean_test_passes(inner: Run) -> None:
    result, pids = inner(
        """
        import os
        import subprocess
        import sys

        from conftest import record

        def test_zombie(alcovepy_leak_check):
            child = record(subprocess.Popen([sys.executable, "-c", "pass"]))
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped

        def test_clean(alcovepy_leak_check):
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            with open(__file__, "rb"):
                pass
        """
    )
    result.assert_outcomes(passed=2, errors=1)  # test_zombie's call passed, its teardown failed
    [pid] = pids
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_zombie*", f"E *LeakError: left behind: pid {pid} (*): Z (zombie)"]
    )
    assert proc_state(pid) is None  # reaped by the inner session after the check


def test_a_running_child_fails_the_driver_fixture_on_both_backends(inner: Run) -> None:
    result, pids = inner(
        """
        import subprocess
        import sys

        import pytest

        from conftest import record

        @pytest.mark.anyio
        async def test_running_child(alcovepy_driver):
            record(subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"]))
            assert await alcovepy_driver.getpid([]) == alcovepy_driver.helper_pid
        """
    )
    result.assert_outcomes(passed=2, errors=2)
    assert len(pids) == 2
    for backend, pid in zip(["asyncio", "trio"], pids, strict=True):
        result.stdout.fnmatch_lines(
            [
                f"*ERROR at teardown of test_running_child[[]{backend}[]]*",
                f"E *LeakError: left behind: pid {pid} (*): [RS]",
            ]
        )
    assert all(proc_state(pid) is None for pid in pids)


def test_an_fd_leak_fails_the_driver_fixture_and_no_leaks(inner: Run) -> None:
    result, fds = inner(
        """
        import os

        import pytest

        from alcovepy.testing import no_leaks
        from conftest import record

        @pytest.mark.anyio
        async def test_fd_in_fixture(alcovepy_driver):
            record(os.open(os.devnull, os.O_RDONLY))

        def test_fd_in_block():
            with no_leaks():
                record(os.open(os.devnull, os.O_RDONLY))
        """
    )
    result.assert_outcomes(passed=2, errors=2, failed=1)
    assert len(fds) == 3
    headers = [
        "ERROR at teardown of test_fd_in_fixture[[]asyncio[]]",
        "ERROR at teardown of test_fd_in_fixture[[]trio[]]",
    ]
    for header, fd in zip([*headers, "test_fd_in_block"], fds, strict=True):
        result.stdout.fnmatch_lines([f"*_ {header} _*", f"E *LeakError: left behind: fd {fd} -> /dev/null"])


def test_the_tree_check_names_running_and_zombie_processes() -> None:
    """The check alcovepy_driver applies to the helper's tree, on pids it is given.

    An inner session cannot make a process of a Driver's tree outlive it: the
    helper kills and reaps even children it did not fork. So the check is fed
    processes of this test instead.
    """
    running = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)
        with pytest.raises(LeakError) as failure:
            assert_all_gone({running.pid, zombie.pid})
        assert f"pid {zombie.pid} (" in str(failure.value)
        assert str(failure.value).count("(zombie)") == 1
        assert f"pid {running.pid} (" in str(failure.value)
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
        zombie.wait()
    assert_all_gone({running.pid, zombie.pid})


def test_open_fds_sees_a_leak_at_the_lowest_free_number() -> None:
    """Listing /proc/self/fd opens a directory fd at the lowest free number, the
    one a leak takes next: open_fds must not count it, or that leak is missed."""
    lowest = os.open(os.devnull, os.O_RDONLY)
    os.close(lowest)
    leaked = -1
    try:
        with pytest.raises(LeakError, match=rf"fd {lowest} -> /dev/null"), no_leaks():
            leaked = os.open(os.devnull, os.O_RDONLY)
    finally:
        if leaked >= 0:
            os.close(leaked)
    assert leaked == lowest
