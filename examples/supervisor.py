"""An async supervisor: N sandboxed workers kept alive, their output streamed.

    python examples/supervisor.py [asyncio|trio] [--workers N] [--restarts K] [--duration S] [-- command...]

One Driver runs every worker, each in its own sandbox (alcovepy.sandbox.start:
new namespaces, a read-only root; at most 16 processes and 32 MiB where the
host lets us make cgroups). Each worker's stdout and stderr are printed line
by line as they come, prefixed with its name (``[worker-1] ...``); the
supervisor's own news is prefixed ``[supervisor]``. When a worker dies it is
started again after a short backoff (doubling while it keeps dying
quickly); after K restarts (``--restarts``, default: no limit) it is given
up. ``--duration S`` stops everything after S seconds, as do Ctrl-C and
SIGTERM: leaving a sandbox's block kills what is left of it, so no worker
outlives the supervisor.

The default worker is a shell loop that prints a few lines and exits with a
random status, so restarts are visible. One task per worker in a task
group, cancel scopes for stopping; no threads.
"""

from __future__ import annotations

import argparse
import signal
import sys

import anyio
import anyio.abc

import alcovepy
from alcovepy import sandbox

WORKER = r"""
steps=$(( $(od -An -N1 -tu1 /dev/urandom) % 3 + 2 ))
i=1
while [ $i -le $steps ]; do
    echo "step $i of $steps"
    i=$((i + 1))
    sleep 0.2
done
status=$(( $(od -An -N1 -tu1 /dev/urandom) % 4 ))
[ $status -ne 0 ] && echo "failing on purpose" >&2
echo "exiting with status $status"
exit $status
"""

# The cgroup limits are best effort: a host may not let this user create cgroups
# (unprivileged, or cgroup v2 without controllers delegated to the helper's cgroup).
POLICY = sandbox.Policy(hostname="worker", pids=16, memory=32 << 20, best_effort=frozenset({"memory", "pids"}))
BACKOFF_FIRST = 0.1  # seconds before a restart
BACKOFF_MAX = 2.0  # the backoff doubles while a worker keeps dying within STABLE seconds
STABLE = 5.0


def say(tag: str, line: str) -> None:
    print(f"[{tag}] {line}", flush=True)


async def stream_lines(name: str, stream: anyio.abc.ByteReceiveStream, suffix: str) -> None:
    """Print a worker's stream line by line as the lines arrive."""
    pending = b""
    async for chunk in stream:
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            say(name, line.decode(errors="replace") + suffix)
    if pending:
        say(name, pending.decode(errors="replace") + suffix)


async def run_once(drv: alcovepy.Driver, report: sandbox.HostReport, name: str, argv: list[str]) -> int:
    """Start the worker in a sandbox, stream its output, return its exit status."""
    async with sandbox.start(drv, POLICY, argv, report=report) as box:
        left_out = f" (left out: {', '.join(box.degraded)})" if box.degraded else ""
        say("supervisor", f"{name} started: {box.process!r}{left_out}")
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream_lines, name, box.process.stdout, "")
            tg.start_soon(stream_lines, name, box.process.stderr, " (stderr)")
        return await box.process.wait()


async def keep_alive(
    drv: alcovepy.Driver,
    report: sandbox.HostReport,
    name: str,
    argv: list[str],
    max_restarts: int | None,
    restarts: dict[str, int],
) -> None:
    """Run a worker again and again, with a backoff, until it has used its restarts."""
    delay = BACKOFF_FIRST
    while True:
        started = anyio.current_time()
        try:
            outcome = f"exited with status {await run_once(drv, report, name, argv)}"
        except OSError as exc:  # the kernel refused a start (out of processes...): a death like another
            outcome = f"could not start ({exc})"
        if max_restarts is not None and restarts[name] >= max_restarts:
            say("supervisor", f"{name} {outcome}; giving up after {restarts[name]} restarts")
            return
        if anyio.current_time() - started > STABLE:
            delay = BACKOFF_FIRST  # it ran well for a while: a fresh start
        restarts[name] += 1
        say("supervisor", f"{name} {outcome}; restart {restarts[name]} in {delay:.1f} s")
        await anyio.sleep(delay)  # the backoff itself, not a synchronisation
        delay = min(delay * 2, BACKOFF_MAX)


async def stop_on_signals(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            say("supervisor", f"{signal.Signals(signum).name}: stopping")
            scope.cancel()
            return


async def main(workers: int, max_restarts: int | None, duration: float | None, argv: list[str]) -> None:
    restarts = {f"worker-{i}": 0 for i in range(1, workers + 1)}
    async with alcovepy.open_driver() as drv:
        report = await sandbox.probe(drv)  # once: every start reuses it
        say("supervisor", f"keeping {workers} workers alive" + (f" for {duration} s" if duration else ""))
        with anyio.move_on_after(duration if duration is not None else float("inf")) as deadline:
            async with anyio.create_task_group() as tg:
                tg.start_soon(stop_on_signals, tg.cancel_scope)
                async with anyio.create_task_group() as pool:
                    for name in restarts:
                        pool.start_soon(keep_alive, drv, report, name, argv, max_restarts, restarts)
                say("supervisor", "every worker was given up")
                tg.cancel_scope.cancel()
        if deadline.cancelled_caught:
            say("supervisor", f"{duration} s are up: stopped every worker")
    say("supervisor", "done; restarts: " + ", ".join(f"{name} {n}" for name, n in restarts.items()))


def cli() -> int:
    args = sys.argv[1:]
    backend = args.pop(0) if args and args[0] in ("asyncio", "trio") else "asyncio"
    parser = argparse.ArgumentParser(description="Keep N sandboxed workers alive and stream their output.")
    parser.add_argument("--workers", type=int, default=3, help="how many workers (default 3)")
    parser.add_argument("--restarts", type=int, default=None, help="give a worker up after K restarts")
    parser.add_argument("--duration", type=float, default=None, help="stop everything after S seconds")
    parser.add_argument("command", nargs="*", help="the worker's command (default: a shell loop)")
    options = parser.parse_args(args)
    argv = options.command or ["sh", "-c", WORKER]
    anyio.run(main, options.workers, options.restarts, options.duration, argv, backend=backend)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
