"""The benchmark harness runs every case under both backends and reports on every target.

Its smoke mode (one round, tiny sizes) measures nothing worth reading: this
checks that each case runs to a figure, that each target of issue 3 gets a
verdict, that the reports are written and that no process is left behind.
The figures themselves are for `python -m benchmarks`, never for a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks.__main__  # noqa: F401  (importing it registers every case)
from alcovepy.testing import proc_state
from benchmarks._core import CASES
from benchmarks._targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def session_members(sid: int) -> list[int]:
    """Processes of session sid still in /proc (zombies included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after the state: ppid, pgrp, session
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(300)
def test_every_case_runs_and_every_target_gets_a_verdict(tmp_path: Path) -> None:
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("needs a C compiler (cc, or $CC) to build the benchmarks' C baselines")
    out = tmp_path / "smoke.json"
    run = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--smoke", "--output", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its session id names everything it started
    )
    try:
        text, _ = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
            run.wait()
    assert run.returncode == 0, text[-4000:]
    left = [pid for pid in session_members(run.pid) if proc_state(pid) is not None]
    assert not left, f"processes left behind by the benchmarks: {left}"

    report = json.loads(out.read_text())
    ran = {c["name"]: c for c in report["cases"]}
    assert set(ran) == {c.name for c in CASES}
    for case in CASES:
        results = ran[case.name]["results"]
        assert set(results) == set(case.backends), case.name
        for backend, series in results.items():
            if series["skipped"]:  # allowed, with its reason in the output
                assert f"skipping {case.name}: {series['skipped']}" in text
                continue
            assert series["errors"] == [], (case.name, backend)
            assert len(series["samples"]) == 1, (case.name, backend)
            assert series["median"] >= 0, (case.name, backend)

    verdicts = report["targets"]
    skipped = {c["name"] for c in report["cases"] if any(s["skipped"] for s in c["results"].values())}
    for target in TARGETS:
        mine = [v for v in verdicts if v["label"] == target.label]
        assert mine, f"no verdict for target {target.item}: {target.label}"
        for v in mine:
            if not target.cases() & skipped:
                assert v["measured"] is not None, v
                assert v["passed"] in (True, False), v

    assert "How many times as fast as each baseline" in text
    assert "| spawn: speed vs | backend | c_vfork |" in out.with_suffix(".md").read_text()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not out.with_suffix(".png").exists()
    else:
        assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
