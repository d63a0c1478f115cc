"""Argument converters of the Linux calls, and every call of the table refusing bad arguments.

The first part is pure: the converters in alcovepy._args for int64, ident,
count, id_list, fd_list, optional_data, timeout, rlimit, calls and inout.
The second part reads helper/calls.toml and, for every call and every
argument, gives a wrong value while the others are right: the call must raise
TypeError or ValueError naming that argument, without the request being
numbered or sent. It runs on a recording stand-in (no helper) and on a real
Driver under both backends, which must keep working afterwards. A new call
is covered by adding its row; a new argument type fails until it gets bad
values here.
"""

from __future__ import annotations

import contextlib
import re
import resource
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeVar, cast

import pytest

from alcovepy import _args as a
from alcovepy import _spec
from alcovepy._calls import DriverCalls
from alcovepy._protocol import Router
from alcovepy._types import Ptr, Rlimit

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Iterator

    from alcovepy._args import PipelineLike
    from alcovepy._wire import CallSpec

T = TypeVar("T")
TABLE = Path(__file__).resolve().parents[2] / "helper" / "calls.toml"
MiB16 = 16 * 1024 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# ---- int64, ident, count -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv", "lo", "hi"),
    [(a.int64, INT64_MIN, INT64_MAX), (a.ident, -1, 2**32 - 1), (a.count, 0, MiB16)],
    ids=["int64", "ident", "count"],
)
def test_integer_bounds(conv: Callable[[str, object], int], lo: int, hi: int) -> None:
    """Each integer type takes exactly its range, ends included."""
    assert conv("n", lo) == lo
    assert conv("n", hi) == hi
    assert conv("n", (lo + hi) // 2) == (lo + hi) // 2
    for bad in (lo - 1, hi + 1, 2**64, -(2**64)):
        with pytest.raises(ValueError, match=r"^n=-?\d+ is out of range"):
            conv("n", bad)


@pytest.mark.parametrize("conv", [a.int64, a.ident, a.count], ids=["int64", "ident", "count"])
@pytest.mark.parametrize("value", [True, False, 1.0, "1", b"1", None, [1]])
def test_integers_refuse_other_types(conv: Callable[[str, object], int], value: object) -> None:
    """bool, float, str, bytes, None and lists are not integers here."""
    with pytest.raises(TypeError, match=r"^n must be an int"):
        conv("n", value)


def test_ident_minus_one_means_unchanged_but_minus_two_is_refused() -> None:
    """-1 is (uid_t)-1 for setresuid/chown; nothing below it is an id."""
    assert a.ident("uid", -1) == -1
    assert a.ident("uid", 0) == 0
    with pytest.raises(ValueError, match="uid=-2"):
        a.ident("uid", -2)


def test_count_limit_is_sixteen_mebibytes() -> None:
    """A read count above the helper's AH_MAX_COUNT is refused here, not by the helper."""
    assert MiB16 == a.MAX_COUNT
    assert a.count("count", MiB16) == MiB16
    with pytest.raises(ValueError, match="count="):
        a.count("count", MiB16 + 1)


# ---- lists of ids and fds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv", "good", "bad_items"),
    [
        (a.id_list, [0, 1000, 2**32 - 1], [-1, 2**32]),
        (a.fd_list, [0, 3, 2**31 - 1], [-1, 2**31]),
    ],
    ids=["id_list", "fd_list"],
)
def test_int_lists(conv: Callable[[str, object], list[int]], good: list[int], bad_items: list[int]) -> None:
    """Lists and tuples of in-range ints pass as plain lists; a bad item is named by index."""
    assert conv("l", good) == good
    assert conv("l", tuple(good)) == good
    assert conv("l", []) == []
    assert type(conv("l", (1,))) is list
    for item in bad_items:
        with pytest.raises(ValueError, match=r"^l\[1\]="):
            conv("l", [0, item])
    with pytest.raises(TypeError, match=r"^l\[0\] must be an int"):
        conv("l", ["3"])
    with pytest.raises(TypeError, match=r"^l\[0\] must be an int"):
        conv("l", [True])


@pytest.mark.parametrize("conv", [a.id_list, a.fd_list], ids=["id_list", "fd_list"])
@pytest.mark.parametrize("value", [3, "3", b"\x03", None, {3}, iter([3]), 3.0])
def test_int_lists_refuse_non_sequences(conv: Callable[[str, object], list[int]], value: object) -> None:
    """A single int, a string, bytes, a set or an iterator is not a list of ints."""
    with pytest.raises(TypeError, match=r"^l must be a list of ints"):
        conv("l", value)


@pytest.mark.parametrize("conv", [a.id_list, a.fd_list], ids=["id_list", "fd_list"])
def test_int_lists_are_bounded(conv: Callable[[str, object], list[int]]) -> None:
    """At most 65536 items (the helper's limit), so a huge list fails before encoding."""
    assert len(conv("l", [1] * 65536)) == 65536
    with pytest.raises(ValueError, match="65537 items"):
        conv("l", [1] * 65537)


# ---- optional data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (b"", b""), (b"\x01\x00", b"\x01\x00"), (bytearray(b"ab"), b"ab"), (memoryview(b"ab"), b"ab")],
)
def test_optional_data(value: object, expected: bytes | None) -> None:
    """None stays None (a NULL pointer); any bytes-like becomes bytes."""
    got = a.optional_data("sockaddr", value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("value", ["text", 1, [b"x"], True])
def test_optional_data_refuses_other_types(value: object) -> None:
    """A str is not data (no implicit encoding), nor is an int or a list."""
    with pytest.raises(TypeError, match=r"^sockaddr must be bytes-like"):
        a.optional_data("sockaddr", value)


# ---- timeout -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "micros"),
    [(None, None), (0, 0), (0.0, 0), (1, 1_000_000), (1.5, 1_500_000), (0.000_001, 1), (0.000_000_4, 0), (3600, 3.6e9)],
)
def test_timeout_is_sent_in_whole_microseconds(value: float | None, micros: float | None) -> None:
    """Seconds become an int count of microseconds; None (block) stays None."""
    got = a.timeout("timeout", value)
    assert got == micros
    if value is not None:
        assert type(got) is int


@pytest.mark.parametrize("value", [-1, -0.5, -1e-9, float("inf"), float("-inf"), float("nan"), 2**40])
def test_timeout_out_of_range(value: float) -> None:
    """Negative, infinite, NaN and absurdly long timeouts are ValueError."""
    with pytest.raises(ValueError, match=r"^timeout="):
        a.timeout("timeout", value)


@pytest.mark.parametrize("value", [True, False, "1", b"1", [1], 1j])
def test_timeout_refuses_other_types(value: object) -> None:
    """A bool is not a number of seconds, nor is a str."""
    with pytest.raises(TypeError, match=r"^timeout must be a number of seconds"):
        a.timeout("timeout", value)


# ---- rlimit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Rlimit(1, 2), [1, 2]),
        ((1, 2), [1, 2]),
        ([64, 64], [64, 64]),
        ((0, 0), [0, 0]),
        ((-1, -1), [-1, -1]),
        ((2**64 - 1, 2**64 - 1), [-1, -1]),  # RLIM_INFINITY spelled as unsigned
        ((5, -1), [5, -1]),
        ((5, 2**64 - 1), [5, -1]),
        (Rlimit(resource.RLIM_INFINITY, resource.RLIM_INFINITY), [-1, -1]),
    ],
)
def test_rlimit(value: object, expected: list[int]) -> None:
    """An Rlimit or a pair; -1 and 2**64-1 both mean infinity and are sent as -1."""
    assert a.rlimit("limit", value) == expected


@pytest.mark.parametrize("value", [(2, 1), (-1, 5), (2**64 - 1, 0), Rlimit(10, 9)])
def test_rlimit_cur_above_max(value: object) -> None:
    """A soft limit above the hard one (infinity counts as above) is refused here."""
    with pytest.raises(ValueError, match=r"^limit: cur .* is above max"):
        a.rlimit("limit", value)


@pytest.mark.parametrize(("value", "which"), [((-2, 0), "cur"), ((0, -2), "max"), ((2**64, 2**64), "cur")])
def test_rlimit_values_out_of_range(value: object, which: str) -> None:
    """Below -1 or above 2**64-1 is out of range, named by field."""
    with pytest.raises(ValueError, match=rf"^limit\.{which}=.* out of range"):
        a.rlimit("limit", value)


@pytest.mark.parametrize("value", [5, None, (1,), (1, 2, 3), "12", b"\x01\x02", {1, 2}, (1.0, 2.0), (True, 1)])
def test_rlimit_refuses_other_shapes(value: object) -> None:
    """Only a pair of ints (or an Rlimit) is a limit."""
    with pytest.raises(TypeError, match=r"^limit"):
        a.rlimit("limit", value)


# ---- calls -------------------------------------------------------------------------


def test_calls_become_the_tables_ids() -> None:
    """Every call of the table is accepted by name and sent as its id, in order."""
    names = [c.name for c in _spec.CALLS]
    assert a.calls("calls", names) == [c.id for c in _spec.CALLS]
    assert a.calls("calls", ("fork", "getpid")) == [_spec.CALL_FORK.id, _spec.CALL_GETPID.id]
    assert a.calls("calls", []) == []


@pytest.mark.parametrize("value", [["nosuchcall"], ["getpid", "nosuchcall"], [""], ["getpid "]])
def test_calls_unknown_name(value: list[str]) -> None:
    """A name that is no call is a ValueError naming the item."""
    with pytest.raises(ValueError, match=r"^calls\[\d\]: no call named"):
        a.calls("calls", value)


@pytest.mark.parametrize("value", [[1], [b"getpid"], [None], [["getpid"]]])
def test_calls_items_must_be_str(value: list[object]) -> None:
    """Ids and bytes are not call names."""
    with pytest.raises(TypeError, match=r"^calls\[0\] must be a call name"):
        a.calls("calls", value)


@pytest.mark.parametrize("value", ["getpid", b"getpid", None, 7, {"getpid"}])
def test_calls_must_be_a_list(value: object) -> None:
    """A single name is not a list of names."""
    with pytest.raises(TypeError, match=r"^calls must be a list of call names"):
        a.calls("calls", value)


# ---- inout -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (-1, -1),
        (INT64_MAX, INT64_MAX),
        (INT64_MIN, INT64_MIN),
        (2**63, INT64_MIN),  # unsigned spellings wrap to the same 64 bits
        (2**64 - 1, -1),
        (b"", b""),
        (b"\x00" * 16, b"\x00" * 16),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"ab"), b"ab"),
        ([b"ab"], [b"ab"]),
        ([b"\x01\x00", Ptr(4), Ptr(b"xy"), Ptr(0), Ptr(b"")], [b"\x01\x00", 4, [b"xy"], 0, [b""]]),
        ((Ptr(MiB16),), [MiB16]),
        ([b"x"] * 1024, [b"x"] * 1024),
    ],
)
def test_inout(value: object, expected: object) -> None:
    """An int by value, bytes by pointer, a cstruct of bytes and Ptr, or None (0)."""
    got = a.inout("arg", value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("value", ["text", 1.5, True, {b"x"}, {b"x": 1}, bytearray, Ptr(1)])
def test_inout_refuses_other_types(value: object) -> None:
    """A str, a float, a bool, a set or a bare Ptr is none of the accepted shapes."""
    with pytest.raises(TypeError, match=r"^arg must be an int, bytes, a cstruct"):
        a.inout("arg", value)


@pytest.mark.parametrize(
    ("value", "where"),
    [([1], r"arg\[0\]"), (["s"], r"arg\[0\]"), ([b"x", None], r"arg\[1\]"), ([[b"x"]], r"arg\[0\]")],
)
def test_cstruct_items_must_be_bytes_or_ptr(value: object, where: str) -> None:
    """Inside a cstruct only bytes and Ptr are allowed, named by index."""
    with pytest.raises(TypeError, match=rf"^{where} must be bytes or a Ptr"):
        a.inout("arg", value)


@pytest.mark.parametrize("data", ["s", 1.5, True, None])
def test_ptr_takes_a_size_or_bytes(data: object) -> None:
    """Ptr("s"), Ptr(True)... are refused: a Ptr holds a size or bytes."""
    with pytest.raises(TypeError, match=r"^arg\[0\]: Ptr takes a size or bytes"):
        a.inout("arg", [Ptr(data)])  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [-1, MiB16 + 1, 2**64])
def test_ptr_size_is_bounded(size: int) -> None:
    """A Ptr's size is 0..16 MiB."""
    with pytest.raises(ValueError, match=r"^arg\[0\] size="):
        a.inout("arg", [Ptr(size)])


@pytest.mark.parametrize("count", [0, 1025, 5000])
def test_cstruct_item_count(count: int) -> None:
    """A cstruct has 1 to 1024 items."""
    with pytest.raises(ValueError, match=rf"^arg: a cstruct has 1 to 1024 items, not {count}"):
        a.inout("arg", [b"x"] * count)


@pytest.mark.parametrize("value", [INT64_MIN - 1, -(2**64)])
def test_inout_ints_below_64_bits(value: int) -> None:
    """Below -2**63 an int does not fit a machine word."""
    with pytest.raises(ValueError, match=r"^arg=.* out of range"):
        a.inout("arg", value)


@pytest.mark.parametrize("value", [2**64, 2**64 + 5, 2**70])
def test_inout_ints_above_64_bits(value: int) -> None:
    """Above 2**64-1 an int does not fit a machine word: ValueError, not a silent wrap."""
    with pytest.raises(ValueError, match=r"^arg=.* out of range"):
        a.inout("arg", value)


# ---- every call of the table refuses bad arguments before sending ------------------------


@dataclass(frozen=True)
class Row:
    name: str
    args: tuple[tuple[str, str], ...]  # (name, type) as written in the table


def table_rows() -> list[Row]:
    """The calls of helper/calls.toml, in id order."""
    with TABLE.open("rb") as f:
        raw = tomllib.load(f)
    rows = sorted(raw["call"], key=lambda r: int(r["id"]))
    return [Row(r["name"], tuple((n, t) for n, t in r.get("args", []))) for r in rows]


ROWS = table_rows()

# A right value per argument type: with all of them the call reaches the Driver.
VALID: dict[str, object] = {
    "int32": 0,
    "uint32": 0,
    "pid": 1,
    "fd": 0,
    "path": "/",
    "cstr": "x",
    "bytes": b"",
    "argv": ["x"],
    "optional_argv": None,
    "option": "maxchild",
    "option_value": 1,
    "handler": None,
    "int64": 0,
    "id": 0,
    "count": 1,
    "id_list": [],
    "fd_list": [],
    "optional_bytes": None,
    "timeout": 0,
    "rlimit": (1, 1),
    "calls": [],
    "inout": None,
    "writes": [],
    "steps": [],
    "cstruct": b"",
    "sockaddr": None,
}

# Wrong values per argument type: each must raise TypeError or ValueError.
BAD: dict[str, list[object]] = {
    "int32": ["1", 1.5, None, True, 2**31, -(2**31) - 1],
    "uint32": ["0", -1, 2**32, False, None],
    "pid": ["1", 1.0, None, True, 2**31],
    "fd": [-1, "3", 3.0, None, True, 2**31],
    "path": [42, None, "a\0b", b"/tmp\0", "", b"", ["/"]],
    "cstr": [42, None, "a\0b", b"\0", ["x"]],
    "bytes": ["text", 42, None, [1, 2]],
    "argv": ["/bin/true", b"/bin/true", None, 5, ["ok", "bad\0"], [1]],
    "optional_argv": ["A=1", 1, ["A=\0"], [None]],
    "option": [1, None, b"maxchild", "nosuchoption"],
    "option_value": ["1", 1.0, None, True, 70000, -1],
    "handler": [1, b"SIG_DFL", "SIG_FOO", ""],
    "int64": ["0", 1.0, None, True, 2**63, INT64_MIN - 1],
    "id": ["0", None, True, -2, 2**32],
    "count": [-1, MiB16 + 1, 2**40, "1", 1.0, None],
    "id_list": [0, "0", None, [-1], [2**32], ["0"], [True]],
    "fd_list": [3, "3", None, [-1], [2**31], [1.0]],
    "optional_bytes": ["x", 1, [b"x"]],
    "timeout": [-1, -0.5, float("inf"), float("nan"), "1", True, [1]],
    "rlimit": [5, None, (1,), (1, 2, 3), (2, 1), (-1, 5), ("1", "2"), (1.0, 2.0), (-2, 0), (0, 2**64)],
    "calls": ["getpid", None, ["nosuchcall"], [1], [b"getpid"]],
    "inout": ["text", 1.5, True, [], [1], ["x"], [Ptr(-1)], [Ptr(MiB16 + 1)], [b"x"] * 1025, INT64_MIN - 1],
    "writes": ["x", None, [("/p",)], [("", b"x")], [("/p", "text")], [("/p\0", b"")], [1], [("/p", b"")] * 65],
    "cstruct": [None, 5, True, "text", [], [1], [Ptr(-1)], [b"x"] * 1025],
    "sockaddr": ["x", 1, [b"x"], b"x" * 129],
    "steps": ["chdir", None, [("exit", 0)], [("nosuchcall",)], [("chdir", 5)], [()], [5], [("chdir",)], [(1, "/")]],
}


def valid_value(typ: str) -> object:
    base, _, family = typ.partition(":")
    if base == "constant":
        return _spec.CONSTANT_FAMILIES[family][0]
    if base == "flags":
        return []
    return VALID[base]


def bad_values(typ: str) -> list[object]:
    base, _, family = typ.partition(":")
    if base == "constant":
        return ["NO_SUCH_CONSTANT", _spec.CONSTANT_FAMILIES[family][0] + "\0", 1.5, None, True, b"NAME", 2**63, [0]]
    if base == "flags":
        return [["NO_SUCH_CONSTANT"], "NO_SUCH_CONSTANT", [None], [True], b"", 1.5, None, {0}, [2**63], [[0]]]
    return BAD[base]


def blame(row: Row, index: int) -> str:
    """A pattern for how a converter's message starts for the argument at index: its name."""
    name, typ = row.args[index]
    if typ == "option_value":  # checked against the option before it, and named by it
        return rf"{VALID['option']}\b"
    if typ == "option":  # "unknown option 'x'; known: ..." names the kind of argument instead
        return rf"({name}\b|unknown option )"
    return rf"{re.escape(name)}\b"


def run_now(coro: Coroutine[object, None, T]) -> T:
    """Run a coroutine that never suspends (the recording Driver never does)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return cast("T", stop.value)
    coro.close()
    raise AssertionError("the coroutine suspended")


class Method(Protocol):
    """A call method taken by name, with arguments of any type."""

    def __call__(self, *args: object) -> Awaitable[object]: ...


class Recorder(DriverCalls):
    """A Driver stand-in that records the calls that reach it instead of sending them."""

    __slots__ = ("reached",)

    def __init__(self) -> None:
        self.reached: list[tuple[str, tuple[object, ...]]] = []

    async def _call(self, pipeline: PipelineLike, spec: CallSpec[T], args: tuple[object, ...]) -> T:
        self.reached.append((spec.name, args))
        return cast("T", None)


def test_the_table_and_the_package_agree() -> None:
    """The rows read here are the calls the package has, so nothing below is skipped."""
    assert [r.name for r in ROWS] == [c.name for c in _spec.CALLS]
    assert all(hasattr(DriverCalls, r.name) for r in ROWS)


def test_every_argument_type_has_right_and_wrong_values() -> None:
    """A new argument type in the table fails here until it gets values to try."""
    for row in ROWS:
        for name, typ in row.args:
            base = typ.partition(":")[0]
            assert base in {"constant", "flags"} or (base in VALID and base in BAD), f"{row.name}({name}: {typ})"


@pytest.mark.parametrize("row", [r for r in ROWS if r.args], ids=lambda r: r.name)
def test_every_call_refuses_wrong_arguments_before_the_driver(row: Row) -> None:
    """Each wrong value raises TypeError/ValueError naming its argument, and nothing reaches _call."""
    rec = Recorder()
    method = getattr(rec, row.name)
    run_now(method([], *[valid_value(t) for _, t in row.args]))
    assert [n for n, _ in rec.reached] == [row.name], "the right values must reach the Driver"
    rec.reached.clear()
    problems: list[str] = []
    baseline = [valid_value(t) for _, t in row.args]
    for index, (name, typ) in enumerate(row.args):
        for bad in bad_values(typ):
            args = list(baseline)
            args[index] = bad
            try:
                run_now(method([], *args))
            except (TypeError, ValueError) as exc:
                if not re.match(blame(row, index), str(exc)):
                    problems.append(f"{name}={bad!r:.40}: {type(exc).__name__} about something else: {exc}")
                continue
            problems.append(f"{name}={bad!r:.40}: accepted")
    assert not problems, "\n".join(problems)
    assert rec.reached == []


@contextlib.contextmanager
def sending_refused() -> Iterator[list[str]]:
    """Make any attempt to number and send a call fail; yields what was tried."""
    tried: list[str] = []

    def refuse(self: Router, pipeline: tuple[int, ...], spec: CallSpec[object], args: tuple[object, ...]) -> NoReturn:
        tried.append(spec.name)
        raise AssertionError(f"{spec.name}{args!r:.80} was about to be sent to {list(pipeline)}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Router, "call", refuse)
        yield tried


def test_alloc_and_connect_pass_well_formed_arguments_on() -> None:
    """The control for the two tests below: a cstruct and a short sockaddr reach the Driver."""
    rec = Recorder()
    run_now(rec.alloc([], [b"x", Ptr(2)]))
    run_now(rec.alloc([], b"xy"))
    run_now(rec.connect([], 3, b"\x01\x00" + b"/tmp/s\0"))
    run_now(rec.connect([], 3, None))
    assert [n for n, _ in rec.reached] == ["alloc", "alloc", "connect", "connect"]


@pytest.mark.parametrize("value", [None, 5])
def test_alloc_refuses_an_int_or_none_before_sending(value: int | None) -> None:
    """alloc lays out a cstruct or bytes: anything else is a ValueError before sending."""
    rec = Recorder()
    with pytest.raises((TypeError, ValueError)):
        run_now(rec.alloc([], value))  # type: ignore[arg-type]
    assert rec.reached == []


def test_connect_refuses_an_oversized_sockaddr_before_sending() -> None:
    """A sockaddr longer than struct sockaddr_storage (128 bytes) is a ValueError before sending."""
    rec = Recorder()
    with pytest.raises(ValueError, match="sockaddr"):
        run_now(rec.connect([], 3, b"\x01\x00" + b"x" * 200))
    assert rec.reached == []
