"""The public surface: __all__ complete, docstrings present, no public constructors,
every call of the table on both layers (trio's test_exports idea)."""

from __future__ import annotations

import inspect

import pytest

import alcovepy
from alcovepy import _spec
from alcovepy._driver import Driver
from alcovepy._process import Process

LAYERS: list[type] = [Driver, Process]
HAND_WRITTEN = {"fork", "clone", "spawn"}  # Process versions return a Process


def public_members(cls: type) -> list[tuple[str, object]]:
    """Public methods and properties (not slot attributes), as defined along the MRO."""
    found: list[tuple[str, object]] = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr) or isinstance(attr, property | classmethod | staticmethod):
            found.append((name, attr))
    return found


def docstring_params() -> list[object]:
    known_missing: dict[tuple[str, str], str] = {}
    params: list[object] = []
    for cls in LAYERS:
        for name, attr in public_members(cls):
            reason = known_missing.get((cls.__name__, name))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(cls, name, attr, id=f"{cls.__name__}.{name}", marks=marks))
    return params


def test_all_names_exist() -> None:
    missing = [name for name in alcovepy.__all__ if not hasattr(alcovepy, name)]
    assert not missing
    assert len(set(alcovepy.__all__)) == len(alcovepy.__all__)


@pytest.mark.parametrize(
    "name",
    [
        "open_driver",
        "Driver",
        "Process",
        "AlcoveError",
        "HelperExited",
        "HelperProtocolError",
        "CallFiltered",
        "UnknownConstant",
        "Rlimit",
        "ExitStatus",
        "TermSig",
        "Signal",
        "StdinClosed",
        "StdoutClosed",
        "StderrClosed",
    ],
)
def test_api_md_names_are_exported(name: str) -> None:
    assert name in alcovepy.__all__


def test_package_has_a_docstring() -> None:
    assert alcovepy.__doc__


@pytest.mark.parametrize("name", [n for n in alcovepy.__all__ if inspect.isclass(getattr(alcovepy, n))])
def test_every_public_class_has_a_docstring(name: str) -> None:
    assert (getattr(alcovepy, name).__doc__ or "").strip(), f"{name} has no docstring"


def test_open_driver_has_a_docstring() -> None:
    assert (alcovepy.open_driver.__doc__ or "").strip()


@pytest.mark.parametrize(("cls", "name", "attr"), docstring_params())
def test_every_public_method_has_a_docstring(cls: type, name: str, attr: object) -> None:
    func = attr.fget if isinstance(attr, property) else attr
    assert (getattr(func, "__doc__", None) or "").strip(), f"{cls.__name__}.{name} has no docstring"


@pytest.mark.parametrize("cls", [Driver, Process, alcovepy.DriverStatistics])
def test_handle_classes_are_final(cls: type) -> None:
    assert getattr(cls, "__final__", False), f"{cls.__name__} is not @final"


def test_process_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="no public constructor"):
        Process()


def test_driver_has_no_argument_free_constructor() -> None:
    with pytest.raises(TypeError):
        Driver()  # type: ignore[call-arg]


@pytest.mark.parametrize("name", [c.name for c in _spec.CALLS])
@pytest.mark.parametrize("cls", LAYERS)
def test_every_call_is_a_coroutine_method_of_both_layers(cls: type, name: str) -> None:
    method = getattr(cls, name, None)
    assert method is not None, f"{cls.__name__} lacks {name}"
    assert inspect.iscoroutinefunction(method), f"{cls.__name__}.{name} is not async"


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_process_writes_fork_clone_and_spawn_by_hand(name: str) -> None:
    assert name in vars(Process), f"Process.{name} should return a Process, so it is written in _process.py"
    assert inspect.signature(getattr(Process, name)).return_annotation == "Process"


@pytest.mark.parametrize("name", [c.name for c in _spec.CALLS])
def test_process_methods_take_the_driver_arguments_without_the_pipeline(name: str) -> None:
    driver_params = list(inspect.signature(getattr(Driver, name)).parameters)
    process_params = list(inspect.signature(getattr(Process, name)).parameters)
    assert driver_params[:2] == ["self", "pipeline"]
    assert process_params[1:] == driver_params[2:]
