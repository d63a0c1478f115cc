"""Argument converters: wrong types and values are refused before anything is sent."""

from __future__ import annotations

import enum
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alcovepy import UnknownConstant, _spec
from alcovepy import _args as a

if TYPE_CHECKING:
    from collections.abc import Callable

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
WRONG_INT_TYPES: list[object] = [True, False, 1.0, "1", b"1", None, [1], 1j]


class Number(enum.IntEnum):
    SEVEN = 7


# ---- integers ------------------------------------------------------------------

INT_CONVERTERS: list[Callable[[str, object], int]] = [a.int32, a.uint32, a.fd]


@pytest.mark.parametrize("conv", INT_CONVERTERS)
@pytest.mark.parametrize("value", WRONG_INT_TYPES)
def test_integers_refuse_other_types(conv: Callable[[str, object], int], value: object) -> None:
    with pytest.raises(TypeError, match="status must be an int"):
        conv("status", value)


@pytest.mark.parametrize(
    ("conv", "lo", "hi"),
    [(a.int32, INT32_MIN, INT32_MAX), (a.uint32, 0, 2**32 - 1), (a.fd, 0, INT32_MAX)],
)
def test_integer_ranges(conv: Callable[[str, object], int], lo: int, hi: int) -> None:
    assert conv("n", lo) == lo
    assert conv("n", hi) == hi
    for bad in (lo - 1, hi + 1, 2**64, -(2**64)):
        with pytest.raises(ValueError, match=r"n=.* out of range"):
            conv("n", bad)


@pytest.mark.parametrize("conv", INT_CONVERTERS)
def test_integers_accept_int_enums_as_plain_ints(conv: Callable[[str, object], int]) -> None:
    got = conv("n", Number.SEVEN)
    assert got == 7
    assert type(got) is int


# ---- strings, paths and data ---------------------------------------------------------


@pytest.mark.parametrize("conv", [a.cstr, a.path])
@pytest.mark.parametrize(
    ("value", "expected"),
    [("/tmp/x", b"/tmp/x"), (b"/tmp/x", b"/tmp/x"), (Path("/tmp/x"), b"/tmp/x"), ("caf\u00e9", "caf\u00e9".encode())],
)
def test_strings_and_paths_become_bytes(conv: Callable[[str, object], bytes], value: object, expected: bytes) -> None:
    assert conv("p", value) == expected


def test_undecodable_names_round_trip_through_surrogateescape() -> None:
    assert a.cstr("p", "\udcff") == b"\xff"


@pytest.mark.parametrize("conv", [a.cstr, a.path])
@pytest.mark.parametrize("value", [None, 1, True, bytearray(b"x"), memoryview(b"x"), ["x"]])
def test_strings_refuse_other_types(conv: Callable[[str, object], bytes], value: object) -> None:
    with pytest.raises(TypeError, match="p must be str, bytes or a path"):
        conv("p", value)


@pytest.mark.parametrize("conv", [a.cstr, a.path])
@pytest.mark.parametrize("value", ["a\0b", b"\0", b"/tmp\0", Path("a\0")])
def test_nul_bytes_are_refused(conv: Callable[[str, object], bytes], value: object) -> None:
    with pytest.raises(ValueError, match="NUL"):
        conv("p", value)


@pytest.mark.parametrize("value", ["", b""])
def test_empty_path_is_refused_but_empty_cstr_is_not(value: str | bytes) -> None:
    with pytest.raises(ValueError, match="empty path"):
        a.path("path", value)
    assert a.cstr("name", value) == b""


@pytest.mark.parametrize("value", [b"x\0y", bytearray(b"x\0y"), memoryview(b"x\0y")])
def test_data_takes_any_bytes_like(value: object) -> None:
    got = a.data("data", value)
    assert got == b"x\0y"
    assert type(got) is bytes


@pytest.mark.parametrize("value", ["text", 1, None, [1, 2]])
def test_data_refuses_other_types(value: object) -> None:
    with pytest.raises(TypeError, match="data must be bytes-like"):
        a.data("data", value)


# ---- argv -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [["/bin/cat", b"-u", Path("f")], ("/bin/cat", b"-u", Path("f"))])
def test_argv(value: object) -> None:
    assert a.argv("argv", value) == [b"/bin/cat", b"-u", b"f"]


def test_empty_argv_is_allowed() -> None:
    assert a.argv("argv", []) == []


@pytest.mark.parametrize("value", ["/bin/cat", b"/bin/cat", None, 1, iter(["x"])])
def test_argv_must_be_a_sequence_of_strings(value: object) -> None:
    with pytest.raises(TypeError, match="argv must be a list"):
        a.argv("argv", value)


def test_argv_items_are_checked_by_index() -> None:
    with pytest.raises(ValueError, match=r"argv\[1\] contains a NUL"):
        a.argv("argv", ["ok", "bad\0"])
    with pytest.raises(TypeError, match=r"argv\[0\]"):
        a.argv("argv", [1])
    with pytest.raises(ValueError, match=r"argv\[1\] cannot be encoded as a file name"):
        a.argv("argv", ["ok", "\ud800"])  # a lone surrogate that is no escaped byte
    assert a.argv("argv", ["\udcff"]) == [b"\xff"]  # one that is


class _Str(str):
    pass


@given(
    st.lists(
        st.one_of(
            st.text(st.characters(exclude_categories=())),  # lone surrogates too: os.fsencode escapes them
            st.binary(),
            st.text().map(_Str),
            st.text().map(Path),
            st.binary().map(bytearray),
        ),
        max_size=8,
    )
)
def test_argv_is_os_fsencode_of_each_item_or_the_named_error(items: list[object]) -> None:
    """argv's fast path (plain str and bytes) and its named path agree with
    os.fsencode item by item, and name the first bad item."""
    want: list[bytes] = []
    for i, item in enumerate(items):
        if not isinstance(item, str | bytes | os.PathLike):
            with pytest.raises(TypeError, match=rf"argv\[{i}\] must be str, bytes or a path"):
                a.argv("argv", items)
            return
        try:
            b = os.fsencode(item)
        except UnicodeEncodeError:  # a surrogate that is not an escaped byte
            with pytest.raises(ValueError, match=rf"argv\[{i}\] cannot be encoded as a file name"):
                a.argv("argv", items)
            return
        if b"\0" in b:
            with pytest.raises(ValueError, match=rf"argv\[{i}\] contains a NUL"):
                a.argv("argv", items)
            return
        want.append(b)
    assert a.argv("argv", items) == want


def test_optional_argv() -> None:
    assert a.optional_argv("env", None) is None
    assert a.optional_argv("env", ["A=1"]) == [b"A=1"]
    with pytest.raises(TypeError):
        a.optional_argv("env", "A=1")


# ---- constants and flags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "value", "expected"),
    [
        ("signal", 15, 15),
        ("signal", signal.SIGTERM, 15),
        ("signal", "SIGTERM", "SIGTERM"),
        ("signal", "sigterm", "SIGTERM"),
        ("signal", "SigTerm", "SIGTERM"),
        ("clone", "clone_newpid", "CLONE_NEWPID"),  # an alcove atom
        ("rlimit", "rlimit_nofile", "RLIMIT_NOFILE"),
        ("file", "O_RDONLY", "O_RDONLY"),
        ("signal", -1, -1),  # ints pass through; the kernel judges them
        ("signal", 2**63 - 1, 2**63 - 1),
    ],
)
def test_constant(family: str, value: object, expected: int | str) -> None:
    got = a.constant(family, "sig", value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("family", sorted(_spec.CONSTANT_FAMILIES))
def test_every_name_of_the_table_is_accepted_in_any_case(family: str) -> None:
    for name in _spec.CONSTANT_FAMILIES[family]:
        assert a.constant(family, "c", name.lower()) == name
        assert a.constant(family, "c", name) == name


@pytest.mark.parametrize(
    ("family", "value"),
    [("signal", "SIGNOPE"), ("signal", "CLONE_NEWPID"), ("clone", "SIGTERM"), ("signal", ""), ("signal", "TERM")],
)
def test_unknown_constant_name(family: str, value: str) -> None:
    with pytest.raises(UnknownConstant, match=repr(value)) as info:
        a.constant(family, "sig", value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [True, 1.5, b"SIGTERM", None, ["SIGTERM"]])
def test_constant_refuses_other_types(value: object) -> None:
    with pytest.raises(TypeError, match="sig must be an int or a signal constant name"):
        a.constant("signal", "sig", value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_constant_int_must_fit_in_64_bits(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        a.constant("signal", "sig", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0x20000000, 0x20000000),
        ([0x20000000, 0x00020000], 0x20020000),
        ((0x1, 0x2, 0x4), 0x7),
        ([Number.SEVEN, 8], 15),
        ([], 0),
        ("clone_newpid", "CLONE_NEWPID"),
        (["clone_newpid", "CLONE_NEWNS"], ["CLONE_NEWPID", "CLONE_NEWNS"]),
        ([0x1, "clone_newuts"], [0x1, "CLONE_NEWUTS"]),  # the helper ORs what names it resolves
    ],
)
def test_flags(value: object, expected: object) -> None:
    assert a.flags("clone", "flags", value) == expected


def test_flags_or_is_plain_int() -> None:
    assert type(a.flags("clone", "flags", [Number.SEVEN])) is int


@pytest.mark.parametrize("value", [None, True, 1.0, [None], [True], [["CLONE_NEWPID"]], {"CLONE_NEWPID"}])
def test_flags_refuse_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        a.flags("clone", "flags", value)


def test_flags_with_an_unknown_name() -> None:
    with pytest.raises(UnknownConstant, match=r"flags\[1\]"):
        a.flags("clone", "flags", ["CLONE_NEWPID", "CLONE_NOPE"])


@pytest.mark.parametrize("value", [b"CLONE_NEWPID", b"\x01\x02", bytearray(b"\x01")])
def test_flags_refuse_bytes(value: object) -> None:
    with pytest.raises(TypeError):
        a.flags("clone", "flags", value)


# ---- options and handlers --------------------------------------------------------------


@pytest.mark.parametrize("name", list(_spec.OPTIONS))
def test_every_option_is_known_in_any_case(name: str) -> None:
    assert a.option("opt", name) == name
    assert a.option("opt", name.upper()) == name


def test_unknown_option() -> None:
    with pytest.raises(ValueError, match="unknown option 'nope'"):
        a.option("opt", "nope")


@pytest.mark.parametrize("value", [1, None, b"maxchild"])
def test_option_must_be_a_name(value: object) -> None:
    with pytest.raises(TypeError):
        a.option("opt", value)


@pytest.mark.parametrize("name", list(_spec.OPTIONS))
def test_option_value_ranges(name: str) -> None:
    _, lo, hi = _spec.OPTIONS[name]
    assert a.option_value(name, lo) == lo
    assert a.option_value(name, hi) == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=name):
            a.option_value(name, bad)
    with pytest.raises(TypeError):
        a.option_value(name, True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("SIG_DFL", "SIG_DFL"), ("sig_ign", "SIG_IGN"), ("Sig_Info", "SIG_INFO")],
)
def test_handler(value: object, expected: str | None) -> None:
    assert a.handler("handler", value) == expected


@pytest.mark.parametrize("value", ["SIG_FOO", "", "DFL"])
def test_unknown_handler(value: str) -> None:
    with pytest.raises(ValueError, match="handler must be one of"):
        a.handler("handler", value)


@pytest.mark.parametrize("value", [1, b"SIG_DFL", signal.SIG_DFL])
def test_handler_of_the_wrong_type(value: object) -> None:
    with pytest.raises(TypeError):
        a.handler("handler", value)


# ---- pipelines -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [([], ()), ((), ()), ([1], (1,)), ([41, 7], (41, 7)), ((41, 7), (41, 7)), (range(1, 4), (1, 2, 3))],
)
def test_pipeline(value: object, expected: tuple[int, ...]) -> None:
    got = a.pipeline(value)
    assert got == expected
    assert type(got) is tuple


def test_pipeline_of_int_enums_is_plain_ints() -> None:
    got = a.pipeline([Number.SEVEN])
    assert got == (7,)
    assert type(got[0]) is int


@pytest.mark.parametrize("value", [[0], [-1], [5, -5], (0,), (-1,), [2**31], (2**31,)])
def test_pipeline_pids_must_be_positive_int32(value: object) -> None:
    with pytest.raises(ValueError, match="out of range"):
        a.pipeline(value)


@pytest.mark.parametrize("value", ["12", b"\x01", 5, None, 1.0, ["1"], [1.0], [True], (True,), (1, "2"), {1, 2}])
def test_pipeline_must_be_a_sequence_of_ints(value: object) -> None:
    with pytest.raises(TypeError):
        a.pipeline(value)


def test_pipeline_depth_limit() -> None:
    assert len(a.pipeline([1] * 255)) == 255
    assert len(a.pipeline((1,) * 255)) == 255
    for too_deep in ([1] * 256, (1,) * 256):
        with pytest.raises(ValueError, match="deeper than 255"):
            a.pipeline(too_deep)
