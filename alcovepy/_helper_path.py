"""Where the helper binary is: built into the package at install time."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["helper_path"]

HELPER_NAME = "alcovepy-helper"


def helper_path() -> Path:
    """The helper to run: $ALCOVEPY_HELPER if set, else the packaged one."""
    override = os.environ.get("ALCOVEPY_HELPER")
    if override:
        return Path(override)
    path = Path(__file__).resolve().parent / "_bin" / HELPER_NAME
    if not path.exists():
        raise FileNotFoundError(
            f"the alcovepy helper is not built ({path} is missing): install the package with "
            "`pip install .` (or `pip install -e .`), which compiles it"
        )
    return path
