"""The fuzz target's inputs: the seed corpus is current, and no regression input fails again.

helper/fuzz/make_corpus.py derives the seeds from the call table; the
committed copy must match what it generates now (as gen_calls.py --check
does for generated code). helper/fuzz/regressions/ holds inputs that once
failed the target; they are replayed, together with the seeds, through the
target built with ASan, UBSan and LeakSanitizer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alcovepy import _spec

HELPER = Path(__file__).resolve().parents[2] / "helper"
FUZZ = HELPER / "fuzz"


def test_the_seed_corpus_is_current() -> None:
    out = subprocess.run(
        [sys.executable, str(FUZZ / "make_corpus.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_call_has_a_seed() -> None:
    names = {p.name for p in (FUZZ / "corpus").iterdir()}
    assert [c.name for c in _spec.CALLS if f"call-{c.id:03d}-{c.name}" not in names] == []


@pytest.mark.skipif(shutil.which(os.environ.get("CLANG", "clang")) is None, reason="needs clang (libFuzzer)")
def test_regressions_and_seeds_pass_the_fuzz_target() -> None:
    build = subprocess.run(["make", "-C", str(HELPER), "fuzz"], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    regressions = sorted(p for p in (FUZZ / "regressions").iterdir() if p.name != "README.md")
    assert regressions
    for inputs in (FUZZ / "regressions", FUZZ / "corpus"):
        run = subprocess.run(
            [str(FUZZ / "fuzz_decode"), "-runs=0", str(inputs)], capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr[-4000:]
