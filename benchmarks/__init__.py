"""Benchmarks of alcovepy beside its baselines (issue 3): ``python -m benchmarks``.

Every case runs under asyncio and trio, alcovepy and baselines interleaved in
the same run (one sample of each case per round), and the targets of issue 3
are checked on the medians. See benchmarks/README.md.
"""
