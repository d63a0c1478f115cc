"""A container: new namespaces and cgroup limits, declared in one Policy.

    python examples/container.py [asyncio|trio] [-- command [args...]]

alcovepy.sandbox.run clones the command into new user, pid, mount, network,
UTS and IPC namespaces, below a fresh read-only root (the host's /usr, /bin,
/lib... bound read-only, a private /tmp, /proc and a minimal /dev), in
cgroups limiting it to 64 MiB of memory, 32 processes and half a CPU, and
runs it to its end. The default command is a shell script that looks
around: its hostname, its pid, what / holds, the network interfaces and its
cgroups. We print its output, exit status and resource usage.

The namespaces are required: they come from root, or without it from an
unprivileged user namespace where the kernel allows those. The cgroup
limits are best effort: cgroups are only made below the helper's own, so
they need a hierarchy that lets this user create them (cgroup v1, or v2
with the controllers delegated to the helper's cgroup, which a fresh
machine's login or service cgroup often is not). A limit left out is
printed with the reason. Exits with the command's exit status.
"""

from __future__ import annotations

import shlex
import sys

import anyio

import alcovepy
from alcovepy import sandbox

SCRIPT = r"""
echo "hostname: $(cat /proc/sys/kernel/hostname)"
echo "pid: $$ (the first process of its pid namespace)"
echo "processes in /proc: $(ls /proc | grep -c '^[0-9]') (this shell and its pipeline)"
echo "ids: $(id)"
echo "/ holds: $(ls / | tr '\n' ' ')"
echo "network interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "cgroups: $(grep alcovepy /proc/self/cgroup | tr '\n' ' ')"
if [ -d /sys/fs/cgroup ]; then
    echo "cgroup files: $(ls /sys/fs/cgroup | tr '\n' ' ')"
else
    echo "cgroup files: not visible (no /sys in here); the pids limit, tried:"
fi
started=$( (for i in $(seq 40); do sleep 0.5 & echo started; done) 2>/dev/null | grep -c started)
echo "sleeps started at once: $started of 40"
touch /not-here 2>/dev/null || echo "writing to /: refused (read-only root)"
echo "written to /tmp: $(echo hi > /tmp/x && cat /tmp/x)"
"""

MIB = 1 << 20
MEMORY, PIDS, CPUS = 64 * MIB, 32, 0.5
CGROUP_LIMITS = frozenset({"memory", "pids", "cpu"})


def parse(args: list[str]) -> tuple[str, list[str]]:
    """The backend and the command, from [asyncio|trio] [-- command...]."""
    backend = "asyncio"
    if args and args[0] in ("asyncio", "trio"):
        backend = args.pop(0)
    if args and args[0] == "--":
        args.pop(0)
    return backend, args or ["sh", "-c", SCRIPT]


def show(tag: str, data: bytes) -> None:
    for line in data.decode(errors="replace").splitlines():
        print(f"  [{tag}] {line}")


async def main(command: list[str]) -> int:
    policy = sandbox.Policy(memory=MEMORY, pids=PIDS, cpu=CPUS, hostname="container", best_effort=CGROUP_LIMITS)
    async with alcovepy.open_driver() as drv:
        report = await sandbox.probe(drv)
        usable = [ctl for ctl in ("memory", "pids", "cpu") if report.unavailable(ctl) is None]
        print(f"host: kernel {report.kernel}, {'root' if report.root else 'unprivileged'}")
        print(f"cgroups: {report.cgroup.version}; controllers usable here: {', '.join(usable) or 'none'}")
        for ctl in ("memory", "pids", "cpu"):
            if ctl not in usable:
                print(f"  {ctl}: {report.unavailable(ctl)}")
        print(f"limits: memory {MEMORY // MIB} MiB, {PIDS} processes, {CPUS} CPU")
        what = "the default script" if command[2:] == [SCRIPT] else shlex.join(command)
        print(f"running {what} in new user, pid, mount, net, uts and ipc namespaces")
        done = await sandbox.run(drv, policy, command, report=report)  # probed above already
    show("stdout", done.stdout)
    show("stderr", done.stderr)
    print(f"exit status: {done.returncode}" + (f" ({done.reason})" if done.reason else ""))
    if done.usage is not None:
        usage = done.usage
        cpu = f"{usage.cpu_seconds:.3f} s" if usage.cpu_seconds is not None else "not measured"
        peak = f"{usage.memory_peak / MIB:.1f} MiB" if usage.memory_peak is not None else "not measured"
        print(f"usage: wall {usage.wall_seconds:.3f} s, cpu {cpu}, memory peak {peak}")
    print(f"degraded (left out, best effort): {', '.join(done.degraded) or 'nothing'}")
    return done.returncode if done.returncode >= 0 else 128 - done.returncode


if __name__ == "__main__":
    backend, command = parse(sys.argv[1:])
    sys.exit(anyio.run(main, command, backend=backend))
