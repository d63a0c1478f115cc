"""A shell served over TCP on loopback, each connection in its own sandbox.

    python examples/tcp_shell.py [asyncio|trio] [--port N] [--once]

Listens on 127.0.0.1 (port 0 by default: the kernel picks one, printed on
the first line) and gives every connection an interactive ``sh -i`` in a
fresh sandbox (alcovepy.sandbox.start: its own user, pid, mount, network,
UTS and IPC namespaces, a read-only root; at most 64 processes and 128 MiB
where the host lets us make cgroups). Bytes from the socket go to the
shell's stdin; its stdout and stderr go back to the socket. Try it with
``nc 127.0.0.1 PORT`` and type ``echo hello``.

When the client ends its input, so does the shell's (which then has a few
seconds to finish); when the shell exits, the connection is closed; a
client gone is noticed when output to it fails. In every case the sandbox
block ends, which kills whatever is left in it: nothing outlives its
connection. ``--once`` serves one connection, then exits; Ctrl-C or SIGTERM
stops the server and every connection.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

import anyio
import anyio.abc

import alcovepy
from alcovepy import sandbox

SHELL = ["sh", "-i"]
# The cgroup limits are best effort: a host may not let this user create cgroups
# (unprivileged, or cgroup v2 without controllers delegated to the helper's cgroup).
POLICY = sandbox.Policy(hostname="tcp-shell", pids=64, memory=128 << 20, best_effort=frozenset({"memory", "pids"}))
# After the client's end of input, how long the shell may still run (and send output).
GRACE_SECONDS = 3.0
GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError)


async def serve(drv: alcovepy.Driver, client: anyio.abc.SocketStream) -> None:
    """One connection: a shell in a sandbox, wired to the socket, gone when the block ends."""
    address = client.extra(anyio.abc.SocketAttribute.remote_address)
    peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
    sending = anyio.Lock()  # stdout and stderr share the socket
    output_done = anyio.Event()
    async with client, sandbox.start(drv, POLICY, SHELL) as box:
        proc = box.process
        print(f"{peer}: connected; {' '.join(SHELL)} runs in sandbox {proc!r}", flush=True)
        if box.degraded:
            print(f"{peer}: left out (best effort): {', '.join(box.degraded)}", flush=True)
        async with anyio.create_task_group() as tg:

            async def pump_in() -> None:
                """Socket -> the shell's stdin; then the shell has GRACE_SECONDS to finish."""
                with contextlib.suppress(*GONE):
                    async for data in client:
                        await proc.stdin.send(data)
                await proc.stdin.aclose()
                with anyio.move_on_after(GRACE_SECONDS) as grace:
                    await output_done.wait()
                if grace.cancelled_caught:
                    print(f"{peer}: input ended, the shell still runs after {GRACE_SECONDS} s: ending it", flush=True)
                tg.cancel_scope.cancel()

            async def pump_out(stream: anyio.abc.ByteReceiveStream) -> None:
                """The shell's stdout or stderr -> socket; a client gone ends the connection."""
                try:
                    async for chunk in stream:
                        async with sending:
                            await client.send(chunk)
                except GONE:
                    tg.cancel_scope.cancel()

            tg.start_soon(pump_in)
            async with anyio.create_task_group() as out:
                out.start_soon(pump_out, proc.stdout)
                out.start_soon(pump_out, proc.stderr)
            output_done.set()  # the shell closed its output: it is exiting
            with anyio.move_on_after(1):
                print(f"{peer}: the shell exited with status {await proc.wait()}", flush=True)
            tg.cancel_scope.cancel()
    print(f"{peer}: closed; its sandbox is gone", flush=True)


async def stop_on_signals(scope: anyio.CancelScope) -> None:
    """SIGINT (Ctrl-C) or SIGTERM stops the server: every connection's sandbox ends."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            print(f"{signal.Signals(signum).name}: stopping", flush=True)
            scope.cancel()
            return


async def main(port: int, once: bool) -> None:
    async with alcovepy.open_driver() as drv:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signals, tg.cancel_scope)
            print(f"listening on 127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}", flush=True)
            async with anyio.create_task_group() as connections:
                with anyio.CancelScope() as accepting:

                    async def handle(client: anyio.abc.SocketStream) -> None:
                        if once:
                            accepting.cancel()  # no more connections
                        try:
                            await serve(drv, client)
                        except (sandbox.SandboxUnavailable, OSError) as exc:  # this connection only
                            print(f"a connection got no sandbox: {exc}", flush=True)

                    await listener.serve(handle, task_group=connections)
            tg.cancel_scope.cancel()  # --once: served; stop watching signals
    print("server stopped", flush=True)


def cli() -> int:
    args = sys.argv[1:]
    backend = args.pop(0) if args and args[0] in ("asyncio", "trio") else "asyncio"
    parser = argparse.ArgumentParser(description="A sandboxed shell per TCP connection on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    parser.add_argument("--once", action="store_true", help="serve one connection, then exit")
    options = parser.parse_args(args)
    anyio.run(main, options.port, options.once, backend=backend)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
