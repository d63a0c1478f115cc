"""The pure parts of sandboxes: reading /proc's cgroup and mount tables, policy defaults."""

from __future__ import annotations

import msgspec
import pytest

from alcovepy import _hostfs, cgroups, sandbox

HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""

HYBRID_MOUNTINFO = """\
25 1 0:23 / / rw,relatime - overlay overlay rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
40 25 0:40 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw
41 25 0:41 / /mnt/my\\040disk ro,noexec,noatime - ext4 /dev/sda1 ro
"""

MOUNTS = _hostfs.parse_mountinfo(HYBRID_MOUNTINFO)


def test_own_cgroup_paths_per_hierarchy() -> None:
    """/proc/self/cgroup: each v1 controller's path, and the unified one under "unified"."""
    own = cgroups._own(HYBRID_CGROUP)
    assert own["memory"] == "/process_api/abc"
    assert own["pids"] == "/"
    assert own["unified"] == "/"
    assert own["name=systemd"] == "/"


def test_cgroup_mount_points() -> None:
    """mountinfo: the unified mount, and where each v1 controller is mounted."""
    unified, v1 = cgroups._mounts(MOUNTS)
    assert unified == "/sys/fs/cgroup/unified"
    assert v1 == {
        "cpu": "/sys/fs/cgroup/cpu",
        "cpuacct": "/sys/fs/cgroup/cpuacct",
        "memory": "/sys/fs/cgroup/memory",
        "pids": "/sys/fs/cgroup/pids",
    }
    assert cgroups._mounts(_hostfs.parse_mountinfo("garbage line\n\n")) == (None, {})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tmp/x", ["MS_BIND", "MS_REMOUNT", "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_STRICTATIME"]),
        ("/usr/bin", ["MS_BIND", "MS_REMOUNT", "MS_RDONLY", "MS_RELATIME"]),
        ("/mnt/my disk/f", ["MS_BIND", "MS_REMOUNT", "MS_RDONLY", "MS_NOEXEC", "MS_NOATIME"]),
        ("/tmpfoo", ["MS_BIND", "MS_REMOUNT", "MS_RDONLY", "MS_RELATIME"]),  # not under /tmp
    ],
)
def test_read_only_remounts_keep_the_locked_flags(path: str, expected: list[str]) -> None:
    """The remount of a read-only bind repeats the flags of the mount it comes from (locked in a user namespace)."""
    assert sandbox._mount_flags(MOUNTS, path) == expected


def test_mkdirs_makes_each_level_once() -> None:
    """mkdir -p inside the new root, tolerating EEXIST, never twice for one directory."""
    made: set[str] = set()
    first = sandbox._mkdirs("/a/b/c", made)
    again = sandbox._mkdirs("/a/b/d", made)
    assert [s.args[0] for s in first] == ["/newroot/a", "/newroot/a/b", "/newroot/a/b/c"]
    assert [s.args[0] for s in again] == ["/newroot/a/b/d"]
    assert all(s.tolerate for s in first + again)


def test_policy_defaults_are_a_tight_box() -> None:
    """By default every namespace but cgroup's, a read-only root, no privileges; policies are plain data."""
    policy = sandbox.Policy()
    assert policy.user
    assert policy.pid
    assert policy.mount
    assert policy.net
    assert policy.ipc
    assert policy.uts
    assert not policy.root_writable
    assert policy.no_new_privs
    assert policy.drop_capabilities
    wanted = sandbox._wanted(policy)
    assert {"user", "pid", "mount", "net", "capabilities", "no_new_privs", "proc", "dev"} <= set(wanted)
    assert not {"memory", "pids", "cpu", "seccomp", "ids"} & set(wanted)
    encoded = msgspec.json.encode(sandbox.Policy(memory=1 << 20, binds=(sandbox.Bind("/data"),)))
    assert msgspec.json.decode(encoded, type=sandbox.Policy).memory == 1 << 20


def test_completed_reports_the_signal() -> None:
    """Completed.signal is the killing signal, None for an exit."""
    assert sandbox.Completed(-9, b"", b"").signal == 9
    assert sandbox.Completed(3, b"", b"").signal is None


def test_read_only_covers_every_nested_mount() -> None:
    """A read-only bind of / remounts each mount below it too, with that mount's own locked flags."""
    steps = sandbox._read_only(MOUNTS, "/sys/fs/cgroup", "/newroot/cg")
    targets = [step[2] for step in steps]
    assert targets[0] == "/newroot/cg"
    assert set(targets[1:]) == {f"/newroot/cg/{c}" for c in ("cpu", "cpuacct", "memory", "pids", "unified")}
    assert steps[1][4] == ["MS_BIND", "MS_REMOUNT", "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_RELATIME"]
    assert sandbox._submounts(MOUNTS, "/mnt") == ["/mnt/my disk"]
    assert sandbox._submounts(MOUNTS, "/tmp") == []
