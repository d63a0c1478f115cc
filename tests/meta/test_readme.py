"""The README's examples run, and print what the README says they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_first_example_prints_what_its_comments_say() -> None:
    block = python_blocks()[0]
    expected = [m.strip() for m in re.findall(r"print\(.*\)\s+# (.*)", block)]
    out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split("\n")[: len(expected)] == expected


def test_spawn_example_runs() -> None:
    block = python_blocks()[1]
    program = "import anyio, alcovepy\nasync def main():\n    async with alcovepy.open_driver() as drv:\n"
    program += "".join(f"        {line}\n" for line in block.splitlines())
    program += "anyio.run(main)\n"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "b'hi\\n' 0\n"
