"""alcovepy.seccomp's pure builders: layouts, opcodes, and what the programs decide.

Programs are checked by running them: a small classic-BPF interpreter below
evaluates them on seccomp_data built with the module's own offsets.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alcovepy import seccomp as sc
from alcovepy._types import Ptr

ARCH = 0xC000003E  # any 32-bit value does for the pure tests
OTHER_ARCH = 0x40000003
PTR = struct.calcsize("P")

# ---- layouts ---------------------------------------------------------------------


def test_sock_filter_layout() -> None:
    assert sc.sizeof("struct sock_filter") == 8
    assert [sc.offsetof("struct sock_filter", f) for f in ("code", "jt", "jf", "k")] == [0, 2, 3, 4]


def test_sock_fprog_layout() -> None:
    assert sc.sizeof("void *") == PTR
    assert sc.offsetof("struct sock_fprog", "len") == 0
    assert sc.offsetof("struct sock_fprog", "filter") == PTR  # padded to the pointer's alignment
    assert sc.sizeof("struct sock_fprog") == 2 * PTR


def test_seccomp_data_layout() -> None:
    assert (sc.SECCOMP_DATA_NR, sc.SECCOMP_DATA_ARCH, sc.SECCOMP_DATA_IP) == (0, 4, 8)
    assert [sc.seccomp_data_arg(i) for i in range(6)] == [16 + 8 * i for i in range(6)]
    assert sc.sizeof("struct seccomp_data") == 64
    with pytest.raises(ValueError, match="args"):
        sc.seccomp_data_arg(6)


def _header_defines(*paths: Path) -> dict[str, int]:
    """Numeric #defines (0x..., decimal, U suffix) of the headers that exist."""
    found: dict[str, int] = {}
    for path in paths:
        for m in re.finditer(r"^#\s*define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)U?\b", path.read_text(), re.M):
            found[m.group(1)] = int(m.group(2), 0)
    return found


INCLUDE = Path("/usr/include/linux")


@pytest.mark.skipif(not (INCLUDE / "seccomp.h").exists(), reason="needs the kernel UAPI headers (linux-libc-dev)")
def test_constants_match_kernel_headers() -> None:
    defines = _header_defines(INCLUDE / "bpf_common.h", INCLUDE / "filter.h", INCLUDE / "seccomp.h")
    ours = {n: getattr(sc, n) for n in sc.__all__ if n.startswith(("BPF_", "SECCOMP_RET_"))}
    assert len(ours) > 40
    for name, value in ours.items():
        assert defines[name] == value, name


def test_x32_bit_matches_header() -> None:
    headers = list(Path("/usr/include").glob("*/asm/unistd.h"))
    defines = _header_defines(*headers)
    if "__X32_SYSCALL_BIT" not in defines:
        pytest.skip("needs the x86 asm/unistd.h header")
    assert defines["__X32_SYSCALL_BIT"] == sc.X32_SYSCALL_BIT


# ---- instructions ----------------------------------------------------------------


def test_assemble_is_native_struct_sock_filter() -> None:
    prog = [sc.jump(sc.BPF_JMP | sc.BPF_JEQ | sc.BPF_K, 0xDEADBEEF, 1, 2), sc.stmt(sc.BPF_RET | sc.BPF_K, 7)]
    assert sc.assemble(prog) == struct.pack("=HBBI", 0x15, 1, 2, 0xDEADBEEF) + struct.pack("=HBBI", 0x06, 0, 0, 7)


@given(
    st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 255), st.integers(-(2**31), 2**32 - 1)),
        min_size=1,
        max_size=50,
    )
)
def test_assemble_disassemble_roundtrip(items: list[tuple[int, int, int, int]]) -> None:
    prog = [sc.jump(code, k, jt, jf) for code, jt, jf, k in items]
    data = sc.assemble(prog)
    assert len(data) == 8 * len(prog)
    assert sc.disassemble(data) == prog
    assert all(0 <= i.k <= 0xFFFFFFFF for i in prog)


def test_negative_k_is_unsigned() -> None:
    assert sc.stmt(sc.BPF_LD | sc.BPF_W | sc.BPF_ABS, -0x1000).k == 0xFFFFF000


@pytest.mark.parametrize(
    ("code", "k", "jt", "jf", "match"),
    [(-1, 0, 0, 0, "code"), (0x10000, 0, 0, 0, "code"), (0, 2**32, 0, 0, "k"), (0, -(2**31) - 1, 0, 0, "k"),
     (0, 0, 256, 0, "jt"), (0, 0, 0, -1, "jf")],
)  # fmt: skip
def test_out_of_range_fields_are_refused(code: int, k: int, jt: int, jf: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sc.jump(code, k, jt, jf)
    with pytest.raises(ValueError, match=match):
        sc.assemble([sc.Insn(code, jt, jf, k)])


def test_program_length_limits() -> None:
    ret = sc.stmt(sc.BPF_RET | sc.BPF_K, sc.SECCOMP_RET_ALLOW)
    with pytest.raises(ValueError, match="1 to 4096"):
        sc.assemble([])
    assert len(sc.assemble([ret] * sc.BPF_MAXINSNS)) == 8 * sc.BPF_MAXINSNS
    with pytest.raises(ValueError, match="1 to 4096"):
        sc.assemble([ret] * (sc.BPF_MAXINSNS + 1))
    with pytest.raises(ValueError, match="longer than 4096"):
        sc.deny_list(ARCH, range(2046))
    with pytest.raises(ValueError, match="whole number"):
        sc.disassemble(b"\0" * 12)


def test_ret_errno() -> None:
    assert sc.ret_errno(1) == 0x00050001
    assert sc.ret_errno(0) == sc.SECCOMP_RET_ERRNO
    for bad in (-1, 4096):
        with pytest.raises(ValueError, match="errno"):
            sc.ret_errno(bad)


def test_fprog_cstruct() -> None:
    prog = sc.deny_list(ARCH, [1, 2, 3])
    head, ptr = sc.fprog(prog)
    assert head == struct.pack("=H", len(prog)) + b"\0" * (PTR - 2)
    assert ptr == Ptr(sc.assemble(prog))


# ---- what programs decide --------------------------------------------------------


def run_bpf(prog: list[sc.Insn], nr: int, arch: int = ARCH) -> int:
    """Evaluate the classic BPF subset the builders emit on a seccomp_data."""
    data = bytearray(sc.sizeof("struct seccomp_data"))
    struct.pack_into("=iI", data, sc.SECCOMP_DATA_NR, nr, arch)
    acc, pc = 0, 0
    while True:
        insn = prog[pc]
        if insn.code == sc.BPF_LD | sc.BPF_W | sc.BPF_ABS:
            (acc,) = struct.unpack_from("=I", data, insn.k)
        elif insn.code == sc.BPF_RET | sc.BPF_K:
            return insn.k
        elif insn.code & 0x07 == sc.BPF_JMP:
            op = insn.code & 0xF0
            taken = {sc.BPF_JEQ: acc == insn.k, sc.BPF_JGE: acc >= insn.k, sc.BPF_JGT: acc > insn.k}[op]
            pc += insn.jt if taken else insn.jf
        else:
            raise AssertionError(f"unexpected opcode {insn.code:#x}")
        pc += 1


def test_deny_list_decides() -> None:
    deny = sc.ret_errno(30)
    prog = sc.deny_list(ARCH, [83, 258, 83], deny, nr_limit=sc.X32_SYSCALL_BIT)
    assert run_bpf(prog, 83) == deny
    assert run_bpf(prog, 258) == deny
    assert run_bpf(prog, 39) == sc.SECCOMP_RET_ALLOW
    assert run_bpf(prog, 83 | sc.X32_SYSCALL_BIT) == sc.SECCOMP_RET_KILL_PROCESS  # x32 alias
    assert run_bpf(prog, 39, arch=OTHER_ARCH) == sc.SECCOMP_RET_KILL_PROCESS
    assert sum(1 for i in prog if i.code == sc.BPF_JMP | sc.BPF_JEQ | sc.BPF_K and i.k == 83) == 1  # deduplicated


def test_allow_list_decides() -> None:
    prog = sc.allow_list(ARCH, [0, 1, 60], sc.ret_errno(1))
    for nr in (0, 1, 60):
        assert run_bpf(prog, nr) == sc.SECCOMP_RET_ALLOW
    assert run_bpf(prog, 2) == sc.ret_errno(1)
    assert run_bpf(prog, 0, arch=OTHER_ARCH) == sc.SECCOMP_RET_KILL_PROCESS


def test_filter_program_foreign_action_and_large_lists() -> None:
    numbers = range(0, 4000, 2)  # 2000 syscalls: far beyond a jump offset of 255
    prog = sc.filter_program(ARCH, numbers, match=1, default=2, foreign=sc.SECCOMP_RET_TRAP)
    assert len(prog) <= sc.BPF_MAXINSNS
    assert run_bpf(prog, 3998) == 1
    assert run_bpf(prog, 3999) == 2
    assert run_bpf(prog, 0, arch=OTHER_ARCH) == sc.SECCOMP_RET_TRAP
    with pytest.raises(ValueError, match="syscall number"):
        sc.deny_list(ARCH, [2**32])
