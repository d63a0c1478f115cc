"""The printed tables and the JSON record of a run."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import alcovepy
from alcovepy._helper_path import helper_path

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from benchmarks._config import Sizes
    from benchmarks._core import Case
    from benchmarks._runner import Results
    from benchmarks._targets import Verdict

REPO = Path(__file__).resolve().parent.parent

__all__ = ["fmt", "fmt_ratio", "markdown", "speedup_tables", "table", "verdict_table", "write_json"]


def fmt(value: float | None) -> str:
    """A figure with as many digits as a noisy measurement deserves."""
    if value is None:
        return "-"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    """A measured ratio, with enough digits to show which side of its threshold it is."""
    return fmt(value) if value is None or abs(value) >= 10 else f"{value:.3f}"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def medians(results: Results) -> dict[tuple[str, str], float]:
    return {k: m for k, s in results.items() if (m := s.median) is not None}


def table(cases: Sequence[Case], results: Results, backends: Sequence[str]) -> str:
    """Every case under every backend: median, min, max, samples, ratio to its baseline."""
    med = medians(results)
    rows: list[list[str]] = []
    for c in cases:
        for b in backends:
            s = results.get((b, c.name))
            if s is None:
                continue
            ratio = "-"
            m = s.median
            if c.baseline and m is not None and (base := med.get((b, c.baseline))):
                ratio = f"{m / base:.2f}x {c.baseline}"
            status = f"skipped: {s.skipped}" if s.skipped else (f"{len(s.errors)} errors" if s.errors else "")
            rows.append([c.name, b, c.unit, fmt(m), fmt(s.min), fmt(s.max), str(len(s.samples)), ratio, status])
    header = ["case", "backend", "unit", "median", "min", "max", "n", "ratio", ""]
    return _grid(header, rows, {3, 4, 5, 6})


def _speedups(
    cases: Sequence[Case], results: Results, backends: Sequence[str]
) -> list[tuple[list[str], list[list[str]]]]:
    """Per group: each alcovepy case's speed relative to every baseline of the
    group measured in the same unit (> 1: alcovepy is faster), as (header, rows)."""
    med = medians(results)
    grids = []
    for group in dict.fromkeys(c.group for c in cases):
        mine = [c for c in cases if c.group == group and c.alcovepy]
        bases = [c for c in cases if c.group == group and not c.alcovepy and any(c.unit == m.unit for m in mine)]
        rows = []
        for c in mine:
            for b in backends:
                m = med.get((b, c.name))
                if m is None:
                    continue
                cells = []
                for base in bases:
                    bm = med.get((b, base.name))
                    if bm is None or base.unit != c.unit or m <= 0 or bm <= 0:
                        cells.append("-")
                    else:
                        cells.append(f"{(m / bm if c.higher_is_better else bm / m):.2f}")
                rows.append([c.name, b, *cells])
        if bases and rows:
            names = [base.name.removeprefix(f"{group}_") for base in bases]  # spawn_c_vfork: c_vfork
            grids.append(([f"{group}: speed vs", "backend", *names], rows))
    return grids


def speedup_tables(cases: Sequence[Case], results: Results, backends: Sequence[str]) -> str:
    """The ratio to each baseline: how many times as fast as each one each alcovepy case is."""
    grids = _speedups(cases, results, backends)
    return "\n\n".join(_grid(h, rows, set(range(2, len(h)))) for h, rows in grids)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    rows = [
        [
            str(v.target.item),
            v.target.label,
            v.backend,
            fmt_ratio(v.measured),
            v.target.rule(),
            "n/a" if v.passed is None else ("PASS" if v.passed else "FAIL"),
            v.note,
        ]
        for v in verdicts
    ]
    return _grid(["#", "target", "backend", "measured", "needs", "", "note"], rows, {3})


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=REPO)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout


def _helper_sha256() -> str | None:
    try:
        return hashlib.sha256(helper_path().read_bytes()).hexdigest()
    except OSError:
        return None


def provenance() -> dict[str, object]:
    """What was measured: the commit, the uncommitted changes to the package
    and the helper (if any), and the helper binary that ran."""
    dirty = _git("status", "--porcelain", "--", "alcovepy", "helper", "setup.py")
    return {
        "commit": (_git("rev-parse", "HEAD") or "").strip() or None,
        "uncommitted": [line[3:] for line in (dirty or "").splitlines() if not line.startswith("??")],
        "helper_sha256": _helper_sha256(),
    }


def write_json(
    path: Path,
    cases: Sequence[Case],
    results: Results,
    verdicts: Sequence[Verdict],
    sizes: Sizes,
    backends: Sequence[str],
    extra: Mapping[str, str],
) -> None:
    record = {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "alcovepy": alcovepy.__version__,
            **provenance(),
            "backends": list(backends),
            **extra,
        },
        "sizes": asdict(sizes),
        "cases": [
            {
                "name": c.name,
                "title": c.title,
                "group": c.group,
                "unit": c.unit,
                "higher_is_better": c.higher_is_better,
                "baseline": c.baseline,
                "results": {
                    b: {
                        "median": s.median,
                        "min": s.min,
                        "max": s.max,
                        "samples": s.samples,
                        "errors": s.errors,
                        "skipped": s.skipped,
                    }
                    for b in backends
                    if (s := results.get((b, c.name))) is not None
                },
            }
            for c in cases
        ],
        "targets": [
            {
                "item": v.target.item,
                "label": v.target.label,
                "case": v.target.case,
                "baseline": v.target.baseline_for(v.backend) if v.backend != "both" else None,
                "backend": v.backend,
                "measured": v.measured,
                "rule": v.target.rule(),
                "threshold": v.target.threshold,
                "passed": v.passed,
                "note": v.note,
            }
            for v in verdicts
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def markdown(cases: Sequence[Case], results: Results, verdicts: Sequence[Verdict], backends: Sequence[str]) -> str:
    """The tables as Markdown (medians with min-max; speed vs each baseline; targets), for the README."""
    med = medians(results)
    head = "| case | unit | " + " | ".join(f"{b} median (min-max)" for b in backends) + " | ratio to |"
    lines = [head, "|" + "---|" * (len(backends) + 3)]
    for c in cases:
        cells = []
        for b in backends:
            s = results.get((b, c.name))
            if s is None or s.median is None:
                cells.append("-")
                continue
            base = med.get((b, c.baseline)) if c.baseline else None
            ratio = f" = {s.median / base:.2f}x" if base else ""
            cells.append(f"{fmt(s.median)} ({fmt(s.min)}-{fmt(s.max)}){ratio}")
        lines.append(f"| {c.name} | {c.unit} | " + " | ".join(cells) + f" | {c.baseline or ''} |")
    for header, rows in _speedups(cases, results, backends):
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "| # | target | needs | " + " | ".join(backends) + " |", "|" + "---|" * (len(backends) + 3)]
    for t in dict.fromkeys(id(v.target) for v in verdicts if v.backend != "both"):
        mine = [v for v in verdicts if id(v.target) == t]
        target = mine[0].target
        cells = [next((_mark(v) for v in mine if v.backend == b), "-") for b in backends]
        lines.append(f"| {target.item} | {target.label} | {target.rule()} | " + " | ".join(cells) + " |")
    both = [v for v in verdicts if v.backend == "both"]
    if both:
        lines += ["", "| 8 | trio cost / asyncio cost, ≤ 1.3x |", "|---|---|"]
        lines += [f"| {v.target.case} | {_mark(v)} |" for v in both]
    return "\n".join(lines) + "\n"


def _mark(v: Verdict) -> str:
    return f"{fmt_ratio(v.measured)} " + ("n/a" if v.passed is None else ("PASS" if v.passed else "**FAIL**"))
