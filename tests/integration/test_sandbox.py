"""Sandboxes from a Policy: escape attempts from inside, and what is left after.

Run as root in CI; the unprivileged test runs the helper as nobody (through
setpriv) where the kernel allows user namespaces.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from pathlib import Path

import anyio
import pytest

import alcovepy
from alcovepy import cgroups, sandbox
from tests.conftest import open_checked_driver
from tests.integration.rootfs import MARKER, busybox_problem, host_text, make_rootfs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: cgroups below our own, and mounts")


async def sh(drv: alcovepy.Driver, script: str, policy: sandbox.Policy | None = None) -> sandbox.Completed:
    """Run a sh script in a sandbox (default policy), bounded."""
    with anyio.fail_after(30):
        return await sandbox.run(drv, policy or sandbox.Policy(), ["/bin/sh", "-c", script])


def exists(path: str | Path) -> bool:
    """Whether path exists (the host's view; quick, no I/O worth a thread)."""
    return os.path.exists(path)


def status_text() -> str:
    return Path("/proc/self/status").read_text()


def mountinfo() -> list[str]:
    """The host's mount points (what a sandbox must leave as it found them)."""
    return sorted(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())


async def test_probe_describes_this_host(drv: alcovepy.Driver) -> None:
    """probe() reports the host as the helper sees it, with a reason for each missing mechanism."""
    report = await sandbox.probe(drv)
    assert report.root == (os.geteuid() == 0)
    assert set(report.namespaces) >= {"pid", "mnt", "net", "uts", "ipc"}
    assert report.time_namespaces == exists("/proc/self/ns/time")
    assert report.seccomp == ("Seccomp:" in status_text())
    assert report.cgroup.version in ("v1", "v2", "hybrid")
    for ctl in cgroups.CONTROLLERS:
        assert (ctl in report.cgroup.usable) != (report.unavailable(ctl) is not None), ctl
    if report.root:
        assert report.unavailable("pid") is None
    assert await drv.cpid([]) == []  # the user namespace it tried is gone


async def test_the_default_box(drv: alcovepy.Driver) -> None:
    """Default policy: uid 0 of its own user namespace, pid 1, own hostname, no capabilities, no network."""
    script = "id -u; echo $$; hostname; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; ls /; tail -n +3 /proc/net/dev"
    done = await sh(drv, script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[:3] == ["0", "1", "sandbox"]
    assert "CapEff:\t0000000000000000" in lines
    assert "CapBnd:\t0000000000000000" in lines
    assert "NoNewPrivs:\t1" in lines
    assert {"usr", "proc", "dev", "tmp"} <= set(lines)
    interfaces = [line.split(":")[0].strip() for line in lines if ":" in line and not line.startswith(("Cap", "No"))]
    assert interfaces == ["lo"]  # 7: only loopback
    assert done.usage is not None
    assert done.usage.wall_seconds > 0


async def test_host_files_outside_the_new_root_are_invisible(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A host file that was not bound in cannot be read, by its path or through /proc."""
    secret = tmp_path / "secret"
    secret.write_text("host only\n")
    done = await sh(drv, f"cat {secret}; ls /root /work /home; cat /proc/1/root{secret}; ls /")
    assert b"host only" not in done.stdout
    assert done.stderr.count(b"No such file") == 5, done.stderr
    top = set(done.stdout.decode().split())
    assert not top & {"root", "work", "home", "var", "srv"}, top


async def test_writing_outside_a_writable_mount_fails(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """The root and system dirs are read-only; a writable bind writes through to the host; tmpfs is private."""
    out = tmp_path / "out"
    out.mkdir()
    policy = sandbox.Policy(binds=(sandbox.Bind(str(out), "/out", writable=True),))
    done = await sh(drv, "touch /x; touch /usr/x; echo ok > /out/file; echo t > /tmp/t && cat /tmp/t", policy)
    assert done.stderr.count(b"Read-only file system") == 2, done.stderr
    assert (out / "file").read_text() == "ok\n"
    assert done.stdout == b"t\n"
    assert not exists("/usr/x")


async def test_a_read_only_bind_stays_read_only(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A bind without writable cannot be written, nor remounted writable from inside."""
    (tmp_path / "data").write_text("x")
    policy = sandbox.Policy(binds=(sandbox.Bind(str(tmp_path), "/data"),))
    done = await sh(drv, "echo y > /data/data; mount -o remount,rw /data; echo y > /data/data; cat /data/data", policy)
    assert (tmp_path / "data").read_text() == "x"
    assert done.stdout == b"x"
    assert b"Read-only file system" in done.stderr


@needs_root
async def test_a_fork_bomb_stops_at_the_pids_limit(drv: alcovepy.Driver) -> None:
    """With pids=8 the ninth process cannot be made; the sandbox and all it forked are gone after."""
    policy = sandbox.Policy(pids=8, timeout=20)
    script = "i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; echo spawned"
    async with sandbox.start(drv, policy, ["/bin/sh", "-c", script]) as box:
        err = b""
        with anyio.fail_after(20):
            async for chunk in box.process.stderr:
                err += chunk
                if b"fork" in err.lower() or b"resource temporarily unavailable" in err.lower():
                    break
        stats = await box.stats()
    assert b"fork" in err.lower() or b"Resource temporarily unavailable" in err
    assert stats.pids_peak is None or stats.pids_peak <= 8


@needs_root
async def test_a_memory_hog_is_killed_and_reported(drv: alcovepy.Driver) -> None:
    """Past its memory limit the program is OOM-killed, and the result says so."""
    policy = sandbox.Policy(memory=32 << 20)
    done = await sh(drv, "x=0123456789; while :; do x=$x$x; done", policy)
    assert done.returncode == -signal.SIGKILL
    assert done.reason == "oom"
    assert done.usage is not None
    assert done.usage.memory_peak is not None
    assert done.usage.memory_peak <= 33 << 20


async def test_a_denied_syscall_kills_or_fails_per_policy(drv: alcovepy.Driver) -> None:
    """seccomp deny list: kill (SIGSYS, reason seccomp) or fail with the chosen errno."""
    deny = ("mkdir", "mkdirat")
    killed = await sh(drv, "exec mkdir /tmp/d", sandbox.Policy(seccomp_deny=deny))
    assert killed.returncode == -signal.SIGSYS
    assert killed.reason == "seccomp"
    refused = await sh(drv, "mkdir /tmp/d; echo after", sandbox.Policy(seccomp_deny=deny, seccomp_errno="EPERM"))
    assert refused.returncode == 0
    assert refused.stdout == b"after\n"
    assert b"Operation not permitted" in refused.stderr


async def test_timeout_output_caps_and_input(drv: alcovepy.Driver) -> None:
    """A wall-clock limit kills; output past a cap is dropped without blocking; input reaches stdin."""
    slow = await sh(drv, "sleep 100", sandbox.Policy(timeout=0.5))
    assert slow.reason == "timeout"
    assert slow.returncode == -signal.SIGKILL
    with anyio.fail_after(30):
        big = await sandbox.run(drv, sandbox.Policy(), ["/bin/sh", "-c", "head -c 1000000 /dev/zero"], stdout_limit=10)
    assert big.stdout == b"\0" * 10
    assert big.stdout_truncated
    with anyio.fail_after(30):
        echo = await sandbox.run(drv, sandbox.Policy(), ["/bin/cat"], input=b"fed\n")
    assert echo.stdout == b"fed\n"


async def test_streaming_form(drv: alcovepy.Driver) -> None:
    """start() gives a Process to talk to; leaving the block ends the sandbox."""
    async with sandbox.start(drv, sandbox.Policy(), ["/bin/cat"]) as box:
        await box.process.stdin.send(b"ping\n")
        with anyio.fail_after(10):
            assert await box.process.stdout.receive() == b"ping\n"
        pid = box.process.pid
    assert pid is not None
    assert not exists(f"/proc/{pid}")  # reaped, not a zombie
    assert await drv.cpid([]) == []


async def test_a_refused_mechanism_is_named(drv: alcovepy.Driver) -> None:
    """A required mechanism the kernel refuses fails naming it; unknown ones are caught before running."""
    with pytest.raises(sandbox.SandboxUnavailable, match="'root'") as info:
        await sh(drv, "true", sandbox.Policy(root="/nonexistent/root"))
    assert info.value.mechanism == "root"
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        await sh(drv, "true", sandbox.Policy(binds=(sandbox.Bind("/nonexistent/dir"),)))
    with pytest.raises(FileNotFoundError):  # the program itself: its own error
        with anyio.fail_after(30):
            await sandbox.run(drv, sandbox.Policy(), ["/nonexistent/program"])
    assert await drv.cpid([]) == []


async def test_best_effort_mechanisms_degrade(drv: alcovepy.Driver) -> None:
    """A best-effort mechanism the host lacks is left out and listed; a required one raises before running."""
    report = await sandbox.probe(drv)
    missing = [m for m in ("memory", "pids", "cpu") if report.unavailable(m) is not None]
    if not missing:
        pytest.skip("this host has every cgroup controller: nothing to degrade")
    policy = sandbox.Policy(memory=64 << 20, pids=64, cpu=1.0, best_effort=frozenset(missing))
    done = await sh(drv, "true", policy)
    assert set(done.degraded) == set(missing)
    with pytest.raises(sandbox.SandboxUnavailable, match=missing[0]):
        await sh(drv, "true", sandbox.Policy(memory=64 << 20, pids=64, cpu=1.0))


@needs_root
async def test_nothing_of_a_sandbox_remains() -> None:
    """After the Driver exits: no process (checked by open_checked_driver), no new mount, no cgroup."""
    mounts_before = mountinfo()
    async with open_checked_driver() as drv:
        report = await sandbox.probe(drv)
        policy = sandbox.Policy(memory=64 << 20 if "memory" in report.cgroup.usable else None, pids=32, timeout=20)
        async with sandbox.start(drv, policy, ["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"]) as box:
            dirs = [d for d, _ in box._cgroups.dirs.values()]  # what must be gone after
            assert dirs
            assert all(exists(d) for d in dirs)
    assert mountinfo() == mounts_before
    assert not any(exists(d) for d in dirs)


def _helper_runs_as_nobody() -> str | None:
    """Why the helper cannot be run as nobody here, or None."""
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux)"
    if os.geteuid() != 0:
        return "needs root to become nobody"
    from alcovepy._helper_path import helper_path

    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(helper_path()), "--version"],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return None if probe.returncode == 0 else f"nobody cannot run the helper: {probe.stderr.decode()!r}"


async def test_unprivileged_sandbox() -> None:
    """Without root (the helper runs as nobody), a user namespace still makes the box, cgroups degrade."""
    why = _helper_runs_as_nobody()
    if why is not None:
        pytest.skip(why)
    prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
    async with alcovepy.open_driver(exec_prefix=prefix) as drv:
        report = await sandbox.probe(drv)
        assert not report.root
        if not report.user_namespaces:
            pytest.skip(f"the kernel refuses unprivileged user namespaces: {report.unavailable('user')}")
        policy = sandbox.Policy(pids=16, best_effort=frozenset({"pids"}))
        done = await sh(drv, "id -u; echo $$; cat /proc/self/uid_map", policy)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().split("\n")
    assert lines[:2] == ["0", "1"]
    assert lines[2].split() == ["0", "65534", "1"]


async def test_policy_errors_are_caught_before_running(drv: alcovepy.Driver) -> None:
    """Bad policy values raise ValueError/TypeError naming them, and nothing starts."""
    with pytest.raises(ValueError, match="seccomp_errno"):
        await sh(drv, "true", sandbox.Policy(seccomp_deny=("mkdir",), seccomp_errno="ENOTANERRNO"))
    with pytest.raises(ValueError, match="argv"):
        await sandbox.run(drv, sandbox.Policy(), [])
    with pytest.raises(alcovepy.UnknownConstant):
        await sh(drv, "true", sandbox.Policy(rlimits={"RLIMIT_BOGUS": (1, 1)}))
    assert await drv.cpid([]) == []
    assert errno.EPERM  # the errno names above are Python's own


async def test_a_directory_as_the_new_root(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """Policy.root: a host directory (here a busybox root) becomes /, read-only unless root_writable."""
    why = busybox_problem()
    if why is not None:
        pytest.skip(why)
    root = make_rootfs(tmp_path)
    policy = sandbox.Policy(root=str(root), system_dirs=False, tmpfs=(), dev=False)
    done = await sh(drv, f"cat /{MARKER}; ls /; touch /new", policy)
    assert MARKER.encode() in done.stdout.replace(b"\n", b" ")
    assert b"Read-only file system" in done.stderr
    writable = await sh(
        drv, "touch /new && echo made", sandbox.Policy(root=str(root), system_dirs=False, root_writable=True)
    )
    assert writable.stdout == b"made\n"
    assert (root / "new").exists()


async def test_identity_inside(drv: alcovepy.Driver) -> None:
    """uid and gid are the policy's inside the user namespace (mapped to the caller's outside)."""
    done = await sh(drv, "id -u; id -g; cat /proc/self/uid_map", sandbox.Policy(uid=1000, gid=1000))
    lines = done.stdout.decode().split("\n")
    assert lines[:2] == ["1000", "1000"]
    assert lines[2].split() == ["1000", str(os.geteuid()), "1"]


@needs_root
async def test_identity_without_a_user_namespace(drv: alcovepy.Driver) -> None:
    """With user=False (root only) the real ids are set: the program is nobody, with no groups."""
    policy = sandbox.Policy(user=False, uid=65534, gid=65534)
    done = await sh(drv, "id -u; id -g; id -G; grep CapEff /proc/self/status", policy)
    assert done.stdout.decode().split("\n")[:4] == ["65534", "65534", "65534", "CapEff:\t0000000000000000"]


@needs_root
async def test_cpu_quota_is_applied(drv: alcovepy.Driver) -> None:
    """cpu=0.5: the sandbox's cgroup has half a CPU of quota while it runs."""
    report = await sandbox.probe(drv)
    if "cpu" not in report.cgroup.usable:
        pytest.skip(f"no cpu controller: {report.unavailable('cpu')}")
    async with sandbox.start(drv, sandbox.Policy(cpu=0.5), ["/bin/cat"]) as box:
        path, version = box._cgroups.dirs["cpu"]
        knob = "cpu.max" if version == 2 else "cpu.cfs_quota_us"
        assert host_text(Path(path, knob)).split()[0] == "50000"
        assert str(box.process.pid) in host_text(Path(path, "cgroup.procs")).split()


async def test_the_sandbox_dies_with_its_helper() -> None:
    """Parent-death signal: SIGKILL the helper and the sandbox (a pid namespace) is gone too."""
    async with (
        open_checked_driver() as drv,
        sandbox.start(drv, sandbox.Policy(), ["/bin/sh", "-c", "sleep 60 & exec sleep 60"]) as box,
    ):
        assert box.process.pid is not None
        pidfd = os.pidfd_open(box.process.pid)
        try:
            os.kill(drv.helper_pid, signal.SIGKILL)
            with anyio.fail_after(10):
                await anyio.wait_readable(pidfd)  # readable once the process has exited
        finally:
            os.close(pidfd)


# What a dynamically linked /bin/true needs on x86_64 and aarch64 glibc (others are harmless extras).
TRUE_SYSCALLS = (
    "brk", "arch_prctl", "mmap", "mprotect", "munmap", "openat", "close", "fstat", "newfstatat", "read",
    "pread64", "access", "faccessat", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "getrandom",
)  # fmt: skip


async def test_a_seccomp_allow_list(drv: alcovepy.Driver) -> None:
    """An allow list runs a program that keeps to it; without openat the loader is killed (SIGSYS)."""
    allowed = await sandbox.run(drv, sandbox.Policy(seccomp_allow=TRUE_SYSCALLS), ["/bin/true"])
    assert (allowed.returncode, allowed.reason) == (0, None), allowed
    without = tuple(s for s in TRUE_SYSCALLS if s != "openat")
    denied = await sandbox.run(drv, sandbox.Policy(seccomp_allow=without), ["/bin/true"])
    assert (denied.returncode, denied.reason) == (-signal.SIGSYS, "seccomp")


@needs_root
async def test_read_only_binds_are_read_only_all_the_way_down(drv: alcovepy.Driver, tmp_path: Path) -> None:
    """A mount nested below a read-only bind's source is read-only in the sandbox too."""
    inner = tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    mounter = await drv.root.fork()
    await mounter.mount("tmpfs", str(inner), "tmpfs", 0, b"")  # a host mount below the bind's source
    try:
        policy = sandbox.Policy(binds=(sandbox.Bind(str(tmp_path / "outer"), "/outer"),))
        done = await sh(drv, "echo x > /outer/inner/f; echo y > /outer/g; ls /outer/inner", policy)
        assert done.stderr.count(b"Read-only file system") == 2, done.stderr
        assert done.stdout == b""
    finally:
        await mounter.umount(str(inner))


async def test_the_program_leads_its_own_session(drv: alcovepy.Driver) -> None:
    """The sandbox starts a new session: no controlling terminal to push input into (TIOCSTI)."""
    done = await sh(drv, "cut -d' ' -f6,7 /proc/$$/stat; cat /dev/tty")
    session, tty = done.stdout.decode().split("\n")[0].split()
    assert (session, tty) == ("1", "0")  # session id = its own pid (1), tty_nr 0
    assert b"No such device or address" in done.stderr  # ENXIO: it has no controlling terminal


async def test_without_a_pid_namespace_the_subtree_still_ends(drv: alcovepy.Driver) -> None:
    """pid=False: what the program left running in its group is killed when the sandbox ends."""
    done = await sh(drv, "sleep 60 & echo $!", sandbox.Policy(pid=False, proc=False))
    left = int(done.stdout)
    try:
        pidfd = os.pidfd_open(left)
    except ProcessLookupError:
        return  # already gone and reaped
    try:
        with anyio.fail_after(10):
            await anyio.wait_readable(pidfd)  # readable once it has exited
    finally:
        os.close(pidfd)
