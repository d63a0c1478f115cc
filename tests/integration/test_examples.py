"""The examples stay runnable: each is run end to end as a user would.

Every example runs as a subprocess under the backend of the ``anyio_backend``
fixture (its first argument), in a session of its own. When it has exited,
no process of that session may be left: the helper, its control processes
and every sandboxed program went with the example's Driver.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alcovepy._helper_path import helper_path
from tests.conftest import children_of, descendants, proc_state
from tests.integration.rootfs import needs_busybox, needs_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN_SECONDS = 45  # every example finishes in a few seconds; this only bounds a hang


def userns_allowed() -> bool:
    try:
        return Path("/proc/sys/user/max_user_namespaces").read_text().strip() != "0"
    except OSError:
        return False


needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 and not userns_allowed(),
    reason="needs root, or unprivileged user namespaces (user.max_user_namespaces > 0)",
)


def session_members(sid: int) -> dict[int, str]:
    """Live processes (pid: state) whose session is sid, from /proc/*/stat."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:
            found[int(entry.name)] = fields[0]
    return found


def assert_nothing_left(example: subprocess.Popen[bytes] | int) -> None:
    """The example (its own session leader) has exited and no process of its session lives on."""
    pid = example if isinstance(example, int) else example.pid
    if not isinstance(example, int):
        assert example.returncode is not None, "the example is still running"
    left = session_members(pid)
    assert not left, f"processes left behind by the example (pid: state): {left}"


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run examples/name to its end (exit status 0, nothing left behind); its stdout."""
    with subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    ) as example:
        try:
            out, err = example.communicate(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(example.pid, signal.SIGKILL)
            raise
    assert example.returncode == 0, f"{name} exited with {example.returncode}:\n{out.decode()}\n{err.decode()}"
    assert_nothing_left(example)
    return out.decode()


class Lines:
    """The stdout of a running example, read line by line with a deadline."""

    def __init__(self, example: subprocess.Popen[bytes]) -> None:
        assert example.stdout is not None
        self._fd = example.stdout.fileno()
        self._pending = b""
        self.seen: list[str] = []

    def until(self, pattern: str, seconds: float = 20) -> re.Match[str]:
        """Read lines until one matches pattern (a regular expression); return the match."""
        deadline = time.monotonic() + seconds
        while True:
            while b"\n" in self._pending:
                line, self._pending = self._pending.split(b"\n", 1)
                self.seen.append(line.decode(errors="replace"))
                found = re.search(pattern, self.seen[-1])
                if found:
                    return found
            left = deadline - time.monotonic()
            assert left > 0, f"no line matching {pattern!r} within {seconds} s; got {self.seen}"
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 65536)
                assert chunk, f"the example ended before a line matched {pattern!r}; got {self.seen}"
                self._pending += chunk

    def rest(self, seconds: float = 20) -> str:
        """Everything after what was read, to the end of the output (the example has exited)."""
        data = self._pending
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"the example's stdout is still open {seconds} s on: something it started holds it"
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    break
                data += chunk
        self.seen += data.decode(errors="replace").splitlines()
        return data.decode(errors="replace")


def start_example(name: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(example: subprocess.Popen[bytes]) -> None:
    """Kill a failed test's example and what it started (its session)."""
    if example.poll() is None:
        os.killpg(example.pid, signal.SIGKILL)
        example.wait()
    if example.stdout is not None:
        example.stdout.close()


def wait_for_sleeps(pid: int, count: int, seconds: float = 20) -> set[int]:
    """The descendants of pid once count of them run sleep (a forked shell execs it a little later)."""
    deadline = time.monotonic() + seconds
    while True:
        found = descendants(pid)
        comms = {p: proc_comm(p) for p in found}
        if sum(comm == "sleep" for comm in comms.values()) >= count:
            return found
        assert time.monotonic() < deadline, f"no {count} sleeps among {comms} within {seconds} s"
        time.sleep(0.05)


def proc_comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def receive_until(conn: socket.socket, wanted: bytes, seconds: float = 20) -> bytes:
    """Read from conn until wanted has arrived (or fail at the deadline)."""
    data = b""
    deadline = time.monotonic() + seconds
    while wanted not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} did not arrive within {seconds} s; got {data!r}"
        conn.settimeout(left)
        chunk = conn.recv(65536)
        assert chunk, f"the connection closed before {wanted!r} arrived; got {data!r}"
        data += chunk
    return data


def receive_all(conn: socket.socket, seconds: float = 20) -> bytes:
    data = b""
    conn.settimeout(seconds)
    while chunk := conn.recv(65536):
        data += chunk
    return data


# ---- the README's first command ---------------------------------------------------

README = EXAMPLES.parent / "README.md"
# Lines of the README's output that depend on the host or the run.
HOST_LINES = (
    "host:",
    "cgroups:",
    "usage:",
    "degraded",
    "  [stdout] cgroups:",
    "  [stdout] processes",
    "  [stdout] sleeps",
)


@needs_namespaces
def test_readme_first_command_runs_an_example_and_shows_its_output() -> None:
    """The README's first command runs an example as written (default backend), and every
    line of the output the README shows, but those naming this host, is in the real output."""
    commands = re.search(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert commands is not None
    first = next(line for line in commands[1].splitlines() if line and not line.startswith("#"))
    example = re.fullmatch(r"python -m pip install \. && python examples/(\w+\.py)", first)
    assert example is not None, first
    shown = re.search(r"```text\n(.*?)```", README.read_text(), re.S)
    assert shown is not None
    out = [line.rstrip() for line in run_example(example[1]).splitlines()]
    stable = [line.rstrip() for line in shown[1].splitlines() if not line.startswith(HOST_LINES)]
    assert len(stable) >= 10
    assert [line for line in stable if line not in out] == []


# ---- examples/sandbox.py ---------------------------------------------------------


@needs_namespaces
def test_sandbox_example(anyio_backend: str) -> None:
    out = run_example("sandbox.py", anyio_backend)
    assert "[stdout] pid inside the sandbox: 1" in out
    assert "[stdout] interfaces in this netns: lo \n" in out
    assert "[stderr] a message on stderr" in out
    assert "GREETING=hello from alcovepy PATH=/usr/bin:/bin PWD=/" in out
    assert "exit status: 7" in out
    assert "events: [ExitStatus(status=7)]" in out


# ---- examples/chroot_rlimits.py ----------------------------------------------------


@needs_root("chroot, and dropping to uid 65534")
@needs_busybox
def test_chroot_rlimits_example(anyio_backend: str) -> None:
    """The shell runs as nobody in the busybox root, cannot create a file nor
    fork, and says so on its stderr; the temporary root is removed after."""
    out = run_example("chroot_rlimits.py", anyio_backend)
    assert "the child sees ['.', '..', 'bin', 'tmp'] in /" in out
    assert "rlimits: CORE=0, FSIZE=0, NOFILE=0, NPROC=1" in out
    assert "uids (65534, 65534, 65534), gids (65534, 65534, 65534), groups []" in out
    assert "  [stdout] shell running as nobody in the chroot\n" in out
    assert "  [stderr] sh: can't create /tmp/file: Too many open files\n" in out
    assert "  [stdout]    -> no file (status 1)\n" in out
    assert "  [stderr] sh: can't fork: Resource temporarily unavailable\n" in out
    assert "ls ran" not in out
    assert "exit status: 2 " in out
    root = re.search(r"^chroot (\S+):", out, re.M)
    assert root is not None
    assert not Path(root[1]).exists()


# ---- examples/container.py ---------------------------------------------------------


@needs_namespaces
def test_container_example(anyio_backend: str) -> None:
    """The default script sees a hostname, pid 1, only loopback, a read-only root of
    system directories and its cgroups with their pids limit, or is told why a
    limit was left out on this host."""
    out = run_example("container.py", anyio_backend)
    assert "limits: memory 64 MiB, 32 processes, 0.5 CPU" in out
    assert "  [stdout] hostname: container\n" in out
    assert "  [stdout] pid: 1 (the first process of its pid namespace)\n" in out
    assert "  [stdout] network interfaces: lo \n" in out
    top = re.search(r"\[stdout\] / holds: (.*)$", out, re.M)
    assert top is not None
    assert {"proc", "tmp", "dev", "usr"} <= set(top[1].split())
    assert not {"root", "home", "work", "var"} & set(top[1].split())
    assert "  [stdout] writing to /: refused (read-only root)\n" in out
    assert "  [stdout] written to /tmp: hi\n" in out
    assert "exit status: 0\n" in out
    assert re.search(r"^usage: wall \d+\.\d+ s, cpu ", out, re.M)
    usable = re.search(r"^cgroups: (v1|v2|hybrid); controllers usable here: (.*)$", out, re.M)
    assert usable is not None
    applied = set() if usable[2] == "none" else set(usable[2].split(", "))
    assert applied <= {"memory", "pids", "cpu"}
    degraded = re.search(r"^degraded \(left out, best effort\): (.*)$", out, re.M)
    assert degraded is not None
    left_out = [ctl for ctl in ("memory", "pids", "cpu") if ctl not in applied]
    assert degraded[1] == (", ".join(left_out) or "nothing")
    for ctl in left_out:  # each with the reason
        assert re.search(rf"^  {ctl}: \S", out, re.M), ctl
    if applied:
        assert re.search(r"\[stdout\] cgroups: .*alcovepy-", out)
    started = re.search(r"\[stdout\] sleeps started at once: (\d+) of 40", out)
    assert started is not None
    if "pids" in applied:
        assert 0 < int(started[1]) < 32  # the pids limit: the shell and its pipeline count too


@needs_namespaces
def test_container_example_runs_a_given_command(anyio_backend: str) -> None:
    """A command after -- runs in the container; the example exits with its status."""
    with subprocess.Popen(
        [sys.executable, str(EXAMPLES / "container.py"), anyio_backend, "--", "sh", "-c", "echo pid $$; exit 3"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    ) as example:
        try:
            out = example.communicate(timeout=RUN_SECONDS)[0].decode()
        finally:
            stop(example)
    assert example.returncode == 3
    assert "running sh -c 'echo pid $$; exit 3' in new" in out
    assert "  [stdout] pid 1\n" in out
    assert "exit status: 3\n" in out
    assert_nothing_left(example)


def nobody_helper(base: Path) -> dict[str, str]:
    """An environment whose ALCOVEPY_HELPER is a script running the packaged helper as
    nobody (through setpriv): the examples then run unprivileged (skips when impossible)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the helper as nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run the helper as nobody")
    if not userns_allowed():
        pytest.skip("needs unprivileged user namespaces (user.max_user_namespaces > 0)")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(helper_path())]
    probe = subprocess.run([*drop, "--version"], capture_output=True, check=False, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run the helper: {probe.stderr.decode()!r}")
    wrapper = base / "helper-as-nobody"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(drop)} "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "ALCOVEPY_HELPER": str(wrapper)}


def test_container_example_unprivileged(anyio_backend: str, tmp_path: Path) -> None:
    """With the helper as nobody, the namespaces come from a user namespace and the
    cgroup limits this user may not make are left out, each with its reason."""
    out = run_example("container.py", anyio_backend, env=nobody_helper(tmp_path))
    assert out.startswith("host: kernel ")
    assert ", unprivileged\n" in out
    assert "  [stdout] pid: 1 (the first process of its pid namespace)\n" in out
    assert "  [stdout] network interfaces: lo \n" in out
    assert "  [stdout] ids: uid=0 gid=0 groups=0" in out  # root inside its user namespace only
    assert "  [stdout] writing to /: refused (read-only root)\n" in out
    assert "exit status: 0\n" in out
    usable = re.search(r"^cgroups: \S+; controllers usable here: (.*)$", out, re.M)
    assert usable is not None
    applied = set() if usable[1] == "none" else set(usable[1].split(", "))
    left_out = [ctl for ctl in ("memory", "pids", "cpu") if ctl not in applied]
    assert f"degraded (left out, best effort): {', '.join(left_out) or 'nothing'}\n" in out


# ---- examples/tcp_shell.py ---------------------------------------------------------


@needs_namespaces
def test_tcp_shell_example_answers_over_tcp(anyio_backend: str) -> None:
    """A client on a real TCP connection types commands to a sandboxed shell and
    reads their output; the shell's exit closes the connection and --once ends the server."""
    example = start_example("tcp_shell.py", anyio_backend, "--once")
    try:
        lines = Lines(example)
        port = int(lines.until(r"^listening on 127\.0\.0\.1:(\d+)$")[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(b"echo hello\n")
            receive_until(conn, b"hello\n")
            conn.sendall(b"echo pid $$ on $(cat /proc/sys/kernel/hostname)\n")
            receive_until(conn, b"pid 1 on tcp-shell\n")
            conn.sendall(b"exit 3\n")
            receive_all(conn)  # the server closes the connection
        assert example.wait(timeout=RUN_SECONDS) == 0
        rest = lines.rest()
    finally:
        stop(example)
    assert re.search(r"^127\.0\.0\.1:\d+: connected; sh -i runs in sandbox", "\n".join(lines.seen), re.M)
    assert re.search(r"^127\.0\.0\.1:\d+: the shell exited with status 3$", rest, re.M)
    assert re.search(r"^127\.0\.0\.1:\d+: closed; its sandbox is gone$", rest, re.M)
    assert rest.endswith("server stopped\n")
    assert_nothing_left(example)


@needs_namespaces
def test_tcp_shell_example_ends_the_sandbox_of_a_client_gone(anyio_backend: str) -> None:
    """A client that hangs up while its shell runs programs leaves nothing behind:
    the connection's sandbox ends while the server goes on; SIGTERM stops the server."""
    example = start_example("tcp_shell.py", anyio_backend)
    try:
        lines = Lines(example)
        port = int(lines.until(r"^listening on 127\.0\.0\.1:(\d+)$")[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(b"sleep 1000 & echo started; sleep 1000\n")
            receive_until(conn, b"started\n")
            helper = set(children_of(example.pid))
            sandboxed = wait_for_sleeps(example.pid, 2) - helper
            assert sandboxed
        lines.until(r"^127\.0\.0\.1:\d+: closed; its sandbox is gone$")
        assert example.poll() is None  # the server still runs
        assert {pid: proc_state(pid) for pid in sandboxed if proc_state(pid) is not None} == {}
        example.send_signal(signal.SIGTERM)
        assert example.wait(timeout=RUN_SECONDS) == 0
        rest = lines.rest()
    finally:
        stop(example)
    assert "SIGTERM: stopping\nserver stopped\n" in rest
    assert_nothing_left(example)


# ---- examples/supervisor.py --------------------------------------------------------


@needs_namespaces
def test_supervisor_example_restarts_workers_until_the_duration(anyio_backend: str) -> None:
    """Two workers of the default loop stream their lines, die, are restarted,
    and everything stops once --duration has passed."""
    began = time.monotonic()
    out = run_example("supervisor.py", anyio_backend, "--workers", "2", "--duration", "4")
    took = time.monotonic() - began
    assert 4 <= took < 4 + 20
    assert out.startswith("[supervisor] keeping 2 workers alive for 4.0 s\n")
    for name in ("worker-1", "worker-2"):
        assert re.search(rf"^\[{name}\] step 1 of [234]$", out, re.M), name
        assert re.search(rf"^\[{name}\] exiting with status [0-3]$", out, re.M), name
        assert re.search(rf"^\[supervisor\] {name} exited with status [0-3]; restart 1 in 0\.1 s$", out, re.M)
        assert len(re.findall(rf"^\[supervisor\] {name} started: ", out, re.M)) >= 2, name
    assert "[worker-3]" not in out
    assert "[supervisor] 4.0 s are up: stopped every worker\n" in out
    done = re.search(r"^\[supervisor\] done; restarts: (.*)$", out, re.M)
    assert done is not None
    counts = dict(item.split() for item in done[1].split(", "))
    assert set(counts) == {"worker-1", "worker-2"}
    assert all(int(n) >= 1 for n in counts.values()), counts


@needs_namespaces
def test_supervisor_example_gives_a_worker_up_after_its_restarts(anyio_backend: str) -> None:
    """With --restarts 1 each worker of a given command runs twice, with its
    stdout and stderr lines prefixed, then the supervisor ends by itself."""
    out = run_example(
        "supervisor.py",
        anyio_backend,
        "--workers",
        "2",
        "--restarts",
        "1",
        "--",
        "sh",
        "-c",
        "echo hi from $$; echo oops >&2; exit 4",
    )
    for name in ("worker-1", "worker-2"):
        assert out.count(f"[{name}] hi from 1\n") == 2, name
        assert out.count(f"[{name}] oops (stderr)\n") == 2, name
        assert f"[supervisor] {name} exited with status 4; restart 1 in 0.1 s\n" in out
        assert f"[supervisor] {name} exited with status 4; giving up after 1 restarts\n" in out
    assert "[supervisor] every worker was given up\n" in out
    assert out.endswith("[supervisor] done; restarts: worker-1 1, worker-2 1\n")


@needs_namespaces
def test_supervisor_example_stops_on_sigterm(anyio_backend: str) -> None:
    """SIGTERM stops a supervisor without --duration: its workers end with it."""
    example = start_example("supervisor.py", anyio_backend, "--workers", "2")
    try:
        lines = Lines(example)
        lines.until(r"^\[supervisor\] worker-\d exited with status \d; restart 1 in")
        example.send_signal(signal.SIGTERM)
        assert example.wait(timeout=RUN_SECONDS) == 0
        rest = lines.rest()
    finally:
        stop(example)
    assert "[supervisor] SIGTERM: stopping\n" in rest
    assert re.search(r"^\[supervisor\] done; restarts: ", rest, re.M)
    assert_nothing_left(example)


def test_supervisor_example_unprivileged(anyio_backend: str, tmp_path: Path) -> None:
    """With the helper as nobody, workers still run in sandboxes and are restarted."""
    out = run_example(
        "supervisor.py",
        anyio_backend,
        "--workers",
        "1",
        "--restarts",
        "1",
        "--",
        "sh",
        "-c",
        "echo pid $$; id -u",
        env=nobody_helper(tmp_path),
    )
    assert out.count("[worker-1] pid 1\n") == 2
    assert out.count("[worker-1] 0\n") == 2  # uid 0 inside its user namespace
    assert len(re.findall(r"^\[supervisor\] worker-1 started: <alcovepy\.Process \[\d+\]>", out, re.M)) == 2
    assert out.endswith("[supervisor] done; restarts: worker-1 1\n")
