"""The generated files match helper/calls.toml, and the generator validates the table."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alcovepy import _spec

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent.parent
GEN = ROOT / "helper" / "gen_calls.py"
TABLE = ROOT / "helper" / "calls.toml"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """helper/gen_calls.py, imported from its path (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("_alcovepy_gen_calls", GEN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_generated_files_are_up_to_date(gen: ModuleType) -> None:
    expected: dict[Path, str] = gen.outputs(gen.load(TABLE.read_text()))
    assert expected, "the generator names no outputs"
    stale = [str(p.relative_to(ROOT)) for p, text in expected.items() if not p.exists() or p.read_text() != text]
    assert not stale, f"stale generated files (run python helper/gen_calls.py): {stale}"


def test_generated_python_is_what_the_package_imports(gen: ModuleType) -> None:
    expected: dict[Path, str] = gen.outputs(gen.load(TABLE.read_text()))
    names = {p.relative_to(ROOT).as_posix() for p in expected}
    assert {"alcovepy/_spec.py", "alcovepy/_calls.py"} <= names


def test_check_mode_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, str(GEN), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_digest_is_of_the_table() -> None:
    assert hashlib.sha256(TABLE.read_bytes()).hexdigest() == _spec.SPEC_DIGEST


def test_ids_are_unique_and_names_too() -> None:
    ids = [c.id for c in _spec.CALLS]
    names = [c.name for c in _spec.CALLS]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    assert ids == sorted(ids)
    assert all(0 < i < 2**16 for i in ids)  # call id:2 on the wire


def test_loaded_table_matches_the_python_table(gen: ModuleType) -> None:
    table = gen.load(TABLE.read_text())
    loaded: list[tuple[int, str, str]] = [(c.id, c.name, c.kind) for c in table.calls]
    assert loaded == [(c.id, c.name, c.kind) for c in _spec.CALLS]


def with_row(row: str) -> str:
    return TABLE.read_text() + "\n[[call]]\n" + row + "\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('id = 1\nname = "dup_id"\nreturns = "none"\ndoc = "x"', "duplicate"),
        ('id = 9999\nname = "getpid"\nreturns = "none"\ndoc = "x"', "duplicate"),
        ('id = 9999\nname = "bad_arg"\nargs = [["x", "float64"]]\nreturns = "none"\ndoc = "x"', "argument type"),
        (
            'id = 9999\nname = "bad_family"\nargs = [["x", "constant:nope"]]\nreturns = "none"\ndoc = "x"',
            "constant family",
        ),
        (
            'id = 9999\nname = "bad_flags"\nargs = [["x", "flags:nope"]]\nreturns = "none"\ndoc = "x"',
            "constant family",
        ),
        ('id = 9999\nname = "bad_result"\nreturns = "float"\ndoc = "x"', "result type"),
    ],
    ids=[
        "duplicate-id",
        "duplicate-name",
        "unknown-arg-type",
        "unknown-constant-family",
        "unknown-flags-family",
        "unknown-result",
    ],
)
def test_load_rejects_a_bad_row(gen: ModuleType, row: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gen.load(with_row(row))


def test_load_accepts_a_good_new_row(gen: ModuleType) -> None:
    table = gen.load(
        with_row('id = 9999\nname = "fresh"\nargs = [["sig", "constant:signal"]]\nreturns = "int"\ndoc = "x"')
    )
    assert table.calls[-1].name == "fresh"
