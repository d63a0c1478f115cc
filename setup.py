"""Build the C helper with the system compiler and ship it inside the package.

`pip install .` and `pip install -e .` both run build_py, which runs make
in helper/ and places the binary at alcovepy/_bin/alcovepy-helper (and in
the wheel). Nothing prebuilt is committed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BINARY = "alcovepy-helper"


class BuildHelper(build_py):
    """build_py that first compiles the helper."""

    def run(self) -> None:
        target = ROOT / "alcovepy" / "_bin"
        target.mkdir(exist_ok=True)
        subprocess.run(["make", "-C", str(ROOT / "helper"), f"OUT={target / BINARY}"], check=True)
        super().run()
        if not getattr(self, "editable_mode", False):
            dest = Path(self.build_lib) / "alcovepy" / "_bin"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target / BINARY, dest / BINARY)


class BinaryDistribution(Distribution):
    """The wheel holds a compiled program: it is platform-specific."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildHelper}, distclass=BinaryDistribution)
