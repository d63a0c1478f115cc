"""The PNG chart: one panel per target group, medians as bars with min/max
whiskers, asyncio and trio side by side; each panel's title carries the
verdicts of its targets. matplotlib is optional (the ``bench`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks._report import fmt, fmt_ratio, medians

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from benchmarks._core import Case
    from benchmarks._runner import Results
    from benchmarks._targets import Target, Verdict

__all__ = ["PANELS", "write_chart"]

# (case group, panel title)
PANELS: tuple[tuple[str, str], ...] = (
    ("call", "1-2 · sequential calls (lower is better)"),
    ("inflight", "3 · 16 calls in flight (higher is better)"),
    ("spawn", "4 · spawn /bin/true to its exit status (higher is better)"),
    ("stdout", "5 · stdout throughput (higher is better)"),
    ("stdin", "6 · stdin throughput (higher is better)"),
    ("rss", "7 · unread writer: host RSS growth (lower is better)"),
    ("pss", "7 · idle control child: PSS (lower is better)"),
    ("scale", "7 · getpid among 1,000 idle children (lower is better)"),
)
COLORS = {"asyncio": "#4C72B0", "trio": "#DD8452"}


def _target_line(target: Target, verdicts: Sequence[Verdict]) -> str:
    """One line per target: its rule, then each backend's ratio and verdict."""
    base = target.baseline if isinstance(target.baseline, str) else "the loop's own" if target.baseline else ""
    parts = [
        f"{v.backend} {fmt_ratio(v.measured)} " + ("n/a" if v.passed is None else ("PASS" if v.passed else "FAIL"))
        for v in verdicts
    ]
    return f"T{target.item}: {target.case} {target.rule()} {base}: " + ", ".join(parts)


def _threshold_x(v: Verdict, medians: Mapping[tuple[str, str], float]) -> float | None:
    """Where the case's bar must end for the target to hold, in the case's unit."""
    t = v.target
    if t.kind == "max_value":
        return t.threshold
    base = medians.get((v.backend, t.baseline_for(v.backend) or ""))
    if base is None:
        return None
    if t.kind == "max_per_hop":
        unit = medians.get((v.backend, t.per_hop_unit or ""))
        return None if unit is None else base + t.threshold * t.hops * unit
    return base * t.threshold


def write_chart(
    path: Path, cases: Sequence[Case], results: Results, verdicts: Sequence[Verdict], backends: Sequence[str]
) -> str | None:
    """Draw the chart; returns why not if matplotlib is missing."""
    try:
        import matplotlib as mpl
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no chart"
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(g, t, [c for c in cases if c.group == g]) for g, t in PANELS]
    panels = [p for p in panels if p[2]]
    backend_verdicts = [v for v in verdicts if v.target.kind == "backend_ratio" and v.measured is not None]
    n = len(panels) + (1 if backend_verdicts else 0)
    ncols = 3
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 * ncols, 5.5 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    height = 0.8 / max(1, len(backends))
    med = medians(results)
    for ax, (_group, title, members) in zip(flat, panels, strict=False):
        labels: list[str] = []
        labelled: set[str] = set()
        rows: dict[tuple[str, str], float] = {}
        for yi, c in enumerate(members):
            labels.append(c.name)
            for bi, b in enumerate(backends):
                s = results.get((b, c.name))
                if s is None or s.median is None or s.min is None or s.max is None:
                    continue
                y = yi + (bi - (len(backends) - 1) / 2) * height
                rows[(b, c.name)] = y
                ax.barh(
                    y,
                    s.median,
                    height=height,
                    color=COLORS.get(b, "grey"),
                    xerr=[[s.median - s.min], [s.max - s.median]],
                    capsize=3,
                    label=None if b in labelled else b,
                )
                labelled.add(b)
                ax.text(s.max, y, f" {fmt(s.median)}", va="center", fontsize=7)
        ax.set_yticks(range(len(members)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(members[0].unit)
        names = {c.name for c in members}
        mine = [v for v in verdicts if v.target.kind != "backend_ratio" and v.target.case in names]
        targets: list[Target] = []
        for v in mine:
            if not any(v.target is t for t in targets):
                targets.append(v.target)
        lines = [_target_line(t, [v for v in mine if v.target is t]) for t in targets]
        for v in mine:  # a black tick where the bar must end (or reach) for the target to hold
            tx, ty = _threshold_x(v, med), rows.get((v.backend, v.target.case))
            if tx is not None and ty is not None:
                ax.vlines(tx, ty - height / 2, ty + height / 2, color="black", linestyles="dashed", linewidth=1.5)
        ax.set_title("\n".join([title, *lines]), fontsize=8, loc="left")
        ax.legend(fontsize=7, loc="best")
        ax.grid(axis="x", alpha=0.3)
    if backend_verdicts:
        ax = flat[len(panels)]
        ys = range(len(backend_verdicts))
        vals = [v.measured or 0.0 for v in backend_verdicts]
        ax.barh(ys, vals, color=["#55A868" if v.passed else "#C44E52" for v in backend_verdicts])
        ax.axvline(backend_verdicts[0].target.threshold, color="black", linestyle="--", linewidth=1)
        ax.axvline(1.0, color="grey", linewidth=0.8)
        ax.set_yticks(list(ys), [v.target.case for v in backend_verdicts], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("trio cost / asyncio cost (median); dashed: the 1.3x target")
        ax.set_title("8 · both backends: trio within 1.3x of asyncio (green PASS, red FAIL)", fontsize=8, loc="left")
        ax.grid(axis="x", alpha=0.3)
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.suptitle(
        "alcovepy benchmarks (issue 3): bars are medians, whiskers min-max, all from the same interleaved run;\n"
        "a dashed tick marks where a bar must end (lower is better) or reach (higher is better) for its target",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None
