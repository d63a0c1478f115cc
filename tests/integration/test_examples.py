"""The examples stay runnable: each is run end to end as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def userns_allowed() -> bool:
    try:
        return Path("/proc/sys/user/max_user_namespaces").read_text().strip() != "0"
    except OSError:
        return False


@pytest.mark.skipif(
    os.geteuid() != 0 and not userns_allowed(),
    reason="needs root, or unprivileged user namespaces (user.max_user_namespaces > 0)",
)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sandbox_example(backend: str) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "sandbox.py"), backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "[stdout] pid inside the sandbox: 1" in out
    assert "[stdout] interfaces in this netns: lo \n" in out
    assert "[stderr] a message on stderr" in out
    assert "GREETING=hello from alcovepy PATH=/usr/bin:/bin PWD=/" in out
    assert "exit status: 7" in out
    assert "events: [ExitStatus(status=7)]" in out
