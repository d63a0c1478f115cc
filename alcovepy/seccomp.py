"""Seccomp BPF programs with the kernel's own struct layouts.

Pure builders underneath: instructions (``stmt``, ``jump``, ``assemble``
into ``struct sock_filter`` bytes), an architecture check, allow and deny
lists of syscall numbers, and ``fprog``, the ``struct sock_fprog`` cstruct
that ``seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)`` takes. On top, async
conveniences resolve syscall and action names through the helper, whose
platform is the truth::

    prog = await seccomp.deny_syscalls(drv, pl, ["SYS_mkdir", "SYS_mkdirat"], seccomp.ret_errno(errno.EROFS))
    await seccomp.install(drv, pl, prog)  # PR_SET_NO_NEW_PRIVS, then seccomp(2)

Layouts are computed by cffi for the Python host's ABI, so the helper must
run on the same ABI (it does, unless ``exec_prefix`` runs it elsewhere).
BPF opcodes and ``SECCOMP_RET_*`` values are the kernel's UAPI
(linux/bpf_common.h, linux/filter.h, linux/seccomp.h), the same on every
architecture; the tests check them against the headers and the helper.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, NamedTuple

import cffi  # type: ignore[import-untyped]  # cffi ships no type information

from alcovepy._types import Ptr
from alcovepy.errors import UnknownConstant

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from alcovepy._driver import Driver

__all__ = [
    "BPF_A",
    "BPF_ABS",
    "BPF_ADD",
    "BPF_ALU",
    "BPF_AND",
    "BPF_B",
    "BPF_DIV",
    "BPF_H",
    "BPF_IMM",
    "BPF_IND",
    "BPF_JA",
    "BPF_JEQ",
    "BPF_JGE",
    "BPF_JGT",
    "BPF_JMP",
    "BPF_JSET",
    "BPF_K",
    "BPF_LD",
    "BPF_LDX",
    "BPF_LEN",
    "BPF_LSH",
    "BPF_MAXINSNS",
    "BPF_MEM",
    "BPF_MISC",
    "BPF_MOD",
    "BPF_MSH",
    "BPF_MUL",
    "BPF_NEG",
    "BPF_OR",
    "BPF_RET",
    "BPF_RSH",
    "BPF_ST",
    "BPF_STX",
    "BPF_SUB",
    "BPF_TAX",
    "BPF_TXA",
    "BPF_W",
    "BPF_X",
    "BPF_XOR",
    "SECCOMP_DATA_ARCH",
    "SECCOMP_DATA_IP",
    "SECCOMP_DATA_NR",
    "SECCOMP_RET_ACTION",
    "SECCOMP_RET_ACTION_FULL",
    "SECCOMP_RET_ALLOW",
    "SECCOMP_RET_DATA",
    "SECCOMP_RET_ERRNO",
    "SECCOMP_RET_KILL_PROCESS",
    "SECCOMP_RET_KILL_THREAD",
    "SECCOMP_RET_LOG",
    "SECCOMP_RET_TRACE",
    "SECCOMP_RET_TRAP",
    "SECCOMP_RET_USER_NOTIF",
    "X32_SYSCALL_BIT",
    "Insn",
    "allow_list",
    "allow_syscalls",
    "assemble",
    "audit_arch",
    "check_arch",
    "deny_list",
    "deny_syscalls",
    "disassemble",
    "filter_program",
    "fprog",
    "install",
    "jump",
    "load_nr",
    "offsetof",
    "ret_errno",
    "seccomp_data_arg",
    "sizeof",
    "stmt",
    "syscall_numbers",
]

# ---- struct layouts (cffi, native ABI) -------------------------------------------

_ffi = cffi.FFI()
_ffi.cdef(
    """
    struct sock_filter { uint16_t code; uint8_t jt; uint8_t jf; uint32_t k; };
    struct sock_fprog { unsigned short len; struct sock_filter *filter; };
    struct seccomp_data { int nr; uint32_t arch; uint64_t instruction_pointer; uint64_t args[6]; };
    """
)


def sizeof(ctype: str) -> int:
    """sizeof of a C type on this ABI ("struct sock_filter", "struct sock_fprog", "void *" ...)."""
    return int(_ffi.sizeof(ctype))


def offsetof(ctype: str, field: str) -> int:
    """offsetof of a field of one of this module's structs on this ABI."""
    return int(_ffi.offsetof(ctype, field))


def seccomp_data_arg(index: int) -> int:
    """Offset in struct seccomp_data of args[index] (a 64-bit value: BPF loads 32 bits at a time)."""
    if not 0 <= index < 6:
        raise ValueError(f"seccomp_data has args[0..5], not args[{index}]")
    return int(_ffi.offsetof("struct seccomp_data", "args", index))


SECCOMP_DATA_NR = offsetof("struct seccomp_data", "nr")
SECCOMP_DATA_ARCH = offsetof("struct seccomp_data", "arch")
SECCOMP_DATA_IP = offsetof("struct seccomp_data", "instruction_pointer")

# ---- opcodes: linux/bpf_common.h and linux/filter.h ------------------------------

BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_RET, BPF_MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
BPF_W, BPF_H, BPF_B = 0x00, 0x08, 0x10
BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM, BPF_LEN, BPF_MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50
BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR = 0x60, 0x70, 0x80, 0x90, 0xA0
BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET = 0x00, 0x10, 0x20, 0x30, 0x40
BPF_K, BPF_X = 0x00, 0x08
BPF_A = 0x10  # BPF_RET source: the accumulator
BPF_TAX, BPF_TXA = 0x00, 0x80
BPF_MAXINSNS = 4096

# ---- filter return values: linux/seccomp.h ---------------------------------------

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_KILL_THREAD = 0x00000000
SECCOMP_RET_TRAP = 0x00030000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_LOG = 0x7FFC0000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_RET_ACTION = 0x7FFF0000
SECCOMP_RET_DATA = 0x0000FFFF
_MAX_ERRNO = 4095  # the kernel caps the errno of SECCOMP_RET_ERRNO here

#: x86_64 only (asm/unistd.h __X32_SYSCALL_BIT): x32 system calls share
#: AUDIT_ARCH_X86_64 but carry this bit in nr, so a deny list must catch them.
X32_SYSCALL_BIT = 0x40000000

_U32 = 0xFFFFFFFF


def ret_errno(errnum: int) -> int:
    """The action that fails the system call with errnum instead of running it."""
    if not isinstance(errnum, int) or not 0 <= errnum <= _MAX_ERRNO:
        raise ValueError(f"errno must be an int in [0, {_MAX_ERRNO}], not {errnum!r}")
    return SECCOMP_RET_ERRNO | errnum


# ---- instructions ----------------------------------------------------------------


class Insn(NamedTuple):
    """One struct sock_filter: opcode, jump offsets if true/false, operand."""

    code: int
    jt: int
    jf: int
    k: int


def _u32(name: str, value: int) -> int:
    if not isinstance(value, int) or not -(2**31) <= value <= _U32:
        raise ValueError(f"{name} must be a 32-bit int, not {value!r}")
    return value & _U32


def stmt(code: int, k: int) -> Insn:
    """BPF_STMT(code, k)."""
    return jump(code, k, 0, 0)


def jump(code: int, k: int, jt: int, jf: int) -> Insn:
    """BPF_JUMP(code, k, jt, jf); k may be negative (taken as unsigned 32 bits)."""
    if not isinstance(code, int) or not 0 <= code <= 0xFFFF:
        raise ValueError(f"code must be a 16-bit opcode, not {code!r}")
    for name, off in (("jt", jt), ("jf", jf)):
        if not isinstance(off, int) or not 0 <= off <= 0xFF:
            raise ValueError(f"{name} must be a jump offset in [0, 255], not {off!r}")
    return Insn(code, jt, jf, _u32("k", k))


def assemble(program: Sequence[Insn]) -> bytes:
    """The program as an array of native struct sock_filter."""
    if not 0 < len(program) <= BPF_MAXINSNS:
        raise ValueError(f"a BPF program has 1 to {BPF_MAXINSNS} instructions, not {len(program)}")
    checked = [jump(i.code, i.k, i.jt, i.jf) for i in program]
    array = _ffi.new("struct sock_filter[]", [tuple(i) for i in checked])
    return bytes(_ffi.buffer(array))


def disassemble(data: bytes) -> list[Insn]:
    """The instructions of an array of native struct sock_filter."""
    size = sizeof("struct sock_filter")
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes is not a whole number of {size}-byte instructions")
    array = _ffi.from_buffer("struct sock_filter[]", data)
    return [Insn(int(i.code), int(i.jt), int(i.jf), int(i.k)) for i in array]


# ---- programs ---------------------------------------------------------------------


def check_arch(arch: int, action: int = SECCOMP_RET_KILL_PROCESS) -> list[Insn]:
    """Return action unless seccomp_data.arch is arch (an AUDIT_ARCH_* value)."""
    return [
        stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_ARCH),
        jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        stmt(BPF_RET | BPF_K, action),
    ]


def load_nr() -> list[Insn]:
    """Load the system call number into the accumulator."""
    return [stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_NR)]


def filter_program(
    arch: int,
    numbers: Iterable[int],
    *,
    match: int,
    default: int,
    foreign: int = SECCOMP_RET_KILL_PROCESS,
    nr_limit: int | None = None,
) -> list[Insn]:
    """A program returning match for the syscall numbers given, default for the others.

    A call made with another architecture's convention (arch differs, or nr
    at or above nr_limit, e.g. X32_SYSCALL_BIT) returns foreign.
    """
    wanted = sorted({_u32("syscall number", n) for n in numbers})
    prog = check_arch(arch, foreign) + load_nr()
    if nr_limit is not None:
        prog += [jump(BPF_JMP | BPF_JGE | BPF_K, nr_limit, 0, 1), stmt(BPF_RET | BPF_K, foreign)]
    for nr in wanted:  # one return per match: no jump offset grows past 255
        prog += [jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1), stmt(BPF_RET | BPF_K, match)]
    prog.append(stmt(BPF_RET | BPF_K, default))
    if len(prog) > BPF_MAXINSNS:
        raise ValueError(f"{len(wanted)} syscalls make a program longer than {BPF_MAXINSNS} instructions")
    return prog


def allow_list(
    arch: int, numbers: Iterable[int], default: int = SECCOMP_RET_KILL_PROCESS, *, nr_limit: int | None = None
) -> list[Insn]:
    """Allow the syscall numbers given; every other call gets default."""
    return filter_program(arch, numbers, match=SECCOMP_RET_ALLOW, default=default, nr_limit=nr_limit)


def deny_list(
    arch: int, numbers: Iterable[int], action: int = SECCOMP_RET_KILL_PROCESS, *, nr_limit: int | None = None
) -> list[Insn]:
    """Give action to the syscall numbers given; allow every other call."""
    return filter_program(arch, numbers, match=action, default=SECCOMP_RET_ALLOW, nr_limit=nr_limit)


def fprog(program: Sequence[Insn]) -> list[bytes | Ptr]:
    """The struct sock_fprog cstruct for seccomp(SECCOMP_SET_MODE_FILTER, 0, ...).

    ``[len as unsigned short + padding up to the pointer, Ptr(the filter)]``.
    """
    code = assemble(program)
    head = _ffi.new("struct sock_fprog *", {"len": len(program)})
    inline = bytes(_ffi.buffer(head))[: offsetof("struct sock_fprog", "filter")]
    return [inline, Ptr(code)]


# ---- through the helper -----------------------------------------------------------

# platform.machine() -> the AUDIT_ARCH name and the number at which another ABI starts
_ARCHES: dict[str, tuple[str, int | None]] = {
    "x86_64": ("AUDIT_ARCH_X86_64", X32_SYSCALL_BIT),
    "amd64": ("AUDIT_ARCH_X86_64", X32_SYSCALL_BIT),
    "i386": ("AUDIT_ARCH_I386", None),
    "i486": ("AUDIT_ARCH_I386", None),
    "i586": ("AUDIT_ARCH_I386", None),
    "i686": ("AUDIT_ARCH_I386", None),
    "aarch64": ("AUDIT_ARCH_AARCH64", None),
    "arm64": ("AUDIT_ARCH_AARCH64", None),
    "armv6l": ("AUDIT_ARCH_ARM", None),
    "armv7l": ("AUDIT_ARCH_ARM", None),
    "armv8l": ("AUDIT_ARCH_ARM", None),
    "ppc": ("AUDIT_ARCH_PPC", None),
    "ppc64": ("AUDIT_ARCH_PPC64", None),
    "ppc64le": ("AUDIT_ARCH_PPC64LE", None),
    "s390x": ("AUDIT_ARCH_S390X", None),
    "riscv64": ("AUDIT_ARCH_RISCV64", None),
    "loongarch64": ("AUDIT_ARCH_LOONGARCH64", None),
}


def _arch_for(machine: str | None) -> tuple[str, int | None]:
    machine = platform.machine() if machine is None else machine
    try:
        return _ARCHES[machine.lower()]
    except KeyError:
        raise ValueError(
            f"no AUDIT_ARCH known for machine {machine!r}: pass machine= one of {sorted(_ARCHES)}"
        ) from None


async def audit_arch(drv: Driver, pipeline: Sequence[int], machine: str | None = None) -> int:
    """The AUDIT_ARCH value of machine (default: platform.machine()), from the helper."""
    name, _ = _arch_for(machine)
    value = await drv.syscall_constant(pipeline, name)
    if value is None:
        raise UnknownConstant(f"{name} is not defined on the helper's platform")
    return value


async def syscall_numbers(
    drv: Driver, pipeline: Sequence[int], names: Iterable[str], *, missing_ok: bool = False
) -> list[int]:
    """The numbers of system calls named "SYS_getpid" or "getpid", from the helper.

    A name the helper's platform lacks raises UnknownConstant, or is left
    out with missing_ok (e.g. SYS_mkdir where only mkdirat exists).
    """
    numbers: list[int] = []
    for name in names:
        full = name if name[:4].upper() == "SYS_" else f"SYS_{name}"
        value = await drv.syscall_constant(pipeline, full)
        if value is not None:
            numbers.append(value)
        elif not missing_ok:
            raise UnknownConstant(f"{full} is not defined on the helper's platform")
    return numbers


async def _action(drv: Driver, pipeline: Sequence[int], action: int | str) -> int:
    if isinstance(action, int):
        return _u32("action", action)
    value = await drv.seccomp_constant(pipeline, action)
    if value is None:
        raise UnknownConstant(f"{action} is not defined on the helper's platform")
    return value


async def allow_syscalls(
    drv: Driver,
    pipeline: Sequence[int],
    names: Iterable[str],
    default: int | str = SECCOMP_RET_KILL_PROCESS,
    *,
    machine: str | None = None,
    missing_ok: bool = False,
) -> list[bytes | Ptr]:
    """The sock_fprog cstruct of an allow list of syscall names; others get default.

    default is an int (``ret_errno(errno.EPERM)``) or a name ("SECCOMP_RET_KILL_PROCESS").
    """
    numbers = await syscall_numbers(drv, pipeline, names, missing_ok=missing_ok)
    arch = await audit_arch(drv, pipeline, machine)
    return fprog(allow_list(arch, numbers, await _action(drv, pipeline, default), nr_limit=_arch_for(machine)[1]))


async def deny_syscalls(
    drv: Driver,
    pipeline: Sequence[int],
    names: Iterable[str],
    action: int | str = SECCOMP_RET_KILL_PROCESS,
    *,
    machine: str | None = None,
    missing_ok: bool = False,
) -> list[bytes | Ptr]:
    """The sock_fprog cstruct of a deny list of syscall names; others are allowed.

    action is an int (``ret_errno(errno.EPERM)``) or a name ("SECCOMP_RET_KILL_PROCESS").
    """
    numbers = await syscall_numbers(drv, pipeline, names, missing_ok=missing_ok)
    arch = await audit_arch(drv, pipeline, machine)
    return fprog(deny_list(arch, numbers, await _action(drv, pipeline, action), nr_limit=_arch_for(machine)[1]))


async def install(drv: Driver, pipeline: Sequence[int], prog: Sequence[bytes | Ptr]) -> None:
    """Set no_new_privs, then load prog (from fprog) into the process for good.

    The filter is inherited by the process's later children and programs.
    """
    await drv.prctl(pipeline, "PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0)
    await drv.seccomp(pipeline, "SECCOMP_SET_MODE_FILTER", 0, prog)
