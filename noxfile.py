"""Developer and CI sessions.

    nox                   tests, lint and check_c (the default sessions)
    nox -s asan           the whole suite against the helper built with ASan+UBSan
    nox -s fuzz           the libFuzzer target for 60 s; `nox -s fuzz -- 600` for longer
    nox -s bench          the benchmarks; `nox -s bench -- --quick` in under 2 minutes, `-- --smoke` in seconds
    nox -s tests -- -x    arguments after -- go to pytest

Python sessions run in a reused venv that also sees the system
site-packages, so tools already installed that satisfy pyproject.toml are
not downloaded again. The C sessions need make and gcc; fuzz needs clang
with libFuzzer (Debian/Ubuntu: `apt-get install -y build-essential clang`).
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
HELPER = ROOT / "helper"
FUZZ = HELPER / "fuzz"

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True

VENV_PARAMS = ["--system-site-packages"]


@nox.session(venv_params=VENV_PARAMS)
def tests(session: nox.Session) -> None:
    """The pytest suite; every async test runs on asyncio and on trio."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_params=VENV_PARAMS)
def lint(session: nox.Session) -> None:
    """ruff (lint and format), mypy --strict, and the generated files up to date."""
    session.install("-e", ".[test,lint]", "nox")
    session.run("python", "-m", "ruff", "check", ".")
    session.run("python", "-m", "ruff", "format", "--check", ".")
    session.run("python", "-m", "mypy")
    session.run("python", "helper/gen_calls.py", "--check")


@nox.session(venv_params=VENV_PARAMS, default=False)
def asan(session: nox.Session) -> None:
    """The whole suite against helper/alcovepy-helper-asan (ASan + UBSan)."""
    session.install("-e", ".[test]")
    session.run("make", "-C", str(HELPER), "asan", external=True)
    env = {
        "ALCOVEPY_HELPER": str(HELPER / "alcovepy-helper-asan"),
        # Leak checking is off. LeakSanitizer runs only from exit(), and every
        # control process (the helper and each child it forks) ends with
        # _exit() on purpose: the OS frees its tables. So it would only check
        # the --list-calls/--version paths, while needing ptrace, which many
        # containers deny; where that fails it fails the process and the test.
        # A forked child would also report the parent's heap it inherited and
        # deliberately forgets (ah_children_forget) as leaked, if it ever
        # exited through exit(). Errors abort, so a sanitizer report is a
        # signal death the tests see (negative returncode), never an exit
        # code they might accept.
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    session.run("python", "-m", "pytest", *session.posargs, env=env)


@nox.session(python=False, default=False)
def fuzz(session: nox.Session) -> None:
    """Build the libFuzzer target and run it from the seed corpus for a bounded time."""
    seconds = session.posargs[0] if session.posargs else "60"
    session.run("make", "-C", str(HELPER), "fuzz")
    session.run("python", "helper/fuzz/make_corpus.py", "--check", external=True)  # the seeds match the table
    session.run(str(FUZZ / "fuzz_decode"), "-runs=0", str(FUZZ / "regressions"))  # every fixed crash stays fixed
    work = FUZZ / "build" / "corpus"  # new inputs go here; the committed seeds stay as they are
    work.mkdir(parents=True, exist_ok=True)
    session.run(
        str(FUZZ / "fuzz_decode"),
        f"-max_total_time={seconds}",
        "-print_final_stats=1",  # ends with stat::number_of_executed_units
        f"-artifact_prefix={FUZZ / 'build'}/",
        str(work),
        str(FUZZ / "corpus"),
    )


@nox.session(venv_params=VENV_PARAMS, default=False)
def bench(session: nox.Session) -> None:
    """The benchmarks of issue 3 (benchmarks/README.md); `nox -s bench -- --quick` for the short run."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=False)
def check_c(session: nox.Session) -> None:
    """The helper's C unit tests (TAP) under ASan and UBSan."""
    session.run("make", "-C", str(HELPER), "check")
