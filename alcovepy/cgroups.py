"""Cgroups for sandboxes: created below the helper's own cgroup, removed after.

Delegation rules (and these machines) decide the layout: a cgroup is only
ever made below the one the helper already runs in, as read from
/proc/self/cgroup, and no process is moved out of its hierarchy. On the
unified (v2) hierarchy a controller is usable when the helper's cgroup
already delegates it (cgroup.subtree_control); otherwise, on a v1 or hybrid
host, the controller's own v1 hierarchy is used.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from typing import TYPE_CHECKING

import anyio
import msgspec

from alcovepy import _hostfs
from alcovepy.errors import HelperExited

if TYPE_CHECKING:
    from alcovepy._driver import Driver

__all__ = ["CgroupLayout", "CgroupSet", "CgroupStats", "discover"]

CONTROLLERS = ("memory", "pids", "cpu")


class CgroupLayout(msgspec.Struct, frozen=True):
    """Where each controller can be used: a directory to create cgroups in, and its version."""

    version: str  # "v2", "v1" or "hybrid" (v1 controllers beside a v2 hierarchy)
    own: dict[str, str]  # controller (or "unified") -> the helper's cgroup path in that hierarchy
    usable: dict[str, tuple[str, int]]  # controller -> (directory to create below, 1 or 2)
    reasons: dict[str, str]  # controller -> why it is not usable


class CgroupStats(msgspec.Struct, frozen=True):
    """What the kernel accounted for a sandbox's cgroups (None: not measured)."""

    memory_peak: int | None = None
    cpu_ns: int | None = None
    oom_kills: int = 0
    pids_peak: int | None = None


def _mounts(mounts: list[_hostfs.Mount]) -> tuple[str | None, dict[str, str]]:
    """The unified mount point, and each v1 controller's mount point."""
    unified: str | None = None
    v1: dict[str, str] = {}
    for mount in mounts:
        if mount.fstype == "cgroup2" and unified is None:
            unified = mount.point
        elif mount.fstype == "cgroup":
            for opt in mount.super_options:
                if opt in CONTROLLERS or opt == "cpuacct":
                    v1.setdefault(opt, mount.point)
    return unified, v1


def _own(proc_cgroup: str) -> dict[str, str]:
    own: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            own["unified"] = path
        for name in names.split(","):
            if name:
                own[name] = path
    return own


async def discover(drv: Driver) -> CgroupLayout:
    """Find, through the helper, where memory, pids and cpu cgroups can be made."""
    mounts = _hostfs.parse_mountinfo(await _hostfs.read_text(drv, "/proc/self/mountinfo") or "")
    own = _own(await _hostfs.read_text(drv, "/proc/self/cgroup") or "")
    unified, v1 = _mounts(mounts)
    usable: dict[str, tuple[str, int]] = {}
    reasons: dict[str, str] = {}
    delegated: set[str] = set()
    if unified is not None and "unified" in own:
        base = unified + own["unified"].rstrip("/")
        delegated = set((await _hostfs.read_text(drv, base + "/cgroup.subtree_control") or "").split())
    for ctl in CONTROLLERS:
        if ctl in delegated and unified is not None:
            usable[ctl] = (unified + own["unified"].rstrip("/"), 2)
        elif ctl in v1 and ctl in own:
            usable[ctl] = (v1[ctl] + own[ctl].rstrip("/"), 1)
        elif unified is not None and ctl not in v1:
            reasons[ctl] = f"not enabled in {own.get('unified', '/')}/cgroup.subtree_control on the v2 hierarchy"
        else:
            reasons[ctl] = "no cgroup hierarchy has this controller"
    if "cpuacct" in v1 and "cpuacct" in own:
        usable.setdefault("cpuacct", (v1["cpuacct"] + own["cpuacct"].rstrip("/"), 1))
    for ctl, (base, _) in list(usable.items()):  # delegated means we may make cgroups there: try
        trial = f"{base}/alcovepy-probe-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            await drv.mkdir([], trial, 0o755)
            await drv.rmdir([], trial)
        except OSError as exc:
            del usable[ctl]
            reasons[ctl] = f"cannot create cgroups in {base} ({exc.strerror}): not delegated to this user"
    version = "v2" if unified and not v1 else "hybrid" if unified else "v1"
    return CgroupLayout(version, own, usable, reasons)


class CgroupSet:
    """One sandbox's cgroups, one per controller used; create, fill, account, remove."""

    def __init__(self, drv: Driver, layout: CgroupLayout) -> None:
        self._drv = drv
        self._layout = layout
        self.name = f"alcovepy-{os.getpid()}-{secrets.token_hex(4)}"
        self.dirs: dict[str, tuple[str, int]] = {}  # controller -> (its cgroup directory, version)

    def _dir_of(self, ctl: str) -> tuple[str, int] | None:
        if ctl not in self._layout.usable:
            return None
        base, version = self._layout.usable[ctl]
        for path, v in self.dirs.values():  # one v2 cgroup serves every v2 controller
            if v == 2 and version == 2:
                return path, v
        return f"{base}/{self.name}", version

    async def create(self, ctl: str) -> str:
        """Make the cgroup for controller ctl (below the helper's own); return its directory."""
        found = self._dir_of(ctl)
        if found is None:
            raise OSError(errno.ENOTSUP, f"cgroup controller {ctl}: {self._layout.reasons.get(ctl, 'unavailable')}")
        path, version = found
        if path not in {p for p, _ in self.dirs.values()}:
            await self._drv.mkdir([], path, 0o755)
        self.dirs[ctl] = (path, version)
        return path

    async def limit_memory(self, limit: int) -> None:
        path, version = self.dirs["memory"]
        if version == 2:
            await _hostfs.write_file(self._drv, path + "/memory.max", str(limit).encode())
            await _try_write(self._drv, path + "/memory.swap.max", b"0")
        else:
            await _hostfs.write_file(self._drv, path + "/memory.limit_in_bytes", str(limit).encode())
            await _try_write(self._drv, path + "/memory.memsw.limit_in_bytes", str(limit).encode())

    async def limit_pids(self, limit: int) -> None:
        path, _ = self.dirs["pids"]
        await _hostfs.write_file(self._drv, path + "/pids.max", str(limit).encode())

    async def limit_cpu(self, cpus: float) -> None:
        path, version = self.dirs["cpu"]
        period = 100_000
        quota = max(1000, round(cpus * period))
        if version == 2:
            await _hostfs.write_file(self._drv, path + "/cpu.max", f"{quota} {period}".encode())
        else:
            await _hostfs.write_file(self._drv, path + "/cpu.cfs_period_us", str(period).encode())
            await _hostfs.write_file(self._drv, path + "/cpu.cfs_quota_us", str(quota).encode())

    def procs_writes(self) -> list[tuple[str, tuple[str, bytes]]]:
        """(controller, (path, data)): the writes that put a new child (its "{pid}") into every
        cgroup, each named by the first controller its cgroup serves."""
        first: dict[str, str] = {}
        for ctl, (path, _) in self.dirs.items():
            first.setdefault(path, ctl)
        return [(first[d], (d + "/cgroup.procs", b"{pid}")) for d in sorted(first)]

    async def stats(self) -> CgroupStats:
        """Peak memory, CPU time, OOM kills and peak pids, where the kernel keeps them."""
        memory_peak = cpu_ns = pids_peak = None
        oom_kills = 0
        if "memory" in self.dirs:
            path, version = self.dirs["memory"]
            peak = await _read_int(self._drv, path + ("/memory.peak" if version == 2 else "/memory.max_usage_in_bytes"))
            memory_peak = peak
            events = await _hostfs.read_text(
                self._drv, path + ("/memory.events" if version == 2 else "/memory.oom_control")
            )
            for line in (events or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    oom_kills = int(value)
        if "cpu" in self.dirs and self.dirs["cpu"][1] == 2:
            text = await _hostfs.read_text(self._drv, self.dirs["cpu"][0] + "/cpu.stat") or ""
            for line in text.splitlines():
                if line.startswith("usage_usec "):
                    cpu_ns = int(line.split()[1]) * 1000
        elif "cpuacct" in self.dirs:
            cpu_ns = await _read_int(self._drv, self.dirs["cpuacct"][0] + "/cpuacct.usage")
        if "pids" in self.dirs:
            pids_peak = await _read_int(self._drv, self.dirs["pids"][0] + "/pids.peak")
        return CgroupStats(memory_peak, cpu_ns, oom_kills, pids_peak)

    async def destroy(self) -> None:
        """Kill what is left in the cgroups, then remove them (bounded; never raises for a missing one).

        If the helper is gone, its processes died with it (parent-death
        signal): the empty cgroups are removed from here, if this host has them.
        """
        try:
            await self._destroy()
        except HelperExited:
            for path in sorted({p for p, _ in self.dirs.values()}, reverse=True):
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            self.dirs.clear()

    async def _destroy(self) -> None:
        for path in sorted({p for p, _ in self.dirs.values()}):
            with anyio.move_on_after(5):
                while True:
                    procs = [int(x) for x in (await _hostfs.read_text(self._drv, path + "/cgroup.procs") or "").split()]
                    for pid in procs:
                        with contextlib.suppress(ProcessLookupError):
                            await self._drv.kill([], pid, "SIGKILL")
                    try:
                        await self._drv.rmdir([], path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as exc:
                        if exc.errno != errno.EBUSY:
                            raise
                    await anyio.sleep(0.01)  # the killed processes are still being reaped
        self.dirs.clear()


async def _try_write(drv: Driver, path: str, data: bytes) -> None:
    with contextlib.suppress(OSError):  # an optional knob (swap accounting may be off)
        await _hostfs.write_file(drv, path, data)


async def _read_int(drv: Driver, path: str) -> int | None:
    text = await _hostfs.read_text(drv, path)
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())
