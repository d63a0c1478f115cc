"""python -m benchmarks [--quick | --smoke] [--backend asyncio|trio|both] [--only SUBSTRING[,...]] [--rounds N]

Builds the C baselines, runs every case under each backend, interleaved,
for a number of rounds; prints the table of medians and the targets of
issue 3; writes benchmarks/results/latest.json, latest.md (the tables in
Markdown) and latest.png. Exits 1 if a case failed to run (a target that
fails is a measurement, not an error).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import benchmarks.cases_calls
import benchmarks.cases_memory
import benchmarks.cases_spawn
import benchmarks.cases_stream  # noqa: F401  (importing a module registers its cases)
from benchmarks._build import build_baselines
from benchmarks._chart import write_chart
from benchmarks._config import FULL, QUICK, SMOKE
from benchmarks._core import BACKENDS, CASES, ordered
from benchmarks._report import markdown, medians, provenance, speedup_tables, table, verdict_table, write_json
from benchmarks._runner import run
from benchmarks._targets import TARGETS, Verdict, backend_targets, evaluate

RESULTS = Path(__file__).resolve().parent / "results"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="few rounds, small sizes (under 2 minutes)")
    size.add_argument(
        "--smoke", action="store_true", help="every case once with tiny sizes: checks that they run, measures nothing"
    )
    p.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    p.add_argument(
        "--only", default="", help="run only the cases whose name contains one of these comma-separated substrings"
    )
    p.add_argument("--rounds", type=int, default=None, help="override the number of rounds")
    p.add_argument(
        "--output", type=Path, default=RESULTS / "latest.json", help="where the JSON goes (the PNG beside it)"
    )
    p.add_argument("--list", action="store_true", help="list the cases and targets, then exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = (SMOKE if args.smoke else QUICK if args.quick else FULL).with_rounds(args.rounds)
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    wanted = [w for w in args.only.split(",") if w]
    cases = ordered([c for c in CASES if not wanted or any(w in c.name for w in wanted)])
    if args.list:
        for c in ordered(CASES):
            print(f"{c.name:28} {c.unit:9} {'/'.join(c.backends):13} {c.title}")
        print()
        for t in TARGETS:
            base = (
                " / ".join(f"{v} ({k})" for k, v in t.baseline.items()) if isinstance(t.baseline, dict) else t.baseline
            )
            print(f"T{t.item} {t.label}: {t.case} {t.rule()} {base or ''}")
        return 0
    if not cases:
        _log(f"no case matches {args.only!r}; see --list")
        return 2

    bin_dir = build_baselines()
    t0 = time.perf_counter()
    try:
        _log(f"{sizes.mode} mode: {len(cases)} cases x {sizes.rounds} rounds x {', '.join(backends)}")
        results = run(cases, sizes, backends, bin_dir, _log)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    elapsed = time.perf_counter() - t0

    by_name = {c.name: c for c in CASES}
    med = medians(results)
    verdicts: list[Verdict] = [evaluate(t, b, med, by_name) for t in TARGETS for b in backends]
    if len(backends) > 1:
        verdicts += [evaluate(t, "both", med, by_name) for t in backend_targets(cases)]
    measured = {n for (_b, n) in med}
    verdicts = [v for v in verdicts if v.passed is not None or v.target.cases() & measured]

    print(table(cases, results, backends))
    print()
    if speedups := speedup_tables(cases, results, backends):
        print("How many times as fast as each baseline (> 1: alcovepy is faster)\n")
        print(speedups)
        print()
    print(verdict_table(verdicts) if verdicts else "(no target has its cases in this run)")
    passed = sum(1 for v in verdicts if v.passed)
    failed = sum(1 for v in verdicts if v.passed is False)
    print(f"\ntargets: {passed} pass, {failed} fail, {len(verdicts) - passed - failed} not measured; {elapsed:.0f} s")
    prov = provenance()
    dirty = prov["uncommitted"]
    print(f"measured at commit {prov['commit']}" + (f" with uncommitted changes to {dirty}" if dirty else ""))
    errors = 0
    for (b, n), s in results.items():
        for e in sorted(set(s.errors)):
            errors += 1
            print(f"error in {n} ({b}): {e}")

    write_json(args.output, cases, results, verdicts, sizes, backends, {"elapsed_s": f"{elapsed:.1f}"})
    args.output.with_suffix(".md").write_text(markdown(cases, results, verdicts, backends))
    png = args.output.with_suffix(".png")
    why_not = write_chart(png, cases, results, verdicts, backends)
    print(f"wrote {args.output}" + (f"; {why_not}" if why_not else f" and {png}"))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
