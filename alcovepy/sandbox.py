"""Sandboxes: one declarative policy across Linux's mechanisms.

A :class:`Policy` says what the sandboxed program may see and do. ``run``
and ``start`` turn it into a single ``clone_exec`` request: the helper
clones the child into its namespaces, writes its uid/gid maps and cgroup
membership from the parent, and the child sets up its filesystem, drops
privileges, applies limits and its seccomp filter, then execs. No Python
runs in the child and there is no round trip per step.

Every mechanism a policy asks for is required unless named in
``best_effort``. :func:`probe` reports what the host allows; a required
mechanism the host lacks raises :class:`SandboxUnavailable` naming it and
why, before anything runs; a best-effort one is left out and listed in
``degraded``.
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
import signal
import time
from typing import TYPE_CHECKING

import anyio
import msgspec

from alcovepy import _hostfs, cgroups
from alcovepy import seccomp as _seccomp
from alcovepy._types import Step
from alcovepy.errors import AlcoveError, HelperExited

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from alcovepy._driver import Driver
    from alcovepy._process import Process

__all__ = [
    "Bind",
    "Completed",
    "HostReport",
    "Policy",
    "Sandbox",
    "SandboxUnavailable",
    "Usage",
    "probe",
    "run",
    "start",
]

# The system directories a program usually needs, bound read-only by default;
# a missing one is skipped, a symlink (merged /usr) is recreated as a symlink.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/alternatives")
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
# Called by the helper between a seccomp step and the program's first instruction.
_EXEC_SYSCALLS = ("execve", "rt_sigprocmask", "rt_sigaction", "prctl", "getppid", "write", "exit_group", "exit")


class SandboxUnavailable(AlcoveError):
    """A required mechanism of the policy is not available on this host."""

    def __init__(self, mechanism: str, reason: str) -> None:
        super().__init__(f"sandbox mechanism {mechanism!r} is unavailable: {reason}")
        self.mechanism = mechanism
        self.reason = reason


class Bind(msgspec.Struct, frozen=True):
    """A host path shown inside the sandbox (read-only unless writable)."""

    source: str
    target: str | None = None  # inside; default: the same path
    writable: bool = False
    optional: bool = False  # skip it if the source does not exist


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """What a sandboxed program may see and do. The defaults are a tight box.

    Mechanism names (for ``best_effort``): user, pid, mount, net, ipc, uts,
    cgroupns, root, proc, dev, tmpfs, binds, ids, capabilities,
    no_new_privs, seccomp, rlimits, memory, pids, cpu.
    """

    # namespaces
    user: bool = True  # a user namespace: works without root; uid/gid are ids inside it
    pid: bool = True
    mount: bool = True
    net: bool = True  # only loopback
    ipc: bool = True
    uts: bool = True
    cgroupns: bool = False
    hostname: str = "sandbox"
    # identity inside (mapped to the caller's ids with a user namespace)
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    # filesystem (needs mount)
    root: str | None = None  # a host directory used as /; default: an empty tmpfs
    root_writable: bool = False
    system_dirs: bool = True  # bind SYSTEM_DIRS read-only
    binds: tuple[Bind, ...] = ()
    tmpfs: tuple[str, ...] = ("/tmp",)
    proc: bool = True  # a fresh /proc (of the sandbox's pid namespace)
    dev: bool = True  # a minimal /dev: null, zero, full, random, urandom, tty
    workdir: str = "/"
    env: tuple[str, ...] | None = ("PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "LANG=C.UTF-8")
    # limits
    rlimits: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)  # "RLIMIT_NOFILE": (cur, max)
    memory: int | None = None  # bytes, in a cgroup
    pids: int | None = None  # processes, in a cgroup
    cpu: float | None = None  # CPUs, in a cgroup
    # privileges
    no_new_privs: bool = True
    drop_capabilities: bool = True  # bounding and ambient sets emptied
    seccomp_allow: tuple[str, ...] | None = None  # syscall names; all others denied
    seccomp_deny: tuple[str, ...] | None = None  # syscall names denied
    seccomp_errno: str | None = None  # None: a denied call kills (SIGSYS); "EPERM": it fails with EPERM
    # lifetime
    timeout: float | None = None  # wall clock seconds, then SIGKILL
    best_effort: frozenset[str] = frozenset()


class HostReport(msgspec.Struct, frozen=True):
    """What this host allows a sandbox, as the helper sees it (see ``probe``)."""

    kernel: str
    root: bool
    namespaces: tuple[str, ...]  # kinds the kernel has (/proc/self/ns)
    user_namespaces: bool  # the helper could create one just now
    time_namespaces: bool
    seccomp: bool
    pidfd: bool
    clone3: bool
    cgroup: cgroups.CgroupLayout
    reasons: dict[str, str]  # mechanism -> why it is unavailable

    def unavailable(self, mechanism: str) -> str | None:
        """Why mechanism cannot be used here, or None if it can."""
        return self.reasons.get(mechanism)


class Usage(msgspec.Struct, frozen=True):
    """Resources a sandbox used (None: not measured on this host)."""

    wall_seconds: float
    cpu_seconds: float | None = None
    memory_peak: int | None = None


class Completed(msgspec.Struct, frozen=True):
    """A finished sandboxed run."""

    returncode: int  # exit code, or -signal
    stdout: bytes
    stderr: bytes
    reason: str | None = None  # "oom", "seccomp", "timeout" when that is why it died
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    usage: Usage | None = None
    degraded: tuple[str, ...] = ()  # best-effort mechanisms left out

    @property
    def signal(self) -> int | None:
        """The signal that killed the program, if one did."""
        return -self.returncode if self.returncode < 0 else None


_NS_KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts")


async def _has_ns(drv: Driver, kind: str) -> bool:
    """Whether the kernel has namespaces of kind (a link in /proc/self/ns; the
    directory itself cannot be listed by a non-dumpable process that is not root)."""
    try:
        await drv.readlink([], f"/proc/self/ns/{kind}")
    except FileNotFoundError:
        return False
    return True


def _kernel_at_least(release: str, want: tuple[int, int]) -> bool:
    parts = []
    for piece in release.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts) >= want


async def probe(drv: Driver) -> HostReport:
    """Find out what this host lets a sandbox use, by asking (and trying) through the helper."""
    release = (await _hostfs.read_text(drv, "/proc/sys/kernel/osrelease") or "").strip()
    root = await drv.getuid([]) == 0 and (await drv.getresuid([]))[1] == 0
    kinds = tuple(sorted([k for k in _NS_KINDS if await _has_ns(drv, k)]))
    reasons: dict[str, str] = {}
    user_ns = False
    try:
        child = await drv.root.clone(["CLONE_NEWUSER"])
        user_ns = True
        await child.exit(0)
        await child.wait()
    except OSError as exc:
        setting = await _hostfs.read_text(drv, "/proc/sys/kernel/unprivileged_userns_clone")
        limit = await _hostfs.read_text(drv, "/proc/sys/user/max_user_namespaces")
        why = f"clone(CLONE_NEWUSER) failed: {exc.strerror}"
        if setting is not None and setting.strip() == "0":
            why += " (kernel.unprivileged_userns_clone = 0)"
        if limit is not None and limit.strip() == "0":
            why += " (user.max_user_namespaces = 0)"
        reasons["user"] = why
    status = await _hostfs.read_text(drv, "/proc/self/status") or ""
    has_seccomp = any(line.startswith("Seccomp:") for line in status.splitlines())
    if not has_seccomp:
        reasons["seccomp"] = "the kernel has no seccomp (no Seccomp: line in /proc/self/status)"
    names = {"mount": "mnt", "pid": "pid", "net": "net", "ipc": "ipc", "uts": "uts", "cgroupns": "cgroup"}
    for mechanism, kind in names.items():
        if kind not in kinds:
            reasons[mechanism] = f"the kernel has no {kind} namespaces (/proc/self/ns/{kind})"
        elif not root and not user_ns:
            reasons[mechanism] = f"needs root or a user namespace ({reasons['user']})"
    if not root and not user_ns:
        reasons["ids"] = "changing uid/gid needs root or a user namespace"
    layout = await cgroups.discover(drv)
    for ctl in cgroups.CONTROLLERS:
        if ctl not in layout.usable:
            reasons[ctl] = layout.reasons.get(ctl, "unavailable")
    for mechanism in ("root", "proc", "dev", "tmpfs", "binds"):
        if "mount" in reasons:
            reasons[mechanism] = f"needs a mount namespace: {reasons['mount']}"
    return HostReport(
        kernel=release,
        root=root,
        namespaces=kinds,
        user_namespaces=user_ns,
        time_namespaces="time" in kinds,
        seccomp=has_seccomp,
        pidfd=_kernel_at_least(release, (5, 3)),
        clone3=_kernel_at_least(release, (5, 3)),
        cgroup=layout,
        reasons=reasons,
    )


# ---- compiling a policy ---------------------------------------------------------


class _Plan(msgspec.Struct):
    flags: list[str]
    writes: list[tuple[str, bytes]]
    steps: list[tuple[object, ...] | Step]
    degraded: list[str]
    marks: list[tuple[int, str]]  # (first step index, mechanism): whose step failed
    write_owners: list[str]  # the mechanism of each write


def _wanted(policy: Policy) -> list[str]:
    """The mechanisms the policy asks for, in the order they are applied."""
    flags = {
        "user": policy.user,
        "pid": policy.pid,
        "mount": policy.mount,
        "net": policy.net,
        "ipc": policy.ipc,
        "uts": policy.uts,
        "cgroupns": policy.cgroupns,
        "root": policy.mount,
        "binds": bool(policy.binds) or policy.system_dirs,
        "tmpfs": bool(policy.tmpfs),
        "proc": policy.proc,
        "dev": policy.dev,
        "ids": not policy.user and (policy.uid, policy.gid) != (0, 0),
        "capabilities": policy.drop_capabilities,
        "rlimits": bool(policy.rlimits),
        "no_new_privs": policy.no_new_privs,
        "seccomp": policy.seccomp_allow is not None or policy.seccomp_deny is not None,
        "memory": policy.memory is not None,
        "pids": policy.pids is not None,
        "cpu": policy.cpu is not None,
    }
    return [m for m, on in flags.items() if on]


def _mount_flags(mounts: Sequence[_hostfs.Mount], path: str) -> list[str]:
    """The flags a read-only remount of a bind of path must keep (locked in a user namespace)."""
    best, opts = "", frozenset({"rw"})
    for mount in mounts:
        inside = path == mount.point or path.startswith(mount.point.rstrip("/") + "/")
        if inside and len(mount.point) >= len(best):
            best, opts = mount.point, mount.options
    flags = ["MS_BIND", "MS_REMOUNT", "MS_RDONLY"]
    flags += [f for o, f in (("nosuid", "MS_NOSUID"), ("nodev", "MS_NODEV"), ("noexec", "MS_NOEXEC")) if o in opts]
    if "noatime" in opts:
        flags.append("MS_NOATIME")
    elif "relatime" in opts:
        flags.append("MS_RELATIME")
    else:
        flags.append("MS_STRICTATIME")
    if "nodiratime" in opts:
        flags.append("MS_NODIRATIME")
    return flags


def _submounts(mounts: Sequence[_hostfs.Mount], path: str) -> list[str]:
    """Mount points strictly below path, outermost first: a recursive bind copies them all."""
    prefix = path.rstrip("/") + "/"
    below = {m.point for m in mounts if m.point.startswith(prefix)}
    return sorted(below, key=lambda p: (p.count("/"), p))


def _read_only(mounts: Sequence[_hostfs.Mount], source: str, target: str) -> list[tuple[object, ...]]:
    """Remount a recursive bind of source at target read-only, every mount in it.

    A remount changes one mount only: each mount copied from below source is
    remounted too, with the flags of its own (locked in a user namespace).
    """
    steps: list[tuple[object, ...]] = [("mount", "none", target, "", _mount_flags(mounts, source), b"")]
    for point in _submounts(mounts, source):
        inner = target.rstrip("/") + point[len(source.rstrip("/")) :]
        steps.append(("mount", "none", inner, "", _mount_flags(mounts, point), b""))
    return steps


def _mkdirs(path: str, made: set[str]) -> list[Step]:
    """mkdir -p inside the new root (which starts empty or is the user's)."""
    steps: list[Step] = []
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/newroot/" + "/".join(parts[:i])
        if sub not in made:
            made.add(sub)
            steps.append(Step("mkdir", sub, 0o755, tolerate=[errno.EEXIST]))
    return steps


async def _filesystem(
    drv: Driver, policy: Policy, use: set[str]
) -> tuple[list[tuple[object, ...] | Step], list[tuple[int, str]]]:
    """Steps that build the new root under /tmp of the child's mount namespace and pivot into it.

    The host's root stays reachable as /oldroot until every bind is made, so
    bind sources are resolved on the host even where a tmpfs hides them.
    """
    mounts = _hostfs.parse_mountinfo(await _hostfs.read_text(drv, "/proc/self/mountinfo") or "")
    made: set[str] = set()
    steps: list[tuple[object, ...] | Step] = [
        ("mount", "tmpfs", "/tmp", "tmpfs", ["MS_NOSUID", "MS_NODEV"], b"mode=0700"),
        ("mkdir", "/tmp/newroot", 0o755),
        ("mkdir", "/tmp/oldroot", 0o755),
        ("pivot_root", "/tmp", "/tmp/oldroot"),
        ("chdir", "/"),
    ]
    if policy.root is not None:
        steps.append(("mount", "/oldroot" + policy.root, "/newroot", "", ["MS_BIND", "MS_REC"], b""))
    else:
        steps.append(("mount", "tmpfs", "/newroot", "tmpfs", ["MS_NOSUID", "MS_NODEV"], b"mode=0755"))
    marks = [(0, "root")]
    binds = list(policy.binds)
    marks.append((len(steps), "binds"))
    if policy.system_dirs and "binds" in use:
        binds = [Bind(d, optional=True) for d in SYSTEM_DIRS] + binds
    for bind in binds if "binds" in use else []:
        target = posixpath.normpath(bind.target or bind.source)
        try:
            link = await drv.readlink([], bind.source)
        except FileNotFoundError:
            if bind.optional:
                continue
            raise
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            link = None
        steps += _mkdirs(posixpath.dirname(target), made)
        if link is not None:  # recreate the link (merged /usr: /bin -> usr/bin)
            steps.append(Step("symlink", link, "/newroot" + target, tolerate=[errno.EEXIST]))
            continue
        if await _hostfs.is_dir(drv, bind.source):
            steps += _mkdirs(target, made)
        else:
            steps.append(Step("open", "/newroot" + target, ["O_WRONLY", "O_CREAT", "O_CLOEXEC"], 0o644))
        steps.append(("mount", "/oldroot" + bind.source, "/newroot" + target, "", ["MS_BIND", "MS_REC"], b""))
        if not bind.writable:
            steps += _read_only(mounts, bind.source, "/newroot" + target)
    marks.append((len(steps), "tmpfs"))
    for path in policy.tmpfs if "tmpfs" in use else ():
        steps += _mkdirs(path, made)
        steps.append(("mount", "tmpfs", "/newroot" + path, "tmpfs", ["MS_NOSUID", "MS_NODEV"], b"mode=1777"))
    marks.append((len(steps), "proc"))
    if "proc" in use:
        steps += _mkdirs("/proc", made)
        steps.append(("mount", "proc", "/newroot/proc", "proc", ["MS_NOSUID", "MS_NODEV", "MS_NOEXEC"], b""))
    marks.append((len(steps), "dev"))
    if "dev" in use:
        steps += _mkdirs("/dev", made)
        steps.append(("mount", "tmpfs", "/newroot/dev", "tmpfs", ["MS_NOSUID", "MS_NOEXEC"], b"mode=0755"))
        for node in _DEV_NODES:
            steps.append(Step("open", f"/newroot/dev/{node}", ["O_WRONLY", "O_CREAT", "O_CLOEXEC"], 0o666))
            steps.append(("mount", f"/oldroot/dev/{node}", f"/newroot/dev/{node}", "", ["MS_BIND"], b""))
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
            steps.append(("symlink", target, f"/newroot/dev/{name}"))
        steps.append(("symlink", "/proc/self/fd/1", "/newroot/dev/stdout"))
        steps.append(("symlink", "/proc/self/fd/2", "/newroot/dev/stderr"))
    marks.append((len(steps), "root"))
    if not policy.root_writable and policy.root is None:
        steps.append(("mount", "none", "/newroot", "", ["MS_REMOUNT", "MS_RDONLY", "MS_NOSUID", "MS_NODEV"], b""))
    elif not policy.root_writable and policy.root is not None:
        steps += _read_only(mounts, policy.root, "/newroot")
    steps += [
        ("umount2", "/oldroot", "MNT_DETACH"),
        ("chdir", "/newroot"),
        ("pivot_root", ".", "."),
        ("umount2", ".", "MNT_DETACH"),
        ("chdir", policy.workdir),
    ]
    return steps, marks


async def _compile(drv: Driver, report: HostReport, policy: Policy, cg: cgroups.CgroupSet) -> _Plan:
    wanted = _wanted(policy)
    use: set[str] = set()
    degraded: list[str] = []
    for mechanism in wanted:
        why = report.unavailable(mechanism)
        namespaced = mechanism in ("pid", "mount", "net", "ipc", "uts", "cgroupns", "ids")
        if why is None and namespaced and not report.root and "user" not in use:
            why = "needs root or the policy's user namespace"
        if why is None and mechanism in ("root", "binds", "tmpfs", "proc", "dev") and "mount" not in use:
            why = "needs the policy's mount namespace"
        if why is None:
            use.add(mechanism)
        elif mechanism in policy.best_effort:
            degraded.append(mechanism)
        else:
            raise SandboxUnavailable(mechanism, why)
    flags = [
        flag
        for mechanism, flag in (
            ("user", "CLONE_NEWUSER"),
            ("pid", "CLONE_NEWPID"),
            ("mount", "CLONE_NEWNS"),
            ("net", "CLONE_NEWNET"),
            ("ipc", "CLONE_NEWIPC"),
            ("uts", "CLONE_NEWUTS"),
            ("cgroupns", "CLONE_NEWCGROUP"),
        )
        if mechanism in use
    ]
    writes: list[tuple[str, bytes]] = []
    write_owners: list[str] = []
    if "user" in use:
        _, euid, _ = await drv.getresuid([])
        _, egid, _ = await drv.getresgid([])
        writes += [
            ("/proc/{pid}/setgroups", b"deny"),
            ("/proc/{pid}/uid_map", f"{policy.uid} {euid} 1".encode()),
            ("/proc/{pid}/gid_map", f"{policy.gid} {egid} 1".encode()),
        ]
        write_owners += ["user"] * 3
    for ctl in ("memory", "pids", "cpu"):
        if ctl in use:
            await cg.create(ctl)
    if "memory" in use and policy.memory is not None:
        await cg.limit_memory(policy.memory)
    if "pids" in use and policy.pids is not None:
        await cg.limit_pids(policy.pids)
    if "cpu" in use and policy.cpu is not None:
        await cg.limit_cpu(policy.cpu)
    if "cpuacct" in report.cgroup.usable and cg.dirs:
        with contextlib.suppress(OSError):
            await cg.create("cpuacct")
    for ctl, write in cg.procs_writes():
        writes.append(write)
        write_owners.append(ctl)

    steps: list[tuple[object, ...] | Step] = []
    marks: list[tuple[int, str]] = []

    def section(mechanism: str) -> None:
        marks.append((len(steps), mechanism))

    section("session")
    steps.append(("setsid",))  # no controlling terminal: no TIOCSTI into the caller's session
    section("uts")
    if "uts" in use:
        steps.append(("sethostname", policy.hostname))
    section("mount")
    if "mount" in use:
        steps.append(("mount", "none", "/", "", ["MS_REC", "MS_PRIVATE"], b""))
        if use & {"root", "binds", "tmpfs", "proc", "dev"}:
            fs_steps, fs_marks = await _filesystem(drv, policy, use)
            marks += [(len(steps) + i, m) for i, m in fs_marks]
            steps += fs_steps
        else:
            steps.append(("chdir", policy.workdir))
    section("capabilities")
    if "capabilities" in use:
        last = int((await _hostfs.read_text(drv, "/proc/sys/kernel/cap_last_cap") or "40").strip())
        quiet = [errno.EINVAL] if report.root or "user" in use else [0]  # without privilege there is nothing to drop
        steps += [Step("prctl", "PR_CAPBSET_DROP", cap, 0, 0, 0, tolerate=quiet) for cap in range(last + 1)]
        clear_all = await drv.prctl_constant([], "PR_CAP_AMBIENT_CLEAR_ALL")
        if clear_all is not None:
            steps.append(Step("prctl", "PR_CAP_AMBIENT", clear_all, 0, 0, 0, tolerate=[errno.EINVAL]))
    section("ids")
    if "ids" in use:
        steps += [
            ("setgroups", list(policy.groups)),
            ("setresgid", policy.gid, policy.gid, policy.gid),
            ("setresuid", policy.uid, policy.uid, policy.uid),
        ]
    section("env")
    if policy.env is not None:
        for entry in policy.env:
            name, _, value = entry.partition("=")
            if name == "PATH":  # execvp searches the PATH of the process, not of env
                steps.append(("setenv", "PATH", value, 1))
    section("rlimits")
    if "rlimits" in use:
        steps += [("setrlimit", name, limit) for name, limit in sorted(policy.rlimits.items())]
    section("no_new_privs")
    if "no_new_privs" in use or "seccomp" in use:
        steps.append(("prctl", "PR_SET_NO_NEW_PRIVS", 1, 0, 0, 0))
    if "seccomp" in use:
        action: int | str = "SECCOMP_RET_KILL_PROCESS"
        if policy.seccomp_errno is not None:
            number = getattr(errno, policy.seccomp_errno, None)
            if not isinstance(number, int):
                raise ValueError(f"seccomp_errno: unknown errno name {policy.seccomp_errno!r}")
            action = _seccomp.ret_errno(number)
        if policy.seccomp_allow is not None:
            names = sorted(set(policy.seccomp_allow) | set(_EXEC_SYSCALLS))
            prog = await _seccomp.allow_syscalls(drv, [], names, action, missing_ok=True)
        else:
            prog = await _seccomp.deny_syscalls(drv, [], policy.seccomp_deny or (), action, missing_ok=True)
        section("seccomp")
        steps.append(("seccomp", "SECCOMP_SET_MODE_FILTER", 0, prog))
    section("exec")
    return _Plan(flags, writes, steps, degraded, marks, write_owners)


def _owner(plan: _Plan, step: int) -> str:
    """The mechanism whose write (step < 0) or setup step failed."""
    if step < 0:
        return plan.write_owners[-1 - step]  # one owner per write
    owner = "exec"
    for first, mechanism in plan.marks:
        if first <= step:
            owner = mechanism
    return owner


# ---- running ----------------------------------------------------------------------


class Sandbox:
    """A running sandbox (from ``start``): its process, and what it was allowed."""

    def __init__(self, drv: Driver, process: Process, degraded: Sequence[str], cg: cgroups.CgroupSet) -> None:
        self._drv = drv
        self.process = process
        self.degraded = tuple(degraded)
        self._cgroups = cg
        self.started = time.monotonic()

    async def stats(self) -> cgroups.CgroupStats:
        """What the kernel accounted in the sandbox's cgroups so far."""
        return await self._cgroups.stats()

    async def kill(self) -> None:
        """SIGKILL the program and its process group (with a pid namespace: everything in it).

        The program leads its own session and group (a setup step), so the
        group is what it started, unless something moved itself out; cgroups,
        when used, catch those too.
        """
        pid = self.process.pid or 0
        for target in (pid, -pid):
            # Right after its exit the pid (and group id) cannot have been
            # reused: the kernel hands pids out cyclically over pid_max.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                await self._drv.kill(self.process.pipeline[:-1], target, signal.SIGKILL)


@contextlib.asynccontextmanager
async def start(
    drv: Driver,
    policy: Policy,
    argv: Sequence[str | bytes],
    *,
    parent: Process | None = None,
    report: HostReport | None = None,
) -> AsyncIterator[Sandbox]:
    """Start argv in a sandbox and yield it; on exit the whole sandbox is gone.

    The program's stdin, stdout and stderr are ``sandbox.process``'s streams.
    Leaving the block kills what is left of it, reaps it, and removes its
    cgroups. Raises SandboxUnavailable for a required mechanism the host
    lacks, and the failing step's error if the kernel refuses one. report is
    a ``probe()`` result to reuse (a service starting many sandboxes probes
    once); by default the host is probed now.
    """
    if not argv:
        raise ValueError("argv must name a program")
    owner = parent if parent is not None else drv.root
    if report is None:
        report = await probe(drv)
    cg = cgroups.CgroupSet(drv, report.cgroup)
    try:
        plan = await _compile(drv, report, policy, cg)
        env = list(policy.env) if policy.env is not None else None
        try:
            process = await owner.clone_exec(plan.flags, plan.writes, plan.steps, argv[0], list(argv), env)
        except (OSError, ValueError, AlcoveError) as exc:
            step = vars(exc).get("setup_step")
            if not isinstance(step, int) or _owner(plan, step) == "exec":
                raise  # not a setup step, or the exec itself: its error says it all
            raise SandboxUnavailable(_owner(plan, step), f"the kernel refused it: {exc}") from exc
        box = Sandbox(drv, process, plan.degraded, cg)
        try:
            yield box
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(HelperExited):
                await box.kill()
                with anyio.move_on_after(10):
                    await process.wait()
    finally:
        with anyio.CancelScope(shield=True):
            await cg.destroy()


async def _collect(stream: anyio.abc.ByteReceiveStream, limit: int | None) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size, truncated = 0, False
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        while True:
            chunk = await stream.receive()
            if limit is not None and size + len(chunk) > limit:
                chunk, truncated = chunk[: max(0, limit - size)], True
            size += len(chunk)
            if chunk:
                chunks.append(chunk)
    return b"".join(chunks), truncated


async def _feed(process: Process, data: bytes) -> None:
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        if data:
            await process.stdin.send(data)
        await process.stdin.aclose()


async def run(
    drv: Driver,
    policy: Policy,
    argv: Sequence[str | bytes],
    *,
    input: bytes = b"",
    stdout_limit: int | None = None,
    stderr_limit: int | None = None,
    parent: Process | None = None,
    report: HostReport | None = None,
) -> Completed:
    """Run argv in a sandbox to completion: exit status, output, why it died, usage.

    Output beyond stdout_limit/stderr_limit bytes is read and dropped (the
    program is never blocked), and the result says it was truncated. report:
    as for ``start``.
    """
    async with start(drv, policy, argv, parent=parent, report=report) as box:
        proc = box.process
        out: list[tuple[bytes, bool]] = [(b"", False), (b"", False)]

        async def collect(index: int, stream: anyio.abc.ByteReceiveStream, limit: int | None) -> None:
            out[index] = await _collect(stream, limit)

        timed_out = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(_feed, proc, input)
            tg.start_soon(collect, 0, proc.stdout, stdout_limit)
            tg.start_soon(collect, 1, proc.stderr, stderr_limit)
            with anyio.move_on_after(policy.timeout if policy.timeout is not None else float("inf")) as scope:
                returncode = await proc.wait()
            if scope.cancelled_caught:
                timed_out = True
                await box.kill()
                returncode = await proc.wait()
            else:  # what it left running in its group would hold its output open: end it
                await box.kill()
        stats = await box.stats()
        wall = time.monotonic() - box.started
    reason = None
    if timed_out:
        reason = "timeout"
    elif returncode == -signal.SIGKILL and stats.oom_kills > 0:
        reason = "oom"
    elif returncode == -signal.SIGSYS:
        reason = "seccomp"
    cpu = stats.cpu_ns / 1e9 if stats.cpu_ns is not None else None
    return Completed(
        returncode=returncode,
        stdout=out[0][0],
        stderr=out[1][0],
        reason=reason,
        stdout_truncated=out[0][1],
        stderr_truncated=out[1][1],
        usage=Usage(wall, cpu, stats.memory_peak),
        degraded=box.degraded,
    )
