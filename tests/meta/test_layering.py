"""The sans-io core imports no I/O (STYLE.md 2.2): an ast scan of its imports.

Not ruff's banned-api: that list is project-wide, and these rules hold for
two modules only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent.parent / "alcovepy"
SANS_IO = ["_protocol.py", "_wire.py"]

FORBIDDEN = {"anyio", "trio", "asyncio", "os", "subprocess", "select", "selectors", "socket", "threading"}
ALLOWED = {
    "__future__",
    "struct",
    "collections",
    "collections.abc",
    "dataclasses",
    "enum",
    "errno",
    "typing",
    "msgspec",
    "alcovepy._spec",
    "alcovepy._types",
    "alcovepy._wire",
    "alcovepy.errors",
}


def imported_modules(source: str) -> set[str]:
    """Every module an import statement names, including ``from pkg import mod``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports"
            assert node.module is not None
            found.add(node.module)
            if node.module == "alcovepy":  # from alcovepy import _spec
                found.update(f"alcovepy.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            found.add("<__import__>")
    return found


def test_the_scanner_sees_every_form_of_import() -> None:
    src = "import os.path\nfrom anyio import lowlevel\nfrom alcovepy import _driver\nif X:\n    import trio\n__import__('x')\n"
    assert imported_modules(src) == {"os.path", "anyio", "alcovepy", "alcovepy._driver", "trio", "<__import__>"}


@pytest.mark.parametrize("name", SANS_IO)
def test_sans_io_modules_import_no_io(name: str) -> None:
    mods = imported_modules((PACKAGE / name).read_text())
    bad = {m for m in mods if m.split(".")[0] in FORBIDDEN or m == "<__import__>"}
    assert not bad, f"{name} imports I/O modules: {sorted(bad)}"


@pytest.mark.parametrize("name", SANS_IO)
def test_sans_io_modules_import_only_allowed_modules(name: str) -> None:
    mods = imported_modules((PACKAGE / name).read_text()) - {"alcovepy"}
    assert mods <= ALLOWED, f"{name} imports modules outside the allowed list: {sorted(mods - ALLOWED)}"


@pytest.mark.parametrize("name", SANS_IO)
def test_sans_io_modules_never_await(name: str) -> None:
    tree = ast.parse((PACKAGE / name).read_text())
    asyncs = [
        n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith)
    ]
    assert not asyncs, f"{name} has async code at lines {[n.lineno for n in asyncs]}"
