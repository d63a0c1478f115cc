"""Compile the C baselines into a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["BASELINES", "build_baselines"]

SOURCE_DIR = Path(__file__).resolve().parent / "baselines"
BASELINES = ("echo", "helper_client", "pingpong", "spawn_floor", "stream_client")


def build_baselines() -> Path:
    """Build every baseline with ``cc -O2``; the caller removes the directory."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise SystemExit(f"benchmarks: no C compiler ({cc}) to build the baselines")
    out = Path(tempfile.mkdtemp(prefix="alcovepy-bench-"))
    try:
        for name in BASELINES:
            subprocess.run([cc, "-O2", "-o", str(out / name), str(SOURCE_DIR / f"{name}.c")], check=True)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
